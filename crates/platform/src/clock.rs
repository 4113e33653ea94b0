//! The clock every time-dependent rule reads instead of `Utc::now()`: the system's, moved by
//! an offset that tests set (`advance`, `set`), so that a 15-day rule is tested without
//! waiting 15 days. Durable jobs compare due times with the database's clock plus the same
//! offset, so replicas with skewed clocks still agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock (a clock no test has moved).
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms())
    }

    /// Milliseconds this clock is ahead of the system's (for SQL: `now() + offset`).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Moves the clock forward (tests).
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    /// Moves the clock so that it reads `instant` now (tests); time goes on from there.
    pub fn set(&self, instant: DateTime<Utc>) {
        self.offset_ms
            .store((instant - Utc::now()).num_milliseconds(), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_clock_reads_the_time_it_was_moved_to() {
        let clock = Clock::system();
        let start = clock.now();
        clock.advance(chrono::Duration::days(15));
        let moved = clock.now() - start;
        assert!(moved >= chrono::Duration::days(15));
        assert!(moved < chrono::Duration::days(15) + chrono::Duration::seconds(5));
        let target = start + chrono::Duration::days(400);
        clock.set(target);
        assert!((clock.now() - target).num_milliseconds().abs() < 1_000);
        let copy = clock.clone();
        copy.advance(chrono::Duration::hours(1));
        assert_eq!(
            copy.offset_ms(),
            clock.offset_ms(),
            "clones share one clock"
        );
    }
}
