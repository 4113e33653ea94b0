//! Notifier's metric names (the Helm chart's dashboards and alerts read them as they are).

/// Counter {channel=inbox|email|webhook, outcome}: notices written to a channel (inbox:
/// created, duplicate, muted; email: queued, suppressed, digest; webhook: queued).
pub const NOTIFICATIONS: &str = "combipat_notifications_total";
/// Counter {endpoint, outcome=delivered|failed|retried|dead}: one per webhook attempt (failed:
/// refused for good without a retry, e.g. 410 or a forbidden address).
pub const WEBHOOK_DELIVERIES: &str = "combipat_webhook_deliveries_total";
/// Histogram {endpoint}: seconds an endpoint took to answer an attempt.
pub const WEBHOOK_DELIVERY_SECONDS: &str = "combipat_webhook_delivery_seconds";
/// Gauge: endpoints disabled (by their patronato, by a 410, or after failing for days).
pub const WEBHOOK_ENDPOINTS_DISABLED: &str = "combipat_webhook_endpoints_disabled";
/// Counter {outcome=sent|retried|failed|suppressed}: e-mail sends.
pub const EMAILS_SENT: &str = "combipat_emails_sent_total";

/// Counter {priority, scope}: avvisi (and corrections) accepted for publication.
pub const AVVISI_PUBLISHED: &str = "combipat_avvisi_published_total";
/// Counter {what=published|withdrawn, priority}: avvisi whose notices went out.
pub const AVVISI_DELIVERED: &str = "combipat_avvisi_delivered_total";
/// Counter {what}: patronato offices an avviso's notices went to.
pub const AVVISI_RECIPIENTS: &str = "combipat_avvisi_recipients_total";
/// Counter {role}: avvisi marked read for the first time by a reader.
pub const AVVISI_READS: &str = "combipat_avvisi_reads_total";

/// Each channel's outcomes, as `NOTIFICATIONS` counts them.
const NOTIFICATION_OUTCOMES: [(&str, &[&str]); 3] = [
    ("inbox", &["created", "duplicate", "muted"]),
    ("email", &["queued", "duplicate", "suppressed", "digest"]),
    ("webhook", &["queued"]),
];
const EMAIL_OUTCOMES: [&str; 4] = ["sent", "retried", "failed", "suppressed"];
const WEBHOOK_OUTCOMES: [&str; 4] = ["delivered", "failed", "retried", "dead"];

/// Notifier's series, at zero until the first notice (dashboards and alerts read them).
pub fn show_from_zero() {
    for (channel, outcomes) in NOTIFICATION_OUTCOMES {
        for outcome in outcomes {
            metrics::counter!(NOTIFICATIONS, "channel" => channel, "outcome" => *outcome)
                .increment(0);
        }
    }
    for outcome in EMAIL_OUTCOMES {
        metrics::counter!(EMAILS_SENT, "outcome" => outcome).increment(0);
    }
    metrics::gauge!(WEBHOOK_ENDPOINTS_DISABLED).set(0.0);
}

/// One webhook endpoint's series, at zero until its first attempt (shown for every endpoint
/// the database holds, so a new or restarted replica shows each one).
pub fn show_endpoint_from_zero(endpoint: uuid::Uuid) {
    let endpoint = endpoint.to_string();
    for outcome in WEBHOOK_OUTCOMES {
        metrics::counter!(WEBHOOK_DELIVERIES, "endpoint" => endpoint.clone(), "outcome" => outcome)
            .increment(0);
    }
    // Registering a histogram renders it with zero observations.
    let _registered = metrics::histogram!(WEBHOOK_DELIVERY_SECONDS, "endpoint" => endpoint);
}

pub fn count_notification(channel: &'static str, outcome: &'static str) {
    metrics::counter!(NOTIFICATIONS, "channel" => channel, "outcome" => outcome).increment(1);
}
