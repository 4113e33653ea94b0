//! A timer falls due: `reminder.due` is announced in the transaction that ends the job, so
//! each timer is announced once whatever the replicas and restarts. A timer that no longer
//! matches what is known of its request (answered meanwhile, moved by a newer deadline) ends
//! without a word.

use combipat_platform::handler::Effects;
use combipat_platform::jobs::{Job, JobHandler, Next};
use combipat_platform::messaging::{HandleError, new_envelope};
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{Filer, OfficeRef};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{ReminderDue, ReminderKind};
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::reconcile::desired;
use crate::settings::LadderSettings;
use crate::state;
use crate::timers::reminder_kind;

pub struct Firing {
    pub ladder: LadderSettings,
}

/// Counter {kind}: timers that ended without firing because the request had moved on.
const METRIC_STALE: &str = "combipat_timers_stale_total";

impl JobHandler for Firing {
    const KINDS: &'static [&'static str] = &[
        "sollecito_possible",
        "sla_warning",
        "sla_overdue",
        "sla_escalation",
    ];
    type Output = ();

    async fn perform(&self, _job: &Job) {}

    async fn complete(
        &self,
        effects: &mut Effects<'_>,
        job: &Job,
        _output: &(),
    ) -> Result<Next, HandleError> {
        let request_id = Uuid::parse_str(&job.subject).map_err(|error| {
            HandleError::permanent(format!("a timer about `{}`: {error}", job.subject))
        })?;
        let Some(request) = state::find(effects.db(), request_id).await? else {
            return Ok(Next::Dead {
                error: format!(
                    "a timer for request {request_id}, which the scheduler does not know"
                ),
            });
        };
        let kind = reminder_kind(&job.kind);
        let Some(due) = desired(&request, kind, &self.ladder).filter(|due| due.at == job.due_at)
        else {
            metrics::counter!(METRIC_STALE, "kind" => job.kind.clone()).increment(1);
            return Ok(Next::Done);
        };
        let reminder = ReminderDue {
            kind: kind as i32,
            due_at: Some(to_timestamp(job.due_at)),
            office: Some(OfficeRef {
                code: request.office_code.clone(),
                patron_day: request.office_patron_day.clone(),
                parent_code: request.office_direzione.clone(),
                ..OfficeRef::default()
            }),
            filer: Some(Filer {
                patronato: request.patronato.clone(),
                patronato_office: request.patronato_office.clone(),
                operator_id: request.operator_id.clone(),
            }),
            protocol_number: request.protocol_number.clone(),
            explanation: due.explanation,
            deadline: match kind {
                ReminderKind::ReminderSollecitoPossible => None,
                _ => request.due_at.map(to_timestamp),
            },
            escalate_to: match kind {
                ReminderKind::ReminderSlaEscalation => request.office_direzione.clone(),
                _ => String::new(),
            },
        };
        effects.emit(new_envelope(
            SERVICE_NAME,
            &request_id.to_string(),
            Payload::ReminderDue(reminder),
        ));
        Ok(Next::Done)
    }
}
