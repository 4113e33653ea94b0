//! The office's service level: a request is to be answered within a number of business days
//! of being sent (Italian time), flagged a few business days before that, and its clock stops
//! while the office waits for information it asked the patronato for.
//!
//! A deadline is the end of its day in Rome (midnight into the next day), so "due on
//! Friday" means the whole of Friday. Pausing keeps the business days that were left;
//! resuming counts them again from the day of the reply.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Europe::Rome;
use serde::Deserialize;

use crate::calendar::OfficeCalendar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// Business days from sending to the deadline.
    pub business_days: u32,
    /// Business days before the deadline from which the item is flagged as due soon.
    pub warning_business_days: u32,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        Self {
            business_days: 30,
            warning_business_days: 5,
        }
    }
}

/// When a running clock is due, and from when it is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub due_at: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaState {
    OnTrack,
    DueSoon,
    Overdue,
}

impl Deadline {
    /// The last Italian day on which the deadline is met.
    pub fn last_day(&self) -> NaiveDate {
        rome_date(self.due_at) - Days::new(1)
    }

    pub fn state(&self, now: DateTime<Utc>) -> SlaState {
        if now >= self.due_at {
            SlaState::Overdue
        } else if now >= self.warn_at {
            SlaState::DueSoon
        } else {
            SlaState::OnTrack
        }
    }
}

/// The Italian calendar day of an instant.
pub fn rome_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Rome).date_naive()
}

/// The first instant of `date` in Rome (the earlier one if the clocks go back at midnight).
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    Rome.from_local_datetime(&midnight)
        .earliest()
        // No Italian clock change happens at midnight; an hour later always exists.
        .unwrap_or_else(|| Rome.from_utc_datetime(&midnight))
        .with_timezone(&Utc)
}

impl SlaPolicy {
    /// The deadline of a request sent at `sent_at`, on the national calendar.
    pub fn deadline(&self, sent_at: DateTime<Utc>) -> Deadline {
        self.deadline_at(sent_at, &OfficeCalendar::NATIONAL)
    }

    /// The deadline of a request sent at `sent_at` to an office with `calendar`.
    pub fn deadline_at(&self, sent_at: DateTime<Utc>, calendar: &OfficeCalendar) -> Deadline {
        self.deadline_after(rome_date(sent_at), self.business_days, calendar)
    }

    /// The deadline `business_days` business days after `from`.
    fn deadline_after(
        &self,
        from: NaiveDate,
        business_days: u32,
        calendar: &OfficeCalendar,
    ) -> Deadline {
        let due_day = calendar.add_business_days(from, business_days);
        let warn_day = calendar.sub_business_days(due_day, self.warning_business_days);
        Deadline {
            due_at: start_of_day(due_day + Days::new(1)),
            warn_at: start_of_day(warn_day.max(from)),
        }
    }

    /// Business days left on a clock stopped at `paused_at` (0 when it was already due).
    pub fn remaining(&self, deadline: &Deadline, paused_at: DateTime<Utc>) -> u32 {
        self.remaining_at(deadline, paused_at, &OfficeCalendar::NATIONAL)
    }

    pub fn remaining_at(
        &self,
        deadline: &Deadline,
        paused_at: DateTime<Utc>,
        calendar: &OfficeCalendar,
    ) -> u32 {
        calendar.business_days_between(rome_date(paused_at), deadline.last_day())
    }

    /// The deadline of a clock restarted at `resumed_at` with `remaining` business days.
    pub fn resume(&self, remaining: u32, resumed_at: DateTime<Utc>) -> Deadline {
        self.resume_at(remaining, resumed_at, &OfficeCalendar::NATIONAL)
    }

    pub fn resume_at(
        &self,
        remaining: u32,
        resumed_at: DateTime<Utc>,
        calendar: &OfficeCalendar,
    ) -> Deadline {
        self.deadline_after(rome_date(resumed_at), remaining, calendar)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rome(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Rome.with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    const POLICY: SlaPolicy = SlaPolicy {
        business_days: 30,
        warning_business_days: 5,
    };

    #[test]
    fn thirty_business_days_skip_weekends_and_the_christmas_holidays() {
        // Sent Monday 7 December 2026: 8, 25 and 26 December and 1 and 6 January are holidays.
        let deadline = POLICY.deadline(rome(2026, 12, 7, 11));
        assert_eq!(deadline.due_at, rome(2027, 1, 23, 0));
        assert_eq!(deadline.warn_at, rome(2027, 1, 15, 0));
        assert_eq!(deadline.state(rome(2027, 1, 14, 23)), SlaState::OnTrack);
        assert_eq!(deadline.state(rome(2027, 1, 15, 0)), SlaState::DueSoon);
        assert_eq!(deadline.state(rome(2027, 1, 22, 23)), SlaState::DueSoon);
        assert_eq!(deadline.state(rome(2027, 1, 23, 0)), SlaState::Overdue);
    }

    #[test]
    fn a_pause_keeps_the_business_days_that_were_left() {
        let deadline = POLICY.deadline(rome(2026, 11, 2, 9));
        // Paused ten business days in (Monday 16 November), resumed a fortnight later.
        let remaining = POLICY.remaining(&deadline, rome(2026, 11, 16, 15));
        assert_eq!(remaining, 20);
        let resumed = POLICY.resume(remaining, rome(2026, 11, 30, 10));
        // From Monday 30 November, 20 business days (8 December a holiday): Wednesday 30 December.
        assert_eq!(resumed.due_at, rome(2026, 12, 31, 0));
    }

    #[test]
    fn an_overdue_clock_resumes_overdue_at_the_end_of_the_day() {
        let deadline = POLICY.deadline(rome(2026, 1, 7, 9));
        let remaining = POLICY.remaining(&deadline, deadline.due_at + chrono::Duration::days(3));
        assert_eq!(remaining, 0);
        let resumed = POLICY.resume(0, rome(2026, 3, 2, 9));
        assert_eq!(resumed.due_at, rome(2026, 3, 3, 0));
    }

    proptest! {
        #[test]
        fn the_deadline_follows_sending_and_the_warning_precedes_it(
            offset_hours in 0i64..(24 * 365 * 3),
            business_days in 1u32..90,
            warning in 0u32..10,
        ) {
            let policy = SlaPolicy { business_days, warning_business_days: warning };
            let sent = rome(2025, 1, 1, 0) + chrono::Duration::hours(offset_hours);
            let deadline = policy.deadline(sent);
            prop_assert!(deadline.warn_at <= deadline.due_at);
            prop_assert!(deadline.due_at > sent);
            prop_assert_eq!(deadline.state(sent), if deadline.warn_at <= sent { SlaState::DueSoon } else { SlaState::OnTrack });
            // Pausing at once and resuming at once changes nothing.
            let remaining = policy.remaining(&deadline, sent);
            prop_assert_eq!(remaining, business_days);
            prop_assert_eq!(policy.resume(remaining, sent), deadline);
        }
    }
}
