//! Periods of Italian days: a day (`2026-11-15`), an ISO week (`2026-W47`), a month
//! (`2026-11`) or a year (`2026`), each a range of dates, with the one before it (the
//! trend) and a label in Italian.

use chrono::{Datelike as _, Days, Months, NaiveDate, Weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Day,
    Week,
    Month,
    Year,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" | "giorno" => Some(Self::Day),
            "week" | "settimana" => Some(Self::Week),
            "month" | "mese" | "" => Some(Self::Month),
            "year" | "anno" => Some(Self::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub kind: Kind,
    /// Its first day.
    pub first: NaiveDate,
}

pub const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

const FIRST_YEAR: i32 = 2000;
const LAST_YEAR: i32 = 2100;

impl Period {
    /// The period of `kind` that holds `date`.
    pub fn containing(kind: Kind, date: NaiveDate) -> Self {
        let first = match kind {
            Kind::Day => date,
            Kind::Week => date.week(Weekday::Mon).first_day(),
            Kind::Month => date.with_day(1).unwrap_or(date),
            Kind::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date),
        };
        Self { kind, first }
    }

    /// The month before the one holding `today`: the last one a table can discuss whole.
    pub fn last_complete_month(today: NaiveDate) -> Self {
        Self::containing(Kind::Month, today).previous()
    }

    /// Reads `2026-11-15`, `2026-W47`, `2026-11` or `2026`; the error says what is expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let expected = || {
            format!(
                "`{text}` is not a period: write 2026-11-15 (a day), 2026-W47 (a week), 2026-11 (a month) or 2026 (a year)"
            )
        };
        let number = |part: &str| -> Result<u32, String> {
            if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(expected());
            }
            part.parse().map_err(|_| expected())
        };
        let parts: Vec<&str> = text.split('-').collect();
        let year = i32::try_from(number(parts.first().copied().unwrap_or_default())?)
            .map_err(|_| expected())?;
        if parts[0].len() != 4 || !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(format!(
                "`{text}`: the year must be between {FIRST_YEAR} and {LAST_YEAR}"
            ));
        }
        let period = match parts.as_slice() {
            [_] => NaiveDate::from_ymd_opt(year, 1, 1).map(|first| Self {
                kind: Kind::Year,
                first,
            }),
            [_, week] if week.starts_with('W') => {
                let week = number(&week[1..])?;
                NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).map(|first| Self {
                    kind: Kind::Week,
                    first,
                })
            }
            [_, month] if month.len() == 2 => {
                NaiveDate::from_ymd_opt(year, number(month)?, 1).map(|first| Self {
                    kind: Kind::Month,
                    first,
                })
            }
            [_, month, day] if month.len() == 2 && day.len() == 2 => {
                NaiveDate::from_ymd_opt(year, number(month)?, number(day)?).map(|first| Self {
                    kind: Kind::Day,
                    first,
                })
            }
            _ => return Err(expected()),
        };
        period.ok_or_else(|| format!("`{text}` is not a date that exists"))
    }

    /// Its last day, inclusive.
    pub fn last(&self) -> NaiveDate {
        self.next().first - Days::new(1)
    }

    pub fn next(&self) -> Self {
        let first = match self.kind {
            Kind::Day => self.first + Days::new(1),
            Kind::Week => self.first + Days::new(7),
            Kind::Month => self.first + Months::new(1),
            Kind::Year => self.first + Months::new(12),
        };
        Self {
            kind: self.kind,
            first,
        }
    }

    pub fn previous(&self) -> Self {
        let first = match self.kind {
            Kind::Day => self.first - Days::new(1),
            Kind::Week => self.first - Days::new(7),
            Kind::Month => self.first - Months::new(1),
            Kind::Year => self.first - Months::new(12),
        };
        Self {
            kind: self.kind,
            first,
        }
    }

    /// `count` periods of this kind ending with this one, oldest first.
    pub fn series(&self, count: usize) -> Vec<Self> {
        let mut periods = vec![*self];
        while periods.len() < count {
            let before = periods[periods.len() - 1].previous();
            periods.push(before);
        }
        periods.reverse();
        periods
    }

    /// The normalised text: what [`Self::parse`] reads.
    pub fn code(&self) -> String {
        match self.kind {
            Kind::Day => self.first.format("%Y-%m-%d").to_string(),
            Kind::Week => {
                let week = self.first.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Kind::Month => self.first.format("%Y-%m").to_string(),
            Kind::Year => self.first.format("%Y").to_string(),
        }
    }

    /// In Italian: "15 novembre 2026", "settimana 47 del 2026 (16-22 novembre)",
    /// "novembre 2026", "2026".
    pub fn label(&self) -> String {
        let month = |date: NaiveDate| MONTHS[date.month0() as usize];
        match self.kind {
            Kind::Day => format!(
                "{} {} {}",
                self.first.day(),
                month(self.first),
                self.first.year()
            ),
            Kind::Week => {
                let last = self.last();
                let week = self.first.iso_week();
                let range = if last.month() == self.first.month() {
                    format!("{}-{} {}", self.first.day(), last.day(), month(last))
                } else {
                    format!(
                        "{} {} - {} {}",
                        self.first.day(),
                        month(self.first),
                        last.day(),
                        month(last)
                    )
                };
                format!("settimana {} del {} ({range})", week.week(), week.year())
            }
            Kind::Month => format!("{} {}", month(self.first), self.first.year()),
            Kind::Year => self.first.year().to_string(),
        }
    }

    /// A short label for chart axes: "nov 26", "W47", "15/11", "2026".
    pub fn short_label(&self) -> String {
        match self.kind {
            Kind::Day => self.first.format("%d/%m").to_string(),
            Kind::Week => format!("S{:02}", self.first.iso_week().week()),
            Kind::Month => format!(
                "{} {:02}",
                &MONTHS[self.first.month0() as usize][..3],
                self.first.year() % 100
            ),
            Kind::Year => self.first.year().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn each_kind_reads_back_and_spans_its_days() {
        for (text, first, last) in [
            ("2026-11-15", date(2026, 11, 15), date(2026, 11, 15)),
            ("2026-W47", date(2026, 11, 16), date(2026, 11, 22)),
            ("2026-W01", date(2025, 12, 29), date(2026, 1, 4)),
            ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
            ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
            ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ] {
            let period = Period::parse(text).unwrap();
            assert_eq!((period.first, period.last()), (first, last), "{text}");
            assert_eq!(period.code(), text);
            assert_eq!(Period::parse(&period.code()).unwrap(), period);
        }
        assert_eq!(Period::parse("2026-11").unwrap().label(), "novembre 2026");
        assert_eq!(
            Period::parse("2026-W47").unwrap().label(),
            "settimana 47 del 2026 (16-22 novembre)"
        );
        assert_eq!(
            Period::parse("2026-01").unwrap().previous().code(),
            "2025-12"
        );
        assert_eq!(
            Period::last_complete_month(date(2026, 12, 1)).code(),
            "2026-11"
        );
    }

    #[test]
    fn wrong_periods_say_what_is_expected() {
        for text in [
            "",
            "26-11",
            "2026-13",
            "2026-W54",
            "2026-11-31",
            "novembre",
            "1999",
            "2026-1",
        ] {
            assert!(Period::parse(text).is_err(), "{text}");
        }
        assert!(Period::parse("x").unwrap_err().contains("2026-W47"));
    }

    #[test]
    fn a_series_ends_with_the_period_and_runs_oldest_first() {
        let series = Period::parse("2026-02").unwrap().series(3);
        let codes: Vec<String> = series.iter().map(Period::code).collect();
        assert_eq!(codes, ["2025-12", "2026-01", "2026-02"]);
    }
}
