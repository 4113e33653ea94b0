//! Prometheus metrics: one recorder per process, rendered at `/metrics` on the admin port.
//! The platform's metric names live here; each service names its own beside the code that
//! counts them (e.g. `combipat_routing_decisions_total` in router).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Counter {queue, outcome=processed|retried|dead_lettered|requeued}.
pub const MESSAGES_CONSUMED: &str = "combipat_messages_consumed_total";
/// Histogram {queue}: time to handle one event, seconds.
pub const MESSAGE_PROCESSING_SECONDS: &str = "combipat_message_processing_seconds";
/// Counter {routing_key, outcome=confirmed|refused}: events the outbox relay published, or
/// that the broker refused (unroutable or nacked; they are retried with a backoff).
pub const MESSAGES_PUBLISHED: &str = "combipat_messages_published_total";
/// Gauge: rows waiting in the outbox (refreshed by the relay at most once a second).
pub const OUTBOX_PENDING: &str = "combipat_outbox_pending";
/// Counter {consumer}: redelivered events the inbox recognised and skipped.
pub const INBOX_DUPLICATES: &str = "combipat_inbox_duplicates_total";
/// Counter {task}: broker connections lost and re-opened.
pub const AMQP_RECONNECTS: &str = "combipat_amqp_reconnects_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once per process and returns the handle that renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_invalid_buckets| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only when another recorder is already installed (a test process that
            // embeds several services); the first one keeps serving every service's metrics.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::debug!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}
