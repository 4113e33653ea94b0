//! What notifier keeps of each request: who filed it and its protocol number, learnt from
//! router's first decision, since the office's events carry neither.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnownRequest {
    pub request_id: Uuid,
    pub protocol_number: String,
    pub patronato: String,
    pub patronato_office: String,
    pub operator_id: String,
    pub office_code: String,
}

/// Records a request from its routing decision; a second decision changes nothing but the
/// office (a transfer moves it with [`move_to`]). True when the request was new.
pub async fn remember(
    connection: &mut PgConnection,
    request: &KnownRequest,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO requests (request_id, protocol_number, patronato, patronato_office, operator_id, office_code, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(request.request_id)
    .bind(&request.protocol_number)
    .bind(&request.patronato)
    .bind(&request.patronato_office)
    .bind(&request.operator_id)
    .bind(&request.office_code)
    .bind(at)
    .execute(connection)
    .await
    .map(|done| done.rows_affected() == 1)
}

pub async fn find(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Option<KnownRequest>> {
    sqlx::query_as(
        "SELECT request_id, protocol_number, patronato, patronato_office, operator_id, office_code
         FROM requests WHERE request_id = $1",
    )
    .bind(request_id)
    .fetch_optional(connection)
    .await
}

pub async fn move_to(
    connection: &mut PgConnection,
    request_id: Uuid,
    office: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE requests SET office_code = $2 WHERE request_id = $1")
        .bind(request_id)
        .bind(office)
        .execute(connection)
        .await
        .map(|_| ())
}
