//! The fault matrix: the three services under load (eight operators, 24 requests a second
//! for 32 s, each request retried with its idempotency key until accepted) while a fault
//! strikes; then every service is counted. Each case must end with 0 lost, 0 duplicated
//! effects, 0 dead letters, 0 rows left in any outbox, and intake's status of every request
//! agreeing with office-queue's. The servers a case kills are its own (another port and data
//! directory), so the rest of the suite runs undisturbed. `just test-faults` prints the table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "a failed assumption in a test is a failed test; the table is its report"
)]

use std::time::Duration;

use combipat_e2e::matrix::{Load, STANDARD, settle_and_count};
use combipat_e2e::own_servers::{OwnPostgres, OwnRabbitCluster, OwnRabbitMq};
use combipat_e2e::{Options, Servers, System};
use nix::sys::signal::Signal;

/// How long a settled system may take to file everything once the fault is over.
const PATIENCE: Duration = Duration::from_secs(180);

/// What every case runs with: no rate limit (the load is the point), as deployed otherwise.
fn options(servers: Servers) -> Options {
    Options {
        servers,
        settings: vec![("rate_limit.calls_per_window".into(), "0".into())],
        ..Options::default()
    }
}

fn intakes(system: &System) -> Vec<std::net::SocketAddr> {
    system
        .processes
        .iter()
        .filter(|process| process.name == "intake")
        .map(|process| process.grpc_addr)
        .collect()
}

/// Requests accepted in all: each case strikes at a count of accepted requests (at most 300),
/// so the strike happens under load by construction; what the generator manages to offer
/// beyond that depends on how fast the machine answers (each operator waits for its answer).
const ACCEPTED_AT_LEAST: usize = 300;

/// Counts, prints the row, and fails unless the case is clean.
async fn conclude(system: &System, load: Load, case: &str) {
    let accepted = load.finish().await.unwrap();
    let report = settle_and_count(system, &accepted, case, PATIENCE)
        .await
        .unwrap();
    report.publish();
    assert!(
        report.accepted >= ACCEPTED_AT_LEAST,
        "{case}: too little load ({} accepted)",
        report.accepted
    );
    assert!(
        report.is_clean(),
        "{case}: {report:#?}\nlogs in {}",
        system.log_dir.display()
    );
}

#[tokio::test]
async fn each_service_sigkilled_under_load() {
    let mut system = System::start_with(options(Servers::default()))
        .await
        .unwrap();
    let load = Load::start(intakes(&system), STANDARD);
    // Strikes at 100, 200 and 300 accepted: a busy CI machine has offered as few as 384 in
    // the whole run, so a later strike could come after the load has ended.
    for (n, victim) in ["router", "office-queue", "intake"].into_iter().enumerate() {
        load.wait_for(100 * (n + 1)).await.unwrap();
        let process = system.service_mut(victim);
        assert_eq!(
            process.stop(Signal::SIGKILL).await.unwrap(),
            None,
            "{victim} was killed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        process.start().await.unwrap();
    }
    conclude(&system, load, "each service SIGKILLed and restarted").await;
}

#[tokio::test]
async fn rabbitmq_sigkilled_and_restarted_under_load() {
    let mut broker = OwnRabbitMq::start().await.unwrap();
    let system = System::start_with(options(Servers {
        amqp_urls: vec![broker.url()],
        ..Servers::default()
    }))
    .await
    .unwrap();
    let load = Load::start(intakes(&system), STANDARD);
    load.wait_for(200).await.unwrap();
    broker
        .kill_and_restart(Duration::from_secs(3))
        .await
        .unwrap();
    conclude(&system, load, "RabbitMQ SIGKILLed and restarted").await;
}

#[tokio::test]
async fn postgresql_crashed_and_restarted_under_load() {
    let postgres = OwnPostgres::start().await.unwrap();
    let system = System::start_with(options(Servers {
        postgres_admin_url: Some(postgres.admin_url()),
        ..Servers::default()
    }))
    .await
    .unwrap();
    let load = Load::start(intakes(&system), STANDARD);
    load.wait_for(200).await.unwrap();
    postgres
        .crash_and_restart(Duration::from_secs(3))
        .await
        .unwrap();
    conclude(
        &system,
        load,
        "PostgreSQL stopped -m immediate and restarted",
    )
    .await;
}

#[tokio::test]
async fn office_queues_database_unreachable_for_three_minutes_with_the_production_retry_schedule() {
    let mut options = options(Servers::default());
    options.settings.extend([
        (
            "amqp.retry_delays_ms".into(),
            "1000,10000,60000,600000,3600000".into(),
        ),
        ("amqp.retry_for_ms".into(), "86400000".into()),
    ]);
    let system = System::start_with(options).await.unwrap();
    let url = system.office_queue().database_url().unwrap().to_owned();
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = sqlx::PgPool::connect(
        &std::env::var("COMBIPAT_TEST_ADMIN_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    )
    .await
    .unwrap();
    let allow = |allowed: bool| {
        let (admin, name) = (admin.clone(), name.clone());
        async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allowed}"
            )))
            .execute(&admin)
            .await
            .unwrap();
            if !allowed {
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                )
                .bind(&name)
                .execute(&admin)
                .await
                .unwrap();
            }
        }
    };
    let load = Load::start(intakes(&system), STANDARD);
    load.wait_for(50).await.unwrap();
    allow(false).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    // Paused, not failing: it says so, and has dead-lettered nothing.
    let ready = combipat_testkit::http_get(system.office_queue().http_addr, "/health/readyz")
        .await
        .unwrap();
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    tokio::time::sleep(Duration::from_secs(150)).await;
    allow(true).await;
    conclude(
        &system,
        load,
        "office-queue's database unreachable for 3 min",
    )
    .await;
}

#[tokio::test]
async fn office_queue_started_ten_seconds_after_the_others_on_a_fresh_prefix() {
    let mut options = options(Servers::default());
    options.deferred = vec!["office-queue"];
    let mut system = System::start_with(options).await.unwrap();
    let load = Load::start(intakes(&system), STANDARD);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(load.accepted() > 100);
    system.service_mut("office-queue").start().await.unwrap();
    conclude(&system, load, "office-queue started 10 s after the others").await;
}

#[tokio::test]
async fn a_relay_killed_between_the_confirm_and_the_delete() {
    let mut system = System::start_with(options(Servers::default()))
        .await
        .unwrap();
    // Armed for the next start: intake's relay aborts after the brokers' confirms of its
    // 40th batch, before deleting its rows.
    let intake = system.service_mut("intake");
    intake.stop(Signal::SIGTERM).await.unwrap();
    intake.set_env(
        combipat_platform::failpoint::ENV,
        Some("outbox.after_confirm=abort@40"),
    );
    intake.start().await.unwrap();
    let load = Load::start(intakes(&system), STANDARD);
    let intake = system.service_mut("intake");
    let code = intake.wait_exit(Duration::from_secs(60)).await.unwrap();
    assert_eq!(code, None, "aborted at the failpoint");
    intake.set_env(combipat_platform::failpoint::ENV, None);
    intake.start().await.unwrap();
    let accepted = load.finish().await.unwrap();
    let report = settle_and_count(
        &system,
        &accepted,
        "a relay killed between confirm and delete",
        PATIENCE,
    )
    .await
    .unwrap();
    report.publish();
    assert!(report.is_clean(), "{report:#?}");
    assert!(
        report.duplicates_absorbed >= 1,
        "the batch was published twice and applied once: {report:#?}"
    );
}

#[tokio::test]
async fn two_replicas_of_every_service_one_of_each_killed() {
    let mut options = options(Servers::default());
    options.replicas = 2;
    let mut system = System::start_with(options).await.unwrap();
    let load = Load::start(intakes(&system), STANDARD);
    load.wait_for(250).await.unwrap();
    for service in ["router", "office-queue", "intake"] {
        let second = system.replicas_mut(service).nth(1).unwrap();
        assert_eq!(second.stop(Signal::SIGKILL).await.unwrap(), None);
    }
    conclude(&system, load, "two replicas each, one of each SIGKILLed").await;
}

#[tokio::test]
async fn a_three_node_rabbitmq_cluster_loses_a_node() {
    let mut cluster = OwnRabbitCluster::start(3).await.unwrap();
    let system = System::start_with(options(Servers {
        amqp_urls: cluster.urls(),
        ..Servers::default()
    }))
    .await
    .unwrap();
    let load = Load::start(intakes(&system), STANDARD);
    load.wait_for(200).await.unwrap();
    // The first node: the one every service connected to first.
    cluster.nodes[0].kill().await.unwrap();
    conclude(&system, load, "3-node RabbitMQ cluster, one node SIGKILLed").await;
}
