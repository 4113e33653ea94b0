//! What RabbitMQ alone does on this machine: persistent messages published with confirms
//! (IN_FLIGHT at a time) to a quorum queue and consumed with manual acks, the same number
//! and size as a benchmark's, so that the benchmark reports its throughput as a ratio of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use prost::Message as _;

use crate::{Summary, latency_histogram};

/// Publishes in flight at once before waiting for their confirms.
pub const IN_FLIGHT: usize = 256;

pub async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
) -> anyhow::Result<lapin::PublisherConfirm> {
    Ok(channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await?)
}

/// Consumes `expected` messages; the latency of each is from its entry in `sent` (keyed by
/// the envelope's request id, or by message body position when `envelopes` is false).
pub async fn receive(
    channel: Channel,
    queue: String,
    expected: usize,
    sent: Arc<Mutex<HashMap<String, Instant>>>,
    envelopes: bool,
) -> anyhow::Result<(hdrhistogram::Histogram<u64>, Instant)> {
    channel.basic_qos(1000, Default::default()).await?;
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut latencies = latency_histogram()?;
    let mut last = Instant::now();
    let mut received = 0;
    while received < expected {
        let delivery = tokio::time::timeout(Duration::from_secs(60), consumer.next())
            .await
            .context("no message for 60 s")?
            .context("consumer ended")??;
        let now = Instant::now();
        let key = if envelopes {
            combipat_proto::events::v1::Envelope::decode(delivery.data.as_slice())?.request_id
        } else {
            String::from_utf8_lossy(&delivery.data[..36.min(delivery.data.len())]).into_owned()
        };
        if let Some(at) = sent
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .remove(&key)
        {
            latencies.record(
                u64::try_from(now.duration_since(at).as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )?;
            received += 1;
            last = now;
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    Ok((latencies, last))
}

/// `events`: (request id, message body) pairs.
pub async fn broker_limit(
    connection: &Connection,
    events: &[(String, Vec<u8>)],
) -> anyhow::Result<Summary> {
    let channel = connection.create_channel().await?;
    let name = format!("bench.limit.{}", uuid::Uuid::new_v4().simple());
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args.insert("x-expires".into(), AMQPValue::LongLongInt(60_000));
    channel
        .queue_declare(
            name.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let receiver = tokio::spawn(receive(
        connection.create_channel().await?,
        name.clone(),
        events.len(),
        Arc::clone(&sent),
        false,
    ));
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let started = Instant::now();
    for chunk in events.chunks(IN_FLIGHT) {
        let mut confirms = Vec::with_capacity(chunk.len());
        for (request_id, body) in chunk {
            // The request id first, so the receiver can match the message to its send time.
            let mut message = request_id.clone().into_bytes();
            message.extend_from_slice(&body[..body.len().saturating_sub(message.len())]);
            sent.lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .insert(request_id.clone(), Instant::now());
            confirms.push(publish(&channel, "", &name, &message).await?);
        }
        for confirm in confirms {
            confirm.await?;
        }
    }
    let (latencies, last) = receiver.await?.context("consuming from the quorum queue")?;
    Ok(Summary::new(
        "broker alone (quorum queue)",
        &latencies,
        last - started,
    ))
}
