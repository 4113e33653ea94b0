//! The fault matrix's load and its accounting: several operators submitting at a steady rate,
//! each request retried with its idempotency key until intake accepts it (as a client of a
//! national service must), and, once the fault is over, the count of what every service
//! holds: accepted, filed, lost, duplicated effects, dead letters, outbox rows left, and
//! whether intake's status of every request agrees with office-queue's.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use combipat_platform::auth::Role;
use combipat_platform::messaging::catalogue::CATALOGUE;
use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_testkit::{eventually, grpc_channel, token, with_token};
use tokio::task::JoinSet;

use crate::System;
use crate::fixtures::request;

/// The comune of the load's citizens: every request goes to SEDE-TO.
const COMUNE: &str = "L219";

/// Operators submitting for a while.
pub struct Load {
    accepted: Arc<Mutex<HashSet<String>>>,
    /// Operators still submitting.
    running: Arc<AtomicUsize>,
    tasks: JoinSet<anyhow::Result<()>>,
}

/// The shape of a load: `operators` offices, each submitting `per_second` for `duration`.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub operators: usize,
    pub per_second: f64,
    pub duration: Duration,
}

/// At least 20 requests a second for at least 30 s, from eight operators.
pub const STANDARD: Shape = Shape {
    operators: 8,
    per_second: 3.0,
    duration: Duration::from_secs(32),
};

impl Load {
    /// Starts the operators against `intakes` (the replicas' addresses, tried in turn).
    pub fn start(intakes: Vec<SocketAddr>, shape: Shape) -> Self {
        let accepted: Arc<Mutex<HashSet<String>>> = Arc::default();
        let running = Arc::new(AtomicUsize::new(shape.operators));
        let mut tasks = JoinSet::new();
        for operator in 0..shape.operators {
            let operation = operate(operator, intakes.clone(), shape, Arc::clone(&accepted));
            let running = Arc::clone(&running);
            tasks.spawn(async move {
                let ended = operation.await;
                running.fetch_sub(1, Ordering::SeqCst);
                ended
            });
        }
        Self {
            accepted,
            running,
            tasks,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted
            .lock()
            .map(|accepted| accepted.len())
            .unwrap_or_default()
    }

    /// Waits until `count` requests are accepted (the fault strikes under load); fails at
    /// once, saying how far it got, if the operators finished before that.
    pub async fn wait_for(&self, count: usize) -> anyhow::Result<()> {
        eventually(Duration::from_secs(120), || async {
            if self.accepted() >= count {
                return Ok(Some(()));
            }
            anyhow::ensure!(
                self.running.load(Ordering::SeqCst) > 0,
                "the load ended with {} accepted, before the {count} the strike waits for",
                self.accepted()
            );
            Ok(None)
        })
        .await
    }

    /// Waits for every operator to finish; returns the accepted request ids.
    pub async fn finish(mut self) -> anyhow::Result<HashSet<String>> {
        while let Some(outcome) = self.tasks.join_next().await {
            outcome??;
        }
        Ok(self
            .accepted
            .lock()
            .map(|accepted| accepted.clone())
            .unwrap_or_default())
    }
}

async fn operate(
    operator: usize,
    intakes: Vec<SocketAddr>,
    shape: Shape,
    accepted: Arc<Mutex<HashSet<String>>>,
) -> anyhow::Result<()> {
    let office = format!("INCA-TO-{operator:02}");
    let token = token(
        Role::Operatore,
        &[
            ("patronato", "INCA"),
            ("patronato_office", office.as_str()),
            ("sub", format!("operatore-{operator}").as_str()),
        ],
    )?;
    let every = Duration::from_secs_f64(1.0 / shape.per_second);
    let started = Instant::now();
    let mut next_intake = operator;
    let mut n = 0;
    while started.elapsed() < shape.duration {
        let sent_at = Instant::now();
        let call = SubmitRequestRequest {
            idempotency_key: format!("fault-{operator}-{n}"),
            ..request(COMUNE, &format!("Richiesta sotto guasto {operator}/{n}"))
        };
        // Retried with the same key until accepted, on whichever replica answers.
        let deadline = Instant::now() + Duration::from_secs(300);
        let id = loop {
            let intake = intakes[next_intake % intakes.len()];
            let answer = async {
                let channel =
                    tokio::time::timeout(Duration::from_secs(2), grpc_channel(intake)).await??;
                let request = with_token(call.clone(), &token)?;
                let response = tokio::time::timeout(
                    Duration::from_secs(10),
                    IntakeClient::new(channel).submit_request(request),
                )
                .await??;
                anyhow::Ok(response.into_inner().request_id)
            }
            .await;
            match answer {
                Ok(id) => break id,
                Err(_) if Instant::now() < deadline => {
                    next_intake += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    return Err(error.context(format!("{office}: request {n} never accepted")));
                }
            }
        };
        if let Ok(mut accepted) = accepted.lock() {
            accepted.insert(id);
        }
        n += 1;
        tokio::time::sleep(every.saturating_sub(sent_at.elapsed())).await;
    }
    Ok(())
}

/// What a case ended with.
#[derive(Debug, Clone)]
pub struct Report {
    pub case: String,
    pub accepted: usize,
    pub filed: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub dead_letters: u32,
    pub outbox_left: i64,
    pub statuses_agree: bool,
    /// Redeliveries the inboxes recognised (in the processes still running at the end).
    pub duplicates_absorbed: u64,
    pub settled_in: Duration,
}

impl Report {
    /// A row of the matrix's Markdown table.
    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s |",
            self.case,
            self.accepted,
            self.filed,
            self.lost,
            self.duplicated,
            self.dead_letters,
            self.outbox_left,
            if self.statuses_agree { "yes" } else { "NO" },
            self.duplicates_absorbed,
            self.settled_in.as_secs_f64()
        )
    }

    /// Prints the row under the header and, when `COMBIPAT_FAULT_MATRIX` names a file (as
    /// `just test` does: target/fault-matrix.md), appends the row to it, so that a whole run's
    /// table survives nextest's captured output.
    #[allow(
        clippy::print_stdout,
        clippy::print_stderr,
        reason = "the row is the test's report"
    )]
    pub fn publish(&self) {
        println!("{}\n{}", Self::HEADER, self.row());
        let Some(path) = std::env::var_os("COMBIPAT_FAULT_MATRIX") else {
            return;
        };
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| {
                use std::io::Write as _;
                if file.metadata()?.len() == 0 {
                    writeln!(file, "{}", Self::HEADER)?;
                }
                writeln!(file, "{}", self.row())
            });
        if let Err(error) = appended {
            eprintln!(
                "cannot append the row to {}: {error}",
                path.to_string_lossy()
            );
        }
    }

    pub const HEADER: &'static str = "| case | accepted | filed | lost | duplicated effects | dead letters | outbox left | statuses agree | redeliveries absorbed | settled in |\n|---|---|---|---|---|---|---|---|---|---|";

    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.dead_letters == 0
            && self.outbox_left == 0
            && self.statuses_agree
            && self.filed == self.accepted
    }
}

async fn query_pairs(
    url: &str,
    sql: &'static str,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let pool = sqlx::PgPool::connect(url).await?;
    let rows = sqlx::query_as(sql).fetch_all(&pool).await?;
    pool.close().await;
    Ok(rows)
}

async fn scalar(url: &str, sql: &'static str) -> anyhow::Result<i64> {
    let pool = sqlx::PgPool::connect(url).await?;
    let value = sqlx::query_scalar(sql).fetch_one(&pool).await?;
    pool.close().await;
    Ok(value)
}

fn database(system: &System, service: &str) -> anyhow::Result<String> {
    system
        .service(service)
        .database_url()
        .map(ToOwned::to_owned)
        .ok_or_else(|| anyhow::anyhow!("{service} has no database"))
}

/// What every service holds now.
struct Holdings {
    filed: HashMap<String, (String, String)>,
    intake: HashMap<String, (String, String)>,
    outbox_left: i64,
}

async fn holdings(system: &System) -> anyhow::Result<Holdings> {
    let items = query_pairs(
        &database(system, "office-queue")?,
        "SELECT request_id::text, office_code, status FROM items",
    )
    .await?;
    let requests = query_pairs(
        &database(system, "intake")?,
        "SELECT id::text, coalesce(office_code, ''), status FROM requests",
    )
    .await?;
    let mut outbox_left = 0;
    for service in ["intake", "router", "office-queue"] {
        outbox_left += scalar(
            &database(system, service)?,
            "SELECT count(*) FROM platform_outbox",
        )
        .await?;
    }
    Ok(Holdings {
        filed: items
            .into_iter()
            .map(|(id, office, status)| (id, (office, status)))
            .collect(),
        intake: requests
            .into_iter()
            .map(|(id, office, status)| (id, (office, status)))
            .collect(),
        outbox_left,
    })
}

fn agree(holdings: &Holdings, accepted: &HashSet<String>) -> bool {
    accepted.iter().all(
        |id| match (holdings.intake.get(id), holdings.filed.get(id)) {
            (Some((intake_office, intake_status)), Some((office, status))) => {
                intake_status == "ROUTED" && intake_office == office && status == "NEW"
            }
            _ => false,
        },
    )
}

/// Waits for the system to settle (every accepted request filed, the outboxes empty, the
/// statuses agreeing; at most `patience`), then counts.
pub async fn settle_and_count(
    system: &System,
    accepted: &HashSet<String>,
    case: &str,
    patience: Duration,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    loop {
        let now = holdings(system).await?;
        let settled = accepted.iter().all(|id| now.filed.contains_key(id))
            && now.outbox_left == 0
            && agree(&now, accepted);
        if settled || started.elapsed() > patience {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled_in = started.elapsed();
    // Quiet for a moment: a late duplicate would show now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = holdings(system).await?;
    let filed = accepted
        .iter()
        .filter(|id| now.filed.contains_key(*id))
        .count();

    let intake = database(system, "intake")?;
    let router = database(system, "router")?;
    let queue = database(system, "office-queue")?;
    let requests = scalar(&intake, "SELECT count(*) FROM requests").await?;
    let routed_entries = scalar(
        &intake,
        "SELECT count(*) FROM request_history WHERE status = 'ROUTED'",
    )
    .await?;
    let decisions = scalar(&router, "SELECT count(*) FROM routing_decisions").await?;
    let items = scalar(&queue, "SELECT count(*) FROM items").await?;
    let filings = scalar(
        &queue,
        "SELECT count(*) FROM item_history WHERE action = 'filed'",
    )
    .await?;
    let expected = i64::try_from(accepted.len())?;
    let duplicated = [requests, routed_entries, decisions, items, filings]
        .iter()
        .map(|count| usize::try_from((count - expected).max(0)).unwrap_or_default())
        .sum();

    let mut dead_letters = 0;
    for spec in CATALOGUE {
        dead_letters += system
            .bus
            .queue_depth(&format!("{}.dlq", spec.name))
            .await
            .unwrap_or(0);
    }
    let mut duplicates_absorbed = 0;
    for process in system
        .processes
        .iter()
        .filter(|process| process.is_running())
    {
        let text = combipat_testkit::http_get(process.http_addr, "/metrics")
            .await
            .unwrap_or_default();
        duplicates_absorbed += text
            .lines()
            .filter(|line| line.starts_with("combipat_inbox_duplicates_total"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|value| value as u64)
            .sum::<u64>();
    }
    Ok(Report {
        case: case.to_owned(),
        accepted: accepted.len(),
        filed,
        lost: accepted.len() - filed,
        duplicated,
        dead_letters,
        outbox_left: now.outbox_left,
        statuses_agree: agree(&now, accepted),
        duplicates_absorbed,
        settled_in,
    })
}
