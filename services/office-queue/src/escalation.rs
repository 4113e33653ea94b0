//! The reminder-scheduler's escalation ladder on an item: a warning before the deadline, the
//! deadline passed, and overdue by the further days (sent to the direzione regionale). Each
//! step is kept on the item, shown among its priority reasons and in its history; a step for
//! a deadline the item no longer has (answered, paused, moved since) changes nothing.

use combipat_platform::handler::Effects;
use combipat_platform::messaging::HandleError;
use combipat_platform::time::from_timestamp;
use combipat_proto::events::v1::{ReminderDue, ReminderKind};
use uuid::Uuid;

use crate::items;

/// The actor of the history entries the scheduler's steps write.
const SCHEDULER: &str = "reminder-scheduler";

/// The name a step is kept under, or None for a reminder that is not the office's.
pub fn step(kind: ReminderKind) -> Option<&'static str> {
    match kind {
        ReminderKind::ReminderSlaWarning => Some("sla_warning"),
        ReminderKind::ReminderSlaOverdue => Some("sla_overdue"),
        ReminderKind::ReminderSlaEscalation => Some("sla_escalation"),
        ReminderKind::ReminderSollecitoPossible | ReminderKind::Unspecified => None,
    }
}

pub async fn record(
    effects: &mut Effects<'_>,
    request_id: Uuid,
    due: &ReminderDue,
) -> Result<(), HandleError> {
    let Some(step) = step(due.kind()) else {
        // The patronato's reminder: nothing for the office.
        return Ok(());
    };
    let deadline = from_timestamp(due.deadline.as_ref())
        .ok_or_else(|| HandleError::permanent("an escalation without its deadline"))?;
    let fired_at = from_timestamp(due.due_at.as_ref())
        .ok_or_else(|| HandleError::permanent("an escalation without its time"))?;
    let Some(item) = items::lock(effects.db(), request_id).await? else {
        return Err(HandleError::transient(anyhow::anyhow!(
            "no item yet for request {request_id}"
        )));
    };
    if item.status != crate::priority::NEW || item.sla_due_at != Some(deadline) {
        tracing::info!(request.id = %request_id, step, "an escalation for a deadline the item no longer has; ignored");
        return Ok(());
    }
    sqlx::query("UPDATE items SET escalation = $2, escalated_at = $3 WHERE request_id = $1")
        .bind(request_id)
        .bind(step)
        .bind(fired_at)
        .execute(effects.db())
        .await?;
    let text = match due.kind() {
        ReminderKind::ReminderSlaEscalation => {
            format!("escalated to {}: {}", due.escalate_to, due.explanation)
        }
        _ => due.explanation.clone(),
    };
    items::record(effects.db(), request_id, SCHEDULER, step, &text, false).await?;
    Ok(())
}
