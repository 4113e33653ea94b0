//! Webhook deliveries as stored: one per (event, endpoint), its id the `webhook-id`; each
//! attempt in the log; a durable job per delivery waiting to run (`webhook.deliver`).

use chrono::{DateTime, Utc};
use combipat_platform::jobs::{self, NewJob};
use combipat_platform::time::to_timestamp;
use combipat_proto::notifier::v1::{Attempt, Delivery};
use sqlx::PgConnection;
use uuid::Uuid;

pub const JOB_KIND: &str = "webhook.deliver";

const COLUMNS: &str =
    "id, endpoint_id, event_id, event_type, request_id, payload, status, attempts,
    next_attempt_at, last_error, created_at, delivered_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub request_id: Option<Uuid>,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl DeliveryRow {
    pub fn into_proto(self) -> Delivery {
        Delivery {
            id: self.id.to_string(),
            endpoint_id: self.endpoint_id.to_string(),
            event_id: self.event_id.to_string(),
            event_type: self.event_type,
            request_id: self.request_id.map(|id| id.to_string()).unwrap_or_default(),
            status: self.status,
            attempts: u32::try_from(self.attempts).unwrap_or_default(),
            created_at: Some(to_timestamp(self.created_at)),
            next_attempt_at: self.next_attempt_at.map(to_timestamp),
            delivered_at: self.delivered_at.map(to_timestamp),
            last_error: self.last_error,
            payload: self.payload,
        }
    }
}

pub struct NewDelivery<'a> {
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub request_id: Option<Uuid>,
    pub payload: &'a str,
}

/// Writes the delivery and its job, due now; false when this (event, endpoint) has one.
pub async fn create(
    connection: &mut PgConnection,
    delivery: &NewDelivery<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Uuid>> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, request_id, payload, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(delivery.endpoint_id)
    .bind(delivery.event_id)
    .bind(delivery.event_type)
    .bind(delivery.request_id)
    .bind(delivery.payload)
    .bind(now)
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(id) = id {
        schedule(connection, id, now).await?;
    }
    Ok(id)
}

pub async fn schedule(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    jobs::schedule(
        connection,
        &NewJob {
            kind: JOB_KIND,
            subject: &id.to_string(),
            due_at: at,
            payload: serde_json::json!({}),
        },
    )
    .await
}

pub async fn find(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<DeliveryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

pub async fn lock(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<DeliveryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

/// A page of an endpoint's deliveries, newest first (cursor: the last one's time and id).
pub async fn page(
    connection: &mut PgConnection,
    endpoint_id: Uuid,
    status: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    size: i64,
) -> sqlx::Result<Vec<DeliveryRow>> {
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_deliveries
         WHERE endpoint_id = $1 AND ($2 = '' OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC LIMIT $5"
    )))
    .bind(endpoint_id)
    .bind(status)
    .bind(at)
    .bind(id)
    .bind(size)
    .fetch_all(connection)
    .await
}

pub async fn attempts(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<Attempt>> {
    let rows: Vec<(DateTime<Utc>, i32, i32, String, String)> = sqlx::query_as(
        "SELECT attempted_at, status_code, latency_ms, response_excerpt, error
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, status, latency, excerpt, error)| Attempt {
            attempted_at: Some(to_timestamp(at)),
            status_code: u32::try_from(status).unwrap_or_default(),
            latency_ms: u32::try_from(latency).unwrap_or_default(),
            response_excerpt: excerpt,
            error,
        })
        .collect())
}

/// One attempt, as it went.
pub struct AttemptRecord<'a> {
    pub at: DateTime<Utc>,
    pub status_code: u16,
    pub latency_ms: u64,
    pub excerpt: &'a str,
    pub error: &'a str,
}

pub async fn record_attempt(
    connection: &mut PgConnection,
    id: Uuid,
    attempt: &AttemptRecord<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, response_excerpt, error)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(attempt.at)
    .bind(i32::from(attempt.status_code))
    .bind(i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX))
    .bind(attempt.excerpt)
    .bind(attempt.error)
    .execute(connection)
    .await
    .map(|_| ())
}

/// The delivery's state after an attempt (or a wait that used none).
pub async fn update(
    connection: &mut PgConnection,
    id: Uuid,
    status: &str,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: &str,
    delivered_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_error = $5,
                delivered_at = COALESCE($6, delivered_at)
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(last_error)
    .bind(delivered_at)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Starts a new round for the delivery: pending, no attempts, due now (same webhook-id).
pub async fn replay(
    connection: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    update(connection, id, "pending", 0, Some(now), "", None).await?;
    schedule(connection, id, now).await
}

/// Replays every delivery of the endpoint created since `since` (not delivered ones only,
/// unless `include_delivered`) and still not pending.
pub async fn replay_since(
    connection: &mut PgConnection,
    endpoint_id: Uuid,
    since: DateTime<Utc>,
    include_delivered: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries
         WHERE endpoint_id = $1 AND created_at >= $2 AND status <> 'pending' AND ($3 OR status <> 'delivered')
         ORDER BY created_at FOR UPDATE",
    )
    .bind(endpoint_id)
    .bind(since)
    .bind(include_delivered)
    .fetch_all(&mut *connection)
    .await?;
    for id in &ids {
        replay(connection, *id, now).await?;
    }
    Ok(u64::try_from(ids.len()).unwrap_or_default())
}
