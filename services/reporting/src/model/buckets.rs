//! Histograms of the time to the first answer, so that p50 and p90 can be summed over any
//! set of cells (days, offices) instead of being kept per request: calendar time in buckets
//! 10% wide (after a first one of 15 minutes), business days one bucket per day.
//!
//! A percentile read from a bucket is within the bucket's width of the exact one: for the
//! calendar time at most 10% off, for business days exact (up to `BUSINESS_DAYS_MAX`).

use std::sync::LazyLock;

/// Calendar buckets: `[0, 15 min)`, then each 1.1 times as wide, up to 400 days; the last
/// one is open.
pub const CALENDAR_BUCKETS: usize = 112;
/// Business-day buckets: 0, 1, ... and the last for that many or more.
pub const BUSINESS_DAYS_MAX: usize = 90;
pub const BUSINESS_BUCKETS: usize = BUSINESS_DAYS_MAX + 1;

const FIRST_EDGE_MINUTES: f64 = 15.0;
const GROWTH: f64 = 1.1;

/// The lower edge of each calendar bucket, in minutes (the first is 0).
static EDGES: LazyLock<[f64; CALENDAR_BUCKETS]> = LazyLock::new(|| {
    let mut edges = [0.0; CALENDAR_BUCKETS];
    for (index, edge) in edges.iter_mut().enumerate().skip(1) {
        *edge = FIRST_EDGE_MINUTES * GROWTH.powi(i32::try_from(index - 1).unwrap_or(i32::MAX));
    }
    edges
});

/// The bucket of a time to answer of `minutes`.
pub fn calendar_bucket(minutes: f64) -> usize {
    let edges = &*EDGES;
    // The last edge not above `minutes` (edges are increasing).
    edges
        .partition_point(|edge| *edge <= minutes.max(0.0))
        .saturating_sub(1)
}

/// `[lower, upper)` of a calendar bucket in minutes (the last one's upper edge is its lower).
pub fn calendar_bounds(bucket: usize) -> (f64, f64) {
    let edges = &*EDGES;
    let lower = edges[bucket.min(CALENDAR_BUCKETS - 1)];
    let upper = edges.get(bucket + 1).copied().unwrap_or(lower);
    (lower, upper)
}

pub fn business_bucket(days: u32) -> usize {
    usize::try_from(days).map_or(BUSINESS_DAYS_MAX, |days| days.min(BUSINESS_DAYS_MAX))
}

/// The rank (1-based) of the `quantile` of `total` values: the nearest-rank definition.
fn rank(total: i64, quantile: f64) -> i64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "counts of requests are far below 2^52"
    )]
    let rank = (quantile * total as f64).ceil() as i64;
    rank.clamp(1, total)
}

/// The bucket holding the `rank`-th value, with the values before it and in it.
fn locate(counts: &[i64], rank: i64) -> Option<(usize, i64, i64)> {
    let mut before = 0;
    for (bucket, count) in counts.iter().enumerate() {
        if *count > 0 && before + count >= rank {
            return Some((bucket, before, *count));
        }
        before += (*count).max(0);
    }
    None
}

/// The `quantile` of the calendar histogram in days, interpolated within its bucket; None
/// when it is empty.
pub fn calendar_quantile_days(counts: &[i64], quantile: f64) -> Option<f64> {
    let total: i64 = counts.iter().filter(|count| **count > 0).sum();
    if total == 0 {
        return None;
    }
    let (bucket, before, inside) = locate(counts, rank(total, quantile))?;
    let (lower, upper) = calendar_bounds(bucket);
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let within = (rank(total, quantile) - before) as f64 / inside as f64;
    Some((lower + (upper - lower) * within) / (24.0 * 60.0))
}

/// The `quantile` of the business-day histogram: exact, in whole days.
pub fn business_quantile(counts: &[i64], quantile: f64) -> Option<f64> {
    let total: i64 = counts.iter().filter(|count| **count > 0).sum();
    if total == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss, reason = "a bucket index")]
    locate(counts, rank(total, quantile)).map(|(bucket, _, _)| bucket as f64)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn buckets_cover_four_hundred_days_ten_percent_wide() {
        let (lower, upper) = calendar_bounds(CALENDAR_BUCKETS - 2);
        assert!(
            lower < 400.0 * 1440.0 && upper > 300.0 * 1440.0,
            "{lower} {upper}"
        );
        assert_eq!(calendar_bucket(0.0), 0);
        assert_eq!(calendar_bucket(14.9), 0);
        assert_eq!(calendar_bucket(15.0), 1);
        assert_eq!(calendar_bucket(1e9), CALENDAR_BUCKETS - 1);
        assert_eq!(business_bucket(3), 3);
        assert_eq!(business_bucket(500), BUSINESS_DAYS_MAX);
    }

    proptest! {
        /// A percentile read from the histogram lies in the bucket of the exact one.
        #[test]
        fn percentiles_are_within_a_bucket_of_the_exact_ones(
            mut minutes in proptest::collection::vec(0.0f64..200_000.0, 1..300),
            quantile in prop_oneof![Just(0.5), Just(0.9)],
        ) {
            let mut counts = vec![0i64; CALENDAR_BUCKETS];
            for value in &minutes {
                counts[calendar_bucket(*value)] += 1;
            }
            minutes.sort_by(f64::total_cmp);
            let exact = minutes[usize::try_from(rank(minutes.len() as i64, quantile)).unwrap() - 1];
            let read = calendar_quantile_days(&counts, quantile).unwrap() * 1440.0;
            let (lower, upper) = calendar_bounds(calendar_bucket(exact));
            prop_assert!(read >= lower - 1e-9 && read <= upper + 1e-9, "{read} not in [{lower}, {upper}] of {exact}");
        }

        #[test]
        fn business_day_percentiles_are_exact(
            mut days in proptest::collection::vec(0u32..80, 1..300),
            quantile in prop_oneof![Just(0.5), Just(0.9)],
        ) {
            let mut counts = vec![0i64; BUSINESS_BUCKETS];
            for value in &days {
                counts[business_bucket(*value)] += 1;
            }
            days.sort_unstable();
            let exact = days[usize::try_from(rank(days.len() as i64, quantile)).unwrap() - 1];
            prop_assert_eq!(business_quantile(&counts, quantile), Some(f64::from(exact)));
        }
    }
}
