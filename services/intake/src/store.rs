//! Writing and reading requests. A submission and its `request.submitted` event commit
//! together, or not at all: the mandate, the idempotency key, the likely-duplicate check and
//! the attachments are settled in the same transaction.

use chrono::{DateTime, Datelike as _, Utc};
use combipat_platform::ApiError;
use combipat_platform::auth::Principal;
use combipat_platform::batcher::Batcher;
use combipat_platform::clock::Clock;
use combipat_platform::messaging::new_envelope;
use combipat_platform::outbox::{self, OutboxWaker, Pending};
use combipat_platform::propagation::{Carrier, current_carrier};
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
pub(crate) const DUPLICATE_WINDOW_HOURS: i64 = 24;

/// One checked submission on its way to the database, with what the call fixed already.
pub struct Submission {
    pub operator: Operator,
    pub request: ValidRequest,
    pub content_hash: String,
    pub request_id: Uuid,
    pub submitted_at: DateTime<Utc>,
    /// The caller's trace, which the `request.submitted` event continues.
    pub trace_context: Carrier,
}

impl Submission {
    /// The first submission made with this key, if it is still within the window, matches
    /// this one when `(operator, key)` does.
    pub(crate) fn window_start(&self, hours: u32) -> DateTime<Utc> {
        self.submitted_at - chrono::Duration::hours(i64::from(hours))
    }

    /// The advisory locks this submission takes: its idempotency key (two retries racing
    /// with the same key: the second waits for the first to commit) and its citizen (two
    /// identical submissions at the same instant: the second waits and then sees the first).
    pub(crate) fn lock_keys(&self) -> Vec<(String, i64)> {
        let mut keys = Vec::with_capacity(2);
        if let Some(key) = &self.request.idempotency_key {
            keys.push((format!("{}\n{key}", self.operator.id), 0));
        }
        if !self.request.confirm_duplicate {
            keys.push((
                format!(
                    "{}\n{}",
                    self.operator.patronato,
                    self.request.codice_fiscale.as_str()
                ),
                1,
            ));
        }
        keys
    }

    /// What makes two requests likely duplicates of each other.
    pub(crate) fn duplicate_key(&self) -> (String, String, i32, String, String) {
        (
            self.operator.patronato.clone(),
            self.request.codice_fiscale.as_str().to_owned(),
            self.request.motivo as i32,
            self.request.topic.code().to_owned(),
            self.request.pratica_protocol_number.clone(),
        )
    }
}

/// Takes the advisory locks of every submission of a transaction at once, in the one order
/// of [`combipat_platform::db::advisory_locks`].
pub(crate) async fn lock_all(
    connection: &mut PgConnection,
    submissions: &[&Submission],
) -> sqlx::Result<()> {
    let keys: Vec<(String, i64)> = submissions
        .iter()
        .flat_map(|submission| submission.lock_keys())
        .collect();
    combipat_platform::db::advisory_locks(connection, &keys).await
}

/// The first submission made with this key, if any: the same content is a retry, other
/// content a misuse of the key.
async fn replay(
    connection: &mut PgConnection,
    submission: &Submission,
    key: &str,
    window_hours: u32,
) -> Result<Option<Submitted>, ApiError> {
    let first: Option<(String, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT k.content_hash, r.id, r.protocol_number, r.submitted_at
         FROM idempotency_keys k JOIN requests r ON r.id = k.request_id
         WHERE k.operator_id = $1 AND k.key = $2 AND k.created_at > $3",
    )
    .bind(&submission.operator.id)
    .bind(key)
    .bind(submission.window_start(window_hours))
    .fetch_optional(&mut *connection)
    .await?;
    match first {
        None => Ok(None),
        Some((hash, request_id, protocol_number, submitted_at)) => replay_or_conflict(
            key,
            hash == submission.content_hash,
            request_id,
            protocol_number,
            submitted_at,
        )
        .map(Some),
    }
}

/// An earlier submission with the same key: a retry if the content is the same, else a
/// misuse of the key.
pub(crate) fn replay_or_conflict(
    key: &str,
    same_content: bool,
    request_id: Uuid,
    protocol_number: String,
    submitted_at: DateTime<Utc>,
) -> Result<Submitted, ApiError> {
    if same_content {
        Ok(Submitted {
            request_id,
            protocol_number,
            submitted_at,
            replayed: true,
        })
    } else {
        Err(ApiError::Conflict(format!(
            "the idempotency key `{key}` was used for another request ({protocol_number}); use a new key for a new request"
        )))
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
        Some((id, protocol_number, submitted_at)) => Err(duplicate_refusal(
            request,
            id,
            &protocol_number,
            submitted_at,
        )),
        None => Ok(()),
    }
}

/// The refusal of a likely duplicate of the request `id`.
pub(crate) fn duplicate_refusal(
    request: &ValidRequest,
    id: Uuid,
    protocol_number: &str,
    submitted_at: DateTime<Utc>,
) -> ApiError {
    ApiError::FailedPrecondition(format!(
        "likely duplicate of request {protocol_number} (id {id}), sent {} for the same citizen, motivo and {}; send it again with confirm_duplicate to file it anyway",
        submitted_at.format("%Y-%m-%d %H:%M UTC"),
        if request.pratica_protocol_number.is_empty() {
            "topic"
        } else {
            "pratica"
        },
    ))
}

/// Submits a checked request. Concurrent submissions are settled together, a few per
/// commit ([`crate::group_submit`]); the answer is this one's alone.
pub async fn submit(
    desk: &Desk,
    operator: &Operator,
    request: &ValidRequest,
    content_hash: &str,
) -> Result<Submitted, ApiError> {
    let submission = Submission {
        operator: operator.clone(),
        request: request.clone(),
        content_hash: content_hash.to_owned(),
        request_id: Uuid::now_v7(),
        submitted_at: desk.clock.now(),
        trace_context: current_carrier(),
    };
    desk.submissions
        .submit(submission)
        .await
        .unwrap_or_else(|lost| {
            tracing::warn!(error = %lost, "a submission was not answered by its writer");
            Err(ApiError::RetryLater {
                message: "the service is stopping or busy; retry shortly".to_owned(),
                retry_after: std::time::Duration::from_secs(1),
            })
        })
}

/// The protocol number of the request numbered `sequence` in the year of `submitted_at`.
pub(crate) fn protocol_number(submitted_at: DateTime<Utc>, sequence: i64) -> String {
    format!("CP-{}-{sequence:08}", submitted_at.year())
}

/// Where submissions are written, and what a commit that wrote events must wake.
#[derive(Clone)]
pub struct SubmissionStore {
    pub pool: PgPool,
    pub outbox: OutboxWaker,
    /// How long a submission's idempotency key identifies it (`retention.*`).
    pub idempotency_window_hours: u32,
}

/// One submission in a transaction of its own: the way for one with attachments, and for
/// each of a batch that could not be settled together.
pub(crate) async fn submit_alone(
    store: &SubmissionStore,
    submission: &Submission,
) -> Result<Submitted, ApiError> {
    let Submission {
        operator,
        request,
        request_id,
        submitted_at,
        ..
    } = submission;
    let (request_id, submitted_at) = (*request_id, *submitted_at);
    let mut transaction = store.pool.begin().await?;
    lock_all(&mut transaction, &[submission]).await?;
    if let Some(key) = &request.idempotency_key
        && let Some(first) = replay(
            &mut transaction,
            submission,
            key,
            store.idempotency_window_hours,
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
        likely_duplicate(&mut transaction, operator, request).await?;
    }
    let sequence: i64 = sqlx::query_scalar("SELECT nextval('protocol_numbers')")
        .fetch_one(&mut *transaction)
        .await?;
    let protocol_number = protocol_number(submitted_at, sequence);
    let accepted = [(submission, protocol_number.clone())];
    insert_requests(&mut transaction, &accepted).await?;
    let attachments = crate::attachments::attach(
        &mut transaction,
        &request.attachment_ids,
        "attachment_ids",
        operator,
        request_id,
        "request",
    )
    .await?;
    let event = submitted_event(submission, &protocol_number, attachments);
    outbox::enqueue_many(&mut transaction, &[event]).await?;
    store.outbox.commit(transaction).await?;
    Ok(Submitted {
        request_id,
        protocol_number,
        submitted_at,
        replayed: false,
    })
}

/// Writes the accepted submissions (each with its protocol number): the requests, their
/// idempotency keys and their first history entries, one statement each.
pub(crate) async fn insert_requests(
    connection: &mut PgConnection,
    accepted: &[(&Submission, String)],
) -> sqlx::Result<()> {
    let column = |value: fn(&Submission) -> String| -> Vec<String> {
        accepted
            .iter()
            .map(|(submission, _)| value(submission))
            .collect()
    };
    let ids: Vec<Uuid> = accepted.iter().map(|(s, _)| s.request_id).collect();
    let numbers: Vec<String> = accepted.iter().map(|(_, number)| number.clone()).collect();
    let motivi: Vec<i32> = accepted
        .iter()
        .map(|(s, _)| s.request.motivo as i32)
        .collect();
    let times: Vec<DateTime<Utc>> = accepted.iter().map(|(s, _)| s.submitted_at).collect();
    sqlx::query(
        "INSERT INTO requests (id, protocol_number, motivo, codice_fiscale, comune_residenza, topic,
                               subject, body, patronato, patronato_office, operator_id, submitted_at,
                               pratica_protocol_number)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[],
                              $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                              $12::timestamptz[], $13::text[])",
    )
    .bind(&ids)
    .bind(&numbers)
    .bind(&motivi)
    .bind(column(|s| s.request.codice_fiscale.as_str().to_owned()))
    .bind(column(|s| s.request.comune_residenza.clone()))
    .bind(column(|s| s.request.topic.code().to_owned()))
    .bind(column(|s| s.request.subject.clone()))
    .bind(column(|s| s.request.body.clone()))
    .bind(column(|s| s.operator.patronato.clone()))
    .bind(column(|s| s.operator.patronato_office.clone()))
    .bind(column(|s| s.operator.id.clone()))
    .bind(&times)
    .bind(column(|s| s.request.pratica_protocol_number.clone()))
    .execute(&mut *connection)
    .await?;

    let keyed: Vec<&(&Submission, String)> = accepted
        .iter()
        .filter(|(s, _)| s.request.idempotency_key.is_some())
        .collect();
    if !keyed.is_empty() {
        let text = |value: fn(&Submission) -> String| -> Vec<String> {
            keyed
                .iter()
                .map(|(submission, _)| value(submission))
                .collect()
        };
        sqlx::query(
            // A key past its window that the sweep has not deleted yet is free again.
            "INSERT INTO idempotency_keys (operator_id, key, content_hash, request_id, created_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[])
             ON CONFLICT (operator_id, key) DO UPDATE
             SET content_hash = EXCLUDED.content_hash, request_id = EXCLUDED.request_id,
                 created_at = EXCLUDED.created_at",
        )
        .bind(text(|s| s.operator.id.clone()))
        .bind(text(|s| {
            s.request.idempotency_key.clone().unwrap_or_default()
        }))
        .bind(text(|s| s.content_hash.clone()))
        .bind(keyed.iter().map(|(s, _)| s.request_id).collect::<Vec<_>>())
        .bind(
            keyed
                .iter()
                .map(|(s, _)| s.submitted_at)
                .collect::<Vec<_>>(),
        )
        .execute(&mut *connection)
        .await?;
    }

    sqlx::query(
        "INSERT INTO request_history (request_id, at, status, detail)
         SELECT id, at, 'SUBMITTED', detail FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS h(id, at, detail)",
    )
    .bind(&ids)
    .bind(&times)
    .bind(column(|s| {
        format!(
            "submitted by {} for {}",
            s.operator.id, s.operator.patronato_office
        )
    }))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The `request.submitted` event of an accepted submission, continuing its caller's trace.
pub(crate) fn submitted_event(
    submission: &Submission,
    protocol_number: &str,
    attachments: Vec<combipat_proto::common::v1::AttachmentRef>,
) -> Pending {
    let Submission {
        operator,
        request,
        request_id,
        submitted_at,
        ..
    } = submission;
    let summary = RequestSummary {
        request_id: request_id.to_string(),
        protocol_number: protocol_number.to_owned(),
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
        submitted_at: Some(to_timestamp(*submitted_at)),
        attachments,
        pratica_protocol_number: request.pratica_protocol_number.clone(),
        body: request.body.clone(),
    };
    Pending {
        envelope: new_envelope(
            SERVICE_NAME,
            &request_id.to_string(),
            Payload::RequestSubmitted(RequestSubmitted {
                request: Some(summary),
            }),
        ),
        trace_context: submission.trace_context.clone(),
    }
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
/// wrote an event, the clock the time rules read, and the writers that settle submissions.
#[derive(Clone)]
pub struct Desk {
    pub pool: PgPool,
    pub outbox: OutboxWaker,
    pub clock: Clock,
    pub submissions: Batcher<crate::group_submit::GroupSubmit>,
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
