//! The decision history of each request, and the events that announce each decision.
//! A decision row and its event commit together (outbox).

use chrono::{DateTime, Utc};
use combipat_platform::messaging::sequenced_envelope;
use combipat_proto::common::v1::{OfficeRef, RequestSummary};
use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{RequestRouted, RequestUnroutable};
use prost::Message as _;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::SERVICE_NAME;

pub const AUTOMATIC: &str = "automatic";
pub const TRANSFER: &str = "transfer";

/// A decision about to be recorded.
pub struct NewDecision<'a> {
    pub request: &'a RequestSummary,
    pub kind: &'static str,
    pub office: OfficeRef,
    pub routed: bool,
    pub ruleset_version: &'a str,
    pub rule: String,
    pub explanation: String,
    pub decided_by: &'a str,
}

/// The request's lifecycle position of router's first decision: office-queue numbers every
/// later step higher (see the envelope's `sequence`).
pub const FIRST_DECISION_SEQUENCE: u64 = 1;

/// Records the decision in the caller's transaction. Returns its sequence.
pub async fn record(
    connection: &mut PgConnection,
    request_id: Uuid,
    decision: &NewDecision<'_>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO routing_decisions
             (request_id, kind, office_code, office_name, routed, ruleset_version, rule, explanation, decided_by, request)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING sequence",
    )
    .bind(request_id)
    .bind(decision.kind)
    .bind(&decision.office.code)
    .bind(&decision.office.name)
    .bind(decision.routed)
    .bind(decision.ruleset_version)
    .bind(&decision.rule)
    .bind(&decision.explanation)
    .bind(decision.decided_by)
    .bind(decision.request.encode_to_vec())
    .fetch_one(&mut *connection)
    .await
}

/// The event that announces router's first decision: request.routed, or request.unroutable
/// for a fallback.
pub fn announcement(request_id: Uuid, decision: NewDecision<'_>, sequence: i64) -> Envelope {
    let decision_sequence = u64::try_from(sequence).unwrap_or_default();
    let payload = if decision.routed {
        Payload::RequestRouted(RequestRouted {
            request: Some(decision.request.clone()),
            office: Some(decision.office),
            ruleset_version: decision.ruleset_version.to_owned(),
            rule: decision.rule,
            decision_sequence,
            kind: decision.kind.to_owned(),
        })
    } else {
        Payload::RequestUnroutable(RequestUnroutable {
            request: Some(decision.request.clone()),
            reason: decision.explanation,
            fallback_office: Some(decision.office),
            ruleset_version: decision.ruleset_version.to_owned(),
            decision_sequence,
        })
    };
    sequenced_envelope(
        SERVICE_NAME,
        &request_id.to_string(),
        FIRST_DECISION_SEQUENCE,
        payload,
    )
}

#[derive(Debug, sqlx::FromRow)]
pub struct StoredDecision {
    pub kind: String,
    pub office_code: String,
    pub office_name: String,
    pub routed: bool,
    pub ruleset_version: String,
    pub rule: String,
    pub explanation: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
    pub request: Vec<u8>,
}

const COLUMNS: &str = "kind, office_code, office_name, routed, ruleset_version, rule, explanation, decided_by, decided_at, request";

pub async fn history(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Vec<StoredDecision>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM routing_decisions WHERE request_id = $1 ORDER BY sequence"
    )))
    .bind(request_id)
    .fetch_all(connection)
    .await
}

/// The latest decision, with the request locked against a concurrent transfer.
pub async fn latest_for_update(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Option<StoredDecision>> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(request_id)
        .execute(&mut *connection)
        .await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM routing_decisions WHERE request_id = $1 ORDER BY sequence DESC LIMIT 1"
    )))
    .bind(request_id)
    .fetch_optional(connection)
    .await
}

/// The request a stored decision was taken for.
pub fn summary(decision: &StoredDecision) -> Result<RequestSummary, prost::DecodeError> {
    RequestSummary::decode(decision.request.as_slice())
}
