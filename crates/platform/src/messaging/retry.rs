//! The retry schedule of an event that failed for a transient reason: the delays in
//! `amqp.retry_delays_ms` in turn, then the last one again until `amqp.retry_for_ms` after the
//! first failure, each spread by `amqp.retry_jitter`; then the dead-letter queue.

use crate::settings::AmqpSettings;

/// What happens to an event after its `failures`-th failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Wait `wait_ms` (the jittered delay) in the retry queue of `delay_ms`.
    Retry {
        delay_ms: u64,
        wait_ms: u64,
    },
    DeadLetter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays_ms: Vec<u64>,
    retry_for_ms: u64,
    jitter: f64,
}

/// The jitter is capped so that a retry queue's TTL (1.25 times its delay) bounds every wait.
const MAX_JITTER: f64 = 0.2;

impl RetrySchedule {
    pub fn new(delays_ms: Vec<u64>, retry_for_ms: u64, jitter: f64) -> Self {
        Self {
            delays_ms,
            retry_for_ms,
            jitter: jitter.clamp(0.0, MAX_JITTER),
        }
    }

    pub fn from_settings(settings: &AmqpSettings) -> Self {
        Self::new(
            settings.retry_delays_ms.clone(),
            settings.retry_for_ms,
            settings.retry_jitter,
        )
    }

    /// `failures` counts this one (1 after the first failure); `since_first_failure_ms` is
    /// the time since the first; `random` is uniform in [0, 1).
    pub fn after_failure(&self, failures: u32, since_first_failure_ms: u64, random: f64) -> Next {
        let index = usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX);
        let delay_ms = match self.delays_ms.get(index) {
            Some(delay) => *delay,
            None => match self.delays_ms.last() {
                Some(last) if since_first_failure_ms.saturating_add(*last) <= self.retry_for_ms => {
                    *last
                }
                _ => return Next::DeadLetter,
            },
        };
        // A factor in [1 - jitter, 1 + jitter).
        let factor = 1.0 + self.jitter * (2.0 * random.clamp(0.0, 1.0) - 1.0);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a delay in milliseconds, far below f64's exact integer range"
        )]
        let wait_ms = (delay_ms as f64 * factor).round().max(0.0) as u64;
        Next::Retry { delay_ms, wait_ms }
    }

    /// The base delays in order, for the documentation and the tests.
    pub fn delays_ms(&self) -> &[u64] {
        &self.delays_ms
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HOUR: u64 = 3_600_000;

    fn production() -> RetrySchedule {
        RetrySchedule::new(vec![1_000, 10_000, 60_000, 600_000, HOUR], 24 * HOUR, 0.2)
    }

    fn base(next: Next) -> Option<u64> {
        match next {
            Next::Retry { delay_ms, .. } => Some(delay_ms),
            Next::DeadLetter => None,
        }
    }

    #[test]
    fn the_list_then_hourly_until_a_day_then_the_dead_letter_queue() {
        let schedule = production();
        let mut elapsed = 0;
        let mut delays = Vec::new();
        for failures in 1.. {
            match base(schedule.after_failure(failures, elapsed, 0.5)) {
                Some(delay) => {
                    delays.push(delay);
                    elapsed += delay;
                }
                None => break,
            }
        }
        assert_eq!(&delays[..5], &[1_000, 10_000, 60_000, 600_000, HOUR]);
        assert!(delays[5..].iter().all(|delay| *delay == HOUR));
        let total: u64 = delays.iter().sum();
        assert!(total <= 24 * HOUR && total + HOUR > 24 * HOUR, "{total}");
    }

    #[test]
    fn without_a_retry_window_the_list_is_the_whole_schedule() {
        let schedule = RetrySchedule::new(vec![100, 200], 0, 0.0);
        assert_eq!(base(schedule.after_failure(1, 0, 0.0)), Some(100));
        assert_eq!(base(schedule.after_failure(2, 100, 0.0)), Some(200));
        assert_eq!(schedule.after_failure(3, 300, 0.0), Next::DeadLetter);
        let none = RetrySchedule::new(Vec::new(), 0, 0.0);
        assert_eq!(none.after_failure(1, 0, 0.0), Next::DeadLetter);
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_fraction_and_the_queue_ttl(failures in 1u32..40, elapsed in 0u64..(30 * HOUR), random in 0.0f64..1.0) {
            let schedule = production();
            if let Next::Retry { delay_ms, wait_ms } = schedule.after_failure(failures, elapsed, random) {
                prop_assert!(wait_ms as f64 >= delay_ms as f64 * 0.8 - 1.0);
                prop_assert!(wait_ms as f64 <= delay_ms as f64 * 1.2 + 1.0);
                prop_assert!(wait_ms <= delay_ms * 5 / 4);
            }
        }
    }
}
