//! The load generator: realistic traffic (crates/bench/src/traffic.rs) through the whole
//! system: the six service binaries (release build) as processes of their own, each on its
//! own database, sharing one bus, all on this machine with PostgreSQL, RabbitMQ and the
//! generator. Open loop at RATE requests per second, closed loop with CONCURRENCY callers,
//! or `overload RATE`: open loop past capacity, then 10 s at 300/s to see it recover.
//!
//! Measured per request, from outside the services: submit accepted (the call returns),
//! routed (request.routed seen on a queue of the generator's own) and filed (the office
//! queue's WatchQueue stream announces it). Lost = accepted but never filed. Refusals are
//! counted by gRPC code, with their latency and whether they carry a retry hint.
//!
//! What it costs (crates/bench/src/resources.rs): the machine's busy CPU per request over the
//! steady part of the sending (from its 10th second, or its second sixth if shorter, to its
//! end), split by process; each service's peak RSS; the PostgreSQL connections in use.
//!
//! In the same run, what PostgreSQL alone does with the same writes (db_limit.rs) and RabbitMQ
//! alone (broker_limit.rs), and the pipeline's throughput as a ratio of each.
//!
//! Usage: load [open RATE | closed CONCURRENCY | overload RATE] [SECONDS] [section.field=value ...]
//! (default: open 300 30; the settings go to every service). LOAD_SKIP_LIMITS=1 leaves out the
//! limits of PostgreSQL and RabbitMQ alone (for a quick experiment).
//! Needs the release binaries (`cargo build --release --bins`; `just bench` does).
//! Writes target/bench/load-<mode>-<n>.json, .md and .svg.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_bench::broker_limit::broker_limit;
use combipat_bench::load_report::Outcome;
use combipat_bench::resources::{
    ConnectionSampler, CpuCost, Watched, commits, commits_per_request, peak_rss_bytes,
};
use combipat_bench::traffic::{Planned, Traffic};
use combipat_bench::{Summary, db_limit, latency_histogram, report, results_dir};
use combipat_e2e::{Options, System};
use combipat_platform::auth::Role;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_proto::officequeue::v1::WatchQueueRequest;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::router::v1::ListOfficesRequest;
use combipat_proto::router::v1::router_client::RouterClient;
use combipat_testkit::{grpc_channel, shared_data_dir, token, with_token};
use hdrhistogram::Histogram;
use tonic_types::StatusExt as _;

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Open { rate: f64 },
    Closed { concurrency: usize },
    Overload { rate: f64 },
}

/// The rate and length of the recovery phase after an overload.
const RECOVERY: (f64, u64) = (300.0, 10);

struct Sent {
    started: Instant,
    accepted: Instant,
}

/// Refused calls: how many per code, how fast, with a retry hint or not, and in which phase.
#[derive(Default)]
struct Refusals {
    by_code: BTreeMap<String, usize>,
    with_retry_hint: usize,
    in_recovery: usize,
    latency: Option<Histogram<u64>>,
}

fn micros(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |default: f64| args.get(1).map_or(Ok(default), |n| n.parse::<f64>());
    let mode = match args.first().map(String::as_str) {
        Some("closed") => Mode::Closed {
            concurrency: number(32.0)? as usize,
        },
        Some("overload") => Mode::Overload {
            rate: number(3000.0)?,
        },
        _ => Mode::Open {
            rate: number(300.0)?,
        },
    };
    let seconds: u64 = args.get(2).map_or(Ok(30), |n| n.parse())?;
    // Then any `section.field=value`: a setting for every service (to compare, e.g.
    // `submissions.max_batch=1` for intake without group commit).
    let extra: Vec<(String, String)> = args
        .iter()
        .skip(3)
        .filter_map(|arg| arg.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();

    // The six services as they are deployed: binaries configured by the environment.
    let mut system = System::start_with(Options {
        settings: [
            ("telemetry.log_filter", "warn"),
            // One operator per office would exceed the per-operator limit.
            ("rate_limit.calls_per_window", "0"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .chain(extra.iter().cloned())
        .collect(),
        ..Options::default()
    })
    .await?;

    // The traffic, planned in advance, and the mandates it needs.
    let territory = combipat_domain::Territory::load_dir(&shared_data_dir())?;
    let mut traffic = Traffic::new(&territory, 42)?;
    let planned_count = match mode {
        Mode::Open { rate } => (rate * seconds as f64) as usize,
        Mode::Overload { rate } => {
            (rate * seconds as f64 + RECOVERY.0 * RECOVERY.1 as f64) as usize
        }
        Mode::Closed { concurrency } => concurrency * 400 * seconds as usize / 10,
    };
    let planned: Vec<Planned> = (0..planned_count)
        .map(|n| traffic.next(n))
        .collect::<Result<_, _>>()?;
    let intake_url = system
        .intake()
        .database_url()
        .context("intake has no database")?
        .to_owned();
    let pool = sqlx::PgPool::connect(&intake_url).await?;
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
    // One token per office, minted before the clock starts.
    let mut tokens: HashMap<(String, String), String> = HashMap::new();
    for plan in &planned {
        let key = (plan.patronato.to_owned(), plan.patronato_office.clone());
        if let std::collections::hash_map::Entry::Vacant(entry) = tokens.entry(key) {
            entry.insert(token(
                Role::Operatore,
                &[
                    ("patronato", plan.patronato),
                    ("patronato_office", &plan.patronato_office),
                    ("sub", &plan.patronato_office),
                ],
            )?);
        }
    }
    let tokens = Arc::new(tokens);

    // Watching from outside: routed on our own queue, filed on the offices' streams.
    let bus = &system.bus;
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
    let offices = RouterClient::new(grpc_channel(system.router().grpc_addr).await?)
        .list_offices(with_token(ListOfficesRequest::default(), &admin)?)
        .await?
        .into_inner()
        .offices;
    let queue_channel = grpc_channel(system.office_queue().grpc_addr).await?;
    for office in &offices {
        // One watcher per office, each its own caller (a caller may hold only a few streams).
        let watcher = token(
            Role::Admin,
            &[("sub", &format!("load-watch-{}", office.code))],
        )?;
        let mut stream = OfficeQueueClient::new(queue_channel.clone())
            .watch_queue(with_token(
                WatchQueueRequest {
                    office_code: office.code.clone(),
                },
                &watcher,
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

    // What the run costs: CPU and memory from /proc, connections from PostgreSQL.
    let watched = Watched {
        services: system
            .processes
            .iter()
            .filter_map(|process| Some((process.name.to_owned(), process.pid()?)))
            .collect(),
    };
    let databases: Vec<(String, String)> = system
        .processes
        .iter()
        .filter_map(|process| {
            let database = process.database_url()?.rsplit('/').next()?.to_owned();
            Some((process.name.to_owned(), database))
        })
        .collect();
    let connections = ConnectionSampler::start(pool.clone(), databases.clone());

    // The load.
    let intake_channel = grpc_channel(system.intake().grpc_addr).await?;
    let planned = Arc::new(planned);
    let sent: Arc<Mutex<HashMap<String, Sent>>> = Arc::default();
    let refusals: Arc<Mutex<Refusals>> = Arc::new(Mutex::new(Refusals {
        latency: Some(latency_histogram()?),
        ..Refusals::default()
    }));
    let recovery_from = match mode {
        Mode::Overload { rate } => (rate * seconds as f64) as usize,
        _ => usize::MAX,
    };
    let submit = {
        let (planned, sent, refusals, tokens) = (
            Arc::clone(&planned),
            Arc::clone(&sent),
            Arc::clone(&refusals),
            Arc::clone(&tokens),
        );
        move |n: usize| {
            let (planned, sent, refusals, tokens) = (
                Arc::clone(&planned),
                Arc::clone(&sent),
                Arc::clone(&refusals),
                Arc::clone(&tokens),
            );
            let mut client = IntakeClient::new(intake_channel.clone());
            async move {
                let plan = &planned[n];
                let operator = tokens
                    .get(&(plan.patronato.to_owned(), plan.patronato_office.clone()))
                    .context("no token for the office")?;
                let started = Instant::now();
                match client
                    .submit_request(with_token(plan.request.clone(), operator)?)
                    .await
                {
                    Ok(answer) => {
                        let accepted = Instant::now();
                        if let Ok(mut sent) = sent.lock() {
                            sent.insert(answer.into_inner().request_id, Sent { started, accepted });
                        }
                    }
                    Err(status) => {
                        let took = micros(started, Instant::now());
                        if let Ok(mut refusals) = refusals.lock() {
                            let code = format!("{:?}", status.code());
                            let count = refusals.by_code.entry(code).or_default();
                            *count += 1;
                            if *count <= 2 {
                                println!("refused: {:?} {}", status.code(), status.message());
                            }
                            if status.get_details_retry_info().is_some() {
                                refusals.with_retry_hint += 1;
                            }
                            if n >= recovery_from {
                                refusals.in_recovery += 1;
                            }
                            if let Some(latency) = refusals.latency.as_mut() {
                                latency.record(took)?;
                            }
                        }
                    }
                }
                anyhow::Ok(())
            }
        }
    };
    let began = Instant::now();
    let deadline = began + Duration::from_secs(seconds);
    let steady_from = began + Duration::from_secs(10.min(seconds / 6));
    let ((cpu_before, commits_before), (cpu_after, commits_after)) = {
        let (watched, pool, databases) = (watched.clone(), pool.clone(), databases.clone());
        let reading = tokio::spawn(async move {
            tokio::time::sleep_until(steady_from.into()).await;
            let before = (watched.read(), commits(&pool, &databases).await);
            tokio::time::sleep_until(deadline.into()).await;
            (before, (watched.read(), commits(&pool, &databases).await))
        });
        let mut tasks = Vec::new();
        match mode {
            Mode::Open { rate } | Mode::Overload { rate } => {
                let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                for n in 0..planned.len().min(recovery_from) {
                    ticker.tick().await;
                    tasks.push(tokio::spawn(submit(n)));
                }
                if recovery_from < planned.len() {
                    let mut ticker =
                        tokio::time::interval(Duration::from_secs_f64(1.0 / RECOVERY.0));
                    for n in recovery_from..planned.len() {
                        ticker.tick().await;
                        tasks.push(tokio::spawn(submit(n)));
                    }
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
        let ((cpu_before, commits_before), (cpu_after, commits_after)) = reading.await?;
        ((cpu_before?, commits_before?), (cpu_after?, commits_after?))
    };
    let sending = began.elapsed();

    // Everything accepted should be filed: wait while the backlog drains, and give up when
    // nothing more has been filed for STALL (what is missing then is lost), or after DRAIN
    // (what is missing then was still on its way: reported as not filed in time).
    const STALL: Duration = Duration::from_secs(20);
    const DRAIN: Duration = Duration::from_secs(180);
    let accepted_count = sent.lock().map(|sent| sent.len()).unwrap_or_default();
    let (mut progress_at, mut filed_so_far) = (Instant::now(), 0);
    let draining = Instant::now();
    let mut drain_cut = false;
    loop {
        let now_filed = filed.lock().map(|filed| filed.len()).unwrap_or_default();
        if now_filed >= accepted_count || progress_at.elapsed() > STALL {
            break;
        }
        if draining.elapsed() > DRAIN {
            drain_cut = true;
            break;
        }
        if now_filed > filed_so_far {
            (progress_at, filed_so_far) = (Instant::now(), now_filed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let peak_connections = connections.finish().await?;
    let peak_rss_mb: BTreeMap<String, f64> = watched
        .services
        .iter()
        .filter_map(|(name, pid)| Some((name.clone(), peak_rss_bytes(*pid)? as f64 / 1_048_576.0)))
        .collect();
    let (mut accepted_h, mut routed_h, mut filed_h) = (
        latency_histogram()?,
        latency_histogram()?,
        latency_histogram()?,
    );
    let (mut lost, mut last, mut filed_in_window) = (0usize, began, 0usize);
    {
        let sent = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let routed = routed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let filed = filed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for (id, times) in sent.iter() {
            accepted_h.record(micros(times.started, times.accepted))?;
            if let Some(at) = routed.get(id) {
                routed_h.record(micros(times.started, *at))?;
            }
            match filed.get(id) {
                Some(at) => {
                    filed_h.record(micros(times.started, *at))?;
                    last = last.max(*at);
                    if (steady_from..=deadline).contains(at) {
                        filed_in_window += 1;
                    }
                }
                None => lost += 1,
            }
        }
    }
    let cpu = CpuCost::between(&cpu_before, &cpu_after, filed_in_window);
    let commits_per_request = commits_per_request(&commits_before, &commits_after, filed_in_window);
    let end_to_end = last.saturating_duration_since(began);
    let label = match mode {
        Mode::Open { rate } => format!("open loop at {rate}/s"),
        Mode::Overload { rate } => format!(
            "overload at {rate}/s, then {}/s for {} s",
            RECOVERY.0, RECOVERY.1
        ),
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
    let refusals = std::mem::take(&mut *refusals.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let refused: usize = refusals.by_code.values().sum();
    let refusal_summary = refusals
        .latency
        .as_ref()
        .filter(|latency| !latency.is_empty())
        .map(|latency| Summary::new("refusals", latency, sending));
    // Each service's own account of the run (its histograms say where the time went).
    let dir = results_dir()?;
    for process in &system.processes {
        if let Ok(metrics) = combipat_testkit::http_get(process.http_addr, "/metrics").await {
            std::fs::write(
                dir.join(format!("load-metrics-{}.txt", process.name)),
                metrics,
            )?;
        }
    }
    system.stop_all().await?;
    println!(
        "{label}: offered {}, accepted {accepted_count}, refused {refused} {:?}, lost {lost}; {}",
        planned.len(),
        refusals.by_code,
        summaries[2].line()
    );

    // In the same run, the limits of this machine: PostgreSQL alone with the same writes,
    // and RabbitMQ alone with as many messages as the pipeline's (at most 20,000) of the
    // size of a request.submitted event. An overload run measures what is shed, not limits.
    let skip_limits = std::env::var_os("LOAD_SKIP_LIMITS").is_some();
    let (db_alone, broker_alone) = if matches!(mode, Mode::Overload { .. }) || skip_limits {
        (f64::NAN, f64::NAN)
    } else {
        let db_alone = db_limit::requests_per_second(2000, 32)
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
            lapin::Connection::connect(&system.bus.url, lapin::ConnectionProperties::default())
                .await?;
        let broker_alone = broker_limit(&connection, &events)
            .await
            .context("the broker alone")?
            .per_second;
        let _closed = connection.close(200, "done".into()).await;
        (db_alone, broker_alone)
    };

    let outcome = Outcome {
        label,
        seconds,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        offered: planned.len(),
        accepted: accepted_count,
        refused,
        refused_by_code: refusals.by_code,
        refused_with_retry_hint: refusals.with_retry_hint,
        refused_in_recovery: refusals.in_recovery,
        refusals: refusal_summary,
        filed: usize::try_from(filed_h.len()).unwrap_or(usize::MAX),
        lost: if drain_cut { 0 } else { lost },
        not_filed_in_time: if drain_cut { lost } else { 0 },
        carried: filed_h.len() as f64 / end_to_end.as_secs_f64().max(f64::EPSILON),
        db_alone,
        broker_alone,
        cpu,
        commits_per_request,
        peak_rss_mb,
        peak_connections,
        summaries,
    };
    println!(
        "machine: {} cores; {} for {seconds} s; {} offices watched",
        outcome.cores,
        outcome.label,
        offices.len()
    );
    print!("{}", outcome.markdown("load"));

    let stem = match mode {
        Mode::Open { rate } => format!("load-open-{rate}"),
        Mode::Overload { rate } => format!("load-overload-{rate}"),
        Mode::Closed { concurrency } => format!("load-closed-{concurrency}"),
    };
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
