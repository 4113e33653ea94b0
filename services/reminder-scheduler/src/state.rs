//! What the scheduler keeps of each request (table `requests`), written from its events in
//! whatever order they arrive: each fact is kept by a rule that does not depend on order (the
//! earliest answer, the latest sollecito, the deadline clock of the highest sequence).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub request_id: Uuid,
    pub protocol_number: String,
    pub patronato: String,
    pub patronato_office: String,
    pub operator_id: String,
    pub motivo: i32,
    pub topic: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub last_sollecito_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub sla_sequence: i64,
    pub sla_clock: String,
    pub due_at: Option<DateTime<Utc>>,
    pub office_code: String,
    pub office_patron_day: String,
    pub office_direzione: String,
    pub sla_reason: String,
}

pub const RUNNING: &str = "RUNNING";

impl Request {
    /// Nothing left to chase: answered or closed.
    pub fn settled(&self) -> bool {
        self.answered_at.is_some() || self.closed_at.is_some()
    }

    /// The deadline of a running clock, while the request is open.
    pub fn running_deadline(&self) -> Option<DateTime<Utc>> {
        (self.sla_clock == RUNNING && self.closed_at.is_none())
            .then_some(self.due_at)
            .flatten()
    }
}

const COLUMNS: &str =
    "request_id, protocol_number, patronato, patronato_office, operator_id, motivo, topic,
    submitted_at, last_sollecito_at, answered_at, closed_at, sla_sequence, sla_clock, due_at,
    office_code, office_patron_day, office_direzione, sla_reason";

/// The request's row, created empty if this is its first event here, locked for the rest of
/// the transaction (events of one request are applied one at a time).
pub async fn lock(connection: &mut PgConnection, request_id: Uuid) -> sqlx::Result<Request> {
    sqlx::query("INSERT INTO requests (request_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(request_id)
        .execute(&mut *connection)
        .await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM requests WHERE request_id = $1 FOR UPDATE"
    )))
    .bind(request_id)
    .fetch_one(connection)
    .await
}

pub async fn find(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Option<Request>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM requests WHERE request_id = $1"
    )))
    .bind(request_id)
    .fetch_optional(connection)
    .await
}

/// Writes every fact of `request` back.
pub async fn save(connection: &mut PgConnection, request: &Request) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE requests SET protocol_number = $2, patronato = $3, patronato_office = $4,
                operator_id = $5, motivo = $6, topic = $7, submitted_at = $8,
                last_sollecito_at = $9, answered_at = $10, closed_at = $11, sla_sequence = $12,
                sla_clock = $13, due_at = $14, office_code = $15, office_patron_day = $16,
                office_direzione = $17, sla_reason = $18
         WHERE request_id = $1",
    )
    .bind(request.request_id)
    .bind(&request.protocol_number)
    .bind(&request.patronato)
    .bind(&request.patronato_office)
    .bind(&request.operator_id)
    .bind(request.motivo)
    .bind(&request.topic)
    .bind(request.submitted_at)
    .bind(request.last_sollecito_at)
    .bind(request.answered_at)
    .bind(request.closed_at)
    .bind(request.sla_sequence)
    .bind(&request.sla_clock)
    .bind(request.due_at)
    .bind(&request.office_code)
    .bind(&request.office_patron_day)
    .bind(&request.office_direzione)
    .bind(&request.sla_reason)
    .execute(connection)
    .await
    .map(|_| ())
}

/// The earlier of two optional instants.
pub fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// The later of two optional instants.
pub fn latest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(a.map_or(b, |a| a.max(b)))
}
