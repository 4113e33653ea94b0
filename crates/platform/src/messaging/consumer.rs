//! The consuming side: manual acks, bounded concurrency, retry with backoff, dead letters.
//!
//! A delivery is acknowledged only after its effect is committed, or after a copy of it has
//! been confirmed on a retry or dead-letter queue. A consumer that dies mid-way leaves the
//! delivery unacknowledged and the broker hands it out again; handlers make that harmless
//! with the inbox ([`crate::inbox`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use combipat_proto::events::v1::Envelope;
use futures::{FutureExt as _, StreamExt as _};
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use prost::Message as _;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::topology::{QueueNames, declare_exchange, declare_queue};
use super::{
    ATTEMPT_HEADER, Broker, ERROR_HEADER, OutgoingMessage, QueueSpec, SOURCE_QUEUE_HEADER,
    publish_confirmed,
};
use crate::metrics as m;
use crate::propagation::{carrier_from_amqp, set_parent_from_carrier};

/// Why handling an event failed, which decides what happens to it next.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Worth another try later (a dependency is down, a conflict that will clear).
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Will fail the same way every time: goes straight to the dead-letter queue.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl HandleError {
    fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

/// Counts down the consumers a service waits for before it reports ready: each fires once,
/// the first time its queue, bindings and subscription are in place, so that no event
/// published after readiness can miss a queue that was about to exist.
#[derive(Debug, Clone, Default)]
pub struct StartGate {
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

impl StartGate {
    /// One more consumer to wait for.
    pub fn expect(&self) -> Started {
        self.pending
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Started {
            pending: Arc::clone(&self.pending),
        }
    }

    pub fn all_started(&self) -> bool {
        self.pending.load(std::sync::atomic::Ordering::SeqCst) == 0
    }
}

/// A consumer's "I am attached"; see [`StartGate`].
#[derive(Debug)]
pub struct Started {
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

impl Started {
    fn fire(self) {
        self.pending
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What a service does with one event. Must be idempotent: the same event may arrive
/// more than once (use [`crate::inbox`] in the same transaction as the effect).
pub trait EventHandler: Send + Sync + 'static {
    fn handle(&self, envelope: Envelope) -> impl Future<Output = Result<(), HandleError>> + Send;
}

/// Consumes `spec`'s queue until `stop` is cancelled, reconnecting after failures.
/// On stop it takes no new deliveries and waits up to `deadline` for those in hand.
pub async fn run_consumer<H: EventHandler>(
    broker: Broker,
    spec: QueueSpec,
    handler: Arc<H>,
    stop: CancellationToken,
    deadline: Duration,
    mut started: Option<Started>,
) {
    loop {
        match consume(&broker, &spec, &handler, &stop, deadline, &mut started).await {
            Ok(()) => return,
            Err(error) => {
                metrics::counter!(m::AMQP_RECONNECTS, "task" => spec.name).increment(1);
                tracing::warn!(
                    queue = spec.name,
                    error = format!("{error:#}"),
                    "consumer lost its connection; reconnecting"
                );
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(broker.settings().reconnect_delay()) => {}
                }
            }
        }
    }
}

struct DeliveryContext<H> {
    names: QueueNames,
    publisher: Channel,
    handler: Arc<H>,
}

async fn consume<H: EventHandler>(
    broker: &Broker,
    spec: &QueueSpec,
    handler: &Arc<H>,
    stop: &CancellationToken,
    deadline: Duration,
    started: &mut Option<Started>,
) -> anyhow::Result<()> {
    let connection = broker
        .connect(spec.name)
        .await
        .context("cannot connect to the broker")?;
    let channel = connection.create_channel().await?;
    declare_exchange(&channel, broker)
        .await
        .context("cannot declare the exchange")?;
    let names = declare_queue(&channel, broker, spec)
        .await
        .context("cannot declare the queues")?;
    let prefetch = broker.settings().prefetch;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;

    let tag = format!(
        "{}-{}",
        broker.service_name(),
        uuid::Uuid::new_v4().simple()
    );
    let mut deliveries = channel
        .basic_consume(
            names.main.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %names.main, "consuming");
    if let Some(started) = started.take() {
        started.fire();
    }

    let context = Arc::new(DeliveryContext {
        names,
        publisher,
        handler: Arc::clone(handler),
    });
    let in_flight = Arc::new(Semaphore::new(usize::from(prefetch.max(1))));
    let tasks = TaskTracker::new();

    let outcome = loop {
        tokio::select! {
            () = stop.cancelled() => break Ok(()),
            next = deliveries.next() => match next {
                Some(Ok(delivery)) => {
                    let permit = Arc::clone(&in_flight).acquire_owned().await?;
                    let context = Arc::clone(&context);
                    tasks.spawn(async move {
                        process(&context, delivery).await;
                        drop(permit);
                    });
                }
                Some(Err(error)) => break Err(anyhow::Error::from(error).context("delivery failed")),
                None => break Err(anyhow::anyhow!("the broker cancelled the consumer")),
            },
        }
    };

    // Stop taking work first, then let what is in hand finish.
    if let Err(error) = channel
        .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
        .await
    {
        tracing::debug!(error = %error, "consumer cancel failed; the connection is probably gone");
    }
    tasks.close();
    if tokio::time::timeout(deadline, tasks.wait()).await.is_err() {
        tracing::warn!(queue = %context.names.main, still_running = tasks.len(), "in-flight events did not finish before the deadline; the broker will redeliver them");
    }
    if let Err(error) = connection.close(200, "bye".into()).await {
        tracing::debug!(error = %error, "connection close failed");
    }
    outcome
}

async fn process<H: EventHandler>(context: &DeliveryContext<H>, delivery: Delivery) {
    let queue = context.names.main.as_str();
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
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

    async {
        let started = Instant::now();
        let result = match Envelope::decode(delivery.data.as_slice()) {
            Err(error) => Err(HandleError::Permanent(anyhow::anyhow!("undecodable event: {error}"))),
            Ok(envelope) => std::panic::AssertUnwindSafe(context.handler.handle(envelope))
                .catch_unwind()
                .await
                .unwrap_or_else(|_panic| Err(HandleError::Transient(anyhow::anyhow!("the handler panicked")))),
        };
        metrics::histogram!(m::MESSAGE_PROCESSING_SECONDS, "queue" => queue.to_owned())
            .record(started.elapsed().as_secs_f64());

        let outcome = match result {
            Ok(()) => "processed",
            Err(error) => {
                tracing::Span::current().record("otel.status_code", "ERROR");
                match divert(context, &delivery, &error).await {
                    Ok(outcome) => outcome,
                    Err(divert_error) => {
                        // Could not park it anywhere: give it back to the broker, never drop it.
                        tracing::error!(error = format!("{divert_error:#}"), cause = %error, "cannot move a failed event to its retry or dead-letter queue; requeueing it");
                        if let Err(nack_error) = delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await {
                            tracing::warn!(error = %nack_error, "nack failed; the broker will redeliver when the channel closes");
                        }
                        metrics::counter!(m::MESSAGES_CONSUMED, "queue" => queue.to_owned(), "outcome" => "requeued").increment(1);
                        return;
                    }
                }
            }
        };
        if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
            // The effect is committed; the broker will redeliver and the inbox will skip it.
            tracing::warn!(error = %error, "ack failed after processing");
        }
        metrics::counter!(m::MESSAGES_CONSUMED, "queue" => queue.to_owned(), "outcome" => outcome).increment(1);
    }
    .instrument(span)
    .await;
}

/// Sends a failed delivery to its next retry queue, or to the dead-letter queue when it has
/// no retries left or can never succeed. Returns the outcome label once the copy is confirmed.
async fn divert<H>(
    context: &DeliveryContext<H>,
    delivery: &Delivery,
    error: &HandleError,
) -> anyhow::Result<&'static str> {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    let attempt = attempts_so_far(&headers) + 1;
    let mut headers = headers;
    headers.insert(
        ATTEMPT_HEADER.into(),
        AMQPValue::LongLongInt(i64::from(attempt)),
    );

    let retry = usize::try_from(attempt).ok().and_then(|index| {
        let queue = context.names.retries.get(index.checked_sub(1)?)?;
        Some(queue)
    });
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let (target, outcome) = match retry {
        Some(queue) if !error.is_permanent() => {
            tracing::warn!(attempt, retry_queue = %queue, error = %error, "event failed; will retry");
            (queue.as_str(), "retried")
        }
        _ => {
            headers.insert(
                ERROR_HEADER.into(),
                AMQPValue::LongString(error.to_string().as_str().into()),
            );
            headers.insert(
                SOURCE_QUEUE_HEADER.into(),
                AMQPValue::LongString(context.names.main.as_str().into()),
            );
            tracing::error!(attempt, dead_letter_queue = %context.names.dead_letter, error = %error, "event failed for good; dead-lettered");
            (context.names.dead_letter.as_str(), "dead_lettered")
        }
    };
    let confirm = publish_confirmed(
        &context.publisher,
        OutgoingMessage {
            exchange: "",
            routing_key: target,
            message_id: &message_id,
            payload: &delivery.data,
            headers,
            expiration_ms: None,
        },
    )
    .await?;
    confirm.await?;
    Ok(outcome)
}

fn attempts_so_far(headers: &FieldTable) -> u32 {
    let value = headers.inner().get(ATTEMPT_HEADER);
    let attempts = match value {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        Some(AMQPValue::LongUInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortInt(n)) => i64::from(*n),
        _ => 0,
    };
    u32::try_from(attempts).unwrap_or(0)
}
