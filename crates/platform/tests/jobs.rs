//! Durable jobs against the real database: a timer fires once, at its time on the movable
//! clock and not before; rescheduled and cancelled ones follow; replicas share a burst and
//! fire each job exactly once; a killed replica's jobs are taken over when its lease ends; a
//! job missed during downtime fires once, late, and is counted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed assumption in a test is a failed test"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use combipat_platform::clock::Clock;
use combipat_platform::handler::Effects;
use combipat_platform::jobs::{self, Job, JobHandler, JobRunner, NewJob, Next};
use combipat_platform::messaging::HandleError;
use combipat_platform::outbox::OutboxWaker;
use combipat_platform::settings::JobsSettings;
use combipat_testkit::{TestDatabase, eventually};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

const KIND: &str = "test_timer";

/// Records each firing in `fired`, in the completing transaction; `perform` can be made to
/// hang, as a replica about to be killed would.
struct Recorder {
    hang: bool,
    performed: Arc<AtomicUsize>,
}

impl JobHandler for Recorder {
    const KINDS: &'static [&'static str] = &[KIND];
    type Output = ();

    async fn perform(&self, _job: &Job) {
        self.performed.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
    }

    async fn complete(
        &self,
        effects: &mut Effects<'_>,
        job: &Job,
        _output: &(),
    ) -> Result<Next, HandleError> {
        sqlx::query("INSERT INTO fired (subject) VALUES ($1)")
            .bind(&job.subject)
            .execute(effects.db())
            .await?;
        Ok(Next::Done)
    }
}

async fn database() -> PgPool {
    let pool = TestDatabase::create()
        .await
        .unwrap()
        .with_platform_tables()
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE fired (subject TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool
}

fn settings(lease_ms: u64) -> JobsSettings {
    JobsSettings {
        poll_interval_ms: 50,
        claim_batch: 200,
        concurrency: 400,
        lease_ms,
        catch_up_after_ms: 60_000,
        gauge_interval_ms: 1_000,
    }
}

fn runner(
    pool: &PgPool,
    clock: &Clock,
    lease_ms: u64,
    hang: bool,
) -> (JobRunner<Recorder>, Arc<AtomicUsize>) {
    let performed = Arc::new(AtomicUsize::new(0));
    (
        JobRunner {
            pool: pool.clone(),
            outbox: OutboxWaker::default(),
            clock: clock.clone(),
            settings: settings(lease_ms),
            handler: Arc::new(Recorder {
                hang,
                performed: Arc::clone(&performed),
            }),
        },
        performed,
    )
}

async fn schedule(pool: &PgPool, subject: &str, due_at: chrono::DateTime<Utc>) {
    let mut connection = pool.acquire().await.unwrap();
    jobs::schedule(
        &mut connection,
        &NewJob {
            kind: KIND,
            subject,
            due_at,
            payload: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
}

async fn fired(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT subject FROM fired ORDER BY subject")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_timer_fires_once_at_its_time_on_the_moved_clock_and_follows_reschedules_and_cancels() {
    let pool = database().await;
    let clock = Clock::system();
    let now = clock.now();
    schedule(&pool, "a", now + chrono::Duration::days(15)).await;
    schedule(&pool, "b", now + chrono::Duration::days(15)).await;
    schedule(&pool, "c", now + chrono::Duration::days(15)).await;
    // Moved: b now falls due in 20 days; c is cancelled.
    schedule(&pool, "b", now + chrono::Duration::days(20)).await;
    let mut connection = pool.acquire().await.unwrap();
    assert!(jobs::cancel(&mut connection, KIND, "c").await.unwrap());
    assert_eq!(jobs::pending(&mut connection, "").await.unwrap().len(), 2);
    drop(connection);

    let stop = CancellationToken::new();
    let (runner, _) = runner(&pool, &clock, 30_000, false);
    let running = tokio::spawn(runner.run(stop.clone()));

    clock.advance(chrono::Duration::days(15) - chrono::Duration::minutes(1));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        fired(&pool).await.is_empty(),
        "nothing fires before its time"
    );
    clock.advance(chrono::Duration::minutes(2));
    eventually(Duration::from_secs(10), || async {
        Ok((fired(&pool).await == ["a"]).then_some(()))
    })
    .await
    .unwrap();
    clock.advance(chrono::Duration::days(5));
    eventually(Duration::from_secs(10), || async {
        Ok((fired(&pool).await == ["a", "b"]).then_some(()))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fired(&pool).await,
        ["a", "b"],
        "each fires once, the cancelled one never"
    );
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn three_replicas_fire_a_burst_of_jobs_exactly_once() {
    let pool = database().await;
    let clock = Clock::system();
    let due = clock.now();
    sqlx::query(
        "INSERT INTO platform_jobs (kind, subject, due_at)
         SELECT $1, 'job-' || n, $2 FROM generate_series(1, 3000) AS n",
    )
    .bind(KIND)
    .bind(due)
    .execute(&pool)
    .await
    .unwrap();
    let stop = CancellationToken::new();
    let runners: Vec<_> = (0..3)
        .map(|_| tokio::spawn(runner(&pool, &clock, 30_000, false).0.run(stop.clone())))
        .collect();
    eventually(Duration::from_secs(60), || async {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM fired")
            .fetch_one(&pool)
            .await?;
        Ok((count >= 3000).then_some(()))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (total, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT subject) FROM fired")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((total, distinct), (3000, 3000));
    stop.cancel();
    for runner in runners {
        runner.await.unwrap();
    }
}

#[tokio::test]
async fn a_killed_replicas_jobs_are_taken_over_when_its_lease_ends() {
    let pool = database().await;
    let clock = Clock::system();
    schedule(&pool, "orphan", clock.now()).await;
    // The first replica claims the job and dies mid-way (its task is dropped, as a SIGKILL
    // would end it: no completion, no release).
    let (doomed, performed) = runner(&pool, &clock, 1_500, true);
    let doomed_stop = CancellationToken::new();
    let doomed_task = tokio::spawn(doomed.run(doomed_stop.clone()));
    eventually(Duration::from_secs(10), || async {
        Ok((performed.load(Ordering::SeqCst) == 1).then_some(()))
    })
    .await
    .unwrap();
    doomed_task.abort();
    let taken_at = std::time::Instant::now();

    let stop = CancellationToken::new();
    let (survivor, _) = runner(&pool, &clock, 1_500, false);
    let survivor_task = tokio::spawn(survivor.run(stop.clone()));
    eventually(Duration::from_secs(10), || async {
        Ok((fired(&pool).await == ["orphan"]).then_some(()))
    })
    .await
    .unwrap();
    assert!(
        taken_at.elapsed() >= Duration::from_millis(500),
        "taken over only once the dead replica's lease ran out"
    );
    let attempts: i32 = sqlx::query_scalar("SELECT count(*)::int FROM platform_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 0, "completed and deleted");
    stop.cancel();
    survivor_task.await.unwrap();
}

#[tokio::test]
async fn a_job_missed_during_downtime_fires_once_late_and_is_counted() {
    let pool = database().await;
    let clock = Clock::system();
    // Due two hours ago, while no runner was up.
    schedule(&pool, "missed", clock.now() - chrono::Duration::hours(2)).await;
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(runner(&pool, &clock, 30_000, false).0.run(stop.clone()));
    eventually(Duration::from_secs(10), || async {
        Ok((fired(&pool).await == ["missed"]).then_some(()))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fired(&pool).await, ["missed"]);
    let text = handle.render();
    assert!(
        text.contains("combipat_jobs_caught_up_total{kind=\"test_timer\"} 1"),
        "{text}"
    );
    stop.cancel();
    task.await.unwrap();
}
