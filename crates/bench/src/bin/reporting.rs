//! Reporting under a year of national traffic: YEAR requests (default 1,500,000; the nation
//! sends about 15,000,000) written straight into the store as the reader would have left them
//! (facts by COPY, cells summed by the same contribution function), then, against the service
//! running in process:
//!
//! - a region's page (HTML, every table and chart of it) for the last complete month, p99;
//! - the national monthly tables (the regions; the 500-odd offices) as JSON, p99;
//! - ingest: MONTH requests' events (default 50,000 requests, about 6.6 events each) published
//!   into the history stream while the service is stopped, then read in batches from its
//!   position after a restart (events per second), beside the broker alone with the same
//!   number and size of messages in the same run (`broker_limit.rs`);
//! - a rebuild of that month from the stream into a fresh generation, until it takes over.
//!
//! Usage: reporting [YEAR [MONTH [CALLS]]]. Needs `just setup`. Results in
//! target/bench/reporting.json. The database and the stream are deleted at the end.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{Datelike as _, Utc};
use combipat_bench::broker_limit::{IN_FLIGHT, broker_limit, publish};
use combipat_bench::{Summary, latency_histogram, results_dir};
use combipat_domain::territory::TerritorySettings;
use combipat_platform::auth::Role;
use combipat_reporting::demo::{Generator, Profile, load};
use combipat_reporting::places::Places;
use combipat_reporting::store::generations;
use combipat_testkit::{TestBus, TestDatabase, TestService, overrides, shared_data_dir, token};
use hdrhistogram::Histogram;
use lapin::{Connection, ConnectionProperties};
use prost::Message as _;

/// The regions whose pages are read in turn: the largest, the smallest, the one the survey
/// named, and two between.
const REGIONS: [&str; 5] = ["03", "17", "15", "12", "02"];

fn argument(index: usize, default: u64) -> anyhow::Result<u64> {
    std::env::args().nth(index).map_or(Ok(default), |text| {
        text.parse()
            .with_context(|| format!("argument {index}: `{text}`"))
    })
}

fn record(histogram: &mut Histogram<u64>, since: Instant) -> anyhow::Result<()> {
    histogram.record(
        u64::try_from(since.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1),
    )?;
    Ok(())
}

/// `calls` GETs of `paths` in turn, one at a time.
async fn measure(
    http: &reqwest::Client,
    token: &str,
    name: &str,
    paths: &[String],
    calls: usize,
) -> anyhow::Result<Summary> {
    let mut latencies = latency_histogram()?;
    // One call each first, so that no first-time cost is counted.
    for path in paths {
        http.get(path)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
    }
    let started = Instant::now();
    for call in 0..calls {
        let sent = Instant::now();
        let body = http
            .get(&paths[call % paths.len()])
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        record(&mut latencies, sent)?;
        anyhow::ensure!(!body.is_empty(), "{name}: an empty answer");
    }
    Ok(Summary::new(name, &latencies, started.elapsed()))
}

fn settings(database: &TestDatabase, bus: &TestBus) -> Vec<(String, String)> {
    let mut settings = overrides(database, bus);
    settings.retain(|(name, _)| {
        !name.starts_with("amqp.history_") && name != "database.max_connections"
    });
    settings.extend(
        [
            ("telemetry.log_filter", "warn"),
            ("database.max_connections", "20"),
            // The month's events must all stay in the stream for the rebuild.
            ("amqp.history_max_age", "7D"),
            ("amqp.history_max_bytes", "20000000000"),
            ("amqp.history_segment_bytes", "100000000"),
            ("reporting.rebuild_interval_ms", "500"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    settings
}

async fn wait_for_offset(
    pool: &sqlx::PgPool,
    generation: i32,
    offset: u64,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let row = generations::get(pool, generation)
            .await?
            .context("no such generation")?;
        if row.stream_offset() >= offset {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "generation {generation} read {} of {offset} events in {timeout:?}",
            row.stream_offset()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let year = argument(1, 1_500_000)?;
    let month_requests = argument(2, 50_000)?;
    let calls = usize::try_from(argument(3, 200)?)?;
    let data = shared_data_dir();
    let places = Places::load(&TerritorySettings {
        comuni_path: data.join("ANPR_archivio_comuni.csv").display().to_string(),
        stati_esteri_path: data.join("ANPR_stati_esteri.csv").display().to_string(),
    })?;
    let database = TestDatabase::create().await?;
    let bus = TestBus::new();
    let service = TestService::start::<combipat_reporting::Service>(&settings(&database, &bus))
        .await
        .context("starting reporting")?;
    let pool = database.connect().await?;

    // A year, straight into the store.
    let now = Utc::now();
    let last_month = combipat_reporting::model::period::Period::last_complete_month(
        combipat_domain::sla::rome_date(now),
    );
    let profile = Profile {
        until: last_month.first,
        months: 12,
        requests_per_month: year / 12,
        seed: 1,
        now,
    };
    let loaded = load(&pool, 1, &places, profile).await?;
    let size: (String, String) = sqlx::query_as(
        "SELECT pg_size_pretty(pg_total_relation_size('facts_g1')), pg_size_pretty(pg_total_relation_size('cells_g1'))",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "loaded {} requests of 12 months to {} in {:.1} s ({:.0} requests/s): {} cells; facts {}, cells {}",
        loaded.requests,
        last_month.code(),
        loaded.seconds,
        loaded.requests as f64 / loaded.seconds,
        loaded.cells,
        size.0,
        size.1
    );

    // Pages and tables.
    let http = reqwest::Client::new();
    let analista = token(Role::Analista, &[])?;
    let base = format!("http://{}", service.http_addr);
    let period = last_month.code();
    let region_pages: Vec<String> = REGIONS
        .iter()
        .map(|region| format!("{base}/regioni/{region}?periodo={period}"))
        .collect();
    let mut summaries = vec![
        measure(&http, &analista, "region page (HTML)", &region_pages, calls).await?,
        measure(
            &http,
            &analista,
            "national table, regions",
            &[format!("{base}/v1/tables/DIMENSION_REGION?period={period}")],
            calls,
        )
        .await?,
        measure(
            &http,
            &analista,
            "national table, offices",
            &[format!("{base}/v1/tables/DIMENSION_OFFICE?period={period}")],
            calls,
        )
        .await?,
        measure(
            &http,
            &analista,
            "national table, a year",
            &[format!(
                "{base}/v1/tables/DIMENSION_REGION?period={}",
                last_month.first.year()
            )],
            calls / 4,
        )
        .await?,
    ];

    // A month of events into the stream, read after a restart.
    service.shutdown().await?;
    let mut generator = Generator::new(&places, 2);
    let mut events = Vec::new();
    let mut keyed = Vec::new();
    let month = Profile {
        until: last_month.first,
        months: 1,
        requests_per_month: month_requests,
        seed: 2,
        now,
    };
    for (day, count) in generator.days(&month) {
        for _ in 0..count {
            for envelope in generator.story(day, now).events() {
                let body = envelope.encode_to_vec();
                keyed.push((envelope.event_id.clone(), body.clone()));
                events.push((envelope.event_type, body));
            }
        }
    }
    let bytes: usize = events.iter().map(|(_, body)| body.len()).sum();
    let connection = Connection::connect(&bus.url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(Default::default()).await?;
    let started = Instant::now();
    for chunk in events.chunks(IN_FLIGHT) {
        let mut confirms = Vec::with_capacity(chunk.len());
        for (routing_key, body) in chunk {
            confirms.push(publish(&channel, &bus.exchange, routing_key, body).await?);
        }
        for confirm in confirms {
            confirm.await?;
        }
    }
    let published = started.elapsed();
    println!(
        "published {} events of {} requests ({} bytes on average) into the stream in {:.1} s ({:.0}/s)",
        events.len(),
        month_requests,
        bytes / events.len().max(1),
        published.as_secs_f64(),
        events.len() as f64 / published.as_secs_f64()
    );
    let total = u64::try_from(events.len())?;
    let started = Instant::now();
    let service =
        TestService::start::<combipat_reporting::Service>(&settings(&database, &bus)).await?;
    wait_for_offset(&pool, 1, total, Duration::from_secs(7200)).await?;
    let ingest = started.elapsed();
    let ingest_rate = events.len() as f64 / ingest.as_secs_f64();
    println!(
        "ingest: {} events in {:.1} s: {ingest_rate:.0} events/s",
        events.len(),
        ingest.as_secs_f64()
    );
    let broker = broker_limit(&connection, &keyed).await?;
    println!("{}", broker.line());

    // The month rebuilt from the stream, until it takes over.
    let started = Instant::now();
    let rebuilt = generations::start_rebuild(&pool).await?;
    loop {
        if generations::active(&pool).await?.generation == rebuilt {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(7200),
            "the rebuild did not take over in two hours"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rebuild = started.elapsed();
    println!(
        "rebuild of the month from the stream: {} events in {:.1} s ({:.1} min, {:.0} events/s)",
        events.len(),
        rebuild.as_secs_f64(),
        rebuild.as_secs_f64() / 60.0,
        events.len() as f64 / rebuild.as_secs_f64()
    );
    summaries.push(broker);
    service.shutdown().await?;
    connection.close(200, "done".into()).await?;

    println!(
        "machine: {} cores; year of {} requests, month of {} requests ({} events)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loaded.requests,
        month_requests,
        events.len()
    );
    for summary in &summaries {
        println!("{}", summary.line());
    }
    let path = results_dir()?.join("reporting.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({
            "year_requests": loaded.requests, "load_seconds": loaded.seconds, "cells": loaded.cells,
            "facts_size": size.0, "cells_size": size.1,
            "month_requests": month_requests, "month_events": events.len(), "event_bytes": bytes / events.len().max(1),
            "publish_seconds": published.as_secs_f64(), "ingest_seconds": ingest.as_secs_f64(),
            "ingest_events_per_second": ingest_rate, "rebuild_seconds": rebuild.as_secs_f64(),
            "results": summaries,
        }))?,
    )?;
    println!("written {}", path.display());
    drop(pool);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(
        &std::env::var("COMBIPAT_TEST_ADMIN_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    )
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {} WITH (FORCE)",
        database.name
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}
