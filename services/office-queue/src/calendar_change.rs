//! A new office directory changed some offices' patron saint's days (`calendar.changed`): the
//! open items of those offices get their deadlines moved by what the change adds or removes
//! between today and the deadline, each move announced (`request.sla_changed`, with the
//! reason in words) so that the reminder-scheduler moves its timers and can say why.

use combipat_domain::sla::{Deadline, SlaPolicy, rome_date};
use combipat_platform::clock::Clock;
use combipat_platform::handler::Effects;
use combipat_platform::messaging::HandleError;
use combipat_proto::events::v1::{CalendarChanged, OfficeCalendarChange};

use crate::items::{COLUMNS, ItemRow};
use crate::lifecycle;

pub async fn apply(
    effects: &mut Effects<'_>,
    sla: &SlaPolicy,
    clock: &Clock,
    change: &CalendarChanged,
) -> Result<(), HandleError> {
    for office in &change.offices {
        move_deadlines(effects, sla, clock, &change.ruleset_version, office).await?;
    }
    Ok(())
}

fn describe(day: &str) -> String {
    if day.is_empty() {
        "none".to_owned()
    } else {
        day.to_owned()
    }
}

async fn move_deadlines(
    effects: &mut Effects<'_>,
    sla: &SlaPolicy,
    clock: &Clock,
    version: &str,
    change: &OfficeCalendarChange,
) -> Result<(), HandleError> {
    let open: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM items
         WHERE office_code = $1 AND status = 'NEW' AND sla_due_at IS NOT NULL ORDER BY request_id FOR UPDATE"
    )))
    .bind(&change.office_code)
    .fetch_all(effects.db())
    .await?;
    let (before, after) = (
        lifecycle::calendar(&change.previous_patron_day),
        lifecycle::calendar(&change.patron_day),
    );
    let now = clock.now();
    let today = rome_date(now);
    let mut moved = 0;
    for item in open {
        let Some(old) = item.deadline() else { continue };
        // Overdue already: nothing left to count.
        if old.due_at <= now {
            continue;
        }
        let left = before.business_days_between(today, old.last_day());
        let new: Deadline = sla.resume_at(left, now, &after);
        if new == old {
            continue;
        }
        let updated: ItemRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE items SET sla_due_at = $2, sla_warn_at = $3, office_patron_day = $4,
                              escalation = NULL, version = version + 1
             WHERE request_id = $1 RETURNING {COLUMNS}"
        )))
        .bind(item.request_id)
        .bind(new.due_at)
        .bind(new.warn_at)
        .bind(&change.patron_day)
        .fetch_one(effects.db())
        .await?;
        let reason = format!(
            "the calendar of {} changed (directory {version}: patron saint's day {} instead of {}): due by {} instead of {}",
            change.office_code,
            describe(&change.patron_day),
            describe(&change.previous_patron_day),
            new.last_day(),
            old.last_day()
        );
        effects.emit(lifecycle::sla_changed(
            &updated,
            &lifecycle::Clock::Running(new),
            &reason,
        ));
        moved += 1;
    }
    // The rest (waiting, answered, unaffected) keep their deadlines but learn the calendar.
    sqlx::query("UPDATE items SET office_patron_day = $2 WHERE office_code = $1 AND office_patron_day <> $2")
        .bind(&change.office_code)
        .bind(&change.patron_day)
        .execute(effects.db())
        .await?;
    tracing::info!(office = %change.office_code, moved, "deadlines moved by a calendar change");
    Ok(())
}
