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
/// Gauge: rows waiting in the outbox, parked ones included (read from the database every
/// `outbox.gauge_interval_ms`, whether or not the broker answers).
pub const OUTBOX_PENDING: &str = "combipat_outbox_pending";
/// Gauge: age in seconds of the oldest row in the outbox (0 when empty).
pub const OUTBOX_OLDEST_AGE: &str = "combipat_outbox_oldest_age_seconds";
/// Counter {consumer}: redelivered events the inbox recognised and skipped.
pub const INBOX_DUPLICATES: &str = "combipat_inbox_duplicates_total";
/// Counter {call}: requests shown to a person, recorded in the read audit (`audit.rs`).
pub const READS_AUDITED: &str = "combipat_reads_audited_total";
/// Counter {what=inbox|unsent_attachments|idempotency_keys|...}: rows deleted by a sweep
/// once they expired (see `retention`).
pub const ROWS_EXPIRED: &str = "combipat_rows_expired_total";
/// Counter {task}: broker connections lost and re-opened.
pub const AMQP_RECONNECTS: &str = "combipat_amqp_reconnects_total";
/// Gauge {task}: 1 while the task (a consumer's queue, `outbox`) holds a broker connection.
pub const BROKER_CONNECTED: &str = "combipat_broker_connected";
/// Gauge {queue}: 1 while a consumer is paused because a dependency is down.
pub const CONSUMER_PAUSED: &str = "combipat_consumer_paused";
/// Counter {queue}: pauses begun.
pub const CONSUMER_PAUSES: &str = "combipat_consumer_pauses_total";
/// Gauges {queue}: messages waiting and consumers attached, for each of the service's own
/// queues (main, retry, dead-letter), names without the prefix.
pub const QUEUE_MESSAGES: &str = "combipat_queue_messages";
pub const QUEUE_CONSUMERS: &str = "combipat_queue_consumers";
/// Counter {outcome=fetched|failed}: JWKS fetches made because a token named an unknown key.
pub const JWKS_REFETCHES: &str = "combipat_jwks_refetches_total";
/// Gauge {reader}: seconds between the newest event a stream reader applied and now.
pub const STREAM_LAG: &str = "combipat_stream_lag_seconds";
/// Counter {reader, outcome=applied|skipped}: history events a stream reader went through.
pub const STREAM_EVENTS: &str = "combipat_stream_events_total";
/// Gauge {kind}: durable jobs waiting (due or not).
pub const JOBS_PENDING: &str = "combipat_jobs_pending";
/// Counter {kind, outcome=done|retried|dead|lost_lease}: jobs run.
pub const JOBS_FIRED: &str = "combipat_jobs_fired_total";
/// Histogram {kind}: seconds from a job's due time to its firing.
pub const JOB_LATENESS: &str = "combipat_job_lateness_seconds";
/// Counter {kind}: jobs that fired later than `jobs.catch_up_after_ms` (missed, e.g. during
/// downtime, and fired once, late).
pub const JOBS_CAUGHT_UP: &str = "combipat_jobs_caught_up_total";

/// Series a task shows at zero from its start, so that a dashboard or alert reading one finds
/// it before the first event (Prometheus cannot tell a missing series from a broken exporter).
/// Each primitive calls its own when it is built; services do the same for their names.
pub(crate) mod zero {
    use super::{
        AMQP_RECONNECTS, BROKER_CONNECTED, INBOX_DUPLICATES, MESSAGE_PROCESSING_SECONDS,
        MESSAGES_CONSUMED, MESSAGES_PUBLISHED, STREAM_EVENTS, STREAM_LAG,
    };

    /// A broker connection's task (a consumer's queue, `outbox`).
    pub fn connection(task: &'static str) {
        metrics::counter!(AMQP_RECONNECTS, "task" => task).increment(0);
        metrics::gauge!(BROKER_CONNECTED, "task" => task).set(0.0);
    }

    /// A consumer of `queue`.
    pub fn consumer(queue: &'static str) {
        for outcome in ["processed", "retried", "dead_lettered", "requeued"] {
            metrics::counter!(MESSAGES_CONSUMED, "queue" => queue, "outcome" => outcome)
                .increment(0);
        }
        // Registering a histogram renders it with zero observations.
        let _registered = metrics::histogram!(MESSAGE_PROCESSING_SECONDS, "queue" => queue);
        connection(queue);
    }

    /// The inbox of `consumer`.
    pub fn inbox(consumer: &'static str) {
        metrics::counter!(INBOX_DUPLICATES, "consumer" => consumer).increment(0);
    }

    /// The outbox relay of a service that publishes `routing_keys`.
    pub fn relay(routing_keys: &[&'static str]) {
        for routing_key in routing_keys {
            for outcome in ["confirmed", "refused"] {
                metrics::counter!(MESSAGES_PUBLISHED, "routing_key" => *routing_key, "outcome" => outcome)
                    .increment(0);
            }
        }
        connection("outbox");
    }

    /// A reader of the history stream.
    pub fn stream_reader(reader: &'static str) {
        for outcome in ["applied", "skipped"] {
            metrics::counter!(STREAM_EVENTS, "reader" => reader, "outcome" => outcome).increment(0);
        }
        metrics::gauge!(STREAM_LAG, "reader" => reader).set(0.0);
        // The reader reports its connection in readiness, not in `BROKER_CONNECTED`.
        metrics::counter!(AMQP_RECONNECTS, "task" => reader).increment(0);
    }
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once per process and returns the handle that renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                // A timer may fire late by hours after downtime: its own scale.
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(JOB_LATENESS.to_owned()),
                        &[
                            0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
                            21600.0, 86400.0,
                        ],
                    )
                })
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
