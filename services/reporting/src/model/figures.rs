//! From summed measures to the figures a table shows, with the small cells hidden: at an
//! office's or a patronato's level, a figure that rests on fewer requests, answers or ratings
//! than the threshold is not given (zero, its name in `hidden`), so that nobody can be
//! singled out; the pages and the CSV print it as "< 5".

use combipat_proto::common::v1::Provenance;
use combipat_proto::reporting::v1::Figures;

use super::buckets::{business_quantile, calendar_quantile_days};
use super::measures::Measures;

/// A cell's measures summed over a period, and what was open at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub measures: Measures,
    pub backlog: i64,
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[allow(
    clippy::cast_precision_loss,
    reason = "counts of requests are far below 2^52"
)]
fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The figures of `aggregate`; `threshold` when the cell is at a level where small numbers
/// are hidden.
pub fn figures(aggregate: &Aggregate, threshold: Option<u32>) -> Figures {
    let m = &aggregate.measures;
    let mut figures = Figures {
        received: count(m.received),
        answered: count(m.answered),
        backlog: count(aggregate.backlog),
        first_answer_days_p50: calendar_quantile_days(&m.calendar, 0.5),
        first_answer_days_p90: calendar_quantile_days(&m.calendar, 0.9),
        first_answer_business_days_p50: business_quantile(&m.business, 0.5),
        first_answer_business_days_p90: business_quantile(&m.business, 0.9),
        share_within_15_days: ratio(m.within_15_days, m.answered),
        share_within_deadline: ratio(m.within_deadline, m.with_deadline),
        answered_with_deadline: count(m.with_deadline),
        solleciti: count(m.solleciti),
        solleciti_per_100: ratio(m.solleciti * 100, m.received),
        transfers: count(m.transfers),
        info_requests: count(m.info_requests),
        unroutable: count(m.unroutable),
        satisfaction: ratio(m.rating_sum, m.ratings),
        ratings: count(m.ratings),
        provenance: Provenance::Patronato as i32,
        hidden: Vec::new(),
    };
    if let Some(threshold) = threshold {
        hide_small(&mut figures, aggregate, i64::from(threshold));
    }
    figures
}

fn hide_small(figures: &mut Figures, aggregate: &Aggregate, threshold: i64) {
    let m = &aggregate.measures;
    let mut hidden = Vec::new();
    if m.received < threshold {
        figures.received = 0;
        figures.unroutable = 0;
        figures.solleciti = 0;
        figures.solleciti_per_100 = None;
        figures.transfers = 0;
        figures.info_requests = 0;
        hidden.extend([
            "received",
            "unroutable",
            "solleciti",
            "solleciti_per_100",
            "transfers",
            "info_requests",
        ]);
    }
    if m.answered < threshold {
        figures.answered = 0;
        figures.first_answer_days_p50 = None;
        figures.first_answer_days_p90 = None;
        figures.first_answer_business_days_p50 = None;
        figures.first_answer_business_days_p90 = None;
        figures.share_within_15_days = None;
        hidden.extend([
            "answered",
            "first_answer_days_p50",
            "first_answer_days_p90",
            "first_answer_business_days_p50",
            "first_answer_business_days_p90",
            "share_within_15_days",
        ]);
    }
    if m.with_deadline < threshold {
        figures.answered_with_deadline = 0;
        figures.share_within_deadline = None;
        hidden.extend(["answered_with_deadline", "share_within_deadline"]);
    }
    if aggregate.backlog < threshold {
        figures.backlog = 0;
        hidden.push("backlog");
    }
    if m.ratings < threshold {
        figures.ratings = 0;
        figures.satisfaction = None;
        hidden.extend(["ratings", "satisfaction"]);
    }
    figures.hidden = hidden.into_iter().map(str::to_owned).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_are_hidden_only_where_asked() {
        let aggregate = Aggregate {
            measures: Measures {
                received: 12,
                answered: 4,
                with_deadline: 4,
                within_deadline: 3,
                ratings: 7,
                rating_sum: 30,
                ..Measures::default()
            },
            backlog: 8,
        };
        let open = figures(&aggregate, None);
        assert_eq!((open.answered, open.hidden.len()), (4, 0));
        let office = figures(&aggregate, Some(5));
        assert_eq!(office.received, 12);
        assert_eq!(office.answered, 0);
        assert!(office.hidden.contains(&"answered".to_owned()));
        assert!(office.hidden.contains(&"share_within_deadline".to_owned()));
        assert_eq!(office.share_within_deadline, None);
        assert!((office.satisfaction.unwrap() - 30.0 / 7.0).abs() < 1e-9);
        assert!(!office.hidden.contains(&"backlog".to_owned()));
    }
}
