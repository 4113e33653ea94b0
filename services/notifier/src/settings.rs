//! Notifier's own sections (`webhooks`, `rate_limit`, `smtp`, `email`, and for the avvisi
//! `attachments` and `router`); the platform's come with them. Each refuses unknown keys, so a
//! misspelt one fails the start.

use std::time::Duration;

use combipat_platform::rate_limit::RateLimitSettings;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct NotifierSettings {
    pub webhooks: WebhookSettings,
    pub rate_limit: RateLimitSettings,
    pub smtp: SmtpSettings,
    pub email: EmailSettings,
    /// The store the services share: the avvisi's files.
    pub attachments: combipat_platform::files::FileStoreSettings,
    /// Router's office directory: which region or province an INPS publisher governs.
    pub router: combipat_platform::grpc_client::ClientSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub timeout_ms: u64,
    pub retry_schedule_ms: String,
    pub retry_jitter: f64,
    pub max_retry_after_ms: u64,
    pub circuit_failures: u32,
    pub circuit_open_ms: u64,
    pub disable_after_ms: u64,
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub allow_http: bool,
    pub response_excerpt_bytes: usize,
    pub gauge_interval_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    /// A secret, never printed.
    pub password: secrecy::SecretString,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub from: String,
    pub request_url_base: String,
    /// Where the patronato's people read an avviso (the link in e-mails and webhooks).
    pub avviso_url_base: String,
    pub public_base_url: String,
    pub retry_schedule_ms: String,
    pub digest_hour: u32,
}

/// A retry schedule: the wait before each attempt (the first is usually 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub waits: Vec<Duration>,
    pub jitter: f64,
}

impl Schedule {
    /// Parses `0,5000,300000` (milliseconds); `key` names the setting in the error.
    pub fn parse(key: &str, text: &str, jitter: f64) -> anyhow::Result<Self> {
        let waits = text
            .split(',')
            .map(|item| {
                item.trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| anyhow::anyhow!("{key}: `{item}` is not a number of milliseconds"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!waits.is_empty(), "{key}: the schedule is empty");
        anyhow::ensure!(
            (0.0..1.0).contains(&jitter),
            "{key}: the jitter must be at least 0 and below 1"
        );
        Ok(Self { waits, jitter })
    }

    /// The wait before attempt `attempt` (1-based) with `unit` in [0, 1) moving it within the
    /// jitter; `None` once the schedule is spent.
    pub fn wait_before(&self, attempt: u32, unit: f64) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let wait = *self.waits.get(index)?;
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Some(wait.mul_f64(factor.max(0.0)))
    }

    pub fn attempts(&self) -> u32 {
        u32::try_from(self.waits.len()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_production_schedule_is_eight_attempts() {
        let schedule = Schedule::parse(
            "webhooks.retry_schedule_ms",
            "0,5000,300000,1800000,7200000,18000000,36000000,36000000",
            0.2,
        )
        .unwrap();
        assert_eq!(schedule.attempts(), 8);
        assert_eq!(schedule.wait_before(1, 0.5), Some(Duration::ZERO));
        assert_eq!(schedule.wait_before(2, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(schedule.wait_before(9, 0.5), None);
        assert!(
            Schedule::parse("k", "0,x", 0.2)
                .unwrap_err()
                .to_string()
                .contains("k: `x`")
        );
    }

    proptest! {
        #[test]
        fn waits_stay_within_the_jitter(attempt in 1u32..9, unit in 0.0f64..1.0) {
            let schedule = Schedule::parse("k", "0,5000,300000,1800000,7200000,18000000,36000000,36000000", 0.2).unwrap();
            let base = schedule.waits[usize::try_from(attempt - 1).unwrap()];
            let wait = schedule.wait_before(attempt, unit).unwrap();
            prop_assert!(wait >= base.mul_f64(0.8) && wait <= base.mul_f64(1.2));
        }
    }
}
