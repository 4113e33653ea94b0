//! What one attempt's answer means, as a pure decision (property-tested): the delivery's next
//! step (delivered, retried when, dead, failed for good) and the endpoint's health (the
//! circuit breaker, failing for days, disabled by a 410).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::settings::Schedule;

/// The health rules of every endpoint.
#[derive(Debug, Clone)]
pub struct Rules {
    pub schedule: Schedule,
    pub max_retry_after: Duration,
    pub circuit_failures: u32,
    pub circuit_open: Duration,
    pub disable_after: Duration,
}

/// An endpoint's health before the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub consecutive_failures: u32,
    pub failing_since: Option<DateTime<Utc>>,
}

/// How an attempt went: the HTTP status (None: no answer) and the Retry-After it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Every attempt of the schedule failed.
    Dead,
    /// Not to be tried again: the endpoint is gone (410) or disabled for failing for days.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub step: Step,
    pub health: Health,
    pub circuit_open_until: Option<DateTime<Utc>>,
    /// Disable the endpoint, for this reason.
    pub disable: Option<String>,
}

/// `attempt`: this attempt's number in the delivery's round (1 for the first); `unit` in
/// [0, 1) places the next wait within the jitter.
pub fn decide(
    rules: &Rules,
    health: Health,
    answer: Answer,
    attempt: u32,
    now: DateTime<Utc>,
    unit: f64,
) -> Decision {
    let to_chrono =
        |wait: Duration| chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    if answer
        .status
        .is_some_and(|status| (200..300).contains(&status))
    {
        return Decision {
            step: Step::Delivered,
            health: Health {
                consecutive_failures: 0,
                failing_since: None,
            },
            circuit_open_until: None,
            disable: None,
        };
    }
    let failures = health.consecutive_failures.saturating_add(1);
    let failing_since = health.failing_since.unwrap_or(now);
    let circuit_open_until =
        (failures >= rules.circuit_failures.max(1)).then(|| now + to_chrono(rules.circuit_open));
    let health = Health {
        consecutive_failures: failures,
        failing_since: Some(failing_since),
    };
    let gone = answer.status == Some(410);
    let failing_for = (now - failing_since).to_std().unwrap_or_default();
    let disable = if gone {
        Some("the endpoint answered 410 Gone".to_owned())
    } else if failing_for >= rules.disable_after {
        Some(format!(
            "no delivery succeeded for {} days",
            failing_for.as_secs() / 86_400
        ))
    } else {
        None
    };
    if disable.is_some() {
        return Decision {
            step: Step::Failed,
            health,
            circuit_open_until,
            disable,
        };
    }
    let step = match rules.schedule.wait_before(attempt.saturating_add(1), unit) {
        None => Step::Dead,
        Some(wait) => {
            let asked = match answer.status {
                Some(429 | 503) => answer
                    .retry_after
                    .map(|asked| asked.min(rules.max_retry_after)),
                _ => None,
            };
            Step::RetryAt(now + to_chrono(asked.map_or(wait, |asked| asked.max(wait))))
        }
    };
    Decision {
        step,
        health,
        circuit_open_until,
        disable: None,
    }
}

/// A Retry-After header: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> Rules {
        Rules {
            schedule: Schedule::parse(
                "k",
                "0,5000,300000,1800000,7200000,18000000,36000000,36000000",
                0.2,
            )
            .unwrap(),
            max_retry_after: Duration::from_secs(36_000),
            circuit_failures: 5,
            circuit_open: Duration::from_secs(60),
            disable_after: Duration::from_secs(5 * 86_400),
        }
    }

    const HEALTHY: Health = Health {
        consecutive_failures: 0,
        failing_since: None,
    };

    #[test]
    fn a_2xx_delivers_and_heals_the_endpoint() {
        let now = Utc::now();
        let sick = Health {
            consecutive_failures: 9,
            failing_since: Some(now),
        };
        let decision = decide(
            &rules(),
            sick,
            Answer {
                status: Some(204),
                retry_after: None,
            },
            3,
            now,
            0.5,
        );
        assert_eq!(decision.step, Step::Delivered);
        assert_eq!(decision.health, HEALTHY);
    }

    #[test]
    fn a_410_disables_and_the_eighth_failure_is_dead() {
        let now = Utc::now();
        let gone = decide(
            &rules(),
            HEALTHY,
            Answer {
                status: Some(410),
                retry_after: None,
            },
            1,
            now,
            0.5,
        );
        assert_eq!(gone.step, Step::Failed);
        assert!(gone.disable.unwrap().contains("410"));
        let last = decide(
            &rules(),
            HEALTHY,
            Answer {
                status: Some(500),
                retry_after: None,
            },
            8,
            now,
            0.5,
        );
        assert_eq!(last.step, Step::Dead);
        let redirect = decide(
            &rules(),
            HEALTHY,
            Answer {
                status: Some(302),
                retry_after: None,
            },
            1,
            now,
            0.5,
        );
        assert_eq!(
            redirect.step,
            Step::RetryAt(now + chrono::Duration::seconds(5))
        );
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_only() {
        let now = Utc::now();
        let asked = Answer {
            status: Some(429),
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_eq!(
            decide(&rules(), HEALTHY, asked, 1, now, 0.5).step,
            Step::RetryAt(now + chrono::Duration::seconds(120))
        );
        let ignored = Answer {
            status: Some(500),
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_eq!(
            decide(&rules(), HEALTHY, ignored, 1, now, 0.5).step,
            Step::RetryAt(now + chrono::Duration::seconds(5))
        );
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        let date = (now + chrono::Duration::seconds(90)).to_rfc2822();
        assert!(parse_retry_after(&date, now).unwrap().as_secs() >= 89);
    }

    #[test]
    fn failing_for_days_disables_and_five_failures_open_the_circuit() {
        let now = Utc::now();
        let long = Health {
            consecutive_failures: 40,
            failing_since: Some(now - chrono::Duration::days(5)),
        };
        let decision = decide(
            &rules(),
            long,
            Answer {
                status: None,
                retry_after: None,
            },
            2,
            now,
            0.5,
        );
        assert_eq!(decision.step, Step::Failed);
        assert!(decision.disable.unwrap().contains("5 days"));
        let fourth = Health {
            consecutive_failures: 4,
            failing_since: Some(now),
        };
        let opened = decide(
            &rules(),
            fourth,
            Answer {
                status: Some(500),
                retry_after: None,
            },
            1,
            now,
            0.5,
        );
        assert_eq!(
            opened.circuit_open_until,
            Some(now + chrono::Duration::seconds(60))
        );
    }

    proptest! {
        #[test]
        fn a_failure_is_retried_within_the_jitter_until_the_schedule_is_spent(
            attempt in 1u32..12, status in prop_oneof![Just(None), (300u16..600).prop_filter("not 410", |s| *s != 410).prop_map(Some)],
            unit in 0.0f64..1.0,
        ) {
            let now = Utc::now();
            let decision = decide(&rules(), HEALTHY, Answer { status, retry_after: None }, attempt, now, unit);
            match rules().schedule.waits.get(usize::try_from(attempt).unwrap()) {
                None => prop_assert_eq!(decision.step, Step::Dead),
                Some(base) => {
                    let Step::RetryAt(at) = decision.step else { panic!("{:?}", decision.step) };
                    let wait = (at - now).to_std().unwrap();
                    prop_assert!(wait >= base.mul_f64(0.8) && wait <= base.mul_f64(1.2) + Duration::from_millis(1));
                }
            }
            prop_assert_eq!(decision.health.consecutive_failures, 1);
        }
    }
}
