//! Office-queue's consumer, on the platform's transactional handler (exactly one effect per
//! event whatever the redeliveries):
//! - router's first decision (`request.routed`, or `request.unroutable` for the fallback
//!   queue of its region) files the item;
//! - the patronato's reply (`request.info_provided`) makes a waiting item work again;
//! - a sollecito (`request.sollecito`) is counted on the item and raises its priority;
//! - the reminder-scheduler's escalations (`reminder.due`) are shown in its priority;
//! - a changed calendar (`calendar.changed`) moves the deadlines of the offices it names.
//!
//! Once filed, the item is office-queue's: transfers are decided here (see `work.rs`), so a
//! later routing decision for a filed request is stale and ignored.

use combipat_domain::sla::SlaPolicy;
use combipat_platform::clock::Clock;
use combipat_platform::handler::{Effects, Event, TransactionalHandler};
use combipat_platform::messaging::HandleError;
use combipat_platform::time::from_timestamp;
use combipat_proto::common::v1::{OfficeRef, RequestSummary};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{RequestInfoProvided, RequestSollecito};
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::items::{self, COLUMNS, ItemRow};
use crate::lifecycle;

pub use combipat_platform::messaging::catalogue::OFFICE_QUEUE_DECISIONS as QUEUE;

/// The actor of the history entries that router's decisions write.
const ROUTER: &str = "router";

/// Counter {outcome=filed|stale}.
const METRIC_FILED: &str = "combipat_items_filed_total";
/// Histogram: seconds from the request's sending to its filing here (the SLI of "filed
/// within a second").
const METRIC_FILING_LATENCY: &str = "combipat_request_filing_latency_seconds";

/// The filing series, at zero until the first item (dashboards and alerts read them).
pub fn show_metrics_from_zero() {
    for outcome in ["filed", "stale"] {
        metrics::counter!(METRIC_FILED, "outcome" => outcome).increment(0);
    }
    // Registering a histogram renders it with zero observations.
    let _registered = metrics::histogram!(METRIC_FILING_LATENCY);
}

pub struct DecisionHandler {
    pub sla: SlaPolicy,
    pub clock: Clock,
}

impl TransactionalHandler for DecisionHandler {
    const CONSUMER: &'static str = SERVICE_NAME;

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        match &event.payload {
            Payload::RequestInfoProvided(reply) => {
                self.info_provided(effects, event.request_id()?, reply)
                    .await
            }
            Payload::RequestSollecito(sollecito) => {
                sollecito_received(effects, event.request_id()?, sollecito).await
            }
            Payload::RequestRouted(_) | Payload::RequestUnroutable(_) => {
                self.file(effects, filing(&event.payload)?).await
            }
            Payload::ReminderDue(due) => {
                crate::escalation::record(effects, event.request_id()?, due).await
            }
            Payload::CalendarChanged(change) => {
                crate::calendar_change::apply(effects, &self.sla, &self.clock, change).await
            }
            _ => Err(event.unexpected()),
        }
    }

    /// Every office the batch files into, locked at once and in one order: two batches
    /// filing into the same offices in different orders would otherwise deadlock.
    async fn before_batch(
        &self,
        effects: &mut Effects<'_>,
        events: &[&Event],
    ) -> Result<(), HandleError> {
        let offices: Vec<(String, i64)> = events
            .iter()
            .filter_map(|event| filing(&event.payload).ok())
            .map(|filing| (filing.office.code.clone(), items::OFFICE_LOCK_SEED))
            .collect();
        combipat_platform::db::advisory_locks(effects.db(), &offices).await?;
        Ok(())
    }
}

/// What a routing decision asks office-queue to do.
struct Filing<'a> {
    request: &'a RequestSummary,
    office: &'a OfficeRef,
    routed: bool,
    decision_sequence: i64,
    ruleset_version: &'a str,
    rule: &'a str,
}

fn filing(payload: &Payload) -> Result<Filing<'_>, HandleError> {
    let (request, office, routed, sequence, ruleset_version, rule) = match payload {
        Payload::RequestRouted(event) => (
            &event.request,
            &event.office,
            true,
            event.decision_sequence,
            event.ruleset_version.as_str(),
            event.rule.as_str(),
        ),
        Payload::RequestUnroutable(event) => (
            &event.request,
            &event.fallback_office,
            false,
            event.decision_sequence,
            event.ruleset_version.as_str(),
            "none",
        ),
        _ => return Err(HandleError::permanent("expected a routing decision")),
    };
    Ok(Filing {
        request: request
            .as_ref()
            .ok_or_else(|| HandleError::permanent("routing decision without its request"))?,
        office: office
            .as_ref()
            .ok_or_else(|| HandleError::permanent("routing decision without its office"))?,
        routed,
        decision_sequence: i64::try_from(sequence)
            .map_err(|_| HandleError::permanent("decision sequence out of range"))?,
        ruleset_version,
        rule,
    })
}

impl DecisionHandler {
    async fn file(&self, effects: &mut Effects<'_>, filing: Filing<'_>) -> Result<(), HandleError> {
        let request = filing.request;
        let request_id = Uuid::parse_str(&request.request_id)
            .map_err(|error| HandleError::permanent(format!("request id: {error}")))?;
        let submitted_at = from_timestamp(request.submitted_at.as_ref())
            .ok_or_else(|| HandleError::permanent("decision without a valid submitted_at"))?;
        let patronato = &request
            .filer
            .as_ref()
            .ok_or_else(|| HandleError::permanent("decision without the request's filer"))?
            .patronato;
        // Filed already: the item is office-queue's now (a transfer moved it, or this is a
        // decision router took again). Checked without a lock, so that filing never waits on
        // an item a transfer holds while the transfer waits on this office's lock.
        let filed: Option<i32> = sqlx::query_scalar("SELECT 1 FROM items WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(effects.db())
            .await?;
        if filed.is_some() {
            metrics::counter!(METRIC_FILED, "outcome" => "stale").increment(1);
            tracing::info!(request.id = %request_id, "the request is filed already; the decision is stale");
            return Ok(());
        }
        // One writer per office at a time, so that an office's items take their `seq` (the
        // ListItems cursor) in commit order and a page never skips a late commit.
        items::lock_office(effects.db(), &filing.office.code).await?;
        let deadline = self.sla.deadline_at(
            submitted_at,
            &lifecycle::calendar(&filing.office.patron_day),
        );
        let inserted: Option<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO items (request_id, protocol_number, office_code, motivo, topic, subject, patronato,
                                submitted_at, decision_sequence, routed, ruleset_version, rule,
                                sla_due_at, sla_warn_at, office_patron_day, office_direzione, office_region,
                                codice_fiscale, comune_residenza, pratica_protocol_number,
                                patronato_office, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $20, $21, $22)
             ON CONFLICT (request_id) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(request_id)
        .bind(&request.protocol_number)
        .bind(&filing.office.code)
        .bind(request.motivo)
        .bind(&request.topic)
        .bind(&request.subject)
        .bind(patronato)
        .bind(submitted_at)
        .bind(filing.decision_sequence)
        .bind(filing.routed)
        .bind(filing.ruleset_version)
        .bind(filing.rule)
        .bind(deadline.due_at)
        .bind(deadline.warn_at)
        .bind(&filing.office.patron_day)
        .bind(&filing.office.parent_code)
        .bind(&filing.office.region_code)
        .bind(&request.codice_fiscale)
        .bind(&request.comune_residenza)
        .bind(&request.pratica_protocol_number)
        .bind(request.filer.as_ref().map(|filer| filer.patronato_office.as_str()).unwrap_or_default())
        .bind(&request.body)
        .fetch_optional(effects.db())
        .await?;
        let Some(item) = inserted else {
            return Ok(());
        };
        effects.emit(lifecycle::sla_changed(
            &item,
            &lifecycle::Clock::Running(deadline),
            "filed: the office's deadline starts",
        ));
        items::record(
            effects.db(),
            request_id,
            ROUTER,
            "filed",
            &format!("at {} ({})", filing.office.code, filing.rule),
            false,
        )
        .await?;
        crate::attachments::record_from_patronato(
            effects.db(),
            request_id,
            &request.attachments,
            patronato,
        )
        .await?;
        metrics::counter!(METRIC_FILED, "outcome" => "filed").increment(1);
        let latency = (self.clock.now() - submitted_at).num_milliseconds();
        #[allow(clippy::cast_precision_loss, reason = "milliseconds, shown in seconds")]
        metrics::histogram!(METRIC_FILING_LATENCY).record(latency.max(0) as f64 / 1000.0);
        tracing::info!(request.id = %request_id, office.code = %filing.office.code, "filed");
        Ok(())
    }

    /// The patronato's reply: the waiting item is work again, with the reply in its history.
    async fn info_provided(
        &self,
        effects: &mut Effects<'_>,
        request_id: Uuid,
        reply: &RequestInfoProvided,
    ) -> Result<(), HandleError> {
        let days_left: Option<Option<i32>> = sqlx::query_scalar(
            "SELECT sla_days_left FROM items WHERE request_id = $1 AND status = 'INFO_REQUESTED' FOR UPDATE",
        )
        .bind(request_id)
        .fetch_optional(effects.db())
        .await?;
        if let Some(days_left) = days_left {
            let waiting = items::lock(effects.db(), request_id)
                .await?
                .ok_or_else(|| HandleError::transient(anyhow::anyhow!("the item vanished")))?;
            // The clock starts again with the business days it had left.
            let deadline = self.sla.resume_at(
                u32::try_from(days_left.unwrap_or_default()).unwrap_or_default(),
                self.clock.now(),
                &waiting.calendar(),
            );
            let resumed: ItemRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE items SET status = 'NEW', version = version + 1, escalation = NULL,
                                  sla_due_at = $2, sla_warn_at = $3, sla_days_left = NULL
                 WHERE request_id = $1 RETURNING {COLUMNS}"
            )))
            .bind(request_id)
            .bind(deadline.due_at)
            .bind(deadline.warn_at)
            .fetch_one(effects.db())
            .await?;
            effects.emit(lifecycle::sla_changed(
                &resumed,
                &lifecycle::Clock::Running(deadline),
                "the patronato replied: the clock restarts with the business days it had left",
            ));
        } else {
            tracing::warn!(request.id = %request_id, "a reply arrived for an item that was not waiting for one; kept in its history");
        }
        items::record(
            effects.db(),
            request_id,
            &reply.provided_by,
            "info_provided",
            &reply.reply,
            false,
        )
        .await?;
        crate::attachments::record_from_patronato(
            effects.db(),
            request_id,
            &reply.attachments,
            &reply.provided_by,
        )
        .await?;
        Ok(())
    }
}

/// A sollecito from the patronato: counted on the item (it raises its priority).
async fn sollecito_received(
    effects: &mut Effects<'_>,
    request_id: Uuid,
    sollecito: &RequestSollecito,
) -> Result<(), HandleError> {
    sqlx::query("UPDATE items SET solleciti = GREATEST(solleciti, $2) WHERE request_id = $1")
        .bind(request_id)
        .bind(i32::try_from(sollecito.count).unwrap_or(i32::MAX))
        .execute(effects.db())
        .await?;
    items::record(
        effects.db(),
        request_id,
        &sollecito.sent_by,
        "sollecito",
        &format!("sollecito n. {}", sollecito.count),
        false,
    )
    .await?;
    Ok(())
}
