//! The timers a request should have, derived from what is known of it, and the durable jobs
//! brought in line with them. Because the timers follow from the state alone, the events of a
//! request may arrive in any order: the same state gives the same timers.

use combipat_domain::calendar::OfficeCalendar;
use combipat_platform::jobs::{self, Job, NewJob};
use combipat_proto::events::v1::ReminderKind;
use sqlx::PgConnection;

use crate::settings::LadderSettings;
use crate::state::Request;
use crate::timers::{self, Due, LADDER};

/// The timer of `kind` the request should have now, if any.
pub fn desired(request: &Request, kind: ReminderKind, ladder: &LadderSettings) -> Option<Due> {
    match kind {
        ReminderKind::ReminderSollecitoPossible => {
            let submitted_at = request.submitted_at?;
            (!request.settled()).then(|| timers::sollecito(submitted_at, request.last_sollecito_at))
        }
        _ => {
            let due_at = request.running_deadline()?;
            if request.answered_at.is_some() {
                return None;
            }
            let calendar = OfficeCalendar::with_patron_day(&request.office_patron_day);
            let ladder = ladder.for_request(request.motivo, &request.topic);
            let mut due =
                timers::ladder_step(kind, due_at, &calendar, &ladder, &request.office_code)?;
            if !request.sla_reason.is_empty() {
                due.explanation = format!(
                    "{}; ultimo cambiamento: {}",
                    due.explanation, request.sla_reason
                );
            }
            Some(due)
        }
    }
}

/// Every kind the scheduler keeps.
pub fn kinds() -> impl Iterator<Item = ReminderKind> {
    std::iter::once(ReminderKind::ReminderSollecitoPossible).chain(LADDER)
}

/// Schedules, moves or cancels the request's jobs so that they are what [`desired`] says.
/// Returns how many changed.
pub async fn timers(
    connection: &mut PgConnection,
    request: &Request,
    ladder: &LadderSettings,
) -> sqlx::Result<usize> {
    let subject = request.request_id.to_string();
    let existing: Vec<Job> = jobs::pending(connection, &subject).await?;
    let mut changed = 0;
    for kind in kinds() {
        let name = timers::job_kind(kind);
        let current = existing.iter().find(|job| job.kind == name);
        match desired(request, kind, ladder) {
            Some(due) => {
                let payload = serde_json::json!({ "explanation": due.explanation });
                if current.is_some_and(|job| job.due_at == due.at && job.payload == payload) {
                    continue;
                }
                jobs::schedule(
                    connection,
                    &NewJob {
                        kind: name,
                        subject: &subject,
                        due_at: due.at,
                        payload,
                    },
                )
                .await?;
                changed += 1;
            }
            None => {
                if current.is_some() && jobs::cancel(connection, name, &subject).await? {
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}
