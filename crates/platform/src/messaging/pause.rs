//! A consumer paused by a dependency outage: it takes no new deliveries, retries the ones in
//! hand with a backoff until the dependency answers, and says so in readiness and metrics.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Paused {
    dependency: &'static str,
    since: DateTime<Utc>,
    error: String,
}

/// The pause state of one consumer, shared by its delivery tasks and readiness.
#[derive(Debug, Clone)]
pub struct ConsumerHealth {
    queue: &'static str,
    paused: Arc<watch::Sender<Option<Paused>>>,
}

impl ConsumerHealth {
    pub fn new(queue: &'static str) -> Self {
        // Shown from the start, so that dashboards and alerts find the series at zero.
        metrics::gauge!(m::CONSUMER_PAUSED, "queue" => queue).set(0.0);
        metrics::counter!(m::CONSUMER_PAUSES, "queue" => queue).increment(0);
        Self {
            queue,
            paused: Arc::new(watch::channel(None).0),
        }
    }

    pub fn queue(&self) -> &'static str {
        self.queue
    }

    /// `dependency` failed: pause, if not already paused.
    pub fn pause(&self, dependency: &'static str, error: &anyhow::Error) {
        let started = self.paused.send_if_modified(|state| {
            if state.is_some() {
                return false;
            }
            *state = Some(Paused {
                dependency,
                since: Utc::now(),
                error: format!("{error:#}"),
            });
            true
        });
        if started {
            metrics::gauge!(m::CONSUMER_PAUSED, "queue" => self.queue).set(1.0);
            metrics::counter!(m::CONSUMER_PAUSES, "queue" => self.queue).increment(1);
            tracing::warn!(
                queue = self.queue,
                dependency,
                error = format!("{error:#}"),
                "consumer paused: a dependency is unavailable; deliveries wait and are retried until it answers"
            );
        }
    }

    /// A delivery went through: the dependency answers again.
    pub fn resume(&self) {
        let ended = self.paused.send_if_modified(|state| state.take().is_some());
        if ended {
            metrics::gauge!(m::CONSUMER_PAUSED, "queue" => self.queue).set(0.0);
            tracing::info!(queue = self.queue, "consumer resumed");
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused.borrow().is_some()
    }

    /// Waits until the consumer is not paused (at once when it is not), or `stop`.
    pub async fn wait_until_resumed(&self, stop: &CancellationToken) {
        let mut receiver = self.paused.subscribe();
        tokio::select! {
            () = stop.cancelled() => {}
            _ = receiver.wait_for(Option::is_none) => {}
        }
    }

    /// Why readiness fails, when paused.
    pub fn problem(&self) -> Option<String> {
        self.paused.borrow().as_ref().map(|paused| {
            format!(
                "consumer {} paused since {}: {} unavailable ({})",
                self.queue,
                paused.since.to_rfc3339(),
                paused.dependency,
                paused.error
            )
        })
    }
}

/// Waits before the `attempt`-th try (1-based) after a dependency failure: 1 s doubling to
/// 30 s, each spread by a fifth either way so that paused replicas do not knock in step.
pub fn outage_backoff(attempt: u32) -> Duration {
    backoff(Duration::from_secs(1), Duration::from_secs(30), attempt)
}

/// `first` doubling with each attempt up to `max`, with ±20% jitter.
pub fn backoff(first: Duration, max: Duration, attempt: u32) -> Duration {
    let doubled = first.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
    let base = doubled.min(max);
    base.mul_f64(0.8 + 0.4 * fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_shows_in_readiness_until_resumed() {
        let health = ConsumerHealth::new("test.pause");
        assert!(health.problem().is_none());
        health.pause("database", &anyhow::anyhow!("connection refused"));
        health.pause("database", &anyhow::anyhow!("again"));
        let problem = health.problem().unwrap_or_default();
        assert!(
            problem.contains("database unavailable (connection refused)"),
            "{problem}"
        );
        health.resume();
        assert!(!health.is_paused());
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_with_jitter() {
        for attempt in 1..20 {
            let wait = outage_backoff(attempt);
            let base = Duration::from_secs(1 << (attempt - 1).min(5)).min(Duration::from_secs(30));
            assert!(
                wait >= base.mul_f64(0.79) && wait <= base.mul_f64(1.21),
                "{attempt}: {wait:?}"
            );
        }
    }
}
