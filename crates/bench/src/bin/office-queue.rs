//! Office-queue under a national backlog: ITEMS open items (default 1,000,000) across
//! OFFICES offices (default 500), one of them busy (2% of all items: ten times an average
//! office's share, as a big city's sede), filed straight into the database, then over gRPC:
//!
//! - `ListItems` latency for the busy office: the first page by priority, pages further down
//!   (following the cursor), the first page filtered on overdue items, and the first page
//!   in arrival order;
//! - `Claim` + `Answer` throughput and latency with WORKERS officials of the busy office
//!   working distinct items at once (each answer writes its event to the outbox).
//!
//! Usage: office-queue [ITEMS [OFFICES]]. Needs `just setup`. Results in
//! target/bench/office-queue.json.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_bench::{Summary, latency_histogram, results_dir};
use combipat_platform::auth::Role;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::officequeue::v1::{
    AnswerRequest, ClaimRequest, ListItemsRequest, ListOrder, SlaState,
};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, grpc_channel, overrides, token, with_token,
};
use hdrhistogram::Histogram;
use tonic::transport::Channel;

const BUSY_OFFICE: &str = "SEDE-0000";
/// The busy office's share of all items.
const BUSY_SHARE: f64 = 0.02;
const LIST_CALLS: usize = 300;
const PAGE_SIZE: u32 = 50;
const DEEP_PAGES: usize = 20;
const WORKERS: usize = 16;
const ITEMS_PER_WORKER: usize = 150;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let items: i64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let offices: i64 = std::env::args()
        .nth(2)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(500)
        .max(2);
    let database = TestDatabase::create().await?;
    let bus = TestBus::new();
    let mut settings = overrides(&database, &bus);
    settings.push(("telemetry.log_filter".into(), "warn".into()));
    settings.push(("database.max_connections".into(), "40".into()));
    // Sixteen officials answering as fast as they can would pass the per-official write limit.
    settings.push(("rate_limit.calls_per_window".into(), "0".into()));
    let service = TestService::start::<combipat_office_queue::Service>(&settings)
        .await
        .context("starting office-queue")?;
    // Answers announce themselves: give the events a queue to land in.
    let _answers = bus.observe("request.answered").await?;

    let pool = database.connect().await?;
    let started = Instant::now();
    fill(&pool, items, offices)
        .await
        .context("filling the queues")?;
    let fill_seconds = started.elapsed().as_secs_f64();
    let busy: i64 = sqlx::query_scalar("SELECT count(*) FROM items WHERE office_code = $1")
        .bind(BUSY_OFFICE)
        .fetch_one(&pool)
        .await?;
    println!(
        "filled {items} items across {offices} offices in {fill_seconds:.1} s ({:.0} rows/s); busy office {BUSY_OFFICE}: {busy} items",
        items as f64 / fill_seconds
    );

    let client = OfficeQueueClient::new(grpc_channel(service.grpc_addr).await?);
    let official = token(Role::Funzionario, &[("inps_office", BUSY_OFFICE)])?;
    let mut summaries = vec![
        list_first_pages(
            &client,
            &official,
            "ListItems first page (priority)",
            |_| ListItemsRequest::default(),
        )
        .await?,
        list_first_pages(&client, &official, "ListItems first page, overdue", |_| {
            ListItemsRequest {
                sla_state: vec![SlaState::Overdue as i32],
                ..ListItemsRequest::default()
            }
        })
        .await?,
        list_first_pages(&client, &official, "ListItems first page (arrival)", |_| {
            ListItemsRequest {
                order: ListOrder::Arrival as i32,
                ..ListItemsRequest::default()
            }
        })
        .await?,
        list_deep_pages(&client, &official).await?,
    ];
    summaries.push(claim_and_answer(&client, &pool).await?);
    service.shutdown().await?;

    println!(
        "machine: {} cores; {items} open items, {offices} offices, busy office {busy} items; pages of {PAGE_SIZE}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for summary in &summaries {
        println!("{}", summary.line());
    }
    let path = results_dir()?.join("office-queue.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({
            "items": items, "offices": offices, "busy_office_items": busy,
            "fill_seconds": fill_seconds, "page_size": PAGE_SIZE, "workers": WORKERS,
            "results": summaries,
        }))?,
    )?;
    println!("written {}", path.display());
    Ok(())
}

/// Open items as office-queue would have filed them, written in one statement: sent over
/// the last 80 days (so some are overdue and some due soon), a few with solleciti.
async fn fill(pool: &sqlx::PgPool, items: i64, offices: i64) -> anyhow::Result<()> {
    let busy = (items as f64 * BUSY_SHARE) as i64;
    sqlx::query(
        "INSERT INTO items (request_id, protocol_number, office_code, motivo, topic, subject, patronato,
                            submitted_at, decision_sequence, routed, ruleset_version, rule,
                            solleciti, sla_due_at, sla_warn_at)
         SELECT gen_random_uuid(), 'CP-2026-' || lpad(n::text, 8, '0'),
                CASE WHEN n <= $2 THEN $4 ELSE 'SEDE-' || lpad((1 + n % ($3 - 1))::text, 4, '0') END,
                1 + n % 3, (ARRAY['pensioni','assegno_unico','naspi_dis_coll','invalidita_civile'])[1 + n % 4],
                'Richiesta ' || n, (ARRAY['INCA','ACLI','INAS','ITAL','EPACA'])[1 + n % 5],
                sent, n, true, 'bench', 'bench', (n % 10 = 0)::int + (n % 50 = 0)::int,
                sent + interval '42 days', sent + interval '35 days'
         FROM (SELECT n, now() - random() * interval '80 days' AS sent
               FROM generate_series(1, $1) AS n) AS generated",
    )
    .bind(items)
    .bind(busy)
    .bind(offices)
    .bind(BUSY_OFFICE)
    .execute(pool)
    .await?;
    sqlx::query("VACUUM ANALYZE items").execute(pool).await?;
    Ok(())
}

fn list_request(
    official: &str,
    request: ListItemsRequest,
) -> anyhow::Result<tonic::Request<ListItemsRequest>> {
    with_token(
        ListItemsRequest {
            office_code: BUSY_OFFICE.into(),
            page_size: PAGE_SIZE,
            ..request
        },
        official,
    )
}

fn record(histogram: &mut Histogram<u64>, since: Instant) -> anyhow::Result<()> {
    histogram.record(
        u64::try_from(since.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1),
    )?;
    Ok(())
}

async fn list_first_pages(
    client: &OfficeQueueClient<Channel>,
    official: &str,
    name: &str,
    request: impl Fn(usize) -> ListItemsRequest,
) -> anyhow::Result<Summary> {
    let mut client = client.clone();
    let mut latencies = latency_histogram()?;
    let started = Instant::now();
    for call in 0..LIST_CALLS {
        let sent = Instant::now();
        let page = client
            .list_items(list_request(official, request(call))?)
            .await?
            .into_inner();
        record(&mut latencies, sent)?;
        anyhow::ensure!(!page.items.is_empty(), "{name}: an empty page");
    }
    Ok(Summary::new(name, &latencies, started.elapsed()))
}

/// Reads DEEP_PAGES pages in a row by priority, over and over: the cost of going down.
async fn list_deep_pages(
    client: &OfficeQueueClient<Channel>,
    official: &str,
) -> anyhow::Result<Summary> {
    let mut client = client.clone();
    let mut latencies = latency_histogram()?;
    let started = Instant::now();
    for _ in 0..(LIST_CALLS / DEEP_PAGES).max(1) {
        let mut page_token = String::new();
        for _ in 0..DEEP_PAGES {
            let sent = Instant::now();
            let page = client
                .list_items(list_request(
                    official,
                    ListItemsRequest {
                        page_token: page_token.clone(),
                        ..ListItemsRequest::default()
                    },
                )?)
                .await?
                .into_inner();
            record(&mut latencies, sent)?;
            page_token = page.next_page_token;
        }
    }
    Ok(Summary::new(
        &format!("ListItems pages 1-{DEEP_PAGES}"),
        &latencies,
        started.elapsed(),
    ))
}

/// WORKERS officials, each claiming and answering its own ITEMS_PER_WORKER items.
async fn claim_and_answer(
    client: &OfficeQueueClient<Channel>,
    pool: &sqlx::PgPool,
) -> anyhow::Result<Summary> {
    let ids: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT request_id, version FROM items WHERE office_code = $1 ORDER BY submitted_at LIMIT $2",
    )
    .bind(BUSY_OFFICE)
    .bind(i64::try_from(WORKERS * ITEMS_PER_WORKER)?)
    .fetch_all(pool)
    .await?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for (worker, share) in ids.chunks(ITEMS_PER_WORKER).enumerate() {
        let mut client = client.clone();
        let share = share.to_vec();
        let official = token(
            Role::Funzionario,
            &[
                ("inps_office", BUSY_OFFICE),
                ("sub", &format!("funzionario-{worker}")),
            ],
        )?;
        workers.push(tokio::spawn(async move {
            let mut latencies = latency_histogram()?;
            for (request_id, version) in share {
                let sent = Instant::now();
                let claimed = client
                    .claim(with_token(
                        ClaimRequest {
                            request_id: request_id.to_string(),
                            expected_version: u64::try_from(version)?,
                            lease_seconds: 0,
                        },
                        &official,
                    )?)
                    .await?
                    .into_inner();
                client
                    .answer(with_token(
                        AnswerRequest {
                            request_id: request_id.to_string(),
                            expected_version: claimed.version,
                            text: "Pratica definita: il pagamento è disposto.".into(),
                            ..AnswerRequest::default()
                        },
                        &official,
                    )?)
                    .await?;
                record(&mut latencies, sent)?;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = latency_histogram()?;
    for worker in workers {
        latencies.add(worker.await??)?;
    }
    let elapsed = started.elapsed();
    // Every answer is in the outbox; the relay publishes them behind the calls.
    let pending = wait_for_outbox(pool, Duration::from_secs(60)).await?;
    anyhow::ensure!(
        pending == 0,
        "{pending} answers still in the outbox after a minute"
    );
    Ok(Summary::new(
        &format!("Claim+Answer, {WORKERS} officials"),
        &latencies,
        elapsed,
    ))
}

async fn wait_for_outbox(pool: &sqlx::PgPool, timeout: Duration) -> anyhow::Result<i64> {
    let deadline = Instant::now() + timeout;
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM platform_outbox")
            .fetch_one(pool)
            .await?;
        if pending == 0 || Instant::now() > deadline {
            return Ok(pending);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
