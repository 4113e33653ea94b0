//! The reminder-scheduler's timers at national scale, the service in process on its own
//! database:
//!
//! - PENDING timers (default 5,000,000) stored, due months from now, as a year of solleciti
//!   and ladders would leave them (written straight into the store);
//! - then BURST (default 100,000) falling due at the same instant: the fire rate, from the
//!   first `reminder.due` observed to the last;
//! - then a steady STEADY per second (default 1,000) falling due for 60 s: the lateness of
//!   each firing, from its due time to its event reaching the broker (observed), p50/p99.
//!
//! Usage: scheduler [PENDING [BURST [STEADY]]]. Needs `just setup`. Results in
//! target/bench/scheduler.json.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_bench::{Summary, latency_histogram, results_dir};
use combipat_platform::time::from_timestamp;
use combipat_proto::events::v1::envelope::Payload;
use combipat_testkit::{Observer, TestBus, TestDatabase, TestService, overrides};
use sqlx::PgPool;

const STEADY_SECONDS: i64 = 60;

fn arg(n: usize, default: i64) -> anyhow::Result<i64> {
    Ok(std::env::args()
        .nth(n)
        .map(|value| value.parse())
        .transpose()?
        .unwrap_or(default))
}

/// Timers of requests sent 15 days before `due`, one per `step` from `due` on.
async fn store(
    pool: &PgPool,
    count: i64,
    due: chrono::DateTime<chrono::Utc>,
    step_ms: f64,
) -> anyhow::Result<()> {
    // In chunks, so that one statement never holds a huge transaction.
    let chunk = 250_000;
    let mut first = 0;
    while first < count {
        let last = (first + chunk).min(count);
        sqlx::query(
            "WITH made AS (
                 INSERT INTO requests (request_id, protocol_number, patronato, patronato_office, submitted_at)
                 SELECT gen_random_uuid(), 'CP-' || n, 'INCA', 'INCA-MI-01',
                        $1 + (n * $4) * interval '1 millisecond' - interval '15 days'
                 FROM generate_series($2, $3 - 1) AS n
                 RETURNING request_id, submitted_at)
             INSERT INTO platform_jobs (kind, subject, due_at, payload)
             SELECT 'sollecito_possible', request_id::text,
                    (submitted_at AT TIME ZONE 'Europe/Rome' + interval '15 days') AT TIME ZONE 'Europe/Rome',
                    '{}'::jsonb
             FROM made",
        )
        .bind(due)
        .bind(first)
        .bind(last)
        .bind(step_ms)
        .execute(pool)
        .await?;
        first = last;
    }
    Ok(())
}

/// Waits for `count` reminders; returns the latencies (due to observed) and the span from the
/// first to the last.
async fn observe(
    observer: &mut Observer,
    count: usize,
) -> anyhow::Result<(hdrhistogram::Histogram<u64>, Duration)> {
    let mut latencies = latency_histogram()?;
    let mut seen = HashSet::with_capacity(count);
    let mut first: Option<Instant> = None;
    while seen.len() < count {
        let envelope = observer
            .try_next(Duration::from_secs(120))
            .await?
            .with_context(|| format!("only {} of {count} timers fired", seen.len()))?;
        first.get_or_insert_with(Instant::now);
        if let Some(Payload::ReminderDue(due)) = &envelope.payload
            && seen.insert(envelope.request_id.clone())
        {
            let due_at =
                from_timestamp(due.due_at.as_ref()).context("a reminder without its time")?;
            let late = (chrono::Utc::now() - due_at)
                .num_microseconds()
                .unwrap_or_default();
            latencies.record(u64::try_from(late.max(1)).unwrap_or(1))?;
        }
    }
    Ok((
        latencies,
        first.map(|first| first.elapsed()).unwrap_or_default(),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pending = arg(1, 5_000_000)?;
    let burst = arg(2, 100_000)?;
    let steady = arg(3, 1_000)?;
    let database = TestDatabase::create().await?;
    let bus = TestBus::new();
    let mut settings = overrides(&database, &bus);
    settings.push(("telemetry.log_filter".into(), "warn".into()));
    settings.push(("database.max_connections".into(), "20".into()));
    settings.push(("jobs.poll_interval_ms".into(), "100".into()));
    let service = TestService::start::<combipat_reminder_scheduler::Service>(&settings)
        .await
        .context("starting the scheduler")?;
    let mut observer = bus.observe("reminder.due").await?;
    let pool = database.connect().await?;

    let started = Instant::now();
    let far = chrono::Utc::now() + chrono::Duration::days(120);
    store(&pool, pending, far, 1.0).await?;
    sqlx::query("ANALYZE platform_jobs").execute(&pool).await?;
    let store_seconds = started.elapsed().as_secs_f64();
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('platform_jobs'))")
            .fetch_one(&pool)
            .await?;
    println!(
        "stored {pending} pending timers in {store_seconds:.1} s ({:.0}/s); platform_jobs takes {size}",
        pending as f64 / store_seconds
    );

    let burst_due = chrono::Utc::now() + chrono::Duration::seconds(5);
    store(&pool, burst, burst_due, 0.0).await?;
    let usize_burst = usize::try_from(burst)?;
    let (burst_latency, burst_span) = observe(&mut observer, usize_burst).await?;
    let burst_summary = Summary::new("burst fired", &burst_latency, burst_span);
    println!("{} (latency: due to observed)", burst_summary.line());

    let steady_start = chrono::Utc::now() + chrono::Duration::seconds(5);
    let steady_count = steady * STEADY_SECONDS;
    store(&pool, steady_count, steady_start, 1000.0 / steady as f64).await?;
    let (steady_latency, steady_span) =
        observe(&mut observer, usize::try_from(steady_count)?).await?;
    let steady_summary = Summary::new("steady lateness", &steady_latency, steady_span);
    println!("{} (target: p99 under 1 s)", steady_summary.line());

    let report = serde_json::json!({
        "pending": pending,
        "store_seconds": store_seconds,
        "platform_jobs_size": size,
        "burst": burst_summary,
        "steady_per_second": steady,
        "steady": steady_summary,
    });
    std::fs::write(
        results_dir()?.join("scheduler.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    service.shutdown().await?;
    Ok(())
}
