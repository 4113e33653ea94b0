//! What one request adds to the cells, as a pure function of its fact, so that a changed
//! fact moves its contribution exactly (the old one taken away, the new one added) and a
//! projection rebuilt from the same events holds the same cells.
//!
//! Which day and which office each group of measures goes to:
//! - received, unroutable, solleciti, transfers, information requests: the Italian day of
//!   sending, at the office the request is at now (router's decision, then each transfer);
//! - resolved (for the backlog): the day of the first answer or closure, same office;
//! - answered and the time to answer: the day of the first answer, at the office that gave
//!   it, in business days of that office's calendar (its patron saint's day when known);
//! - ratings: the day of the rating, at the office rated.
//!
//! A request counts once its summary is known (request.submitted, or router's decision that
//! repeats it): without it there is no day of sending, region or patronato to count it by.

use std::collections::HashMap;

use chrono::{Datelike as _, NaiveDate};
use combipat_domain::calendar::OfficeCalendar;
use combipat_domain::sla::rome_date;

use super::buckets::{business_bucket, calendar_bucket};
use super::dims::{Dim, NATION, motivo_key, within};
use super::facts::{Fact, Summary};
use super::measures::Measures;

/// A cell is a day's, and each day's measures are also summed on its month, so that a month
/// or a year is read from a row per month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Span {
    Day,
    Month,
}

impl Span {
    pub fn code(self) -> i16 {
        match self {
            Self::Day => 1,
            Self::Month => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub dim: Dim,
    pub span: Span,
    pub key: String,
    /// The day, or the month's first day.
    pub day: NaiveDate,
}

pub type Cells = HashMap<CellKey, Measures>;

/// The member of every dimension a request belongs to, at `office`.
fn members(summary: &Summary, office: &str) -> [(Dim, String); 10] {
    let motivo = motivo_key(i32::from(summary.motivo));
    [
        (Dim::Nation, NATION.to_owned()),
        (Dim::Region, summary.region.clone()),
        (Dim::Province, summary.province.clone()),
        (Dim::Office, office.to_owned()),
        (Dim::Patronato, summary.patronato.clone()),
        (Dim::Motivo, motivo.to_owned()),
        (Dim::Topic, summary.topic.clone()),
        (Dim::RegionTopic, within(&summary.region, &summary.topic)),
        (
            Dim::RegionPatronato,
            within(&summary.region, &summary.patronato),
        ),
        (Dim::RegionMotivo, within(&summary.region, motivo)),
    ]
}

/// What one request adds to each cell it counts in: counts, and for an answer the buckets of
/// its time (added in place: no histogram is built per request).
struct Part {
    counts: Measures,
    time: Option<(usize, usize)>,
}

fn put(into: &mut Cells, summary: &Summary, office: &str, day: NaiveDate, part: &Part, sign: i64) {
    let month = day.with_day(1).unwrap_or(day);
    for (dim, key) in members(summary, office) {
        for (span, day, key) in [(Span::Day, day, key.clone()), (Span::Month, month, key)] {
            let cell = into
                .entry(CellKey {
                    dim,
                    span,
                    key,
                    day,
                })
                .or_default();
            if sign > 0 {
                cell.add(&part.counts);
            } else {
                cell.subtract(&part.counts);
            }
            if let Some((calendar, business)) = part.time {
                cell.count_time(calendar, business, sign);
            }
        }
    }
}

/// Adds (`sign` 1) or takes away (`sign` -1) what `fact` contributes.
pub fn contribute(fact: &Fact, sign: i64, into: &mut Cells) {
    let Some(summary) = &fact.summary else {
        return;
    };
    let current = fact
        .office
        .as_ref()
        .map_or("", |office| office.code.as_str());

    let cohort = Part {
        counts: Measures {
            received: 1,
            unroutable: i64::from(fact.unroutable),
            solleciti: i64::from(fact.solleciti),
            transfers: i64::try_from(fact.detail.transfers.len()).unwrap_or(i64::MAX),
            info_requests: i64::try_from(fact.detail.info_requests.len()).unwrap_or(i64::MAX),
            ..Measures::default()
        },
        time: None,
    };
    put(
        into,
        summary,
        current,
        rome_date(summary.submitted_at),
        &cohort,
        sign,
    );

    if let Some(resolved_at) = fact.resolved_at() {
        let resolved = Part {
            counts: Measures {
                resolved: 1,
                ..Measures::default()
            },
            time: None,
        };
        put(
            into,
            summary,
            current,
            rome_date(resolved_at),
            &resolved,
            sign,
        );
    }

    if let Some(answer) = &fact.first_answer {
        let office = if answer.office.is_empty() {
            current
        } else {
            &answer.office
        };
        // The patron saint's day is known for the office the request is at; an answer from
        // an office it has since left is counted on the national calendar.
        let calendar = match &fact.office {
            Some(at) if at.code == office => OfficeCalendar::with_patron_day(&at.patron_day),
            _ => OfficeCalendar::NATIONAL,
        };
        #[allow(clippy::cast_precision_loss, reason = "seconds of a few years fit")]
        let minutes = (answer.at - summary.submitted_at).num_seconds().max(0) as f64 / 60.0;
        let business_days =
            calendar.business_days_between(rome_date(summary.submitted_at), rome_date(answer.at));
        let deadline = fact.deadline_of_first_answer();
        let answered = Part {
            counts: Measures {
                answered: 1,
                within_15_days: i64::from(
                    answer.at
                        < combipat_domain::sollecito::possible_from(summary.submitted_at, None),
                ),
                with_deadline: i64::from(deadline.is_some()),
                within_deadline: i64::from(deadline.is_some_and(|due| answer.at <= due)),
                ..Measures::default()
            },
            time: Some((calendar_bucket(minutes), business_bucket(business_days))),
        };
        put(into, summary, office, rome_date(answer.at), &answered, sign);
    }

    for rating in fact.detail.ratings.values() {
        let office = match (&rating.office, &fact.first_answer) {
            (office, _) if !office.is_empty() => office.as_str(),
            (_, Some(answer)) if !answer.office.is_empty() => answer.office.as_str(),
            _ => current,
        };
        let rated = Part {
            counts: Measures {
                ratings: 1,
                rating_sum: i64::from(rating.value),
                ..Measures::default()
            },
            time: None,
        };
        put(into, summary, office, rome_date(rating.at), &rated, sign);
    }
}

/// What changes in the cells when a request's fact goes from `old` to `new`: only the cells
/// that move, each by its difference.
pub fn difference(old: Option<&Fact>, new: &Fact, into: &mut Cells) {
    if old == Some(new) {
        return;
    }
    if let Some(old) = old {
        contribute(old, -1, into);
    }
    contribute(new, 1, into);
}

/// Drops the cells whose difference came to nothing.
pub fn without_zeros(cells: Cells) -> Cells {
    cells
        .into_iter()
        .filter(|(_, measures)| !measures.is_zero())
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::facts::tests::one_thing;

    fn cells_of(fact: &Fact) -> Cells {
        let mut cells = Cells::new();
        contribute(fact, 1, &mut cells);
        without_zeros(cells)
    }

    proptest! {
        /// What the reader does, event after event (the old contribution taken away, the new
        /// one added), leaves exactly what the final fact contributes.
        #[test]
        fn moving_contributions_step_by_step_ends_where_the_final_fact_would(
            patches in proptest::collection::vec(one_thing(), 1..12),
        ) {
            let mut fact = Fact::default();
            let mut cells = Cells::new();
            for patch in patches {
                let old = fact.clone();
                fact.merge(patch);
                difference(Some(&old), &fact, &mut cells);
            }
            prop_assert_eq!(without_zeros(cells), cells_of(&fact));
        }
    }
}
