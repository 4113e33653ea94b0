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

/// Where tests find RabbitMQ: `just test` exports a virtual host of the run's own
/// (`scripts/test-vhost.sh`); the default suits the development broker.
const AMQP_URL_ENV: &str = "COMBIPAT_TEST_AMQP_URL";
const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// An exchange and a queue prefix of this test's own.
#[derive(Debug, Clone)]
pub struct TestBus {
    pub exchange: String,
    pub queue_prefix: String,
    /// The broker: the development one, or a test's own.
    pub url: String,
    /// Deletes the test's history stream when the last copy of the bus goes (queues expire
    /// by themselves, streams do not).
    _cleanup: std::sync::Arc<StreamCleanup>,
}

#[derive(Debug)]
struct StreamCleanup {
    url: String,
    stream: String,
}

impl Drop for StreamCleanup {
    fn drop(&mut self) {
        let (url, stream) = (self.url.clone(), self.stream.clone());
        // A thread of its own: this may run inside the test's runtime, which must not block
        // on another. Joined, so the process does not exit before the stream is gone.
        let deleted = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(connection) =
                    Connection::connect(&url, ConnectionProperties::default()).await
                    && let Ok(channel) = connection.create_channel().await
                {
                    let _deleted = channel
                        .queue_delete(
                            stream.as_str().into(),
                            lapin::options::QueueDeleteOptions::default(),
                        )
                        .await;
                    let _closed = connection.close(200, "done".into()).await;
                }
            });
        });
        let _joined = deleted.join();
    }
}

impl Default for TestBus {
    fn default() -> Self {
        Self::new()
    }
}

impl TestBus {
    pub fn new() -> Self {
        Self::on(&std::env::var(AMQP_URL_ENV).unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned()))
    }

    /// A bus on another broker (a test's own, e.g. one it restarts).
    pub fn on(url: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let queue_prefix = format!("test.{id}.");
        Self {
            exchange: format!("test.{id}.events"),
            _cleanup: std::sync::Arc::new(StreamCleanup {
                url: url.to_owned(),
                stream: format!(
                    "{queue_prefix}{}",
                    combipat_platform::messaging::catalogue::HISTORY.name
                ),
            }),
            queue_prefix,
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

    /// Settings for platform code that talks to this bus directly (e.g. a replay): the
    /// platform's, with the bus's overrides.
    pub fn amqp_settings(&self) -> AmqpSettings {
        #[allow(
            clippy::expect_used,
            reason = "the platform defaults and the test overrides are fixed"
        )]
        combipat_platform::settings::platform_section("amqp", &self.overrides())
            .expect("the test bus's AMQP settings")
    }

    /// The settings that point a service at this bus, with the short delays tests use.
    pub fn overrides(&self) -> Vec<(String, String)> {
        [
            ("amqp.url", self.url.clone()),
            ("amqp.exchange", self.exchange.clone()),
            ("amqp.queue_prefix", self.queue_prefix.clone()),
            // Queues of a test nobody consumes any more go away by themselves.
            ("amqp.queue_expires_ms", "60000".to_owned()),
            ("amqp.retry_delays_ms", "100,200".to_owned()),
            ("amqp.retry_for_ms", "0".to_owned()),
            ("amqp.reconnect_delay_ms", "100".to_owned()),
            ("amqp.reconnect_max_delay_ms", "1000".to_owned()),
            ("amqp.history_max_age", "1h".to_owned()),
            ("amqp.history_max_bytes", "100000000".to_owned()),
            ("amqp.history_segment_bytes", "1000000".to_owned()),
            ("amqp.queue_metrics_interval_ms", "500".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
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
