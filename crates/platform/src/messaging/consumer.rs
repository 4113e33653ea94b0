//! The consuming side: manual acks, bounded concurrency, deliveries taken in batches, retry
//! with backoff, dead letters, and a pause while a dependency is down.
//!
//! A delivery is acknowledged only after its effect is committed, or after a copy of it has
//! been confirmed on a retry or dead-letter queue. A consumer that dies mid-way leaves the
//! delivery unacknowledged and the broker hands it out again; handlers make that harmless
//! with the inbox ([`crate::inbox`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt as _};
use lapin::message::Delivery;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::delivery::{BatchContext, process_batch};
use super::divert::Diverter;
use super::pause::{ConsumerHealth, backoff};
use super::retry::RetrySchedule;
use super::topology::{QueueSpec, declare_exchange, declare_queue};
use super::{BatchHandler, Broker};
use crate::metrics as m;

/// Counts down the consumers a service waits for before it reports ready: each fires once,
/// the first time its queue, bindings and subscription are in place.
#[derive(Debug, Clone, Default)]
pub struct StartGate {
    pending: Arc<AtomicUsize>,
}

impl StartGate {
    /// One more consumer to wait for.
    pub fn expect(&self) -> Started {
        self.pending.fetch_add(1, Ordering::SeqCst);
        Started {
            pending: Arc::clone(&self.pending),
        }
    }

    pub fn all_started(&self) -> bool {
        self.pending.load(Ordering::SeqCst) == 0
    }
}

/// A consumer's "I am attached"; see [`StartGate`].
#[derive(Debug)]
pub struct Started {
    pending: Arc<AtomicUsize>,
}

impl Started {
    fn fire(self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One consumer: its queue, its handler and how it reports.
pub struct Consumer<H> {
    pub broker: Broker,
    pub spec: QueueSpec,
    pub handler: Arc<H>,
    pub health: ConsumerHealth,
    /// How long in-hand deliveries may take to finish once stopping.
    pub deadline: Duration,
    pub started: Option<Started>,
}

impl<H: BatchHandler> Consumer<H> {
    /// Consumes until `stop` is cancelled, reconnecting after failures (with a doubling,
    /// jittered delay). While paused by a dependency outage it does not reconnect to take
    /// more deliveries.
    pub async fn run(mut self, stop: CancellationToken) {
        let settings = self.broker.settings().clone();
        let mut failures = 0;
        loop {
            self.health.wait_until_resumed(&stop).await;
            if stop.is_cancelled() {
                return;
            }
            match self.consume(&stop).await {
                Ok(()) => return,
                Err(error) => {
                    failures += 1;
                    metrics::counter!(m::AMQP_RECONNECTS, "task" => self.spec.name).increment(1);
                    metrics::gauge!(m::BROKER_CONNECTED, "task" => self.spec.name).set(0.0);
                    tracing::warn!(
                        queue = self.spec.name,
                        error = format!("{error:#}"),
                        "consumer lost its connection; reconnecting"
                    );
                    let wait = backoff(
                        settings.reconnect_delay(),
                        settings.reconnect_max_delay(),
                        failures,
                    );
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    async fn consume(&mut self, stop: &CancellationToken) -> anyhow::Result<()> {
        let broker = &self.broker;
        let connection = broker
            .connect(self.spec.name)
            .await
            .context("cannot connect to the broker")?;
        let channel = connection.create_channel().await?;
        // Its own queue family (the relay declares the whole topology before it publishes).
        declare_exchange(&channel, broker).await?;
        let names = declare_queue(&channel, broker, &self.spec).await?;
        let settings = broker.settings();
        let prefetch = settings.prefetch.max(1);
        let batch_size = usize::from(settings.batch_size.clamp(1, prefetch));
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
        tracing::info!(queue = %names.main, batch_size, prefetch, "consuming");
        metrics::gauge!(m::BROKER_CONNECTED, "task" => self.spec.name).set(1.0);
        if let Some(started) = self.started.take() {
            started.fire();
        }

        let context = Arc::new(BatchContext {
            queue: self.spec.name,
            handler: Arc::clone(&self.handler),
            health: self.health.clone(),
            diverter: Diverter {
                broker: broker.clone(),
                spec: self.spec,
                names,
                schedule: RetrySchedule::from_settings(settings),
                publisher,
            },
            stop: stop.clone(),
        });
        let in_flight = Arc::new(Semaphore::new(usize::from(prefetch)));
        let tasks = TaskTracker::new();

        let outcome = loop {
            let first = tokio::select! {
                () = stop.cancelled() => break Ok(()),
                next = deliveries.next() => next,
            };
            let mut batch = match first {
                Some(Ok(delivery)) => vec![delivery],
                Some(Err(error)) => {
                    break Err(anyhow::Error::from(error).context("delivery failed"));
                }
                None => break Err(anyhow::anyhow!("the broker cancelled the consumer")),
            };
            // What else has already arrived joins the batch: a quiet queue is worked event by
            // event, a busy one in batches, and nobody waits for a batch to fill.
            let ended = take_ready(&mut deliveries, &mut batch, batch_size);
            // Paused: hold what is in hand and take nothing more until the dependency answers.
            self.health.wait_until_resumed(stop).await;
            let Ok(permits) = Arc::clone(&in_flight)
                .acquire_many_owned(u32::try_from(batch.len()).unwrap_or(u32::MAX))
                .await
            else {
                break Err(anyhow::anyhow!("the in-flight limit was closed"));
            };
            let context = Arc::clone(&context);
            tasks.spawn(async move {
                process_batch(&context, batch).await;
                drop(permits);
            });
            if let Some(error) = ended {
                break Err(error);
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
        if tokio::time::timeout(self.deadline, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                queue = self.spec.name,
                still_running = tasks.len(),
                "in-flight events did not finish before the deadline; the broker will redeliver them"
            );
        }
        if let Err(error) = connection.close(200, "bye".into()).await {
            tracing::debug!(error = %error, "connection close failed");
        }
        metrics::gauge!(m::BROKER_CONNECTED, "task" => self.spec.name).set(0.0);
        outcome
    }
}

/// Moves deliveries that are already waiting into `batch`, up to `limit`, without waiting.
/// Returns the error that ended the stream, if it ended.
fn take_ready(
    deliveries: &mut lapin::Consumer,
    batch: &mut Vec<Delivery>,
    limit: usize,
) -> Option<anyhow::Error> {
    while batch.len() < limit {
        match deliveries.next().now_or_never() {
            Some(Some(Ok(delivery))) => batch.push(delivery),
            Some(Some(Err(error))) => {
                return Some(anyhow::Error::from(error).context("delivery failed"));
            }
            Some(None) => return Some(anyhow::anyhow!("the broker cancelled the consumer")),
            None => break,
        }
    }
    None
}
