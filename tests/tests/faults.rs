//! Faults under load, across the three processes: each service killed with SIGKILL (no
//! shutdown, no flush) while requests keep coming, then restarted; RabbitMQ restarted; and
//! PostgreSQL restarted (every connection terminated). The servers a test restarts are its
//! own (another port and data directory), so the rest of the suite runs undisturbed. The operator's side
//! retries each request with its idempotency key until it is accepted, as a client of a
//! national service must. Counted at the end: accepted, filed, lost (must be 0) and
//! duplicated (must be 0), in the office's queue and in intake's and router's tables.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "a failed assumption in a test is a failed test; the counts are its report"
)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use combipat_e2e::fixtures::{all_items, operator, request};
use combipat_e2e::own_servers::{OwnPostgres, OwnRabbitMq};
use combipat_e2e::{Servers, System};
use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_testkit::{eventually, grpc_channel, with_token};
use nix::sys::signal::Signal;

const REQUESTS: usize = 60;
const WAIT: Duration = Duration::from_secs(60);

/// Submits REQUESTS requests one after another, each retried with its own idempotency key
/// until intake accepts it; returns the request ids, in order.
async fn operator_load(
    intake: std::net::SocketAddr,
    accepted: Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<()> {
    let token = operator();
    for n in 0..REQUESTS {
        let call = SubmitRequestRequest {
            idempotency_key: format!("fault-load-{n}"),
            ..request("L219", &format!("Richiesta sotto guasto {n}"))
        };
        let id = eventually(WAIT, || {
            let (call, token) = (call.clone(), token.clone());
            async move {
                // A fresh connection each try: the old one may point at a dead process.
                let Ok(channel) = grpc_channel(intake).await else {
                    return Ok(None);
                };
                let answer = IntakeClient::new(channel)
                    .submit_request(with_token(call, &token)?)
                    .await;
                Ok(answer.ok().map(|answer| answer.into_inner().request_id))
            }
        })
        .await?;
        accepted.lock().unwrap().push(id);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    Ok(())
}

async fn wait_for_accepted(accepted: &Arc<Mutex<Vec<String>>>, at_least: usize) {
    eventually(WAIT, || async {
        Ok((accepted.lock().unwrap().len() >= at_least).then_some(()))
    })
    .await
    .unwrap();
}

async fn count(database_url: &str, sql: &'static str) -> i64 {
    let pool = sqlx::PgPool::connect(database_url).await.unwrap();
    let value = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    value
}

/// Counts what arrived against what was accepted, in the office's queue and in every
/// service's tables, prints the report line, and asserts 0 lost and 0 duplicated.
async fn assert_exactly_once(system: &System, accepted: &Arc<Mutex<Vec<String>>>, fault: &str) {
    let accepted: HashSet<String> = accepted.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        accepted.len(),
        REQUESTS,
        "each request accepted once, whatever the retries"
    );
    let mut queue =
        OfficeQueueClient::new(grpc_channel(system.office_queue.grpc_addr).await.unwrap());
    let filed = eventually(WAIT, || {
        let mut queue = queue.clone();
        async move {
            let items = all_items(&mut queue, "SEDE-TO").await;
            Ok((items.len() >= REQUESTS).then_some(items))
        }
    })
    .await
    .unwrap_or_else(|error| panic!("{fault}: {error}: not every accepted request was filed"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let filed_again = all_items(&mut queue, "SEDE-TO").await;
    let filed_ids: HashSet<String> = filed.iter().map(|item| item.request_id.clone()).collect();
    let lost = accepted.difference(&filed_ids).count();
    let duplicated = filed_again.len() - filed_ids.len();

    // Every table downstream holds each request once.
    let intake_rows = count(
        system.intake.database_url().unwrap(),
        "SELECT count(*) FROM requests",
    )
    .await;
    let router_rows = count(
        system.router.database_url().unwrap(),
        "SELECT count(DISTINCT request_id) FROM routing_decisions",
    )
    .await;
    let router_decisions = count(
        system.router.database_url().unwrap(),
        "SELECT count(*) FROM routing_decisions",
    )
    .await;
    let filings = count(
        system.office_queue.database_url().unwrap(),
        "SELECT count(*) FROM item_history WHERE action = 'filed'",
    )
    .await;
    println!(
        "{fault}: accepted {}, filed {}, lost {lost}, duplicated {duplicated}; rows: intake {intake_rows}, router {router_rows} ({router_decisions} decisions), filings {filings}",
        accepted.len(),
        filed_ids.len()
    );
    assert_eq!((lost, duplicated), (0, 0), "{fault}");
    assert_eq!(filed_ids, accepted);
    let expected = i64::try_from(REQUESTS).unwrap();
    assert_eq!(intake_rows, expected, "a retried submission filed twice");
    assert_eq!((router_rows, router_decisions), (expected, expected));
    assert_eq!(filings, expected);
}

#[tokio::test]
async fn each_service_killed_mid_load_loses_nothing_and_duplicates_nothing() {
    let mut system = System::start(None).await.unwrap();
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let load = tokio::spawn(operator_load(
        system.intake.grpc_addr,
        Arc::clone(&accepted),
    ));

    // Router, then office-queue, then intake itself: killed while work is in flight.
    let mut seen = 0;
    for victim in ["router", "office-queue", "intake"] {
        seen += 12;
        wait_for_accepted(&accepted, seen).await;
        let service = match victim {
            "router" => &mut system.router,
            "office-queue" => &mut system.office_queue,
            _ => &mut system.intake,
        };
        let code = service.stop(Signal::SIGKILL).await.unwrap();
        assert_eq!(code, None, "{victim} was killed, not exited");
        tokio::time::sleep(Duration::from_millis(500)).await;
        service.start().await.unwrap();
    }
    load.await.unwrap().unwrap();
    assert_exactly_once(
        &system,
        &accepted,
        "SIGKILL of router, office-queue and intake under load",
    )
    .await;
}

/// The three services on `servers`, the operator's load running, and `fault` done once the
/// load is well under way; then every request is counted.
async fn under_load<F, Fut>(servers: &Servers, fault: F, name: &str)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let system = System::start_on(servers, None).await.unwrap();
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let load = tokio::spawn(operator_load(
        system.intake.grpc_addr,
        Arc::clone(&accepted),
    ));
    wait_for_accepted(&accepted, 15).await;
    fault().await.unwrap();
    load.await.unwrap().unwrap();
    assert_exactly_once(&system, &accepted, name).await;
}

#[tokio::test]
async fn a_rabbitmq_restart_under_load_loses_nothing_and_duplicates_nothing() {
    let mut broker = OwnRabbitMq::start().await.unwrap();
    let servers = Servers {
        amqp_url: Some(broker.url()),
        ..Servers::default()
    };
    under_load(
        &servers,
        || broker.restart(Duration::from_secs(2)),
        "RabbitMQ restarted under load",
    )
    .await;
}

#[tokio::test]
async fn a_postgresql_restart_under_load_loses_nothing_and_duplicates_nothing() {
    let postgres = OwnPostgres::start().await.unwrap();
    let servers = Servers {
        postgres_admin_url: Some(postgres.admin_url()),
        ..Servers::default()
    };
    under_load(
        &servers,
        || postgres.restart(Duration::from_secs(1)),
        "PostgreSQL restarted under load",
    )
    .await;
}
