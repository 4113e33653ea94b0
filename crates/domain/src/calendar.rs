//! Italian business days: Monday to Friday except the national holidays (1 and 6 January,
//! Easter Sunday and Monday, 25 April, 1 May, 2 June, 15 August, 1 November, 8 December, 25
//! and 26 December, and from 2026 also 4 October, San Francesco) and, for an office, the
//! patron saint's day of the comune where it sits (the office directory names it; ANPR does
//! not). An [`OfficeCalendar`] is one office's; the free functions are the national one.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The first year in which 4 October (San Francesco) is a national holiday.
const SAN_FRANCESCO_FROM: i32 = 2026;

const FIXED_HOLIDAYS: [(u32, u32); 10] = [
    (1, 1),
    (1, 6),
    (4, 25),
    (5, 1),
    (6, 2),
    (8, 15),
    (11, 1),
    (12, 8),
    (12, 25),
    (12, 26),
];

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous algorithm of Meeus).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // The algorithm only yields days of March and April, which exist in every year.
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

pub fn is_national_holiday(date: NaiveDate) -> bool {
    let (month, day) = (date.month(), date.day());
    if FIXED_HOLIDAYS.contains(&(month, day)) {
        return true;
    }
    if (month, day) == (10, 4) && date.year() >= SAN_FRANCESCO_FROM {
        return true;
    }
    let easter = easter_sunday(date.year());
    date == easter || Some(date) == easter.succ_opt()
}

/// The version of these rules (the national holidays as listed above): it names the
/// calendar a deadline was computed with, beside the office's patron saint's day.
pub const CALENDAR_VERSION: &str = "it-2026.1";

/// `MM-DD` (e.g. `12-07`) as a month and day that exist in a leap year.
pub fn parse_month_day(text: &str) -> Option<(u32, u32)> {
    let (month, day) = text.split_once('-')?;
    let (month, day): (u32, u32) = (month.parse().ok()?, day.parse().ok()?);
    NaiveDate::from_ymd_opt(2024, month, day).map(|_| (month, day))
}

/// One office's business days: the national calendar, and its patron saint's day if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OfficeCalendar {
    pub patron_day: Option<(u32, u32)>,
}

impl OfficeCalendar {
    pub const NATIONAL: Self = Self { patron_day: None };

    /// The calendar of an office whose patron day is `MM-DD` (empty or invalid: none).
    pub fn with_patron_day(patron_day: &str) -> Self {
        Self {
            patron_day: parse_month_day(patron_day),
        }
    }

    /// What a deadline computed with this calendar says it was computed with.
    pub fn version(&self) -> String {
        match self.patron_day {
            Some((month, day)) => format!("{CALENDAR_VERSION}+patron-{month:02}-{day:02}"),
            None => CALENDAR_VERSION.to_owned(),
        }
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        is_national_holiday(date) || self.patron_day == Some((date.month(), date.day()))
    }

    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_holiday(date)
    }

    /// The `count`-th business day after `from` (`from` itself when `count` is 0).
    pub fn add_business_days(&self, from: NaiveDate, count: u32) -> NaiveDate {
        let mut date = from;
        let mut left = count;
        while left > 0 {
            date = date + Days::new(1);
            if self.is_business_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// The `count`-th business day before `from` (`from` itself when `count` is 0).
    pub fn sub_business_days(&self, from: NaiveDate, count: u32) -> NaiveDate {
        let mut date = from;
        let mut left = count;
        while left > 0 {
            date = date - Days::new(1);
            if self.is_business_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// Business days in `(from, to]`: 0 when `to` is not after `from`.
    pub fn business_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut count = 0;
        let mut date = from;
        while date < to {
            date = date + Days::new(1);
            if self.is_business_day(date) {
                count += 1;
            }
        }
        count
    }
}

pub fn is_business_day(date: NaiveDate) -> bool {
    OfficeCalendar::NATIONAL.is_business_day(date)
}

/// The `count`-th business day after `from` on the national calendar.
pub fn add_business_days(from: NaiveDate, count: u32) -> NaiveDate {
    OfficeCalendar::NATIONAL.add_business_days(from, count)
}

/// The `count`-th business day before `from` on the national calendar.
pub fn sub_business_days(from: NaiveDate, count: u32) -> NaiveDate {
    OfficeCalendar::NATIONAL.sub_business_days(from, count)
}

/// Business days in `(from, to]` on the national calendar.
pub fn business_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    OfficeCalendar::NATIONAL.business_days_between(from, to)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_matches_the_published_dates() {
        assert_eq!(easter_sunday(2024), day(2024, 3, 31));
        assert_eq!(easter_sunday(2025), day(2025, 4, 20));
        assert_eq!(easter_sunday(2026), day(2026, 4, 5));
        assert_eq!(easter_sunday(2027), day(2027, 3, 28));
        assert_eq!(easter_sunday(2038), day(2038, 4, 25));
    }

    #[test]
    fn holidays_include_easter_monday_and_san_francesco_from_2026() {
        assert!(is_national_holiday(day(2026, 4, 6)));
        assert!(is_national_holiday(day(2026, 10, 4)));
        assert!(!is_national_holiday(day(2025, 10, 4)));
        assert!(is_national_holiday(day(2026, 6, 2)));
        assert!(!is_national_holiday(day(2026, 6, 3)));
    }

    #[test]
    fn adding_business_days_skips_weekends_and_holidays() {
        // Thursday 24 December 2026: Friday 25 and Saturday 26 are holidays, then Sunday.
        assert_eq!(add_business_days(day(2026, 12, 24), 1), day(2026, 12, 28));
        // Friday 3 April 2026: Easter Monday falls on the 6th.
        assert_eq!(add_business_days(day(2026, 4, 3), 1), day(2026, 4, 7));
        assert_eq!(add_business_days(day(2026, 4, 3), 0), day(2026, 4, 3));
    }

    #[test]
    fn an_offices_patron_saint_closes_it() {
        let milano = OfficeCalendar::with_patron_day("12-07");
        // Monday 7 December 2026 (Sant'Ambrogio), then the national 8 December.
        assert!(is_business_day(day(2026, 12, 7)));
        assert!(!milano.is_business_day(day(2026, 12, 7)));
        assert_eq!(
            milano.add_business_days(day(2026, 12, 4), 1),
            day(2026, 12, 9)
        );
        assert_eq!(add_business_days(day(2026, 12, 4), 1), day(2026, 12, 7));
        assert_eq!(milano.version(), "it-2026.1+patron-12-07");
        assert_eq!(OfficeCalendar::with_patron_day("").version(), "it-2026.1");
        assert_eq!(parse_month_day("02-29"), Some((2, 29)));
        assert_eq!(parse_month_day("13-01"), None);
        assert_eq!(parse_month_day("7 dicembre"), None);
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (2000i32..2100, 1u32..=365)
            .prop_map(|(year, ordinal)| NaiveDate::from_yo_opt(year, ordinal).unwrap())
    }

    proptest! {
        #[test]
        fn easter_is_a_sunday_between_22_march_and_25_april(year in 1900i32..2200) {
            let easter = easter_sunday(year);
            prop_assert_eq!(easter.weekday(), Weekday::Sun);
            prop_assert!(easter >= day(year, 3, 22) && easter <= day(year, 4, 25));
        }

        #[test]
        fn adding_lands_on_a_business_day_and_counts_back(from in any_date(), count in 1u32..80) {
            let to = add_business_days(from, count);
            prop_assert!(is_business_day(to));
            prop_assert_eq!(business_days_between(from, to), count);
            // No more than 3 non-business days in a row exist, so it never runs away.
            prop_assert!((to - from).num_days() <= i64::from(count) * 4);
        }

        #[test]
        fn subtracting_undoes_adding(from in any_date(), count in 0u32..80) {
            let to = add_business_days(from, count);
            let back = sub_business_days(to, count);
            // Back lands on the last business day not after `from`.
            prop_assert!(back <= from);
            prop_assert_eq!(business_days_between(back, from), 0);
        }
    }
}
