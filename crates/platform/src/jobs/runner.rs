//! Running due jobs: claim a batch under a lease, perform each outside any transaction (an
//! HTTP call may take seconds), then complete the batch in one transaction (effects, events,
//! the jobs deleted or rescheduled), event by event if the batch fails. Leases are renewed
//! while jobs run; a completion checks that the lease is still this runner's and that the job
//! was not rescheduled meanwhile.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{CatchUp, Job};
use crate::clock::Clock;
use crate::handler::Effects;
use crate::messaging::{HandleError, backoff};
use crate::metrics as m;
use crate::outbox::{self, OutboxWaker, Pending};
use crate::settings::JobsSettings;

/// What becomes of a job once its run is complete.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// It is done: deleted.
    Done,
    /// Run it again at this time (the handler's own retry schedule).
    RetryAt { at: DateTime<Utc>, error: String },
    /// It failed for good: kept, out of the runners' way, for an operator.
    Dead { error: String },
}

/// What a service does with its jobs of some kinds.
pub trait JobHandler: Send + Sync + 'static {
    /// The kinds this handler runs.
    const KINDS: &'static [&'static str];
    /// What [`Self::perform`] found out, for [`Self::complete`] to record.
    type Output: Send + Sync + 'static;

    /// The job's work outside the database (none for a timer that only emits an event). Runs
    /// with no transaction open; may run twice if a replica dies before completing.
    fn perform(&self, job: &Job) -> impl Future<Output = Self::Output> + Send;

    /// Records the outcome in the transaction that also deletes or reschedules the job.
    fn complete(
        &self,
        effects: &mut Effects<'_>,
        job: &Job,
        output: &Self::Output,
    ) -> impl Future<Output = Result<Next, HandleError>> + Send;

    fn catch_up(&self) -> CatchUp {
        CatchUp::FireLate
    }
}

/// Runs one handler's jobs until stopped. Any number of replicas may run the same kinds.
pub struct JobRunner<H> {
    pub pool: PgPool,
    pub outbox: OutboxWaker,
    pub clock: Clock,
    pub settings: JobsSettings,
    pub handler: Arc<H>,
}

/// The state one runner shares with its tasks.
struct Shared<H> {
    runner: JobRunner<H>,
    owner: Uuid,
    held: Mutex<HashSet<i64>>,
    slots: Arc<Semaphore>,
}

impl<H: JobHandler> JobRunner<H> {
    pub async fn run(self, stop: CancellationToken) {
        let concurrency = self.settings.concurrency.max(1);
        // Shown from the start, so that dashboards and alerts find the series at zero.
        for kind in H::KINDS {
            metrics::counter!(m::JOBS_CAUGHT_UP, "kind" => *kind).increment(0);
            for outcome in ["done", "retried", "dead", "lost_lease"] {
                metrics::counter!(m::JOBS_FIRED, "kind" => *kind, "outcome" => outcome)
                    .increment(0);
            }
            // Registering a histogram renders it with zero observations.
            let _registered = metrics::histogram!(m::JOB_LATENESS, "kind" => *kind);
        }
        let shared = Arc::new(Shared {
            owner: Uuid::new_v4(),
            held: Mutex::new(HashSet::new()),
            slots: Arc::new(Semaphore::new(concurrency)),
            runner: self,
        });
        // A JoinSet, not a detached tracker: if this runner is dropped (its process dying,
        // as far as the tasks are concerned), its lease renewals and runs die with it.
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(renew_leases(Arc::clone(&shared), stop.clone()));
        tasks.spawn(count_pending(Arc::clone(&shared), stop.clone()));
        let poll = Duration::from_millis(shared.runner.settings.poll_interval_ms.max(10));
        let mut failures = 0;
        while !stop.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let free = shared.slots.available_permits();
            let wait = if free == 0 {
                // Every slot is busy: wait for one.
                tokio::select! {
                    () = stop.cancelled() => break,
                    permit = Arc::clone(&shared.slots).acquire_owned() => { drop(permit); continue; }
                }
            } else {
                match claim(&shared, free).await {
                    Ok(jobs) => {
                        failures = 0;
                        let full = jobs.len() >= free.min(claim_limit(&shared));
                        if !jobs.is_empty() {
                            let permits = Arc::clone(&shared.slots)
                                .acquire_many_owned(u32::try_from(jobs.len()).unwrap_or(u32::MAX))
                                .await;
                            let shared = Arc::clone(&shared);
                            tasks.spawn(async move {
                                run_batch(&shared, jobs).await;
                                drop(permits);
                            });
                        }
                        if full {
                            continue;
                        }
                        until_next_due(&shared, poll).await
                    }
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(error = %error, "cannot claim jobs; trying again");
                        backoff(
                            Duration::from_millis(500),
                            Duration::from_secs(30),
                            failures,
                        )
                    }
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn claim_limit<H>(shared: &Shared<H>) -> usize {
    usize::try_from(shared.runner.settings.claim_batch.max(1)).unwrap_or(usize::MAX)
}

/// The clock's offset for SQL (`now() + offset`): zero but in tests.
fn offset_ms<H>(shared: &Shared<H>) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "milliseconds, far below 2^52")]
    let offset = shared.runner.clock.offset_ms() as f64;
    offset
}

async fn claim<H: JobHandler>(shared: &Shared<H>, free: usize) -> sqlx::Result<Vec<Job>> {
    let limit = i64::try_from(free.min(claim_limit(shared))).unwrap_or(i64::MAX);
    #[allow(clippy::cast_precision_loss, reason = "milliseconds")]
    let lease_ms = shared.runner.settings.lease_ms as f64;
    let kinds: Vec<&str> = H::KINDS.to_vec();
    let jobs: Vec<Job> = sqlx::query_as(
        "WITH due AS (
             SELECT id FROM platform_jobs
             WHERE kind = ANY($1) AND dead_at IS NULL
               AND due_at <= now() + $2 * interval '1 millisecond'
               AND (lease_until IS NULL OR lease_until < now() + $2 * interval '1 millisecond')
             ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         UPDATE platform_jobs AS job
            SET lease_owner = $4, attempts = job.attempts + 1,
                lease_until = now() + ($2 + $5) * interval '1 millisecond'
           FROM due WHERE job.id = due.id
         RETURNING job.id, job.kind, job.subject, job.due_at, job.payload, job.attempts,
                   job.generation, job.last_error",
    )
    .bind(&kinds)
    .bind(offset_ms(shared))
    .bind(limit)
    .bind(shared.owner)
    .bind(lease_ms)
    .fetch_all(&shared.runner.pool)
    .await?;
    if let Ok(mut held) = shared.held.lock() {
        held.extend(jobs.iter().map(|job| job.id));
    }
    Ok(jobs)
}

/// How long to sleep when nothing more is due: until the next due time, at most `poll`.
async fn until_next_due<H: JobHandler>(shared: &Shared<H>, poll: Duration) -> Duration {
    let kinds: Vec<&str> = H::KINDS.to_vec();
    let next: sqlx::Result<Option<f64>> = sqlx::query_scalar(
        "SELECT extract(epoch FROM min(due_at) - (now() + $2 * interval '1 millisecond'))::float8
         FROM platform_jobs WHERE kind = ANY($1) AND dead_at IS NULL AND lease_until IS NULL",
    )
    .bind(&kinds)
    .bind(offset_ms(shared))
    .fetch_one(&shared.runner.pool)
    .await;
    match next {
        Ok(Some(seconds)) if seconds > 0.0 => Duration::from_secs_f64(seconds).min(poll),
        Ok(Some(_)) => Duration::from_millis(1),
        _ => poll,
    }
}

async fn run_batch<H: JobHandler>(shared: &Shared<H>, jobs: Vec<Job>) {
    let handler = &shared.runner.handler;
    let now = shared.runner.clock.now();
    let mut performed = Vec::with_capacity(jobs.len());
    let mut skipped = Vec::new();
    for job in jobs {
        let late = (now - job.due_at).to_std().unwrap_or_default();
        match handler.catch_up() {
            CatchUp::SkipAfter(limit) if late > limit => skipped.push(job),
            _ => performed.push(job),
        }
    }
    let outputs = futures::future::join_all(performed.iter().map(|job| handler.perform(job))).await;
    let mut runs: Vec<(Job, Option<H::Output>)> = performed
        .into_iter()
        .zip(outputs.into_iter().map(Some))
        .collect();
    runs.extend(skipped.into_iter().map(|job| (job, None)));

    if runs.len() > 1 {
        match complete(shared, &runs).await {
            Ok(()) => return release(shared, &runs),
            Err(error) => {
                tracing::debug!(error = %error, size = runs.len(), "a batch of jobs failed; completing them one by one");
            }
        }
    }
    for run in runs.chunks(1) {
        if let Err(error) = complete(shared, run).await {
            record_failure(shared, &run[0].0, &error).await;
        }
    }
    release(shared, &runs);
}

fn release<H, T>(shared: &Shared<H>, runs: &[(Job, T)]) {
    if let Ok(mut held) = shared.held.lock() {
        for (job, _) in runs {
            held.remove(&job.id);
        }
    }
}

/// Completes `runs` in one transaction; a run without an output was skipped (too late for
/// its handler's [`CatchUp`]) and is deleted.
async fn complete<H: JobHandler>(
    shared: &Shared<H>,
    runs: &[(Job, Option<H::Output>)],
) -> Result<(), HandleError> {
    let runner = &shared.runner;
    let mut transaction = runner.pool.begin().await?;
    let mut outgoing: Vec<Pending> = Vec::new();
    let mut outcomes: Vec<(&'static str, String)> = Vec::new();
    for (job, output) in runs {
        let generation: Option<i64> = sqlx::query_scalar(
            "SELECT generation FROM platform_jobs WHERE id = $1 AND lease_owner = $2 FOR UPDATE",
        )
        .bind(job.id)
        .bind(shared.owner)
        .fetch_optional(&mut *transaction)
        .await?;
        match generation {
            // The lease ended (this runner was too slow, another took the job over).
            None => {
                outcomes.push(("lost_lease", job.kind.clone()));
                continue;
            }
            // Rescheduled while it ran: the new schedule stands, this run counts for nothing.
            Some(generation) if generation != job.generation => {
                sqlx::query(
                    "UPDATE platform_jobs SET lease_owner = NULL, lease_until = NULL WHERE id = $1",
                )
                .bind(job.id)
                .execute(&mut *transaction)
                .await?;
                outcomes.push(("superseded", job.kind.clone()));
                continue;
            }
            Some(_) => {}
        }
        let next = match output {
            Some(output) => {
                let mut effects = Effects::new(&mut transaction, &mut outgoing);
                runner.handler.complete(&mut effects, job, output).await?
            }
            None => {
                outcomes.push(("skipped", job.kind.clone()));
                Next::Done
            }
        };
        let outcome = apply_next(&mut transaction, job, &next).await?;
        outcomes.push((outcome, job.kind.clone()));
    }
    outbox::enqueue_many(&mut transaction, &outgoing).await?;
    transaction.commit().await?;
    if !outgoing.is_empty() {
        runner.outbox.wake();
    }
    let now = runner.clock.now();
    for ((job, _), (outcome, kind)) in runs.iter().zip(&outcomes) {
        metrics::counter!(m::JOBS_FIRED, "kind" => kind.clone(), "outcome" => *outcome)
            .increment(1);
        if *outcome == "done" || *outcome == "retried" || *outcome == "dead" {
            let late = (now - job.due_at).num_milliseconds().max(0);
            #[allow(clippy::cast_precision_loss, reason = "milliseconds, shown in seconds")]
            metrics::histogram!(m::JOB_LATENESS, "kind" => kind.clone())
                .record(late as f64 / 1000.0);
            if u64::try_from(late).unwrap_or_default() > runner.settings.catch_up_after_ms {
                metrics::counter!(m::JOBS_CAUGHT_UP, "kind" => kind.clone()).increment(1);
            }
        }
    }
    Ok(())
}

async fn apply_next(
    transaction: &mut sqlx::PgConnection,
    job: &Job,
    next: &Next,
) -> sqlx::Result<&'static str> {
    Ok(match next {
        Next::Done => {
            sqlx::query("DELETE FROM platform_jobs WHERE id = $1")
                .bind(job.id)
                .execute(transaction)
                .await?;
            "done"
        }
        Next::RetryAt { at, error } => {
            sqlx::query(
                "UPDATE platform_jobs SET due_at = $2, last_error = $3, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
            )
            .bind(job.id)
            .bind(at)
            .bind(error)
            .execute(transaction)
            .await?;
            "retried"
        }
        Next::Dead { error } => {
            tracing::error!(job.kind = %job.kind, job.subject = %job.subject, error = %error, "job failed for good");
            sqlx::query(
                "UPDATE platform_jobs SET dead_at = now(), last_error = $2, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
            )
            .bind(job.id)
            .bind(error)
            .execute(transaction)
            .await?;
            "dead"
        }
    })
}

/// A completion that failed on its own: tried again later (1 s doubling to an hour), or, when
/// it can never succeed, kept dead. While the database is away nothing can be recorded: the
/// lease runs out and the job is claimed again.
async fn record_failure<H: JobHandler>(shared: &Shared<H>, job: &Job, error: &HandleError) {
    if error.is_unavailable() {
        tracing::warn!(job.kind = %job.kind, error = %error, "the database is unavailable; the job is claimed again when its lease runs out");
        return;
    }
    let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    let next = if error.is_permanent() {
        Next::Dead {
            error: error.to_string(),
        }
    } else {
        let wait = backoff(Duration::from_secs(1), Duration::from_secs(3600), attempts);
        Next::RetryAt {
            at: shared.runner.clock.now()
                + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1)),
            error: error.to_string(),
        }
    };
    tracing::warn!(job.kind = %job.kind, job.subject = %job.subject, error = %error, "a job's completion failed");
    let recorded = async {
        let mut connection = shared.runner.pool.acquire().await?;
        let outcome = apply_next(&mut connection, job, &next).await?;
        metrics::counter!(m::JOBS_FIRED, "kind" => job.kind.clone(), "outcome" => outcome)
            .increment(1);
        Ok::<(), sqlx::Error>(())
    };
    if let Err(database) = recorded.await {
        tracing::warn!(error = %database, "cannot record the job's failure; its lease will run out and it will be claimed again");
    }
}

/// Renews the leases of the jobs this runner holds, every third of a lease.
async fn renew_leases<H: JobHandler>(shared: Arc<Shared<H>>, stop: CancellationToken) {
    let lease_ms = shared.runner.settings.lease_ms.max(300);
    let every = Duration::from_millis(lease_ms / 3);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let held: Vec<i64> = shared
            .held
            .lock()
            .map(|held| held.iter().copied().collect())
            .unwrap_or_default();
        if held.is_empty() {
            continue;
        }
        #[allow(clippy::cast_precision_loss, reason = "milliseconds")]
        let renewed = sqlx::query(
            "UPDATE platform_jobs SET lease_until = now() + ($3 + $4) * interval '1 millisecond'
             WHERE lease_owner = $1 AND id = ANY($2)",
        )
        .bind(shared.owner)
        .bind(&held)
        .bind(offset_ms(&shared))
        .bind(lease_ms as f64)
        .execute(&shared.runner.pool)
        .await;
        if let Err(error) = renewed {
            tracing::warn!(error = %error, "cannot renew job leases");
        }
    }
}

/// Reports the pending jobs per kind, every `jobs.gauge_interval_ms`.
async fn count_pending<H: JobHandler>(shared: Arc<Shared<H>>, stop: CancellationToken) {
    let every = Duration::from_millis(shared.runner.settings.gauge_interval_ms.max(100));
    let kinds: Vec<&str> = H::KINDS.to_vec();
    loop {
        let counts: sqlx::Result<Vec<(String, i64)>> = sqlx::query_as(
            "SELECT kind, count(*) FROM platform_jobs WHERE kind = ANY($1) AND dead_at IS NULL GROUP BY kind",
        )
        .bind(&kinds)
        .fetch_all(&shared.runner.pool)
        .await;
        if let Ok(counts) = counts {
            for kind in &kinds {
                let count = counts
                    .iter()
                    .find(|(counted, _)| counted == kind)
                    .map_or(0, |(_, count)| *count);
                #[allow(clippy::cast_precision_loss, reason = "a count shown as a gauge")]
                metrics::gauge!(m::JOBS_PENDING, "kind" => *kind).set(count as f64);
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
