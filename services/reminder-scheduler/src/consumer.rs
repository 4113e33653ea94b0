//! The scheduler's consumer (queue reminder-scheduler.events), on the platform's
//! transactional handler: each event adds to what is known of its request, and the
//! request's timers are brought in line in the same transaction.
//! - request.submitted: the sending (the first sollecito timer, 15 days on);
//! - request.sollecito: the latest sollecito (the next one 15 days after it);
//! - request.answered, request.closed: nothing left to chase; the ladder ends;
//! - request.sla_changed: the office's deadline clock (the ladder around it), by sequence.

use combipat_platform::handler::{Effects, Event, TransactionalHandler};
use combipat_platform::messaging::HandleError;
use combipat_platform::time::from_timestamp;
use combipat_proto::events::v1::SlaClock;
use combipat_proto::events::v1::envelope::Payload;

use crate::SERVICE_NAME;
use crate::settings::LadderSettings;
use crate::state::{self, earliest, latest};

pub use combipat_platform::messaging::catalogue::REMINDER_SCHEDULER_EVENTS as QUEUE;

pub struct EventsHandler {
    pub ladder: LadderSettings,
}

impl TransactionalHandler for EventsHandler {
    const CONSUMER: &'static str = SERVICE_NAME;

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        let mut request = state::lock(effects.db(), event.request_id()?).await?;
        match &event.payload {
            Payload::RequestSubmitted(submitted) => {
                let summary = submitted.request.as_ref().ok_or_else(|| {
                    HandleError::permanent("request.submitted without its request")
                })?;
                let filer = summary.filer.clone().unwrap_or_default();
                request.protocol_number.clone_from(&summary.protocol_number);
                request.patronato = filer.patronato;
                request.patronato_office = filer.patronato_office;
                request.operator_id = filer.operator_id;
                request.motivo = summary.motivo;
                request.topic.clone_from(&summary.topic);
                request.submitted_at = Some(
                    from_timestamp(summary.submitted_at.as_ref()).ok_or_else(|| {
                        HandleError::permanent("request.submitted without submitted_at")
                    })?,
                );
            }
            Payload::RequestSollecito(_) => {
                request.last_sollecito_at = latest(request.last_sollecito_at, event.occurred_at);
            }
            Payload::RequestAnswered(_) => {
                request.answered_at = earliest(request.answered_at, event.occurred_at);
            }
            Payload::RequestClosed(_) => {
                request.closed_at = earliest(request.closed_at, event.occurred_at);
            }
            Payload::RequestSlaChanged(clock) => {
                let sequence = i64::try_from(event.sequence)
                    .map_err(|_| HandleError::permanent("sequence out of range"))?;
                if sequence == 0 {
                    return Err(HandleError::permanent(
                        "request.sla_changed without a sequence",
                    ));
                }
                // Only a newer clock replaces the one held.
                if sequence > request.sla_sequence {
                    let office = clock.office.clone().unwrap_or_default();
                    request.sla_sequence = sequence;
                    request.sla_clock = match clock.clock() {
                        SlaClock::Running => state::RUNNING,
                        SlaClock::Paused => "PAUSED",
                        SlaClock::Stopped => "STOPPED",
                        SlaClock::Unspecified => {
                            return Err(HandleError::permanent("a deadline clock in no state"));
                        }
                    }
                    .to_owned();
                    request.due_at = from_timestamp(clock.due_at.as_ref());
                    request.office_code = office.code;
                    request.office_patron_day = office.patron_day;
                    request.office_direzione = office.parent_code;
                    request.sla_reason.clone_from(&clock.reason);
                    if request.protocol_number.is_empty() {
                        request.protocol_number.clone_from(&clock.protocol_number);
                    }
                    if request.topic.is_empty() {
                        request.motivo = clock.motivo;
                        request.topic.clone_from(&clock.topic);
                    }
                }
            }
            _ => return Err(event.unexpected()),
        }
        state::save(effects.db(), &request).await?;
        let changed = crate::reconcile::timers(effects.db(), &request, &self.ladder).await?;
        tracing::debug!(request.id = %request.request_id, changed, event = %event.event_type, "timers in line");
        Ok(())
    }
}
