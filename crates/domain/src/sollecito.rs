//! The sollecito rule: an operator may chase a request that has had no answer for at least
//! 15 calendar days since it was sent, and again only 15 calendar days after the previous
//! sollecito. Once the office has answered there is nothing left to chase.
//!
//! Calendar days count in Italian time (Europe/Rome), so the daylight-saving change in
//! between does not move the hour: sent at 10:00, chaseable from 10:00 fifteen days later.

use chrono::{DateTime, Days, Utc};
use chrono_tz::Europe::Rome;

pub const DAYS: u64 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SollecitoRefusal {
    #[error("the office has already answered: there is nothing to chase")]
    Answered,
    #[error("a sollecito is possible from {possible_from}")]
    TooEarly { possible_from: DateTime<Utc> },
}

/// When a sollecito becomes possible: 15 calendar days after the later of the sending and
/// the previous sollecito.
pub fn possible_from(
    sent_at: DateTime<Utc>,
    last_sollecito: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let since = last_sollecito.map_or(sent_at, |last| last.max(sent_at));
    let local = since.with_timezone(&Rome);
    local
        .checked_add_days(Days::new(DAYS))
        .map_or(since + chrono::Duration::days(15), |later| {
            later.with_timezone(&Utc)
        })
}

/// Whether a sollecito may be sent `now`.
pub fn check(
    sent_at: DateTime<Utc>,
    answered: bool,
    last_sollecito: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), SollecitoRefusal> {
    if answered {
        return Err(SollecitoRefusal::Answered);
    }
    let possible_from = possible_from(sent_at, last_sollecito);
    if now < possible_from {
        return Err(SollecitoRefusal::TooEarly { possible_from });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use proptest::prelude::*;

    use super::*;

    fn rome(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Rome.with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn fifteen_calendar_days_keep_the_italian_hour_across_daylight_saving() {
        // Sent before the change to summer time (29 March 2026), chaseable at the same hour.
        assert_eq!(
            possible_from(rome(2026, 3, 20, 10), None),
            rome(2026, 4, 4, 10)
        );
        assert_eq!(
            possible_from(rome(2026, 10, 20, 10), None),
            rome(2026, 11, 4, 10)
        );
    }

    #[test]
    fn the_rule_refuses_too_early_and_after_an_answer() {
        let sent = rome(2026, 11, 1, 9);
        assert_eq!(
            check(sent, false, None, rome(2026, 11, 16, 8)),
            Err(SollecitoRefusal::TooEarly {
                possible_from: rome(2026, 11, 16, 9)
            })
        );
        assert_eq!(check(sent, false, None, rome(2026, 11, 16, 9)), Ok(()));
        assert_eq!(
            check(sent, true, None, rome(2026, 12, 31, 9)),
            Err(SollecitoRefusal::Answered)
        );
        let first = rome(2026, 11, 20, 12);
        assert_eq!(
            check(sent, false, Some(first), rome(2026, 11, 30, 12)),
            Err(SollecitoRefusal::TooEarly {
                possible_from: rome(2026, 12, 5, 12)
            })
        );
    }

    proptest! {
        #[test]
        fn a_sollecito_is_possible_exactly_from_fifteen_days_after_the_later_event(
            sent in 1_700_000_000i64..1_900_000_000,
            last_offset in proptest::option::of(0i64..40 * 86_400),
            now_offset in 0i64..80 * 86_400,
        ) {
            let sent = DateTime::from_timestamp(sent, 0).unwrap();
            let last = last_offset.map(|offset| sent + chrono::Duration::seconds(offset));
            let now = sent + chrono::Duration::seconds(now_offset);
            let from = possible_from(sent, last);
            let since = last.unwrap_or(sent);
            // Fifteen days give or take the hour a daylight-saving change moves.
            let span = from - since;
            prop_assert!(span >= chrono::Duration::hours(15 * 24 - 1) && span <= chrono::Duration::hours(15 * 24 + 1));
            prop_assert_eq!(check(sent, false, last, now).is_ok(), now >= from);
            prop_assert_eq!(check(sent, true, last, now), Err(SollecitoRefusal::Answered));
        }
    }
}
