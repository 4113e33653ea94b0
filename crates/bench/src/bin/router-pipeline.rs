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
use combipat_bench::broker_limit::{IN_FLIGHT, broker_limit, publish, receive};
use combipat_bench::{Summary, results_dir};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, overrides, request_summary, submitted_event,
};
use lapin::options::{ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use prost::Message as _;

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
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
