//! Generations of the projection. The active one answers every query; a rebuild reads the
//! whole stream into a new one (`building`) under a reader name of its own, and once it has
//! caught up with the active one the two swap in one transaction, so queries never see a
//! half-built copy; the retired one's partitions are dropped a little later.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Building,
    Active,
    Retired,
}

impl State {
    fn parse(text: &str) -> Self {
        match text {
            "building" => Self::Building,
            "active" => Self::Active,
            _ => Self::Retired,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub generation: i32,
    pub reader: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub newest_event_at: Option<DateTime<Utc>>,
    pub events_read: i64,
    pub read_at: Option<DateTime<Utc>>,
    pub dropped_at: Option<DateTime<Utc>>,
    /// The stream offset after the last event whose effects are in this generation.
    pub next_offset: i64,
}

impl Row {
    pub fn state(&self) -> State {
        State::parse(&self.state)
    }

    pub fn stream_offset(&self) -> u64 {
        u64::try_from(self.next_offset).unwrap_or(0)
    }
}

/// The reader name of generation `generation` (the first keeps the service's name).
pub fn reader_name(generation: i32) -> String {
    if generation == 1 {
        "reporting".to_owned()
    } else {
        format!("reporting-g{generation}")
    }
}

const SELECT: &str =
    "SELECT g.generation, g.reader, g.state, g.created_at, g.newest_event_at, g.events_read,
            g.read_at, g.dropped_at, g.next_offset
     FROM generations g";

pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} ORDER BY g.generation"
    )))
    .fetch_all(pool)
    .await
}

pub async fn active(pool: &PgPool) -> sqlx::Result<Row> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE g.state = 'active'"
    )))
    .fetch_one(pool)
    .await
}

pub async fn get(pool: &PgPool, generation: i32) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE g.generation = $1"
    )))
    .bind(generation)
    .fetch_optional(pool)
    .await
}

/// Takes the generation's writer lock for the transaction (replicas reading the stream at
/// once take turns, so a fact is never merged from a stale copy) and tells whether the
/// generation still takes events.
pub async fn lock_for_writing(
    connection: &mut PgConnection,
    generation: i32,
) -> sqlx::Result<bool> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('combipat-reporting-generation', $1))",
    )
    .bind(i64::from(generation))
    .execute(&mut *connection)
    .await?;
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM generations WHERE generation = $1")
            .bind(generation)
            .fetch_optional(&mut *connection)
            .await?;
    Ok(matches!(state.as_deref(), Some("active" | "building")))
}

/// What a batch read: its newest event, how many, when (the service's clock), and the
/// stream offset after its last event.
pub struct Read {
    pub newest_event_at: DateTime<Utc>,
    pub events: usize,
    pub at: DateTime<Utc>,
    pub next_offset: Option<u64>,
}

/// Counts a batch read by `generation` (in the batch's transaction).
pub async fn record_read(
    connection: &mut PgConnection,
    generation: i32,
    read: &Read,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE generations SET newest_event_at = GREATEST(newest_event_at, $2),
                events_read = events_read + $3, read_at = $4,
                next_offset = GREATEST(next_offset, coalesce($5, next_offset))
         WHERE generation = $1",
    )
    .bind(generation)
    .bind(read.newest_event_at)
    .bind(i64::try_from(read.events).unwrap_or(i64::MAX))
    .bind(read.at)
    .bind(
        read.next_offset
            .map(|next| i64::try_from(next).unwrap_or(i64::MAX)),
    )
    .execute(connection)
    .await
    .map(|_| ())
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("generation {0} is already being built; wait for it to take over")]
    AlreadyBuilding(i32),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Starts a rebuild: a new generation, empty, whose reader starts at the first event kept.
pub async fn start_rebuild(pool: &PgPool) -> Result<i32, RebuildError> {
    let mut transaction = pool.begin().await?;
    sqlx::query("LOCK TABLE generations IN EXCLUSIVE MODE")
        .execute(&mut *transaction)
        .await?;
    let building: Option<i32> =
        sqlx::query_scalar("SELECT generation FROM generations WHERE state = 'building'")
            .fetch_optional(&mut *transaction)
            .await?;
    if let Some(building) = building {
        return Err(RebuildError::AlreadyBuilding(building));
    }
    let next: i32 = sqlx::query_scalar("SELECT max(generation) + 1 FROM generations")
        .fetch_one(&mut *transaction)
        .await?;
    let reader = reader_name(next);
    // A reader of that name may have left a position (a database restored from elsewhere).
    sqlx::query("DELETE FROM platform_stream_positions WHERE reader = $1")
        .bind(&reader)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("INSERT INTO generations (generation, reader, state) VALUES ($1, $2, 'building')")
        .bind(next)
        .bind(&reader)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("SELECT reporting_create_partitions($1)")
        .bind(next)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(next)
}

/// Makes `building` the active generation if it has read at least as far in the stream as
/// the active one; answers whether it did.
pub async fn switch_if_caught_up(pool: &PgPool, building: i32) -> sqlx::Result<bool> {
    let mut transaction = pool.begin().await?;
    sqlx::query("LOCK TABLE generations IN EXCLUSIVE MODE")
        .execute(&mut *transaction)
        .await?;
    let caught_up: Option<bool> = sqlx::query_scalar(
        "SELECT b.next_offset >= a.next_offset
         FROM generations b JOIN generations a ON a.state = 'active'
         WHERE b.generation = $1 AND b.state = 'building' AND b.events_read > 0",
    )
    .bind(building)
    .fetch_optional(&mut *transaction)
    .await?;
    if caught_up != Some(true) {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE generations SET state = 'retired', retired_at = now() WHERE state = 'active'",
    )
    .execute(&mut *transaction)
    .await?;
    sqlx::query(
        "UPDATE generations SET state = 'active', activated_at = now() WHERE generation = $1",
    )
    .bind(building)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(true)
}

/// Drops the partitions of generations retired more than `after` ago; answers which.
pub async fn drop_retired(pool: &PgPool, after: chrono::Duration) -> sqlx::Result<Vec<i32>> {
    let retired: Vec<i32> = sqlx::query_scalar(
        "SELECT generation FROM generations
         WHERE state = 'retired' AND dropped_at IS NULL AND retired_at < now() - $1::interval",
    )
    .bind(format!("{} seconds", after.num_seconds()))
    .fetch_all(pool)
    .await?;
    for generation in &retired {
        let mut transaction = pool.begin().await?;
        // A query still reading the old copy holds its lock: wait a little, then next time.
        sqlx::query("SET LOCAL lock_timeout = '5s'")
            .execute(&mut *transaction)
            .await?;
        sqlx::query("SELECT reporting_drop_partitions($1)")
            .bind(generation)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("UPDATE generations SET dropped_at = now() WHERE generation = $1")
            .bind(generation)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
    }
    Ok(retired)
}
