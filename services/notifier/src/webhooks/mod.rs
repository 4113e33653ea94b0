//! Webhooks to the patronati's own systems, in the Standard Webhooks form.

pub mod deliveries;
pub mod delivery;
pub mod egress;
pub mod endpoints;
pub mod outcome;
pub mod payload;
pub mod queue;
pub mod signature;

use std::time::Duration;

use crate::settings::{Schedule, WebhookSettings};

/// The delivery rules from the settings; a bad schedule fails the start naming its key.
pub fn rules(settings: &WebhookSettings) -> anyhow::Result<outcome::Rules> {
    Ok(outcome::Rules {
        schedule: Schedule::parse(
            "webhooks.retry_schedule_ms",
            &settings.retry_schedule_ms,
            settings.retry_jitter,
        )?,
        max_retry_after: Duration::from_millis(settings.max_retry_after_ms),
        circuit_failures: settings.circuit_failures,
        circuit_open: Duration::from_millis(settings.circuit_open_ms),
        disable_after: Duration::from_millis(settings.disable_after_ms),
    })
}

pub fn egress(settings: &WebhookSettings) -> egress::Egress {
    egress::Egress {
        allow_loopback: settings.allow_loopback,
        allow_private: settings.allow_private,
        allow_http: settings.allow_http,
    }
}
