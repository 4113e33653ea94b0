//! End-to-end router benchmark: `request.submitted` published with confirms -> router
//! (consumer, decision, inbox, outbox, relay) -> `request.routed` observed. Measures each
//! event's latency from its publish to its routed event, and the throughput.
//!
//! The same run measures the broker's own limit on this machine: the same number of
//! persistent messages of the same size, published with confirms to a quorum queue and
//! consumed with manual acks, and reports the pipeline as a ratio of it.
//!
//! Usage: router-pipeline [MESSAGES [RATE]]   (default 20000, as fast as confirms allow; with
//! RATE, open loop at RATE messages per second). Needs `just setup`.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_bench::{Summary, latency_histogram, results_dir};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, overrides, request_summary, submitted_event,
};
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use prost::Message as _;

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const IN_FLIGHT: usize = 256;
const RESIDENCES: [&str; 8] = [
    "F205", "E514", "H501", "L219", "F839", "Z133", "Z110", "A662",
];
const TOPICS: [&str; 4] = [
    "pensioni",
    "assegno_unico",
    "estratto_conto_riscatti",
    "naspi_dis_coll",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let messages: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let rate: Option<f64> = std::env::args().nth(2).map(|n| n.parse()).transpose()?;
    // Open loop: publish in small groups on a fixed schedule, whatever the answers do.
    let (group, interval) = match rate {
        Some(rate) => (10, Duration::from_secs_f64(10.0 / rate)),
        None => (IN_FLIGHT, Duration::ZERO),
    };
    let database = TestDatabase::create().await?;
    let bus = TestBus::new();
    let mut settings = overrides(&database, &bus);
    settings.push(("telemetry.log_filter".into(), "warn".into()));
    settings.push(("database.max_connections".into(), "40".into()));
    let router = TestService::start::<combipat_router::Service>(&settings)
        .await
        .context("starting the router")?;
    bus.wait_for_consumer(combipat_router::QUEUE.name)
        .await
        .context("waiting for the router")?;

    let events: Vec<(String, Vec<u8>)> = (0..messages)
        .map(|n| {
            let summary = request_summary(
                RESIDENCES[n % RESIDENCES.len()],
                TOPICS[n % TOPICS.len()],
                &format!("CP-2026-{n:08}"),
            );
            let request_id = summary.request_id.clone();
            let envelope = submitted_event(summary);
            (request_id, envelope.encode_to_vec())
        })
        .collect();
    let size = events.first().map_or(0, |(_, body)| body.len());

    // The pipeline: observe request.routed, publish request.submitted.
    let connection = Connection::connect(AMQP_URL, ConnectionProperties::default()).await?;
    let observer = connection.create_channel().await?;
    let routed_queue = private_queue(&observer, &bus.exchange, "request.routed")
        .await
        .context("declaring the observer")?;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let receiver = tokio::spawn(receive(
        observer,
        routed_queue,
        messages,
        Arc::clone(&sent),
        true,
    ));
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval.max(Duration::from_micros(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for chunk in events.chunks(group) {
        if rate.is_some() {
            ticker.tick().await;
        }
        let mut confirms = Vec::with_capacity(chunk.len());
        for (request_id, body) in chunk {
            sent.lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .insert(request_id.clone(), Instant::now());
            confirms.push(
                publish(&publisher, &bus.exchange, "request.submitted", body)
                    .await
                    .context("publishing")?,
            );
        }
        for confirm in confirms {
            confirm.await.context("confirming")?;
        }
    }
    let (latencies, last) = receiver.await?.context("receiving request.routed")?;
    let name = rate.map_or_else(
        || "router pipeline, max rate".to_owned(),
        |rate| format!("router pipeline at {rate}/s"),
    );
    let pipeline = Summary::new(&name, &latencies, last - started);
    router.shutdown().await.context("stopping the router")?;

    // The broker alone, same count and size: publish with confirms to a quorum queue, one
    // consumer with manual acks.
    let limit = broker_limit(&connection, &events)
        .await
        .context("measuring the broker alone")?;
    // Channels still closing make a clean close fail; the results are in hand either way.
    let _closed = connection.close(200, "done".into()).await;

    let ratio = pipeline.per_second / limit.per_second;
    println!(
        "machine: {} cores; message size {size} bytes; {IN_FLIGHT} publishes in flight",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{}", pipeline.line());
    println!("{}", limit.line());
    println!("pipeline / broker limit: {ratio:.2}");
    let path = results_dir()?.join(match rate {
        Some(rate) => format!("router-pipeline-{rate}.json"),
        None => "router-pipeline.json".to_owned(),
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({
            "message_size_bytes": size, "in_flight": IN_FLIGHT, "pipeline": pipeline, "broker_limit": limit, "ratio": ratio,
        }))?,
    )?;
    println!("written {}", path.display());
    Ok(())
}

async fn publish(
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

async fn private_queue(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
) -> anyhow::Result<String> {
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
            exchange.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(queue.name().to_string())
}

/// Consumes `expected` messages; the latency of each is from its entry in `sent` (keyed by
/// the envelope's request id, or by message body position when `envelopes` is false).
async fn receive(
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

async fn broker_limit(
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
