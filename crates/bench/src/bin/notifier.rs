//! Notifier's webhook deliveries end to end: `request.routed` published with confirms ->
//! notifier (consumer, inbox notice, delivery and its job in one transaction; the job runner
//! signs and POSTs) -> a local receiver. Measures deliveries per second (as fast as confirms
//! allow) and the event-to-delivery latency at a steady rate (open loop), and in the same run
//! the broker alone with the same number and size of messages, to quote ratios to it.
//!
//! Usage: notifier [MESSAGES [RATE]]   (default 5000 and 300 a second). Needs `just setup`.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_bench::broker_limit::{IN_FLIGHT, broker_limit};
use combipat_bench::{Summary, latency_histogram, results_dir};
use combipat_notifier::dev::WebhookReceiver;
use combipat_platform::auth::Role;
use combipat_platform::messaging::sequenced_envelope;
use combipat_proto::common::v1::{Filer, OfficeRef};
use combipat_proto::events::v1::RequestRouted;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::notifier::v1::RegisterEndpointRequest;
use combipat_proto::notifier::v1::endpoints_client::EndpointsClient;
use combipat_testkit::{
    TestBus, TestDatabase, TestService, grpc_channel, overrides, request_summary, token, with_token,
};
use lapin::{Connection, ConnectionProperties};
use prost::Message as _;

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn events(count: usize, offset: usize) -> Vec<(String, Vec<u8>)> {
    (offset..offset + count)
        .map(|n| {
            let mut summary = request_summary("F205", "pensioni", &format!("CP-2026-{n:08}"));
            summary.filer = Some(Filer {
                patronato: "INCA".into(),
                patronato_office: "INCA-MI-01".into(),
                operator_id: "bench".into(),
            });
            let request_id = summary.request_id.clone();
            let envelope = sequenced_envelope(
                "router",
                &request_id,
                1,
                Payload::RequestRouted(RequestRouted {
                    request: Some(summary),
                    office: Some(OfficeRef {
                        code: "SEDE-MI".into(),
                        name: "Sede di Milano".into(),
                        ..OfficeRef::default()
                    }),
                    decision_sequence: 1,
                    ..RequestRouted::default()
                }),
            );
            (request_id, envelope.encode_to_vec())
        })
        .collect()
}

/// Publishes `events` with confirms, `group` at a time, one group every `interval`; returns
/// each request id's send time.
async fn publish(
    bus: &TestBus,
    events: &[(String, Vec<u8>)],
    group: usize,
    interval: Duration,
) -> anyhow::Result<HashMap<String, Instant>> {
    let connection = Connection::connect(AMQP_URL, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(Default::default()).await?;
    let mut sent = HashMap::with_capacity(events.len());
    let mut ticker = tokio::time::interval(interval.max(Duration::from_micros(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for chunk in events.chunks(group) {
        if !interval.is_zero() {
            ticker.tick().await;
        }
        let mut confirms = Vec::with_capacity(chunk.len());
        for (request_id, body) in chunk {
            sent.insert(request_id.clone(), Instant::now());
            confirms.push(
                combipat_bench::broker_limit::publish(
                    &channel,
                    &bus.exchange,
                    "request.routed",
                    body,
                )
                .await?,
            );
        }
        for confirm in confirms {
            confirm.await?;
        }
    }
    let _closed = connection.close(200, "done".into()).await;
    Ok(sent)
}

/// Waits until the receiver holds `total` webhooks; the latencies of those in `sent`.
async fn collect(
    receiver: &WebhookReceiver,
    total: usize,
    sent: &HashMap<String, Instant>,
) -> anyhow::Result<(hdrhistogram::Histogram<u64>, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while receiver.count() < total {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {total} webhooks in 300 s",
            receiver.count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latencies = latency_histogram()?;
    let mut last = None;
    for hook in receiver.received() {
        let body: serde_json::Value = serde_json::from_str(&hook.body)?;
        let Some(at) = body["data"]["request_id"]
            .as_str()
            .and_then(|id| sent.get(id))
        else {
            continue;
        };
        latencies.record(
            u64::try_from(hook.at.duration_since(*at).as_micros())
                .unwrap_or(u64::MAX)
                .max(1),
        )?;
        last = Some(last.map_or(hook.at, |last: Instant| last.max(hook.at)));
    }
    Ok((latencies, last.context("no webhook matched a sent event")?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let messages: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(5000);
    let rate: f64 = std::env::args()
        .nth(2)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(300.0);
    let database = TestDatabase::create().await?;
    let bus = TestBus::new();
    let mut settings = overrides(&database, &bus);
    for (key, value) in [
        ("telemetry.log_filter", "warn"),
        ("database.max_connections", "40"),
        ("webhooks.allow_loopback", "true"),
        ("webhooks.allow_http", "true"),
        ("rate_limit.calls_per_window", "0"),
        ("jobs.poll_interval_ms", "50"),
    ] {
        settings.push((key.into(), value.into()));
    }
    let notifier = TestService::start::<combipat_notifier::Service>(&settings)
        .await
        .context("starting notifier")?;
    bus.wait_for_consumer(combipat_notifier::QUEUE.name).await?;
    let receiver = WebhookReceiver::start("127.0.0.1:0").await?;
    EndpointsClient::new(grpc_channel(notifier.grpc_addr).await?)
        .register_endpoint(with_token(
            RegisterEndpointRequest {
                url: receiver.url(),
                ..Default::default()
            },
            &token(Role::Supervisore, &[("patronato", "INCA")])?,
        )?)
        .await?;

    // As fast as confirms allow.
    let burst = events(messages, 0);
    let size = burst.first().map_or(0, |(_, body)| body.len());
    let started = Instant::now();
    let sent = publish(&bus, &burst, IN_FLIGHT, Duration::ZERO).await?;
    let (latencies, last) = collect(&receiver, messages, &sent).await?;
    let max_rate = Summary::new("notifier deliveries, max rate", &latencies, last - started);

    // Open loop at `rate` a second, in groups of 10.
    let steady = events(messages, messages);
    let started = Instant::now();
    let sent = publish(&bus, &steady, 10, Duration::from_secs_f64(10.0 / rate)).await?;
    let (latencies, last) = collect(&receiver, 2 * messages, &sent).await?;
    let at_rate = Summary::new(&format!("notifier at {rate}/s"), &latencies, last - started);
    notifier.shutdown().await?;

    let connection = Connection::connect(AMQP_URL, ConnectionProperties::default()).await?;
    let limit = broker_limit(&connection, &burst)
        .await
        .context("measuring the broker alone")?;
    let _closed = connection.close(200, "done".into()).await;

    let ratio = max_rate.per_second / limit.per_second;
    println!(
        "machine: {} cores; event size {size} bytes; {IN_FLIGHT} publishes in flight",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{}", max_rate.line());
    println!("{}", at_rate.line());
    println!("{}", limit.line());
    println!("deliveries / broker limit: {ratio:.3}");
    let path = results_dir()?.join("notifier.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({
            "event_size_bytes": size, "max_rate": max_rate, "at_rate": at_rate, "broker_limit": limit, "ratio": ratio,
        }))?,
    )?;
    println!("written {}", path.display());
    Ok(())
}
