//! 100,000 timers falling due together, three scheduler replicas, one SIGKILLed mid-burst:
//! every timer fires exactly once, counted from the events the scheduler emits (a copy
//! published twice by a relay that died between confirm and delete has the same event id).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a failed assumption in a test is a failed test; the counts are its report"
)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use combipat_e2e::{Options, System};
use combipat_proto::events::v1::envelope::Payload;
use nix::sys::signal::Signal;

const TIMERS: i64 = 100_000;

#[tokio::test]
async fn a_burst_of_timers_fires_once_each_while_a_replica_is_killed() {
    let others: Vec<&'static str> = combipat_testkit::services()
        .into_iter()
        .map(|service| service.name)
        .filter(|name| *name != "reminder-scheduler")
        .collect();
    let mut system = System::start_with(Options {
        replicas: 3,
        deferred: others,
        settings: vec![("jobs.poll_interval_ms".into(), "200".into())],
        ..Options::default()
    })
    .await
    .unwrap();
    let mut observed = system.bus.observe("reminder.due").await.unwrap();

    // The timers, written straight into the store: each request sent 15 days ago, so its
    // sollecito falls due a few seconds from now, all at the same instant.
    let url = system
        .service("reminder-scheduler")
        .database_url()
        .unwrap()
        .to_owned();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let due = chrono::Utc::now() + chrono::Duration::seconds(8);
    let sent = due - chrono::Duration::days(15);
    let due = combipat_domain::sollecito::possible_from(sent, None);
    sqlx::query(
        "WITH made AS (
             INSERT INTO requests (request_id, protocol_number, patronato, patronato_office, submitted_at)
             SELECT gen_random_uuid(), 'CP-' || n, 'INCA', 'INCA-MI-01', $1 FROM generate_series(1, $3) AS n
             RETURNING request_id)
         INSERT INTO platform_jobs (kind, subject, due_at, payload)
         SELECT 'sollecito_possible', request_id::text, $2, '{}'::jsonb FROM made",
    )
    .bind(sent)
    .bind(due)
    .bind(TIMERS)
    .execute(&pool)
    .await
    .unwrap();

    let started = Instant::now();
    let mut events: HashMap<String, HashSet<String>> = HashMap::new();
    let mut killed = false;
    let mut received = 0usize;
    while events.len() < usize::try_from(TIMERS).unwrap() {
        let Some(envelope) = observed.try_next(Duration::from_secs(60)).await.unwrap() else {
            break;
        };
        assert!(matches!(envelope.payload, Some(Payload::ReminderDue(_))));
        received += 1;
        events
            .entry(envelope.request_id)
            .or_default()
            .insert(envelope.event_id);
        if !killed && events.len() >= 20_000 {
            let victim = system.replicas_mut("reminder-scheduler").next().unwrap();
            assert_eq!(victim.stop(Signal::SIGKILL).await.unwrap(), None);
            killed = true;
        }
    }
    let elapsed = started.elapsed();
    let twice = events.values().filter(|ids| ids.len() > 1).count();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM platform_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "{TIMERS} timers, 3 replicas, one SIGKILLed at 20,000: {} fired, {received} deliveries, {twice} fired twice, {left} left, in {:.1} s",
        events.len(),
        elapsed.as_secs_f64()
    );
    assert!(killed);
    assert_eq!(
        events.len(),
        usize::try_from(TIMERS).unwrap(),
        "every timer fired"
    );
    assert_eq!(twice, 0, "none fired twice");
    assert_eq!(left, 0);
}
