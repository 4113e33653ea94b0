use std::time::Duration;

use anyhow::Context as _;
use combipat_platform::messaging::{Broker, OutgoingMessage, declare_exchange, publish_confirmed};
use combipat_platform::settings::AmqpSettings;
use combipat_proto::events::v1::Envelope;
use futures::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use prost::Message as _;

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// An exchange and a queue prefix of this test's own.
#[derive(Debug, Clone)]
pub struct TestBus {
    pub exchange: String,
    pub queue_prefix: String,
    /// The broker: the development one, or a test's own.
    pub url: String,
}

impl Default for TestBus {
    fn default() -> Self {
        Self::new()
    }
}

impl TestBus {
    pub fn new() -> Self {
        Self::on(AMQP_URL)
    }

    /// A bus on another broker (a test's own, e.g. one it restarts).
    pub fn on(url: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            exchange: format!("test.{id}.events"),
            queue_prefix: format!("test.{id}."),
            url: url.to_owned(),
        }
    }

    async fn channel(&self) -> anyhow::Result<(Connection, Channel)> {
        let connection = Connection::connect(&self.url, ConnectionProperties::default())
            .await
            .with_context(|| format!("cannot reach RabbitMQ at {}; run `just setup`", self.url))?;
        let channel = connection.create_channel().await?;
        let broker = Broker::new("test", self.amqp_settings());
        declare_exchange(&channel, &broker).await?;
        Ok((connection, channel))
    }

    /// Settings for platform code that talks to this bus directly (e.g. a replay).
    pub fn amqp_settings(&self) -> AmqpSettings {
        AmqpSettings {
            url: self.url.clone().into(),
            exchange: self.exchange.clone(),
            queue_prefix: self.queue_prefix.clone(),
            prefetch: 16,
            retry_delays_ms: vec![100, 200],
            delivery_limit: 20,
            reconnect_delay_ms: 200,
            queue_expires_ms: Some(60_000),
        }
    }

    /// Publishes raw bytes to the exchange with a confirm, as a service would.
    pub async fn publish(
        &self,
        routing_key: &str,
        message_id: &str,
        payload: &[u8],
    ) -> anyhow::Result<()> {
        let (connection, channel) = self.channel().await?;
        channel.confirm_select(Default::default()).await?;
        publish_confirmed(
            &channel,
            OutgoingMessage {
                exchange: &self.exchange,
                routing_key,
                message_id,
                payload,
                headers: FieldTable::default(),
                expiration_ms: None,
            },
        )
        .await?
        .await?;
        connection.close(200, "done".into()).await?;
        Ok(())
    }

    pub async fn publish_envelope(&self, envelope: &Envelope) -> anyhow::Result<()> {
        self.publish(
            &envelope.event_type,
            &envelope.event_id,
            &envelope.encode_to_vec(),
        )
        .await
    }

    /// A private queue bound to `routing_key`, to watch what the services publish.
    pub async fn observe(&self, routing_key: &str) -> anyhow::Result<Observer> {
        let (connection, channel) = self.channel().await?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                queue.name().clone(),
                self.exchange.as_str().into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Observer {
            _connection: connection,
            consumer,
        })
    }

    /// Waits until a service consumes `queue` (name without the prefix): by then its
    /// topology, bindings included, is declared, so a publish cannot be unroutable.
    pub async fn wait_for_consumer(&self, queue: &str) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if self
                .queue_state(queue)
                .await
                .is_ok_and(|(_, consumers)| consumers > 0)
            {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "nobody consumes {queue} after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Messages waiting in one of the services' queues (name without the prefix).
    pub async fn queue_depth(&self, queue: &str) -> anyhow::Result<u32> {
        Ok(self.queue_state(queue).await?.0)
    }

    /// (messages, consumers) of one of the services' queues.
    async fn queue_state(&self, queue: &str) -> anyhow::Result<(u32, u32)> {
        let (connection, channel) = self.channel().await?;
        let declared = channel
            .queue_declare(
                format!("{}{queue}", self.queue_prefix).into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        connection.close(200, "done".into()).await?;
        Ok((declared.message_count(), declared.consumer_count()))
    }
}

/// Receives what was published to the routing key it was bound to.
pub struct Observer {
    _connection: Connection,
    consumer: lapin::Consumer,
}

impl Observer {
    /// The next event, or an error after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> anyhow::Result<Envelope> {
        self.try_next(timeout)
            .await?
            .context("no event arrived in time")
    }

    /// The next event, or `None` when nothing arrives within `timeout`.
    pub async fn try_next(&mut self, timeout: Duration) -> anyhow::Result<Option<Envelope>> {
        let Ok(next) = tokio::time::timeout(timeout, self.consumer.next()).await else {
            return Ok(None);
        };
        let delivery = next.context("the observer's consumer ended")??;
        delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(Some(Envelope::decode(delivery.data.as_slice())?))
    }
}
