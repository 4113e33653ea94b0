//! When each timer falls due, and why, as pure functions of the request's facts: the
//! sollecito rule of `combipat_domain::sollecito` (15 calendar days, Italian time), and the
//! escalation ladder around the office's deadline in the office's business days (national
//! holidays and its patron saint's day).

use chrono::{DateTime, Days, Utc};
use chrono_tz::Europe::Rome;
use combipat_domain::calendar::OfficeCalendar;
use combipat_domain::sla::{rome_date, start_of_day};
use combipat_domain::sollecito;
use combipat_proto::events::v1::ReminderKind;

use crate::settings::Ladder;

/// The job kind of each reminder (the durable job's `kind`).
pub fn job_kind(kind: ReminderKind) -> &'static str {
    match kind {
        ReminderKind::ReminderSollecitoPossible => "sollecito_possible",
        ReminderKind::ReminderSlaWarning => "sla_warning",
        ReminderKind::ReminderSlaOverdue => "sla_overdue",
        ReminderKind::ReminderSlaEscalation => "sla_escalation",
        ReminderKind::Unspecified => "unspecified",
    }
}

pub fn reminder_kind(job_kind: &str) -> ReminderKind {
    match job_kind {
        "sollecito_possible" => ReminderKind::ReminderSollecitoPossible,
        "sla_warning" => ReminderKind::ReminderSlaWarning,
        "sla_overdue" => ReminderKind::ReminderSlaOverdue,
        "sla_escalation" => ReminderKind::ReminderSlaEscalation,
        _ => ReminderKind::Unspecified,
    }
}

/// The ladder's kinds, in the order they fire.
pub const LADDER: [ReminderKind; 3] = [
    ReminderKind::ReminderSlaWarning,
    ReminderKind::ReminderSlaOverdue,
    ReminderKind::ReminderSlaEscalation,
];

/// A timer to keep: when, and why in words (Italian: officials and operators read it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub explanation: String,
}

const MONTHS: [&str; 12] = [
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

/// `3 marzo 2027 alle 10:00`, in Italian time.
pub fn italian(at: DateTime<Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    let local = at.with_timezone(&Rome);
    let month = MONTHS
        .get(usize::try_from(local.month0()).unwrap_or_default())
        .copied()
        .unwrap_or_default();
    format!(
        "{} {month} {} alle {:02}:{:02}",
        local.day(),
        local.year(),
        local.hour(),
        local.minute()
    )
}

/// `3 marzo 2027`.
pub fn italian_day(date: chrono::NaiveDate) -> String {
    use chrono::Datelike as _;
    let month = MONTHS
        .get(usize::try_from(date.month0()).unwrap_or_default())
        .copied()
        .unwrap_or_default();
    format!("{} {month} {}", date.day(), date.year())
}

/// When a sollecito becomes possible: 15 calendar days after the sending, or after the last
/// sollecito.
pub fn sollecito(submitted_at: DateTime<Utc>, last_sollecito: Option<DateTime<Utc>>) -> Due {
    let at = sollecito::possible_from(submitted_at, last_sollecito);
    let explanation = match last_sollecito {
        Some(last) if last > submitted_at => format!(
            "{} giorni dall'ultimo sollecito, inviato il {} (ora di Roma)",
            sollecito::DAYS,
            italian(last)
        ),
        _ => format!(
            "{} giorni dall'invio del {} (ora di Roma)",
            sollecito::DAYS,
            italian(submitted_at)
        ),
    };
    Due { at, explanation }
}

/// The ladder's step `kind` for a deadline `due_at` (the end of the last day on which the
/// answer is in time) at an office with `calendar`.
pub fn ladder_step(
    kind: ReminderKind,
    due_at: DateTime<Utc>,
    calendar: &OfficeCalendar,
    ladder: &Ladder,
    office: &str,
) -> Option<Due> {
    let last_day = rome_date(due_at) - Days::new(1);
    let calendar_note = match calendar.patron_day {
        Some((month, day)) => format!(
            "giorni lavorativi dell'ufficio {office}: festività nazionali e il santo patrono ({day:02}/{month:02}) esclusi"
        ),
        None => format!("giorni lavorativi dell'ufficio {office}: festività nazionali escluse"),
    };
    match kind {
        ReminderKind::ReminderSlaWarning => {
            let day = calendar.sub_business_days(last_day, ladder.warning_business_days);
            Some(Due {
                at: start_of_day(day),
                explanation: format!(
                    "{} giorni lavorativi prima della scadenza del {} ({calendar_note})",
                    ladder.warning_business_days,
                    italian_day(last_day)
                ),
            })
        }
        ReminderKind::ReminderSlaOverdue => Some(Due {
            at: due_at,
            explanation: format!(
                "la scadenza del {} è passata senza risposta ({calendar_note})",
                italian_day(last_day)
            ),
        }),
        ReminderKind::ReminderSlaEscalation => {
            let day = calendar.add_business_days(last_day, ladder.escalation_business_days);
            Some(Due {
                at: start_of_day(day + Days::new(1)),
                explanation: format!(
                    "{} giorni lavorativi di ritardo dopo la scadenza del {} ({calendar_note})",
                    ladder.escalation_business_days,
                    italian_day(last_day)
                ),
            })
        }
        ReminderKind::ReminderSollecitoPossible | ReminderKind::Unspecified => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use proptest::prelude::*;

    use super::*;

    fn rome(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Rome.with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    const LADDER_5_10: Ladder = Ladder {
        warning_business_days: 5,
        escalation_business_days: 10,
    };

    #[test]
    fn fifteen_calendar_days_keep_the_hour_across_summer_time() {
        // Into summer time (29 March 2027): 10:00 stays 10:00, an hour less in UTC.
        let sent = rome(2027, 3, 20, 10, 0);
        let due = sollecito(sent, None);
        assert_eq!(due.at, rome(2027, 4, 4, 10, 0));
        assert_eq!((due.at - sent).num_hours(), 15 * 24 - 1);
        assert_eq!(
            due.explanation,
            "15 giorni dall'invio del 20 marzo 2027 alle 10:00 (ora di Roma)"
        );
        // Out of it (31 October 2027): an hour more.
        let sent = rome(2027, 10, 20, 9, 30);
        assert_eq!(sollecito(sent, None).at, rome(2027, 11, 4, 9, 30));
        assert_eq!((sollecito(sent, None).at - sent).num_hours(), 15 * 24 + 1);
    }

    #[test]
    fn a_second_sollecito_counts_from_the_first() {
        let sent = rome(2027, 1, 4, 9, 0);
        let first = rome(2027, 1, 20, 16, 45);
        let due = sollecito(sent, Some(first));
        assert_eq!(due.at, rome(2027, 2, 4, 16, 45));
        assert!(
            due.explanation.contains("ultimo sollecito"),
            "{}",
            due.explanation
        );
    }

    #[test]
    fn the_ladder_skips_holidays_and_the_patron_saint() {
        // Due by Wednesday 9 December 2026 at SEDE-MI (Sant'Ambrogio on Monday the 7th, the
        // Immacolata on Tuesday the 8th).
        let milano = OfficeCalendar::with_patron_day("12-07");
        let due_at = start_of_day(chrono::NaiveDate::from_ymd_opt(2026, 12, 10).unwrap());
        let warning = ladder_step(
            ReminderKind::ReminderSlaWarning,
            due_at,
            &milano,
            &LADDER_5_10,
            "SEDE-MI",
        )
        .unwrap();
        // Five business days before the 9th, skipping the 8th, the 7th and the weekend: the
        // 4th, 3rd, 2nd, 1st and 30 November.
        assert_eq!(warning.at, rome(2026, 11, 30, 0, 0));
        let national = OfficeCalendar::NATIONAL;
        let elsewhere = ladder_step(
            ReminderKind::ReminderSlaWarning,
            due_at,
            &national,
            &LADDER_5_10,
            "SEDE-TO",
        )
        .unwrap();
        assert_eq!(
            elsewhere.at,
            rome(2026, 12, 1, 0, 0),
            "the 7th is a business day elsewhere"
        );
        assert!(
            warning.explanation.contains("santo patrono (07/12)"),
            "{}",
            warning.explanation
        );
        let overdue = ladder_step(
            ReminderKind::ReminderSlaOverdue,
            due_at,
            &milano,
            &LADDER_5_10,
            "SEDE-MI",
        )
        .unwrap();
        assert_eq!(overdue.at, due_at);
        // Ten business days after the 9th (the 10th, 11th, 14th to 18th, 21st to 23rd): it
        // fires when the 23rd is over.
        let escalation = ladder_step(
            ReminderKind::ReminderSlaEscalation,
            due_at,
            &milano,
            &LADDER_5_10,
            "SEDE-MI",
        )
        .unwrap();
        assert_eq!(escalation.at, rome(2026, 12, 24, 0, 0));
    }

    proptest! {
        #[test]
        fn the_ladder_fires_in_order(days in 0i64..3000, warning in 1u32..15, escalation in 1u32..30, patron in proptest::option::of((1u32..=12, 1u32..=28))) {
            let due_at = start_of_day(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(days));
            let calendar = OfficeCalendar { patron_day: patron };
            let ladder = Ladder { warning_business_days: warning, escalation_business_days: escalation };
            let steps: Vec<DateTime<Utc>> = LADDER
                .iter()
                .map(|kind| ladder_step(*kind, due_at, &calendar, &ladder, "X").unwrap().at)
                .collect();
            prop_assert!(steps[0] < steps[1] && steps[1] < steps[2], "{steps:?}");
        }
    }
}
