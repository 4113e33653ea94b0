//! The additive measures of a cell: what a request contributes to one member's day, summed
//! over requests, days and (for the nation) members. Being sums, they can be added and
//! taken away, so a request whose fact changes moves its contribution from the old cells to
//! the new ones exactly.

use super::buckets::{BUSINESS_BUCKETS, CALENDAR_BUCKETS};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measures {
    /// By the day of sending.
    pub received: i64,
    pub unroutable: i64,
    pub solleciti: i64,
    pub transfers: i64,
    pub info_requests: i64,
    /// By the day it stopped being open (first answer or closure).
    pub resolved: i64,
    /// By the day of the first answer.
    pub answered: i64,
    pub within_15_days: i64,
    pub with_deadline: i64,
    pub within_deadline: i64,
    /// Time to the first answer: calendar buckets and business days (empty when none).
    pub calendar: Vec<i64>,
    pub business: Vec<i64>,
    /// By the day of the rating.
    pub ratings: i64,
    pub rating_sum: i64,
}

fn add_into(into: &mut Vec<i64>, from: &[i64], len: usize, sign: i64) {
    if from.is_empty() {
        return;
    }
    if into.is_empty() {
        into.resize(len, 0);
    }
    for (kept, added) in into.iter_mut().zip(from) {
        *kept += sign * added;
    }
    // An emptied histogram is no histogram: one form for "nothing", whatever the history.
    if into.iter().all(|count| *count == 0) {
        into.clear();
    }
}

impl Measures {
    fn combine(&mut self, other: &Self, sign: i64) {
        self.received += sign * other.received;
        self.unroutable += sign * other.unroutable;
        self.solleciti += sign * other.solleciti;
        self.transfers += sign * other.transfers;
        self.info_requests += sign * other.info_requests;
        self.resolved += sign * other.resolved;
        self.answered += sign * other.answered;
        self.within_15_days += sign * other.within_15_days;
        self.with_deadline += sign * other.with_deadline;
        self.within_deadline += sign * other.within_deadline;
        self.ratings += sign * other.ratings;
        self.rating_sum += sign * other.rating_sum;
        add_into(&mut self.calendar, &other.calendar, CALENDAR_BUCKETS, sign);
        add_into(&mut self.business, &other.business, BUSINESS_BUCKETS, sign);
    }

    pub fn add(&mut self, other: &Self) {
        self.combine(other, 1);
    }

    pub fn subtract(&mut self, other: &Self) {
        self.combine(other, -1);
    }

    /// One value more (`by` 1) or less (-1) in each histogram: its calendar and business
    /// buckets.
    pub fn count_time(&mut self, calendar_bucket: usize, business_bucket: usize, by: i64) {
        for (histogram, len, bucket) in [
            (&mut self.calendar, CALENDAR_BUCKETS, calendar_bucket),
            (&mut self.business, BUSINESS_BUCKETS, business_bucket),
        ] {
            if histogram.is_empty() {
                histogram.resize(len, 0);
            }
            if let Some(count) = histogram.get_mut(bucket) {
                *count += by;
            }
            if by < 0 && histogram.iter().all(|count| *count == 0) {
                histogram.clear();
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        let histogram_zero = |values: &[i64]| values.iter().all(|value| *value == 0);
        self.received == 0
            && self.unroutable == 0
            && self.solleciti == 0
            && self.transfers == 0
            && self.info_requests == 0
            && self.resolved == 0
            && self.answered == 0
            && self.within_15_days == 0
            && self.with_deadline == 0
            && self.within_deadline == 0
            && self.ratings == 0
            && self.rating_sum == 0
            && histogram_zero(&self.calendar)
            && histogram_zero(&self.business)
    }
}

/// A histogram as PostgreSQL's array text (`{0,1,0}`), None when it holds nothing.
pub fn histogram_text(values: &[i64]) -> Option<String> {
    if values.iter().all(|value| *value == 0) {
        return None;
    }
    let inner: Vec<String> = values.iter().map(i64::to_string).collect();
    Some(format!("{{{}}}", inner.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_then_taking_away_leaves_nothing() {
        let mut one = Measures {
            received: 1,
            answered: 1,
            ..Measures::default()
        };
        one.count_time(3, 2, 1);
        let mut sum = Measures::default();
        sum.add(&one);
        sum.add(&one);
        assert_eq!(sum.calendar[3], 2);
        sum.subtract(&one);
        sum.subtract(&one);
        assert!(sum.is_zero());
        assert_eq!(histogram_text(&sum.calendar), None);
        assert_eq!(histogram_text(&[0, 2, 0]).as_deref(), Some("{0,2,0}"));
    }
}
