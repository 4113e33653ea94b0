//! Writing and reading requests. A submission and its `request.submitted` event commit
//! together, or not at all: the mandate, the idempotency key, the likely-duplicate check and
//! the attachments are settled in the same transaction.

use chrono::{DateTime, Datelike as _, Utc};
use combipat_platform::ApiError;
use combipat_platform::auth::Principal;
use combipat_platform::clock::Clock;
use combipat_platform::messaging::new_envelope;
use combipat_platform::outbox;
use combipat_platform::outbox::OutboxWaker;
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{Filer, RequestSummary};
use combipat_proto::events::v1::RequestSubmitted;
use combipat_proto::events::v1::envelope::Payload;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::validation::ValidRequest;

/// The patronato, its office and the operator, as the token says.
#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub patronato: String,
    pub patronato_office: String,
}

impl Operator {
    pub fn from_principal(principal: &Principal) -> Option<Self> {
        Some(Self {
            id: principal.subject.clone(),
            patronato: principal.patronato.clone()?,
            patronato_office: principal.patronato_office.clone()?,
        })
    }

    /// Whether a row of this patronato and office is the operator's. Both, always: an
    /// office code is unique only within its patronato's identity provider.
    pub fn owns(&self, patronato: &str, patronato_office: &str) -> bool {
        self.patronato == patronato && self.patronato_office == patronato_office
    }
}

pub struct Submitted {
    pub request_id: Uuid,
    pub protocol_number: String,
    pub submitted_at: DateTime<Utc>,
    /// An earlier submission with the same idempotency key and content.
    pub replayed: bool,
}

/// How far back a request counts as a likely duplicate of a new one.
const DUPLICATE_WINDOW_HOURS: i64 = 24;

/// The first submission made with this key, if any: the same content is a retry, other
/// content a misuse of the key.
async fn replay(
    connection: &mut PgConnection,
    operator: &Operator,
    key: &str,
    content_hash: &str,
    window_start: DateTime<Utc>,
) -> Result<Option<Submitted>, ApiError> {
    // Two retries racing with the same key: the second waits for the first to commit.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{}\n{key}", operator.id))
        .execute(&mut *connection)
        .await?;
    let first: Option<(String, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT k.content_hash, r.id, r.protocol_number, r.submitted_at
         FROM idempotency_keys k JOIN requests r ON r.id = k.request_id
         WHERE k.operator_id = $1 AND k.key = $2 AND k.created_at > $3",
    )
    .bind(&operator.id)
    .bind(key)
    .bind(window_start)
    .fetch_optional(&mut *connection)
    .await?;
    match first {
        None => Ok(None),
        Some((hash, request_id, protocol_number, submitted_at)) if hash == content_hash => {
            Ok(Some(Submitted {
                request_id,
                protocol_number,
                submitted_at,
                replayed: true,
            }))
        }
        Some((_, _, protocol_number, _)) => Err(ApiError::Conflict(format!(
            "the idempotency key `{key}` was used for another request ({protocol_number}); use a new key for a new request"
        ))),
    }
}

/// A request of the same patronato for the same citizen, motivo, prestazione or topic and
/// pratica within the last day: probably the same request sent twice.
async fn likely_duplicate(
    connection: &mut PgConnection,
    operator: &Operator,
    request: &ValidRequest,
) -> Result<(), ApiError> {
    let existing: Option<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, protocol_number, submitted_at FROM requests
         WHERE patronato = $1 AND codice_fiscale = $2 AND motivo = $3 AND topic = $4
           AND pratica_protocol_number = $5 AND submitted_at > now() - make_interval(hours => $6)
         ORDER BY submitted_at DESC LIMIT 1",
    )
    .bind(&operator.patronato)
    .bind(request.codice_fiscale.as_str())
    .bind(request.motivo as i32)
    .bind(request.topic.code())
    .bind(&request.pratica_protocol_number)
    .bind(i32::try_from(DUPLICATE_WINDOW_HOURS).unwrap_or(24))
    .fetch_optional(&mut *connection)
    .await?;
    match existing {
        Some((id, protocol_number, submitted_at)) => Err(ApiError::FailedPrecondition(format!(
            "likely duplicate of request {protocol_number} (id {id}), sent {} for the same citizen, motivo and {}; send it again with confirm_duplicate to file it anyway",
            submitted_at.format("%Y-%m-%d %H:%M UTC"),
            if request.pratica_protocol_number.is_empty() {
                "topic"
            } else {
                "pratica"
            },
        ))),
        None => Ok(()),
    }
}

pub async fn submit(
    desk: &Desk,
    operator: &Operator,
    request: &ValidRequest,
    content_hash: &str,
) -> Result<Submitted, ApiError> {
    let request_id = Uuid::now_v7();
    let submitted_at = desk.clock.now();
    let pool = &desk.pool;
    let mut transaction = pool.begin().await?;
    if let Some(key) = &request.idempotency_key
        && let Some(first) = replay(
            &mut transaction,
            operator,
            key,
            content_hash,
            submitted_at - chrono::Duration::hours(i64::from(desk.idempotency_window_hours)),
        )
        .await?
    {
        return Ok(first);
    }
    crate::mandates::require(
        &mut transaction,
        &operator.patronato,
        request.codice_fiscale.as_str(),
        submitted_at,
    )
    .await?;
    if !request.confirm_duplicate {
        // Two identical submissions at the same instant: the second waits for the first and
        // then sees it.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))")
            .bind(format!(
                "{}\n{}",
                operator.patronato,
                request.codice_fiscale.as_str()
            ))
            .execute(&mut *transaction)
            .await?;
        likely_duplicate(&mut transaction, operator, request).await?;
    }
    let sequence: i64 = sqlx::query_scalar("SELECT nextval('protocol_numbers')")
        .fetch_one(&mut *transaction)
        .await?;
    let protocol_number = format!("CP-{}-{sequence:08}", submitted_at.year());
    sqlx::query(
        "INSERT INTO requests (id, protocol_number, motivo, codice_fiscale, comune_residenza, topic,
                               subject, body, patronato, patronato_office, operator_id, submitted_at,
                               pratica_protocol_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(request_id)
    .bind(&protocol_number)
    .bind(request.motivo as i32)
    .bind(request.codice_fiscale.as_str())
    .bind(&request.comune_residenza)
    .bind(request.topic.code())
    .bind(&request.subject)
    .bind(&request.body)
    .bind(&operator.patronato)
    .bind(&operator.patronato_office)
    .bind(&operator.id)
    .bind(submitted_at)
    .bind(&request.pratica_protocol_number)
    .execute(&mut *transaction)
    .await?;
    if let Some(key) = &request.idempotency_key {
        sqlx::query(
            // A key past its window that the sweep has not deleted yet is free again.
            "INSERT INTO idempotency_keys (operator_id, key, content_hash, request_id, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (operator_id, key) DO UPDATE
             SET content_hash = EXCLUDED.content_hash, request_id = EXCLUDED.request_id,
                 created_at = EXCLUDED.created_at",
        )
        .bind(&operator.id)
        .bind(key)
        .bind(content_hash)
        .bind(request_id)
        .bind(submitted_at)
        .execute(&mut *transaction)
        .await?;
    }
    let attachments = crate::attachments::attach(
        &mut transaction,
        &request.attachment_ids,
        "attachment_ids",
        operator,
        request_id,
        "request",
    )
    .await?;
    sqlx::query(
        "INSERT INTO request_history (request_id, at, status, detail) VALUES ($1, $2, 'SUBMITTED', $3)",
    )
    .bind(request_id)
    .bind(submitted_at)
    .bind(format!("submitted by {} for {}", operator.id, operator.patronato_office))
    .execute(&mut *transaction)
    .await?;

    let summary = RequestSummary {
        request_id: request_id.to_string(),
        protocol_number: protocol_number.clone(),
        motivo: request.motivo as i32,
        codice_fiscale: request.codice_fiscale.as_str().to_owned(),
        comune_residenza: request.comune_residenza.clone(),
        topic: request.topic.code().to_owned(),
        subject: request.subject.clone(),
        filer: Some(Filer {
            patronato: operator.patronato.clone(),
            patronato_office: operator.patronato_office.clone(),
            operator_id: operator.id.clone(),
        }),
        submitted_at: Some(to_timestamp(submitted_at)),
        attachments,
        pratica_protocol_number: request.pratica_protocol_number.clone(),
        body: request.body.clone(),
    };
    let event = new_envelope(
        SERVICE_NAME,
        &request_id.to_string(),
        Payload::RequestSubmitted(RequestSubmitted {
            request: Some(summary),
        }),
    );
    outbox::enqueue(&mut transaction, &event).await?;
    desk.outbox.commit(transaction).await?;
    Ok(Submitted {
        request_id,
        protocol_number,
        submitted_at,
        replayed: false,
    })
}

#[derive(sqlx::FromRow)]
pub struct StoredRequest {
    pub id: Uuid,
    pub protocol_number: String,
    pub motivo: i32,
    pub codice_fiscale: String,
    pub comune_residenza: String,
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub patronato: String,
    pub patronato_office: String,
    pub operator_id: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub office_code: Option<String>,
    pub office_name: Option<String>,
    pub pratica_protocol_number: String,
    pub solleciti: i32,
    pub last_sollecito_at: Option<DateTime<Utc>>,
}

/// What every write of a request needs: the database, the relay to wake after a commit that
/// wrote an event, and the clock the time rules read.
#[derive(Clone)]
pub struct Desk {
    pub pool: PgPool,
    pub outbox: OutboxWaker,
    pub clock: Clock,
    /// How long a submission's idempotency key identifies it (`retention.*`).
    pub idempotency_window_hours: u32,
}

pub async fn find(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Option<StoredRequest>> {
    sqlx::query_as(
        "SELECT id, protocol_number, motivo, codice_fiscale, comune_residenza, topic, subject, body,
                patronato, patronato_office, operator_id, status, submitted_at, office_code, office_name,
                pratica_protocol_number, solleciti, last_sollecito_at
         FROM requests WHERE id = $1",
    )
    .bind(request_id)
    .fetch_optional(pool)
    .await
}
