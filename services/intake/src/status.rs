//! The operator's view of a request's life: router's first decision and the office's steps
//! (answers, questions, transfers, closure) become the request's status, current office and
//! history, with the files the office sent.
//!
//! Events arrive in any order (several replicas relay them, handlers run concurrently), so
//! the state follows the lifecycle sequence each event carries: a change applies only when its
//! sequence is higher than the one the request holds. Every event is kept in the history,
//! ordered by when it happened, so any permutation of a request's events (duplicates
//! included) gives the same state and the same history.

use chrono::{DateTime, Utc};
use combipat_platform::handler::{Effects, Event, TransactionalHandler};
use combipat_platform::messaging::HandleError;
use combipat_proto::common::v1::{AttachmentRef, OfficeRef};
use combipat_proto::events::v1::envelope::Payload;
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;

pub use combipat_platform::messaging::catalogue::INTAKE_STATUS as QUEUE;

pub const SUBMITTED: &str = "SUBMITTED";
pub const ROUTED: &str = "ROUTED";
pub const UNROUTABLE: &str = "UNROUTABLE";
pub const ANSWERED: &str = "ANSWERED";
pub const INFO_REQUESTED: &str = "INFO_REQUESTED";
pub const CLOSED: &str = "CLOSED";
/// A history entry: the office sent the request on (the request is ROUTED at the new office).
pub const TRANSFERRED: &str = "TRANSFERRED";

/// Every status a request can be in (what `ListRequests` filters by).
pub const REQUEST_STATUSES: [&str; 6] = [
    SUBMITTED,
    ROUTED,
    UNROUTABLE,
    INFO_REQUESTED,
    ANSWERED,
    CLOSED,
];

pub struct StatusHandler;

/// What one event means for the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The history entry: its status label, the office it names, its text.
    pub entry_status: &'static str,
    pub entry_office: OfficeRef,
    pub detail: String,
    /// What the request becomes: its status and current office.
    pub status: &'static str,
    pub office: OfficeRef,
    /// Files the office sent with this step (references into the shared store).
    pub files: Vec<AttachmentRef>,
}

fn office(office: Option<&OfficeRef>, what: &str) -> Result<OfficeRef, HandleError> {
    office
        .cloned()
        .ok_or_else(|| HandleError::permanent(format!("{what} without its office")))
}

/// The meaning of an event, as a pure function of its payload.
pub fn change(payload: &Payload) -> Result<Change, HandleError> {
    let same = |status, office: OfficeRef, detail: String, files| Change {
        entry_status: status,
        entry_office: office.clone(),
        detail,
        status,
        office,
        files,
    };
    Ok(match payload {
        Payload::RequestRouted(event) => same(
            ROUTED,
            office(event.office.as_ref(), "a routing decision")?,
            format!(
                "routed by rule {} of ruleset {}",
                event.rule, event.ruleset_version
            ),
            Vec::new(),
        ),
        Payload::RequestUnroutable(event) => same(
            UNROUTABLE,
            office(event.fallback_office.as_ref(), "a routing decision")?,
            event.reason.clone(),
            Vec::new(),
        ),
        Payload::RequestAnswered(event) => same(
            ANSWERED,
            office(event.office.as_ref(), "an answer")?,
            event.answer.clone(),
            event.attachments.clone(),
        ),
        Payload::RequestInfoRequested(event) => same(
            INFO_REQUESTED,
            office(event.office.as_ref(), "an information request")?,
            event.question.clone(),
            event.attachments.clone(),
        ),
        Payload::RequestClosed(event) => same(
            CLOSED,
            office(event.office.as_ref(), "a closure")?,
            format!("closed by {}", event.closed_by),
            Vec::new(),
        ),
        Payload::RequestTransferred(event) => {
            let to = office(event.to_office.as_ref(), "a transfer")?;
            Change {
                entry_status: TRANSFERRED,
                entry_office: office(event.from_office.as_ref(), "a transfer")?,
                detail: format!("sent on to {} {}: {}", to.code, to.name, event.reason)
                    .replace("  ", " "),
                status: ROUTED,
                office: to,
                files: Vec::new(),
            }
        }
        _ => return Err(HandleError::permanent("intake does not follow this event")),
    })
}

impl TransactionalHandler for StatusHandler {
    const CONSUMER: &'static str = SERVICE_NAME;

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        let request_id = event.request_id()?;
        if event.sequence == 0 {
            return Err(HandleError::permanent(format!(
                "{} changes the request's state but carries no sequence",
                event.event_type
            )));
        }
        let change = change(&event.payload)?;
        let sequence = i64::try_from(event.sequence)
            .map_err(|_| HandleError::permanent("sequence out of range"))?;
        sqlx::query(
            "INSERT INTO request_history (request_id, at, status, office_code, office_name, detail, event_id, sequence)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(request_id)
        .bind(event.occurred_at)
        .bind(change.entry_status)
        .bind(&change.entry_office.code)
        .bind(&change.entry_office.name)
        .bind(&change.detail)
        .bind(event.id)
        .bind(sequence)
        .execute(effects.db())
        .await?;
        crate::attachments::record_from_office(
            effects.db(),
            request_id,
            &change.files,
            &change.entry_status.to_lowercase(),
            &change.entry_office.code,
        )
        .await?;
        // Only a newer step moves the request.
        sqlx::query(
            "UPDATE requests SET status = $2, office_code = $3, office_name = $4, state_sequence = $5
             WHERE id = $1 AND state_sequence < $5",
        )
        .bind(request_id)
        .bind(change.status)
        .bind(&change.office.code)
        .bind(&change.office.name)
        .bind(sequence)
        .execute(effects.db())
        .await?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryRow {
    pub at: DateTime<Utc>,
    pub status: String,
    pub office_code: Option<String>,
    pub office_name: Option<String>,
    pub detail: String,
}

pub async fn history(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as(
        "SELECT at, status, office_code, office_name, detail FROM request_history
         WHERE request_id = $1 ORDER BY at, sequence, id",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
}
