//! The operator's view of a request's life: router's decisions and the office's steps
//! (answers, questions, transfers, closure), as they arrive, become the request's status and
//! history, with the files the office sent (exactly once per event, through the inbox).

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use combipat_platform::inbox;
use combipat_platform::messaging::{EventHandler, HandleError, QueueSpec};
use combipat_platform::time::from_timestamp;
use combipat_proto::common::v1::OfficeRef;
use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;

pub const QUEUE: QueueSpec = QueueSpec {
    name: "intake.status",
    bindings: &[
        "request.routed",
        "request.unroutable",
        "request.info_requested",
        "request.answered",
        "request.closed",
        "request.transferred",
    ],
};

pub const ROUTED: &str = "ROUTED";
pub const UNROUTABLE: &str = "UNROUTABLE";
pub const ANSWERED: &str = "ANSWERED";
pub const INFO_REQUESTED: &str = "INFO_REQUESTED";
pub const CLOSED: &str = "CLOSED";
/// A history entry only: the office sent the request on; router's new decision (ROUTED)
/// follows and moves it.
pub const TRANSFERRED: &str = "TRANSFERRED";

pub struct StatusHandler {
    pub pool: PgPool,
}

fn permanent(message: impl std::fmt::Display) -> HandleError {
    HandleError::Permanent(anyhow::anyhow!("{message}"))
}

/// A status change an event brings.
struct Change {
    status: &'static str,
    office: OfficeRef,
    /// Set for router's decisions; None for the office's own steps.
    decision_sequence: Option<i64>,
    detail: String,
    /// False for steps that are history only and leave the request's status as it is.
    sets_status: bool,
    /// Files the office sent with this step (references into the shared store).
    files: Vec<combipat_proto::common::v1::AttachmentRef>,
}

fn change(payload: Option<Payload>, event_type: &str) -> Result<Change, HandleError> {
    let (status, office, sequence, detail) = match payload {
        Some(Payload::RequestRouted(event)) => {
            let detail = if event.kind == "transfer" {
                format!("transferred ({})", event.rule)
            } else {
                format!(
                    "routed by rule {} of ruleset {}",
                    event.rule, event.ruleset_version
                )
            };
            (ROUTED, event.office, event.decision_sequence, detail)
        }
        Some(Payload::RequestUnroutable(event)) => (
            UNROUTABLE,
            event.fallback_office,
            event.decision_sequence,
            event.reason,
        ),
        Some(Payload::RequestAnswered(event)) => {
            return Ok(Change {
                status: ANSWERED,
                office: event
                    .office
                    .ok_or_else(|| permanent("an answer without its office"))?,
                decision_sequence: None,
                detail: event.answer,
                sets_status: true,
                files: event.attachments,
            });
        }
        Some(Payload::RequestInfoRequested(event)) => {
            return Ok(Change {
                status: INFO_REQUESTED,
                office: event
                    .office
                    .ok_or_else(|| permanent("an information request without its office"))?,
                decision_sequence: None,
                detail: event.question,
                sets_status: true,
                files: event.attachments,
            });
        }
        Some(Payload::RequestClosed(event)) => {
            return Ok(Change {
                status: CLOSED,
                office: event
                    .office
                    .ok_or_else(|| permanent("a closure without its office"))?,
                decision_sequence: None,
                detail: format!("closed by {}", event.closed_by),
                sets_status: true,
                files: Vec::new(),
            });
        }
        Some(Payload::RequestTransferred(event)) => {
            let to = event
                .to_office
                .ok_or_else(|| permanent("a transfer without its target office"))?;
            return Ok(Change {
                status: TRANSFERRED,
                office: event
                    .from_office
                    .ok_or_else(|| permanent("a transfer without its office"))?,
                decision_sequence: None,
                detail: format!("sent on to {} {}: {}", to.code, to.name, event.reason)
                    .replace("  ", " "),
                sets_status: false,
                files: Vec::new(),
            });
        }
        _ => return Err(permanent(format!("intake does not follow {event_type}"))),
    };
    Ok(Change {
        status,
        office: office.ok_or_else(|| permanent("a routing decision without its office"))?,
        decision_sequence: Some(
            i64::try_from(sequence).map_err(|_| permanent("decision sequence out of range"))?,
        ),
        detail,
        sets_status: true,
        files: Vec::new(),
    })
}

impl EventHandler for StatusHandler {
    async fn handle(&self, envelope: Envelope) -> Result<(), HandleError> {
        let event_id = Uuid::parse_str(&envelope.event_id)
            .map_err(|error| permanent(format!("event id: {error}")))?;
        let request_id = Uuid::parse_str(&envelope.request_id)
            .map_err(|error| permanent(format!("request id: {error}")))?;
        let at: DateTime<Utc> =
            from_timestamp(envelope.occurred_at.as_ref()).unwrap_or_else(Utc::now);
        let change = change(envelope.payload, &envelope.event_type)?;

        async {
            let mut transaction = self.pool.begin().await?;
            if !inbox::first_delivery(&mut transaction, SERVICE_NAME, event_id).await? {
                return Ok::<_, anyhow::Error>(());
            }
            sqlx::query(
                "INSERT INTO request_history (request_id, at, status, office_code, office_name, detail, decision_sequence)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (request_id, decision_sequence) WHERE decision_sequence IS NOT NULL DO NOTHING",
            )
            .bind(request_id)
            .bind(at)
            .bind(change.status)
            .bind(&change.office.code)
            .bind(&change.office.name)
            .bind(&change.detail)
            .bind(change.decision_sequence)
            .execute(&mut *transaction)
            .await
            .context("cannot record the status change")?;
            crate::attachments::record_from_office(
                &mut transaction,
                request_id,
                &change.files,
                &change.status.to_lowercase(),
                &change.office.code,
            )
            .await
            .context("cannot record the office's files")?;
            if !change.sets_status {
                transaction.commit().await?;
                return Ok(());
            }
            match change.decision_sequence {
                // Router's decisions: only a newer one moves the request.
                // An answered or closed request keeps that status when a decision arrives late.
                Some(sequence) => sqlx::query(
                    "UPDATE requests
                     SET status = CASE WHEN status IN ('ANSWERED', 'CLOSED') THEN status ELSE $2 END,
                         office_code = $3, office_name = $4, decision_sequence = $5
                     WHERE id = $1 AND decision_sequence < $5",
                )
                .bind(request_id)
                .bind(change.status)
                .bind(&change.office.code)
                .bind(&change.office.name)
                .bind(sequence),
                // The office's steps: a closed request stays closed whatever arrives late.
                None => sqlx::query("UPDATE requests SET status = $2 WHERE id = $1 AND status <> 'CLOSED'")
                    .bind(request_id)
                    .bind(change.status),
            }
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            Ok(())
        }
        .await
        .map_err(HandleError::Transient)
    }
}

#[derive(sqlx::FromRow)]
pub struct HistoryRow {
    pub at: DateTime<Utc>,
    pub status: String,
    pub office_code: Option<String>,
    pub office_name: Option<String>,
    pub detail: String,
}

pub async fn history(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as(
        "SELECT at, status, office_code, office_name, detail FROM request_history WHERE request_id = $1 ORDER BY at, id",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
}
