//! Durable scheduled jobs (timers): written in the caller's transaction, one per (kind,
//! subject) so that replicas cannot duplicate one, claimed by any number of replicas with
//! `FOR UPDATE SKIP LOCKED` under a lease the runner renews while the job runs (a killed
//! replica's jobs are taken over when their lease ends), due times compared with the
//! database's clock (plus the service clock's offset, which only tests move).
//!
//! Catch-up: a job missed while no runner was up fires once, late, when one is, and is counted
//! in `combipat_jobs_caught_up_total` (a job is one row, so it can only fire once); a handler
//! may instead skip jobs that are too late ([`CatchUp`]).

mod runner;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

pub use runner::{JobHandler, JobRunner, Next};

/// A job to schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    /// What the job is about (a request id, an endpoint and an event, ...): with the kind, its
    /// identity.
    pub subject: &'a str,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    /// Runs begun, this one included.
    pub attempts: i32,
    pub generation: i64,
    pub last_error: Option<String>,
}

/// What to do with a job whose due time is long past when it is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Fire it once, late (timers whose effect still matters: a deadline passed).
    FireLate,
    /// Drop it when it is later than this (a digest for a day long gone).
    SkipAfter(std::time::Duration),
}

/// Schedules `job` in the caller's transaction, or moves an existing one of the same kind and
/// subject to the new due time and payload (and back to life if it had failed for good).
pub async fn schedule(connection: &mut PgConnection, job: &NewJob<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO platform_jobs (kind, subject, due_at, payload) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, subject) DO UPDATE
             SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, attempts = 0,
                 last_error = NULL, dead_at = NULL, generation = platform_jobs.generation + 1",
    )
    .bind(job.kind)
    .bind(job.subject)
    .bind(job.due_at)
    .bind(&job.payload)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Cancels the job of `kind` about `subject`, if any. Returns whether there was one.
pub async fn cancel(
    connection: &mut PgConnection,
    kind: &str,
    subject: &str,
) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM platform_jobs WHERE kind = $1 AND subject = $2")
            .bind(kind)
            .bind(subject)
            .execute(connection)
            .await?
            .rows_affected()
            > 0,
    )
}

/// The jobs whose subject starts with `prefix`, soonest first (a request's timers).
pub async fn pending(connection: &mut PgConnection, prefix: &str) -> sqlx::Result<Vec<Job>> {
    // A range in byte order rather than LIKE, so that the index on subject serves it whatever
    // the plan (a LIKE pattern bound as a parameter cannot bound an index scan): every string
    // that starts with the prefix sorts from it to it followed by the greatest character.
    sqlx::query_as(
        r#"SELECT id, kind, subject, due_at, payload, attempts, generation, last_error
         FROM platform_jobs
         WHERE subject COLLATE "C" >= $1 AND subject COLLATE "C" < $2 AND dead_at IS NULL
         ORDER BY due_at, id"#,
    )
    .bind(prefix)
    .bind(format!("{prefix}{}", char::MAX))
    .fetch_all(connection)
    .await
}
