//! One batch of deliveries: a span per delivery (continuing the publisher's trace), decoding,
//! the handler (paused and retried while a dependency is down), then for each delivery an ack
//! or a divert to its retry or dead-letter queue.

use std::sync::Arc;
use std::time::Instant;

use combipat_proto::events::v1::Envelope;
use futures::FutureExt as _;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use super::divert::Diverter;
use super::handler::{BatchOutcome, Incoming};
use super::pause::{ConsumerHealth, outage_backoff};
use super::{BatchHandler, HandleError};
use crate::metrics as m;
use crate::propagation::{carrier_from_amqp, set_parent_from_carrier};

pub struct BatchContext<H> {
    pub queue: &'static str,
    pub handler: Arc<H>,
    pub health: ConsumerHealth,
    pub diverter: Diverter,
    pub stop: CancellationToken,
}

pub fn delivery_span(queue: &str, delivery: &Delivery) -> tracing::Span {
    let message_id = super::divert::message_id(delivery);
    let span = tracing::info_span!(
        "process",
        otel.name = format!("process {queue}"),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.destination.name = %delivery.exchange,
        messaging.rabbitmq.destination.routing_key = %delivery.routing_key,
        messaging.consumer.group.name = queue,
        messaging.message.id = %message_id,
        messaging.message.body.size = delivery.data.len(),
    );
    set_parent_from_carrier(
        &span,
        &carrier_from_amqp(delivery.properties.headers().as_ref()),
    );
    span
}

pub async fn process_batch<H: BatchHandler>(context: &BatchContext<H>, batch: Vec<Delivery>) {
    let started = Instant::now();
    let mut decoded = Vec::with_capacity(batch.len());
    let mut decoded_deliveries = Vec::with_capacity(batch.len());
    for delivery in batch {
        let span = delivery_span(context.queue, &delivery);
        match Envelope::decode(delivery.data.as_slice()) {
            Ok(envelope) => {
                decoded.push(Incoming {
                    envelope,
                    span,
                    stream_offset: None,
                });
                decoded_deliveries.push(delivery);
            }
            Err(error) => {
                let error = HandleError::permanent(format!("undecodable event: {error}"));
                finish(context, &delivery, Err(error), &span).await;
            }
        }
    }
    if decoded.is_empty() {
        return;
    }

    let mut attempt = 0;
    let results = loop {
        let outcome = std::panic::AssertUnwindSafe(context.handler.handle_batch(&decoded))
            .catch_unwind()
            .await
            .unwrap_or_else(|_panic| {
                BatchOutcome::Each(
                    decoded
                        .iter()
                        .map(|_| {
                            Err(HandleError::transient(anyhow::anyhow!(
                                "the handler panicked"
                            )))
                        })
                        .collect(),
                )
            });
        match outcome {
            BatchOutcome::Each(results) => break results,
            BatchOutcome::Unavailable { dependency, error } => {
                // Not the events' fault: they stay in hand, unacknowledged, and are tried
                // again once the dependency answers; the consumer takes nothing new meanwhile.
                context.health.pause(dependency, &error);
                attempt += 1;
                tokio::select! {
                    () = context.stop.cancelled() => {
                        // Stopping: the broker redelivers them to whoever consumes next.
                        for delivery in &decoded_deliveries {
                            requeue(delivery).await;
                        }
                        return;
                    }
                    () = tokio::time::sleep(outage_backoff(attempt)) => {}
                }
            }
        }
    };
    context.health.resume();
    let seconds_each = started.elapsed().as_secs_f64() / decoded.len() as f64;
    for ((delivery, incoming), result) in decoded_deliveries.iter().zip(&decoded).zip(results) {
        metrics::histogram!(m::MESSAGE_PROCESSING_SECONDS, "queue" => context.queue)
            .record(seconds_each);
        finish(context, delivery, result, &incoming.span).await;
    }
}

/// Acks a handled delivery, or diverts a failed one; never drops one.
async fn finish<H>(
    context: &BatchContext<H>,
    delivery: &Delivery,
    result: Result<(), HandleError>,
    span: &tracing::Span,
) {
    let queue = context.queue;
    let outcome = match result {
        Ok(()) => "processed",
        Err(error) => {
            span.record("otel.status_code", "ERROR");
            let _entered = span.enter();
            match context.diverter.divert(delivery, &error).await {
                Ok(outcome) => outcome,
                Err(divert_error) => {
                    // Could not park it anywhere: give it back to the broker, never drop it.
                    tracing::error!(error = format!("{divert_error:#}"), cause = %error, "cannot move a failed event to its retry or dead-letter queue; requeueing it");
                    requeue(delivery).await;
                    metrics::counter!(m::MESSAGES_CONSUMED, "queue" => queue, "outcome" => "requeued").increment(1);
                    return;
                }
            }
        }
    };
    if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
        // The effect is committed; the broker will redeliver and the inbox will skip it.
        tracing::warn!(parent: span, error = %error, "ack failed after processing");
    }
    metrics::counter!(m::MESSAGES_CONSUMED, "queue" => queue, "outcome" => outcome).increment(1);
}

async fn requeue(delivery: &Delivery) {
    if let Err(error) = delivery
        .acker
        .nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
    {
        tracing::warn!(error = %error, "nack failed; the broker will redeliver when the channel closes");
    }
}
