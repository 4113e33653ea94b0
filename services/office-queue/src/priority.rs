//! Where an item ranks in its queue and why. The score is computed from the same rule here,
//! to explain it on each item, in SQL ([`push_score`]), to sort and page by it, and in the
//! generated `rank_key` of `migrations/20261210000000_stored_rank.sql`, the same score as of
//! the item's `ranked_as_of` (`ranking.rs`), which `list.rs` walks in order. A change to the
//! rule changes all three (with a migration). `tests/priority.rs` checks that the first two
//! agree, `tests/ranking.rs` that the stored one gives the computed order.
//!
//! Score of open work (status NEW): 20 when the deadline has passed, 10 when it is near,
//! plus one per sollecito received (at most 9, so that solleciti never outrank the
//! deadline). Items waiting for the patronato, answered or closed score 0. Equal scores go
//! oldest first.

use chrono::{DateTime, Utc};
use combipat_domain::sla::{Deadline, SlaState as DeadlineState, rome_date};
use combipat_platform::time::to_timestamp;
use combipat_proto::officequeue::v1::{Priority, SlaState};
use sqlx::{Postgres, QueryBuilder};

use crate::items::ItemRow;

const OVERDUE_POINTS: u32 = 20;
const DUE_SOON_POINTS: u32 = 10;
const MAX_SOLLECITO_POINTS: u32 = 9;

pub const NEW: &str = "NEW";
pub const INFO_REQUESTED: &str = "INFO_REQUESTED";

impl ItemRow {
    /// The running clock, if the item is open and its clock runs.
    pub fn deadline(&self) -> Option<Deadline> {
        match (self.status.as_str(), self.sla_due_at, self.sla_warn_at) {
            (NEW, Some(due_at), Some(warn_at)) => Some(Deadline { due_at, warn_at }),
            _ => None,
        }
    }

    pub fn sla_state(&self, as_of: DateTime<Utc>) -> SlaState {
        match (self.status.as_str(), self.deadline()) {
            (NEW, Some(deadline)) => match deadline.state(as_of) {
                DeadlineState::OnTrack => SlaState::OnTrack,
                DeadlineState::DueSoon => SlaState::DueSoon,
                DeadlineState::Overdue => SlaState::Overdue,
            },
            (NEW, None) => SlaState::Unspecified,
            (INFO_REQUESTED, _) => SlaState::Paused,
            _ => SlaState::Done,
        }
    }

    pub fn priority(&self, as_of: DateTime<Utc>) -> Priority {
        let sla_state = self.sla_state(as_of);
        let deadline_points = match sla_state {
            SlaState::Overdue => OVERDUE_POINTS,
            SlaState::DueSoon => DUE_SOON_POINTS,
            _ => 0,
        };
        let solleciti = u32::try_from(self.solleciti).unwrap_or_default();
        let sollecito_points = if self.status == NEW {
            solleciti.min(MAX_SOLLECITO_POINTS)
        } else {
            0
        };
        let mut reasons = Vec::new();
        let due_day = self.deadline().map(|deadline| deadline.last_day());
        match (sla_state, due_day) {
            (SlaState::Overdue, Some(day)) => reasons.push(format!("overdue: it was due by {day}")),
            (SlaState::DueSoon, Some(day)) => reasons.push(format!("due soon: by {day}")),
            (SlaState::OnTrack, Some(day)) => reasons.push(format!("on track: due by {day}")),
            (SlaState::Paused, _) => reasons.push(format!(
                "clock stopped while the patronato is asked for information ({} business days left)",
                self.sla_days_left.unwrap_or_default()
            )),
            (SlaState::Done, _) => reasons.push(format!("{}: nothing is due", self.status.to_lowercase())),
            _ => {}
        }
        if let (NEW, Some(step), Some(at)) = (
            self.status.as_str(),
            self.escalation.as_deref(),
            self.escalated_at,
        ) {
            let when = rome_date(at);
            reasons.push(match step {
                "sla_warning" => {
                    format!("the office was warned on {when} that the deadline is near")
                }
                "sla_overdue" => format!("overdue since {when}: the responsabile was told"),
                _ => format!(
                    "escalated on {when} to the direzione regionale {}",
                    self.office_direzione
                ),
            });
        }
        match solleciti {
            0 => {}
            1 => reasons.push("1 sollecito received".to_owned()),
            many => reasons.push(format!("{many} solleciti received")),
        }
        reasons.push(format!(
            "submitted {}: among equal scores the oldest comes first",
            rome_date(self.submitted_at)
        ));
        Priority {
            score: deadline_points + sollecito_points,
            sla_state: sla_state as i32,
            due_at: self
                .deadline()
                .map(|deadline| to_timestamp(deadline.due_at)),
            business_days_left: u32::try_from(self.sla_days_left.unwrap_or_default())
                .unwrap_or_default(),
            reasons,
        }
    }
}

/// Appends the score of [`ItemRow::priority`] as an SQL expression over `items`, as of
/// `as_of`.
pub fn push_score(query: &mut QueryBuilder<Postgres>, as_of: DateTime<Utc>) {
    query
        .push(format!(
            "(CASE WHEN status <> '{NEW}' THEN 0 ELSE LEAST(solleciti, {MAX_SOLLECITO_POINTS}) + CASE WHEN sla_due_at IS NULL OR sla_warn_at IS NULL THEN 0 WHEN sla_due_at <= "
        ))
        .push_bind(as_of)
        .push(format!(" THEN {OVERDUE_POINTS} WHEN sla_warn_at <= "))
        .push_bind(as_of)
        .push(format!(
            " THEN {DUE_SOON_POINTS} ELSE 0 END END)"
        ));
}

/// Appends a condition that holds for items in `state` as of `as_of`.
pub fn push_sla_condition(
    query: &mut QueryBuilder<Postgres>,
    state: SlaState,
    as_of: DateTime<Utc>,
) {
    match state {
        SlaState::OnTrack => {
            query
                .push(format!("(status = '{NEW}' AND sla_warn_at > "))
                .push_bind(as_of)
                .push(")");
        }
        SlaState::DueSoon => {
            query
                .push(format!("(status = '{NEW}' AND sla_warn_at <= "))
                .push_bind(as_of)
                .push(" AND sla_due_at > ")
                .push_bind(as_of)
                .push(")");
        }
        SlaState::Overdue => {
            query
                .push(format!("(status = '{NEW}' AND sla_due_at <= "))
                .push_bind(as_of)
                .push(")");
        }
        SlaState::Paused => {
            query.push(format!("(status = '{INFO_REQUESTED}')"));
        }
        SlaState::Done => {
            query.push("(status IN ('ANSWERED', 'CLOSED'))");
        }
        SlaState::Unspecified => {
            query.push(format!("(status = '{NEW}' AND sla_due_at IS NULL)"));
        }
    }
}
