//! `SubmitRequest` under load: CONCURRENCY operators submitting at once (closed loop) to
//! intake in process, against its own database and queues, with a mandate for each of the
//! CITIZENS and the rate limit off. Each call validates (codice fiscale, ANPR territory,
//! motivo fields), checks the mandate and the likely duplicates, and commits the request,
//! its history and its event in one transaction; the outbox relay publishes behind it.
//!
//! Reports accepted requests per second and p50/p90/p99/max latency of the call, and waits
//! for the outbox to drain (so the figure is not borrowed from a growing backlog).
//!
//! Usage: intake-submit [REQUESTS [CONCURRENCY]] (default 10000, 32). Needs `just setup`.
//! Results in target/bench/intake-submit-CONCURRENCY.json.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_bench::{Summary, latency_histogram, results_dir};
use combipat_domain::Topic;
use combipat_domain::codice_fiscale::check_character;
use combipat_platform::auth::Role;
use combipat_proto::common::v1::Motivo;
use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_testkit::{
    TestBus, TestDatabase, TestService, grpc_channel, overrides, token, with_token,
};

const CITIZENS: usize = 1000;
const RESIDENCES: [&str; 6] = ["F205", "H501", "L219", "F839", "A662", "Z133"];

/// A valid codice fiscale for citizen `n` (0..1000): the name spells n in letters A-J.
fn codice_fiscale(n: usize) -> anyhow::Result<String> {
    let name: String = format!("{:03}", n % 1000)
        .bytes()
        .map(|digit| char::from(b'A' + (digit - b'0')))
        .collect();
    let first15 = format!("BNC{name}80A01F205");
    let check = check_character(first15.as_bytes()).context("check character")?;
    Ok(format!("{first15}{check}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let requests: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let concurrency: usize = std::env::args()
        .nth(2)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(32);
    let database = TestDatabase::create().await?;
    let bus = TestBus::new();
    let mut settings = overrides(&database, &bus);
    settings.push(("telemetry.log_filter".into(), "warn".into()));
    settings.push(("database.max_connections".into(), "40".into()));
    settings.push(("rate_limit.calls_per_window".into(), "0".into()));
    let intake = TestService::start::<combipat_intake::Service>(&settings)
        .await
        .context("starting intake")?;
    // request.submitted needs a queue to go to, as router's would be.
    let _submitted = bus.observe("request.submitted").await?;

    let pool = database.connect().await?;
    let citizens: Vec<String> = (0..CITIZENS)
        .map(codice_fiscale)
        .collect::<Result<_, _>>()?;
    sqlx::query(
        "INSERT INTO mandates (patronato, codice_fiscale, valid_from, reference)
         SELECT 'INCA', cf, now() - interval '1 day', 'bench' FROM unnest($1::text[]) AS cf",
    )
    .bind(&citizens)
    .execute(&pool)
    .await?;

    let channel = grpc_channel(intake.grpc_addr).await?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let mut client = IntakeClient::new(channel.clone());
        let operator = token(
            Role::Operatore,
            &[
                ("patronato", "INCA"),
                ("patronato_office", &format!("INCA-{:02}", worker % 20)),
                ("sub", &format!("operatore-{worker}")),
            ],
        )?;
        let citizens = citizens.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = latency_histogram()?;
            let mut n = worker;
            while n < requests {
                // Citizen and topic vary so that no request is a likely duplicate of another.
                let request = SubmitRequestRequest {
                    motivo: Motivo::RichiestaGenerica as i32,
                    codice_fiscale: citizens[n % CITIZENS].clone(),
                    comune_residenza: RESIDENCES[n % RESIDENCES.len()].into(),
                    topic: Topic::ALL[(n / CITIZENS) % Topic::ALL.len()].code().into(),
                    subject: format!("Richiesta {n}"),
                    body: "Il cittadino chiede lo stato della sua pratica.".into(),
                    ..SubmitRequestRequest::default()
                };
                let sent = Instant::now();
                client
                    .submit_request(with_token(request, &operator)?)
                    .await?;
                latencies.record(
                    u64::try_from(sent.elapsed().as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1),
                )?;
                n += concurrency;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = latency_histogram()?;
    for worker in workers {
        latencies.add(worker.await??)?;
    }
    let elapsed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pending: i64 = 1;
    while pending > 0 && Instant::now() < deadline {
        pending = sqlx::query_scalar("SELECT count(*) FROM platform_outbox")
            .fetch_one(&pool)
            .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained = started.elapsed();
    intake.shutdown().await?;
    anyhow::ensure!(
        pending == 0,
        "{pending} events still in the outbox after two minutes"
    );

    let summary = Summary::new(
        &format!("SubmitRequest, {concurrency} at once"),
        &latencies,
        elapsed,
    );
    println!(
        "machine: {} cores; {requests} requests, {concurrency} concurrent callers, {CITIZENS} citizens with mandates",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{}", summary.line());
    println!(
        "outbox drained {:.1} s after the first call ({:.0} requests/s counting the events' publication)",
        drained.as_secs_f64(),
        requests as f64 / drained.as_secs_f64()
    );
    let path = results_dir()?.join(format!("intake-submit-{concurrency}.json"));
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({
            "requests": requests, "concurrency": concurrency, "submit": summary,
            "drained_seconds": drained.as_secs_f64(),
        }))?,
    )?;
    println!("written {}", path.display());
    Ok(())
}
