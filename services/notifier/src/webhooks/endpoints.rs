//! A patronato's webhook endpoints as stored: the URL, the event filter, the secrets (the
//! previous one signing too until its grace period ends), and the health the deliveries keep
//! (consecutive failures, failing since, the circuit breaker).

use chrono::{DateTime, Utc};
use combipat_platform::time::to_timestamp;
use combipat_proto::notifier::v1::Endpoint;
use sqlx::PgConnection;
use uuid::Uuid;

const COLUMNS: &str = "id, patronato, url, description, event_types, contact_email, secret, previous_secret,
    previous_secret_until, status, disabled_reason, consecutive_failures, failing_since, circuit_open_until, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub patronato: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub contact_email: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub status: String,
    pub disabled_reason: String,
    pub consecutive_failures: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub circuit_open_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl EndpointRow {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// Does the endpoint's filter take this kind of notice (an empty filter takes all)?
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|wanted| wanted == event_type)
    }

    /// The secrets that sign at `now`: the current one, and the previous one in its grace period.
    pub fn secrets_at(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            secrets.push(previous);
        }
        secrets
    }

    pub fn into_proto(self) -> Endpoint {
        Endpoint {
            id: self.id.to_string(),
            patronato: self.patronato,
            url: self.url,
            description: self.description,
            event_types: self.event_types,
            status: self.status,
            disabled_reason: self.disabled_reason,
            created_at: Some(to_timestamp(self.created_at)),
            previous_secret_until: self.previous_secret_until.map(to_timestamp),
            failing_since: self.failing_since.map(to_timestamp),
            circuit_open_until: self.circuit_open_until.map(to_timestamp),
            contact_email: self.contact_email,
        }
    }
}

pub struct NewEndpoint<'a> {
    pub patronato: &'a str,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub contact_email: &'a str,
    pub secret: &'a str,
}

pub async fn create(
    connection: &mut PgConnection,
    endpoint: &NewEndpoint<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<EndpointRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO webhook_endpoints (id, patronato, url, description, event_types, contact_email, secret, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(endpoint.patronato)
    .bind(endpoint.url)
    .bind(endpoint.description)
    .bind(endpoint.event_types)
    .bind(endpoint.contact_email)
    .bind(endpoint.secret)
    .bind(now)
    .fetch_one(connection)
    .await
}

pub async fn of_patronato(
    connection: &mut PgConnection,
    patronato: &str,
) -> sqlx::Result<Vec<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE patronato = $1 ORDER BY created_at, id"
    )))
    .bind(patronato)
    .fetch_all(connection)
    .await
}

pub async fn find(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

/// The endpoint, locked until the transaction ends (its health is updated from it).
pub async fn lock(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

pub async fn rotate(
    connection: &mut PgConnection,
    id: Uuid,
    secret: &str,
    previous_until: DateTime<Utc>,
) -> sqlx::Result<EndpointRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $3, secret = $2
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(secret)
    .bind(previous_until)
    .fetch_one(connection)
    .await
}

/// Disables the endpoint (its deliveries wait as `disabled`), or enables it with its
/// failures forgotten.
pub async fn set_active(
    connection: &mut PgConnection,
    id: Uuid,
    active: bool,
    reason: &str,
) -> sqlx::Result<EndpointRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_endpoints
            SET status = CASE WHEN $2 THEN 'active' ELSE 'disabled' END, disabled_reason = $3,
                consecutive_failures = CASE WHEN $2 THEN 0 ELSE consecutive_failures END,
                failing_since = CASE WHEN $2 THEN NULL ELSE failing_since END,
                circuit_open_until = NULL
          WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(active)
    .bind(if active { "" } else { reason })
    .fetch_one(connection)
    .await
}

/// The endpoint's health after an attempt.
pub async fn record_health(
    connection: &mut PgConnection,
    id: Uuid,
    consecutive_failures: i32,
    failing_since: Option<DateTime<Utc>>,
    circuit_open_until: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET consecutive_failures = $2, failing_since = $3, circuit_open_until = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(consecutive_failures)
    .bind(failing_since)
    .bind(circuit_open_until)
    .execute(connection)
    .await
    .map(|_| ())
}

pub async fn all_ids(connection: &mut PgConnection) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT id FROM webhook_endpoints")
        .fetch_all(connection)
        .await
}

pub async fn count_disabled(connection: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints WHERE status = 'disabled'")
        .fetch_one(connection)
        .await
}
