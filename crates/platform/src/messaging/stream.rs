//! Reading the history stream: a reader (reporting, or a rebuild of it under another name)
//! starts at its stored position, or at the first event kept, and applies events in batches
//! with a transactional handler; the position moves in the same transaction as the effects,
//! so a restart resumes right after the last committed event and nothing is counted twice.
//!
//! A stream keeps events for every reader, so a failed event cannot be parked in a retry queue:
//! it is tried again a few times, then recorded in `platform_stream_skipped` (counted) and the
//! reader goes past it; a rebuild reads it again. A dependency outage pauses the reader.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use combipat_proto::events::v1::Envelope;
use futures::{FutureExt as _, StreamExt as _};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use prost::Message as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::catalogue::HISTORY;
use super::delivery::delivery_span;
use super::pause::{ConsumerHealth, backoff, outage_backoff};
use super::topology::{declare_exchange, declare_stream};
use super::{BatchHandler, BatchOutcome, Broker, HandleError, Incoming, header_u64};
use crate::handler::{Effects, Event, Transactional, TransactionalHandler};
use crate::metrics as m;
use crate::outbox::OutboxWaker;

/// Tries of a failing event before the reader goes past it.
const TRIES: u32 = 5;

/// A reader of the history stream.
pub struct StreamReader<H> {
    pub broker: Broker,
    pub pool: PgPool,
    pub outbox: OutboxWaker,
    /// The position's name: one per reader (a rebuild reads under a name of its own).
    pub reader: &'static str,
    pub handler: Arc<Transactional<Positioned<H>>>,
    pub health: ConsumerHealth,
}

/// The service's handler, with the reader's position stored after each batch: in the batch's
/// own transaction when it commits whole; when it was redone event by event, by the reader
/// once every event of it is applied or recorded as skipped (so a crash in between reads the
/// batch again, and the inbox skips what was applied).
pub struct Positioned<H> {
    reader: &'static str,
    inner: H,
    whole_batch: std::sync::atomic::AtomicUsize,
}

impl<H: TransactionalHandler> TransactionalHandler for Positioned<H> {
    const CONSUMER: &'static str = H::CONSUMER;

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        self.inner.apply(effects, event).await
    }

    async fn after_batch(
        &self,
        effects: &mut Effects<'_>,
        events: &[&Event],
    ) -> Result<(), HandleError> {
        self.inner.after_batch(effects, events).await?;
        if events.len() != self.whole_batch.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let Some(last) = events.iter().filter_map(|event| event.stream_offset).max() else {
            return Ok(());
        };
        store_position(effects.db(), self.reader, last + 1).await?;
        if let Some(newest) = events.iter().map(|event| event.occurred_at).max() {
            let lag = (chrono::Utc::now() - newest).num_milliseconds().max(0);
            #[allow(clippy::cast_precision_loss, reason = "milliseconds shown in seconds")]
            metrics::gauge!(m::STREAM_LAG, "reader" => self.reader).set(lag as f64 / 1000.0);
        }
        Ok(())
    }
}

async fn store_position(
    connection: &mut sqlx::PgConnection,
    reader: &str,
    next: u64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO platform_stream_positions (reader, next_offset) VALUES ($1, $2)
         ON CONFLICT (reader) DO UPDATE
             SET next_offset = GREATEST(platform_stream_positions.next_offset, EXCLUDED.next_offset),
                 updated_at = now()",
    )
    .bind(reader)
    .bind(i64::try_from(next).unwrap_or(i64::MAX))
    .execute(connection)
    .await
    .map(|_| ())
}

impl<H: TransactionalHandler> StreamReader<H> {
    pub fn new(
        broker: Broker,
        pool: PgPool,
        outbox: OutboxWaker,
        reader: &'static str,
        handler: H,
    ) -> Self {
        crate::metrics::zero::stream_reader(reader);
        Self {
            handler: Arc::new(Transactional::new(
                pool.clone(),
                outbox.clone(),
                Positioned {
                    reader,
                    inner: handler,
                    whole_batch: std::sync::atomic::AtomicUsize::new(0),
                },
            )),
            health: ConsumerHealth::new(reader),
            broker,
            pool,
            outbox,
            reader,
        }
    }

    /// The next offset this reader will read (0 before it read anything).
    pub async fn position(pool: &PgPool, reader: &str) -> sqlx::Result<Option<u64>> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT next_offset FROM platform_stream_positions WHERE reader = $1",
        )
        .bind(reader)
        .fetch_optional(pool)
        .await?;
        Ok(next.and_then(|next| u64::try_from(next).ok()))
    }

    /// Reads until `stop`, reconnecting (and starting again from the stored position) after
    /// failures.
    pub async fn run(self, stop: CancellationToken) {
        let settings = self.broker.settings().clone();
        let mut failures = 0;
        while !stop.is_cancelled() {
            match self.read(&stop).await {
                Ok(()) => return,
                Err(error) => {
                    failures += 1;
                    metrics::counter!(m::AMQP_RECONNECTS, "task" => self.reader).increment(1);
                    tracing::warn!(
                        reader = self.reader,
                        error = format!("{error:#}"),
                        "stream reader failed; starting again from its position"
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

    async fn read(&self, stop: &CancellationToken) -> anyhow::Result<()> {
        let connection = self.broker.connect(self.reader).await?;
        let channel = connection.create_channel().await?;
        declare_exchange(&channel, &self.broker).await?;
        declare_stream(&channel, &self.broker, &HISTORY).await?;
        let settings = self.broker.settings();
        let prefetch = settings.prefetch.max(1);
        let batch_size = usize::from(settings.batch_size.clamp(1, prefetch));
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let start = Self::position(&self.pool, self.reader).await?;
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-stream-offset".into(),
            match start {
                Some(next) => AMQPValue::LongLongInt(i64::try_from(next).unwrap_or(i64::MAX)),
                None => AMQPValue::LongString("first".into()),
            },
        );
        let stream = self.broker.queue_name(HISTORY.name);
        let mut deliveries = channel
            .basic_consume(
                stream.as_str().into(),
                format!("{}-{}", self.reader, uuid::Uuid::new_v4().simple())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                arguments,
            )
            .await
            .with_context(|| format!("cannot read {stream}"))?;
        tracing::info!(reader = self.reader, from = ?start, "reading the history stream");
        loop {
            let first = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                next = deliveries.next() => next,
            };
            let mut batch = vec![first.context("the broker cancelled the reader")??];
            while batch.len() < batch_size {
                match deliveries.next().now_or_never() {
                    Some(Some(delivery)) => batch.push(delivery?),
                    Some(None) => anyhow::bail!("the broker cancelled the reader"),
                    None => break,
                }
            }
            self.apply(&batch, stop).await?;
            if let Some(last) = batch.last() {
                last.acker.ack(BasicAckOptions { multiple: true }).await?;
            }
        }
    }

    /// Applies a batch (the position moves with it), pausing through outages and going past
    /// events that fail for good.
    async fn apply(
        &self,
        batch: &[lapin::message::Delivery],
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut incoming = Vec::with_capacity(batch.len());
        for delivery in batch {
            let offset = delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|headers| header_u64(headers, "x-stream-offset"))
                .context("a stream delivery without its offset")?;
            match Envelope::decode(delivery.data.as_slice()) {
                Ok(envelope) => incoming.push(Incoming {
                    envelope,
                    span: delivery_span(self.reader, delivery),
                    stream_offset: Some(offset),
                }),
                Err(error) => {
                    self.skip(offset, None, &format!("undecodable event: {error}"))
                        .await?
                }
            }
        }
        let Some(last) = incoming
            .iter()
            .filter_map(|event| event.stream_offset)
            .max()
        else {
            return Ok(());
        };
        let mut tries = 0;
        let mut outage = 0;
        loop {
            self.handler
                .handler()
                .whole_batch
                .store(incoming.len(), std::sync::atomic::Ordering::SeqCst);
            match self.handler.handle_batch(&incoming).await {
                BatchOutcome::Unavailable { dependency, error } => {
                    self.health.pause(dependency, &error);
                    outage += 1;
                    tokio::select! {
                        () = stop.cancelled() => anyhow::bail!("stopped while paused"),
                        () = tokio::time::sleep(outage_backoff(outage)) => {}
                    }
                }
                BatchOutcome::Each(results) => {
                    self.health.resume();
                    let failed: Vec<(usize, HandleError)> = results
                        .into_iter()
                        .enumerate()
                        .filter_map(|(index, result)| result.err().map(|error| (index, error)))
                        .collect();
                    for _ in 0..incoming.len() - failed.len() {
                        metrics::counter!(m::STREAM_EVENTS, "reader" => self.reader, "outcome" => "applied").increment(1);
                    }
                    if failed.is_empty() {
                        // Redone event by event: the position is the reader's to move.
                        let mut connection = self.pool.acquire().await?;
                        store_position(&mut connection, self.reader, last + 1).await?;
                        return Ok(());
                    }
                    tries += 1;
                    let exhausted =
                        tries >= TRIES || failed.iter().all(|(_, error)| error.is_permanent());
                    if exhausted {
                        for (index, error) in &failed {
                            let event = &incoming[*index];
                            self.skip(
                                event.stream_offset.unwrap_or_default(),
                                Some(&event.envelope.event_id),
                                &error.to_string(),
                            )
                            .await?;
                        }
                        let mut connection = self.pool.acquire().await?;
                        store_position(&mut connection, self.reader, last + 1).await?;
                        return Ok(());
                    }
                    // Only the failed ones again (the others committed; the inbox would skip
                    // them anyway).
                    incoming = failed
                        .into_iter()
                        .map(|(index, _)| {
                            let event = &incoming[index];
                            Incoming {
                                envelope: event.envelope.clone(),
                                span: event.span.clone(),
                                stream_offset: event.stream_offset,
                            }
                        })
                        .collect();
                    tokio::time::sleep(backoff(
                        Duration::from_millis(200),
                        Duration::from_secs(10),
                        tries,
                    ))
                    .await;
                }
            }
        }
    }

    /// Records an event the reader goes past, and moves the position beyond it.
    async fn skip(&self, offset: u64, event_id: Option<&str>, error: &str) -> anyhow::Result<()> {
        tracing::error!(reader = self.reader, stream.offset = offset, event.id = ?event_id, error, "a history event cannot be applied; recorded and skipped");
        metrics::counter!(m::STREAM_EVENTS, "reader" => self.reader, "outcome" => "skipped")
            .increment(1);
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO platform_stream_skipped (reader, stream_offset, event_id, error)
             VALUES ($1, $2, $3::uuid, $4) ON CONFLICT DO NOTHING",
        )
        .bind(self.reader)
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .bind(event_id.filter(|id| uuid::Uuid::parse_str(id).is_ok()))
        .bind(error)
        .execute(&mut *transaction)
        .await?;
        store_position(&mut transaction, self.reader, offset + 1).await?;
        transaction.commit().await?;
        Ok(())
    }
}
