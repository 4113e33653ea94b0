//! The load generator: realistic traffic (crates/bench/src/traffic.rs) through the whole
//! system, intake -> router -> office-queue, each on its own database and sharing one bus,
//! all on this machine. Open loop at RATE requests per second, or closed loop with
//! CONCURRENCY callers, for SECONDS.
//!
//! Measured per request, from outside the services: submit accepted (the call returns),
//! routed (request.routed seen on a queue of the generator's own) and filed (the office
//! queue's WatchQueue stream announces it). Lost = accepted but never filed.
//!
//! In the same run, what PostgreSQL alone does with the same writes (db_limit.rs), and the
//! pipeline's throughput as a ratio of it.
//!
//! Usage: load [open RATE | closed CONCURRENCY] [SECONDS]   (default: open 300 30)
//! Writes target/bench/load-<mode>-<n>.json, .md and .svg.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_bench::broker_limit::broker_limit;
use combipat_bench::traffic::{Planned, Traffic};
use combipat_bench::{Summary, db_limit, latency_histogram, report, results_dir};
use combipat_platform::auth::Role;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_proto::officequeue::v1::WatchQueueRequest;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::router::v1::ListOfficesRequest;
use combipat_proto::router::v1::router_client::RouterClient;
use combipat_testkit::{
    TestBus, TestDatabase, TestService, grpc_channel, overrides, shared_data_dir, token, with_token,
};

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Open { rate: f64 },
    Closed { concurrency: usize },
}

struct Sent {
    started: Instant,
    accepted: Instant,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some("closed") => Mode::Closed {
            concurrency: args.get(1).map_or(Ok(32), |n| n.parse())?,
        },
        _ => Mode::Open {
            rate: args.get(1).map_or(Ok(300.0), |n| n.parse())?,
        },
    };
    let seconds: u64 = args.get(2).map_or(Ok(30), |n| n.parse())?;

    let bus = TestBus::new();
    let start = |database: TestDatabase| {
        let mut settings = overrides(&database, &bus);
        settings.extend([
            ("telemetry.log_filter".to_owned(), "warn".to_owned()),
            ("database.max_connections".to_owned(), "30".to_owned()),
            ("rate_limit.calls_per_window".to_owned(), "0".to_owned()),
            ("outbox.poll_interval_ms".to_owned(), "500".to_owned()),
        ]);
        settings
    };
    let office_queue =
        TestService::start::<combipat_office_queue::Service>(&start(TestDatabase::create().await?))
            .await?;
    let router =
        TestService::start::<combipat_router::Service>(&start(TestDatabase::create().await?))
            .await?;
    let intake_database = TestDatabase::create().await?;
    let intake =
        TestService::start::<combipat_intake::Service>(&start(intake_database.clone())).await?;
    bus.wait_for_consumer(combipat_router::QUEUE.name).await?;
    bus.wait_for_consumer(combipat_office_queue::QUEUE.name)
        .await?;

    // The traffic, planned in advance, and the mandates it needs.
    let territory = combipat_domain::Territory::load_dir(&shared_data_dir())?;
    let mut traffic = Traffic::new(&territory, 42)?;
    let planned_count = match mode {
        Mode::Open { rate } => (rate * seconds as f64) as usize,
        Mode::Closed { concurrency } => concurrency * 400 * seconds as usize / 10,
    };
    let planned: Vec<Planned> = (0..planned_count)
        .map(|n| traffic.next(n))
        .collect::<Result<_, _>>()?;
    let pool = intake_database.connect().await?;
    let (patronati, citizens): (Vec<String>, Vec<String>) = planned
        .iter()
        .map(|plan| {
            (
                plan.patronato.to_owned(),
                plan.request.codice_fiscale.clone(),
            )
        })
        .unzip();
    sqlx::query(
        "INSERT INTO mandates (patronato, codice_fiscale, valid_from, reference)
         SELECT p, c, now() - interval '1 day', 'load' FROM unnest($1::text[], $2::text[]) AS m(p, c)
         ON CONFLICT DO NOTHING",
    )
    .bind(&patronati)
    .bind(&citizens)
    .execute(&pool)
    .await?;

    // Watching from outside: routed on our own queue, filed on the offices' streams.
    let routed: Seen = Arc::default();
    let mut observer = bus.observe("request.routed").await?;
    let routed_writer = Arc::clone(&routed);
    tokio::spawn(async move {
        while let Ok(envelope) = observer.next(Duration::from_secs(3600)).await {
            if let Ok(mut seen) = routed_writer.lock() {
                seen.entry(envelope.request_id).or_insert_with(Instant::now);
            }
        }
    });
    let filed: Seen = Arc::default();
    let admin = token(Role::Admin, &[])?;
    let offices = RouterClient::new(grpc_channel(router.grpc_addr).await?)
        .list_offices(with_token(ListOfficesRequest::default(), &admin)?)
        .await?
        .into_inner()
        .offices;
    let queue_channel = grpc_channel(office_queue.grpc_addr).await?;
    for office in &offices {
        let mut stream = OfficeQueueClient::new(queue_channel.clone())
            .watch_queue(with_token(
                WatchQueueRequest {
                    office_code: office.code.clone(),
                },
                &admin,
            )?)
            .await?
            .into_inner();
        let filed = Arc::clone(&filed);
        tokio::spawn(async move {
            while let Ok(Some(change)) = stream.message().await {
                if change.action == "filed"
                    && let Ok(mut seen) = filed.lock()
                {
                    seen.entry(change.request_id).or_insert_with(Instant::now);
                }
            }
        });
    }

    // The load.
    let intake_channel = grpc_channel(intake.grpc_addr).await?;
    let planned = Arc::new(planned);
    let sent: Arc<Mutex<HashMap<String, Sent>>> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let submit = {
        let (planned, sent, refused) = (
            Arc::clone(&planned),
            Arc::clone(&sent),
            Arc::clone(&refused),
        );
        move |n: usize| {
            let (planned, sent, refused) = (
                Arc::clone(&planned),
                Arc::clone(&sent),
                Arc::clone(&refused),
            );
            let mut client = IntakeClient::new(intake_channel.clone());
            async move {
                let plan = &planned[n];
                let operator = token(
                    Role::Operatore,
                    &[
                        ("patronato", plan.patronato),
                        ("patronato_office", &plan.patronato_office),
                        ("sub", &plan.patronato_office),
                    ],
                )?;
                let started = Instant::now();
                match client
                    .submit_request(with_token(plan.request.clone(), &operator)?)
                    .await
                {
                    Ok(answer) => {
                        let accepted = Instant::now();
                        if let Ok(mut sent) = sent.lock() {
                            sent.insert(answer.into_inner().request_id, Sent { started, accepted });
                        }
                    }
                    Err(status) => {
                        if refused.fetch_add(1, Ordering::Relaxed) < 3 {
                            println!("refused: {status:?}");
                        }
                    }
                }
                anyhow::Ok(())
            }
        }
    };
    let began = Instant::now();
    let deadline = began + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    match mode {
        Mode::Open { rate } => {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for n in 0..planned.len() {
                ticker.tick().await;
                tasks.push(tokio::spawn(submit(n)));
            }
        }
        Mode::Closed { concurrency } => {
            let next = Arc::new(AtomicUsize::new(0));
            for _ in 0..concurrency {
                let (next, submit, total) = (Arc::clone(&next), submit.clone(), planned.len());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= total || Instant::now() > deadline {
                            return anyhow::Ok(());
                        }
                        submit(n).await?;
                    }
                }));
            }
        }
    }
    for task in tasks {
        task.await??;
    }
    let sending = began.elapsed();

    // Everything accepted should be filed: wait while the backlog drains, and give up only
    // when nothing more has been filed for STALL (what is missing then is lost).
    const STALL: Duration = Duration::from_secs(20);
    let accepted_count = sent.lock().map(|sent| sent.len()).unwrap_or_default();
    let (mut progress_at, mut filed_so_far) = (Instant::now(), 0);
    loop {
        let now_filed = filed.lock().map(|filed| filed.len()).unwrap_or_default();
        if now_filed >= accepted_count || progress_at.elapsed() > STALL {
            break;
        }
        if now_filed > filed_so_far {
            (progress_at, filed_so_far) = (Instant::now(), now_filed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut accepted_h, mut routed_h, mut filed_h) = (
        latency_histogram()?,
        latency_histogram()?,
        latency_histogram()?,
    );
    let (mut lost, mut last) = (0usize, began);
    {
        let sent = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let routed = routed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let filed = filed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let micros = |from: Instant, to: Instant| {
            u64::try_from(to.saturating_duration_since(from).as_micros())
                .unwrap_or(u64::MAX)
                .max(1)
        };
        for (id, times) in sent.iter() {
            accepted_h.record(micros(times.started, times.accepted))?;
            if let Some(at) = routed.get(id) {
                routed_h.record(micros(times.started, *at))?;
            }
            match filed.get(id) {
                Some(at) => {
                    filed_h.record(micros(times.started, *at))?;
                    last = last.max(*at);
                }
                None => lost += 1,
            }
        }
    }
    let end_to_end = last.saturating_duration_since(began);
    let label = match mode {
        Mode::Open { rate } => format!("open loop at {rate}/s"),
        Mode::Closed { concurrency } => format!("closed loop, {concurrency} callers"),
    };
    let summaries = [
        Summary::new(
            &format!("submit -> accepted, {label}"),
            &accepted_h,
            sending,
        ),
        Summary::new(&format!("submit -> routed, {label}"), &routed_h, end_to_end),
        Summary::new(&format!("submit -> filed, {label}"), &filed_h, end_to_end),
    ];
    intake.shutdown().await?;
    router.shutdown().await?;
    office_queue.shutdown().await?;

    // In the same run, the limits of this machine: PostgreSQL alone with the same writes,
    // and RabbitMQ alone with as many messages as the pipeline's (at most 20,000) of the
    // size of a request.submitted event.
    let db_alone = db_limit::requests_per_second(5000, 32)
        .await
        .context("the database alone")?;
    let size = {
        use prost::Message as _;
        combipat_testkit::submitted_event(combipat_testkit::request_summary(
            "F205",
            "pensioni",
            "CP-2026-00000001",
        ))
        .encode_to_vec()
        .len()
    };
    let events: Vec<(String, Vec<u8>)> = (0..accepted_count.min(20_000))
        .map(|_| (uuid::Uuid::new_v4().to_string(), vec![b'x'; size]))
        .collect();
    let connection =
        lapin::Connection::connect(&bus.url, lapin::ConnectionProperties::default()).await?;
    let broker_alone = broker_limit(&connection, &events)
        .await
        .context("the broker alone")?
        .per_second;
    let _closed = connection.close(200, "done".into()).await;

    let outcome = Outcome {
        label,
        seconds,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        accepted: accepted_count,
        refused: refused.load(Ordering::Relaxed),
        filed: usize::try_from(filed_h.len()).unwrap_or(usize::MAX),
        lost,
        carried: filed_h.len() as f64 / end_to_end.as_secs_f64().max(f64::EPSILON),
        db_alone,
        broker_alone,
        summaries,
    };
    println!(
        "machine: {} cores; {} for {seconds} s; {} offices watched",
        outcome.cores,
        outcome.label,
        offices.len()
    );
    for summary in &outcome.summaries {
        println!("{}", summary.line());
    }
    println!(
        "accepted {}, refused {}, filed {}, lost {}; carried end to end {:.0}/s",
        outcome.accepted, outcome.refused, outcome.filed, outcome.lost, outcome.carried
    );
    println!(
        "PostgreSQL alone, the same writes: {db_alone:.0} requests/s (pipeline / database {:.2}); RabbitMQ alone, {size}-byte messages: {broker_alone:.0}/s (pipeline / broker {:.2}, and each request crosses the broker twice)",
        outcome.carried / db_alone,
        outcome.carried / broker_alone
    );

    let stem = match mode {
        Mode::Open { rate } => format!("load-open-{rate}"),
        Mode::Closed { concurrency } => format!("load-closed-{concurrency}"),
    };
    let dir = results_dir()?;
    std::fs::write(
        dir.join(format!("{stem}.json")),
        serde_json::to_string_pretty(&outcome)?,
    )?;
    std::fs::write(
        dir.join(format!("{stem}.svg")),
        report::svg_histogram(
            &format!(
                "submit -> filed, {}, {} cores",
                outcome.label, outcome.cores
            ),
            &filed_h,
        ),
    )?;
    std::fs::write(dir.join(format!("{stem}.md")), outcome.markdown(&stem))?;
    println!("written {}", dir.join(format!("{stem}.md")).display());
    Ok(())
}

/// One run's figures, as the JSON result and the Markdown report give them.
#[derive(serde::Serialize)]
struct Outcome {
    label: String,
    seconds: u64,
    cores: usize,
    accepted: usize,
    refused: usize,
    filed: usize,
    lost: usize,
    carried: f64,
    db_alone: f64,
    broker_alone: f64,
    summaries: [Summary; 3],
}

impl Outcome {
    fn markdown(&self, stem: &str) -> String {
        let mut text = format!(
            "# Load: {}, {} s, {} cores\n\n| stage | requests | per second | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n",
            self.label, self.seconds, self.cores
        );
        for summary in &self.summaries {
            text.push_str(&format!(
                "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                summary.name,
                summary.messages,
                summary.per_second,
                summary.p50_ms,
                summary.p90_ms,
                summary.p99_ms,
                summary.max_ms
            ));
        }
        text.push_str(&format!(
            "\nAccepted {}, refused {}, filed {}, lost {}. Carried end to end: {:.0} requests/s; PostgreSQL alone with the same writes: {:.0}/s (ratio {:.2}); RabbitMQ alone: {:.0} messages/s (ratio {:.2}).\n\n![submit -> filed]({stem}.svg)\n",
            self.accepted,
            self.refused,
            self.filed,
            self.lost,
            self.carried,
            self.db_alone,
            self.carried / self.db_alone,
            self.broker_alone,
            self.carried / self.broker_alone
        ));
        text
    }
}
