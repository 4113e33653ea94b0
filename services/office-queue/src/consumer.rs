//! Router's decisions -> items in office queues, exactly once whatever the redeliveries.
//!
//! `request.routed` files the item at the decided office, or moves it there when the
//! decision is newer than the one the item follows (a transfer). `request.unroutable` files
//! it in the fallback queue of its region.

use anyhow::Context as _;
use chrono::Utc;
use combipat_domain::sla::SlaPolicy;
use combipat_platform::inbox;
use combipat_platform::messaging::{EventHandler, HandleError, QueueSpec};
use combipat_platform::time::from_timestamp;
use combipat_proto::common::v1::{OfficeRef, RequestSummary};
use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::items;

/// The actor of the history entries that router's decisions write.
const ROUTER: &str = "router";

pub const QUEUE: QueueSpec = QueueSpec {
    name: "office-queue.decisions",
    bindings: &[
        "request.routed",
        "request.unroutable",
        "request.info_provided",
        "request.sollecito",
    ],
};

/// Counter {outcome=filed|moved|stale}.
const METRIC_FILED: &str = "combipat_items_filed_total";

pub struct DecisionHandler {
    pub pool: PgPool,
    pub sla: SlaPolicy,
}

impl DecisionHandler {
    /// A sollecito from the patronato: counted on the item (it raises its priority).
    async fn sollecito(
        &self,
        event_id: Uuid,
        request_id: Uuid,
        sollecito: combipat_proto::events::v1::RequestSollecito,
    ) -> Result<(), HandleError> {
        async {
            let mut transaction = self.pool.begin().await?;
            if !inbox::first_delivery(&mut transaction, SERVICE_NAME, event_id).await? {
                return Ok::<_, anyhow::Error>(());
            }
            sqlx::query(
                "UPDATE items SET solleciti = GREATEST(solleciti, $2) WHERE request_id = $1",
            )
            .bind(request_id)
            .bind(i32::try_from(sollecito.count).unwrap_or(i32::MAX))
            .execute(&mut *transaction)
            .await?;
            items::record(
                &mut transaction,
                request_id,
                &sollecito.sent_by,
                "sollecito",
                &format!("sollecito n. {}", sollecito.count),
                false,
            )
            .await?;
            transaction.commit().await?;
            Ok(())
        }
        .await
        .map_err(HandleError::Transient)
    }

    /// The patronato's reply: the waiting item is work again, with the reply in its history.
    async fn info_provided(
        &self,
        event_id: Uuid,
        request_id: Uuid,
        reply: combipat_proto::events::v1::RequestInfoProvided,
    ) -> Result<(), HandleError> {
        async {
            let mut transaction = self.pool.begin().await?;
            if !inbox::first_delivery(&mut transaction, SERVICE_NAME, event_id).await? {
                return Ok::<_, anyhow::Error>(());
            }
            let days_left: Option<Option<i32>> = sqlx::query_scalar(
                "SELECT sla_days_left FROM items WHERE request_id = $1 AND status = 'INFO_REQUESTED' FOR UPDATE",
            )
            .bind(request_id)
            .fetch_optional(&mut *transaction)
            .await?;
            if let Some(days_left) = days_left {
                // The clock starts again with the business days it had left.
                let deadline = self.sla.resume(
                    u32::try_from(days_left.unwrap_or_default()).unwrap_or_default(),
                    Utc::now(),
                );
                sqlx::query(
                    "UPDATE items SET status = 'NEW', version = version + 1,
                                      sla_due_at = $2, sla_warn_at = $3, sla_days_left = NULL
                     WHERE request_id = $1",
                )
                .bind(request_id)
                .bind(deadline.due_at)
                .bind(deadline.warn_at)
                .execute(&mut *transaction)
                .await?;
            } else {
                tracing::warn!(request.id = %request_id, "a reply arrived for an item that was not waiting for one; kept in its history");
            }
            items::record(&mut transaction, request_id, &reply.provided_by, "info_provided", &reply.reply, false).await?;
            crate::attachments::record_from_patronato(&mut transaction, request_id, &reply.attachments, &reply.provided_by).await?;
            transaction.commit().await?;
            Ok(())
        }
        .await
        .map_err(HandleError::Transient)
    }
}

fn permanent(message: impl std::fmt::Display) -> HandleError {
    HandleError::Permanent(anyhow::anyhow!("{message}"))
}

/// What an event asks office-queue to do.
struct Filing {
    request: RequestSummary,
    office: OfficeRef,
    routed: bool,
    decision_sequence: i64,
    ruleset_version: String,
    rule: String,
}

fn filing(payload: Option<Payload>, event_type: &str) -> Result<Filing, HandleError> {
    let (request, office, routed, sequence, ruleset_version, rule) = match payload {
        Some(Payload::RequestRouted(event)) => (
            event.request,
            event.office,
            true,
            event.decision_sequence,
            event.ruleset_version,
            event.rule,
        ),
        Some(Payload::RequestUnroutable(event)) => (
            event.request,
            event.fallback_office,
            false,
            event.decision_sequence,
            event.ruleset_version,
            "none".to_owned(),
        ),
        _ => {
            return Err(permanent(format!(
                "expected a routing decision, got {event_type}"
            )));
        }
    };
    Ok(Filing {
        request: request.ok_or_else(|| permanent("routing decision without its request"))?,
        office: office.ok_or_else(|| permanent("routing decision without its office"))?,
        routed,
        decision_sequence: i64::try_from(sequence)
            .map_err(|_| permanent("decision sequence out of range"))?,
        ruleset_version,
        rule,
    })
}

impl EventHandler for DecisionHandler {
    async fn handle(&self, envelope: Envelope) -> Result<(), HandleError> {
        let event_id = Uuid::parse_str(&envelope.event_id)
            .map_err(|error| permanent(format!("event id: {error}")))?;
        match envelope.payload {
            Some(Payload::RequestInfoProvided(reply)) => {
                let request_id = Uuid::parse_str(&envelope.request_id)
                    .map_err(|error| permanent(format!("request id: {error}")))?;
                return self.info_provided(event_id, request_id, reply).await;
            }
            Some(Payload::RequestSollecito(sollecito)) => {
                let request_id = Uuid::parse_str(&envelope.request_id)
                    .map_err(|error| permanent(format!("request id: {error}")))?;
                return self.sollecito(event_id, request_id, sollecito).await;
            }
            _ => {}
        }
        let filing = filing(envelope.payload, &envelope.event_type)?;
        let request = &filing.request;
        let request_id = Uuid::parse_str(&request.request_id)
            .map_err(|error| permanent(format!("request id: {error}")))?;
        let submitted_at = from_timestamp(request.submitted_at.as_ref())
            .ok_or_else(|| permanent("decision without a valid submitted_at"))?;
        let patronato = request
            .filer
            .as_ref()
            .map(|filer| filer.patronato.clone())
            .unwrap_or_default();

        let deadline = self.sla.deadline(submitted_at);
        let outcome = async {
            let mut transaction = self.pool.begin().await?;
            if !inbox::first_delivery(&mut transaction, SERVICE_NAME, event_id).await? {
                return Ok::<_, anyhow::Error>(None);
            }
            // One writer per office at a time, so that an office's items take their `seq`
            // (the ListItems cursor) in commit order and a page never skips a late commit.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(&filing.office.code)
                .execute(&mut *transaction)
                .await?;
            let previous: Option<(i64, String, Option<i32>)> = sqlx::query_as(
                "SELECT decision_sequence, status, sla_days_left FROM items WHERE request_id = $1 FOR UPDATE",
            )
            .bind(request_id)
            .fetch_optional(&mut *transaction)
            .await?;
            let outcome = match previous {
                Some((previous, _, _)) if previous >= filing.decision_sequence => "stale",
                Some((_, status, days_left)) => {
                    // A transfer keeps the citizen's clock; an item that was waiting for
                    // information is work again at the new office, so its clock restarts.
                    if status == crate::priority::INFO_REQUESTED {
                        let deadline = self.sla.resume(
                            u32::try_from(days_left.unwrap_or_default()).unwrap_or_default(),
                            Utc::now(),
                        );
                        sqlx::query("UPDATE items SET sla_due_at = $2, sla_warn_at = $3, sla_days_left = NULL WHERE request_id = $1")
                            .bind(request_id)
                            .bind(deadline.due_at)
                            .bind(deadline.warn_at)
                            .execute(&mut *transaction)
                            .await?;
                    }
                    sqlx::query(
                        // At the new office it is new work: no lease from the old office, a new
                    // version so that nobody's stale write lands on it.
                    "UPDATE items SET office_code = $2, seq = DEFAULT, decision_sequence = $3, routed = $4,
                                          ruleset_version = $5, rule = $6, filed_at = clock_timestamp(),
                                          status = CASE WHEN status = 'CLOSED' THEN status ELSE 'NEW' END,
                                          claimed_by = NULL, lease_until = NULL, version = version + 1
                         WHERE request_id = $1",
                    )
                    .bind(request_id)
                    .bind(&filing.office.code)
                    .bind(filing.decision_sequence)
                    .bind(filing.routed)
                    .bind(&filing.ruleset_version)
                    .bind(&filing.rule)
                    .execute(&mut *transaction)
                    .await
                    .context("cannot move the item")?;
                    items::record(&mut transaction, request_id, ROUTER, "moved", &format!("to {} ({})", filing.office.code, filing.rule), false).await?;
                    "moved"
                }
                None => {
                    sqlx::query(
                        "INSERT INTO items (request_id, protocol_number, office_code, motivo, topic, subject, patronato,
                                            submitted_at, decision_sequence, routed, ruleset_version, rule,
                                            sla_due_at, sla_warn_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(request_id)
                    .bind(&request.protocol_number)
                    .bind(&filing.office.code)
                    .bind(request.motivo)
                    .bind(&request.topic)
                    .bind(&request.subject)
                    .bind(&patronato)
                    .bind(submitted_at)
                    .bind(filing.decision_sequence)
                    .bind(filing.routed)
                    .bind(&filing.ruleset_version)
                    .bind(&filing.rule)
                    .bind(deadline.due_at)
                    .bind(deadline.warn_at)
                    .execute(&mut *transaction)
                    .await
                    .context("cannot file the item")?;
                    items::record(&mut transaction, request_id, ROUTER, "filed", &format!("at {} ({})", filing.office.code, filing.rule), false).await?;
                    crate::attachments::record_from_patronato(&mut transaction, request_id, &request.attachments, &patronato).await?;
                    "filed"
                }
            };
            transaction.commit().await?;
            Ok(Some(outcome))
        }
        .await
        .map_err(HandleError::Transient)?;

        if let Some(outcome) = outcome {
            metrics::counter!(METRIC_FILED, "outcome" => outcome).increment(1);
            tracing::info!(request.id = %request_id, office.code = %filing.office.code, outcome, "routing decision applied");
        }
        Ok(())
    }
}
