//! The transactional outbox: an event is committed with the change it announces, then
//! relayed to the broker with a publisher confirm, then deleted. A crash between the confirm
//! and the delete publishes the event again, which the consumers' inbox absorbs: at least
//! once on the wire, exactly one effect.
//!
//! The relay declares the whole topology before it publishes (so no event can reach the
//! exchange before the queues that must take it exist), bounds every publish and confirm by
//! `outbox.publish_timeout_ms`, and reconnects with a doubling, jittered delay. The pending
//! count and the oldest event's age are read from the database on their own schedule, so
//! they keep moving while the broker is away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use combipat_proto::events::v1::Envelope;
use lapin::Channel;
use lapin::types::FieldTable;
use prost::Message as _;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::messaging::{
    Broker, OutgoingMessage, PublishError, backoff, declare_all, publish_confirmed,
};
use crate::metrics as m;
use crate::propagation::{Carrier, carrier_into_amqp, current_carrier, set_parent_from_carrier};
use crate::settings::OutboxSettings;

/// An event waiting to be written to the outbox, with the trace it continues.
#[derive(Debug, Clone)]
pub struct Pending {
    pub envelope: Envelope,
    pub trace_context: Carrier,
}

/// Writes `envelope` to the outbox inside the caller's transaction. The routing key is the
/// event type. The current trace context is kept with it so the trace goes on after relay.
pub async fn enqueue(connection: &mut PgConnection, envelope: &Envelope) -> anyhow::Result<()> {
    enqueue_many(
        connection,
        &[Pending {
            envelope: envelope.clone(),
            trace_context: current_carrier(),
        }],
    )
    .await
}

/// Writes several events in one statement (a batch's).
pub async fn enqueue_many(connection: &mut PgConnection, events: &[Pending]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(events.len());
    let mut keys = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    let mut contexts = Vec::with_capacity(events.len());
    for event in events {
        ids.push(Uuid::parse_str(&event.envelope.event_id).context("event id is not a UUID")?);
        keys.push(event.envelope.event_type.clone());
        payloads.push(event.envelope.encode_to_vec());
        contexts.push(serde_json::to_value(&event.trace_context)?);
    }
    sqlx::query(
        "INSERT INTO platform_outbox (event_id, routing_key, payload, trace_context)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::jsonb[])",
    )
    .bind(&ids)
    .bind(&keys)
    .bind(&payloads)
    .bind(&contexts)
    .execute(connection)
    .await
    .context("cannot write the events to the outbox")?;
    Ok(())
}

/// Wakes the relay right after a commit, so events leave without waiting for the next poll.
#[derive(Debug, Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Commits a transaction that wrote events, then wakes the relay: the one way API
    /// handlers finish such a transaction.
    pub async fn commit(&self, transaction: Transaction<'_, Postgres>) -> sqlx::Result<()> {
        transaction.commit().await?;
        self.wake();
        Ok(())
    }
}

/// Whether the relay holds a broker connection now (for readiness and metrics).
#[derive(Debug, Clone, Default)]
pub struct RelayHealth {
    connected: Arc<AtomicBool>,
    disconnected_since: Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
}

impl RelayHealth {
    fn set(&self, connected: bool) {
        self.connected.store(connected, Ordering::SeqCst);
        metrics::gauge!(m::BROKER_CONNECTED, "task" => "outbox").set(if connected {
            1.0
        } else {
            0.0
        });
        if let Ok(mut since) = self.disconnected_since.lock() {
            match (connected, since.is_some()) {
                (true, _) => *since = None,
                (false, false) => *since = Some(chrono::Utc::now()),
                (false, true) => {}
            }
        }
    }

    /// A line for readiness when the relay cannot reach the broker.
    pub fn problem(&self) -> Option<String> {
        let since = self.disconnected_since.lock().ok()?.as_ref().copied()?;
        Some(format!(
            "the outbox relay has not reached the broker since {} (events wait in the outbox)",
            since.to_rfc3339()
        ))
    }
}

/// Publishes outbox rows until `stop` is cancelled, then keeps going until the outbox is
/// empty (the caller bounds that with its shutdown deadline). Reconnects after failures.
pub async fn run_relay(
    pool: PgPool,
    broker: Broker,
    settings: OutboxSettings,
    waker: OutboxWaker,
    health: RelayHealth,
    stop: CancellationToken,
) {
    crate::metrics::zero::relay(crate::messaging::catalogue::published_by(
        broker.service_name(),
    ));
    let mut failures = 0;
    loop {
        match relay_session(&pool, &broker, &settings, &waker, &health, &stop).await {
            Ok(()) => return,
            Err(error) => {
                health.set(false);
                failures += 1;
                metrics::counter!(m::AMQP_RECONNECTS, "task" => "outbox").increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "outbox relay failed; retrying"
                );
                // During shutdown keep trying (the caller's deadline ends it): the rows
                // stay in the outbox either way and the next start relays them.
                let amqp = broker.settings();
                tokio::time::sleep(backoff(
                    amqp.reconnect_delay(),
                    amqp.reconnect_max_delay(),
                    failures,
                ))
                .await;
            }
        }
    }
}

async fn relay_session(
    pool: &PgPool,
    broker: &Broker,
    settings: &OutboxSettings,
    waker: &OutboxWaker,
    health: &RelayHealth,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let timeout = Duration::from_millis(settings.publish_timeout_ms.max(1));
    let (_connection, channel) = tokio::time::timeout(timeout, async {
        let (connection, channel) = broker.confirmed_channel("outbox").await?;
        declare_all(&channel, broker).await?;
        anyhow::Ok((connection, channel))
    })
    .await
    .context("the broker did not answer in time")??;
    health.set(true);
    let poll = Duration::from_millis(settings.poll_interval_ms);

    loop {
        let relayed = relay_batch(pool, &channel, broker, settings.batch_size, timeout).await?;
        if relayed > 0 && relayed == settings.batch_size {
            continue;
        }
        if stop.is_cancelled() {
            if relayed == 0 {
                return Ok(());
            }
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = waker.0.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    event_id: Uuid,
    routing_key: String,
    payload: Vec<u8>,
    trace_context: Json<Carrier>,
}

/// Publishes up to `limit` due rows, pipelining their confirms; deletes the confirmed ones and
/// delays the refused ones. Rows locked by another replica are skipped. The publishes and
/// confirms must finish within `timeout`: the rows are locked meanwhile. Returns how many
/// rows were taken.
async fn relay_batch(
    pool: &PgPool,
    channel: &Channel,
    broker: &Broker,
    limit: i64,
    timeout: Duration,
) -> anyhow::Result<i64> {
    let mut transaction = pool.begin().await?;
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT id, event_id, routing_key, payload, trace_context FROM platform_outbox
         WHERE next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *transaction)
    .await?;
    if rows.is_empty() {
        transaction.rollback().await?;
        return Ok(0);
    }

    let outcomes = tokio::time::timeout(timeout, publish_rows(channel, broker, &rows))
        .await
        .context("the broker did not confirm in time")??;
    let mut confirmed = Vec::with_capacity(rows.len());
    for (row, outcome) in rows.iter().zip(outcomes) {
        match outcome {
            Ok(()) => {
                metrics::counter!(m::MESSAGES_PUBLISHED, "routing_key" => row.routing_key.clone(), "outcome" => "confirmed").increment(1);
                confirmed.push(row.id);
            }
            // The broker refused this one event: it waits with a backoff, the rest go on.
            Err(refused) => {
                metrics::counter!(m::MESSAGES_PUBLISHED, "routing_key" => row.routing_key.clone(), "outcome" => "refused").increment(1);
                tracing::warn!(event.id = %row.event_id, routing_key = %row.routing_key, error = %refused, "the broker refused an outbox event; it will be retried");
                sqlx::query(
                    "UPDATE platform_outbox SET attempts = attempts + 1, last_error = $2,
                            next_attempt_at = now() + least(power(2, least(attempts, 9)), 300) * interval '1 second'
                     WHERE id = $1",
                )
                .bind(row.id)
                .bind(refused.to_string())
                .execute(&mut *transaction)
                .await?;
            }
        }
    }
    // A test's way to kill the relay between the confirms and the delete (see failpoint).
    crate::failpoint::hit("outbox.after_confirm");

    sqlx::query("DELETE FROM platform_outbox WHERE id = ANY($1)")
        .bind(&confirmed)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    // Every event refused: seen when a channel was opened while a quorum queue was electing a
    // leader (RabbitMQ 3.10 keeps nacking on that channel). A new session gets a new channel.
    anyhow::ensure!(
        !confirmed.is_empty(),
        "the broker refused every event of a batch; starting a new session"
    );
    Ok(i64::try_from(rows.len()).unwrap_or(i64::MAX))
}

/// Publishes every row, then waits for their confirms together. A channel failure fails the
/// whole batch (its rows stay for the next session); a refusal fails only its row.
async fn publish_rows(
    channel: &Channel,
    broker: &Broker,
    rows: &[OutboxRow],
) -> anyhow::Result<Vec<Result<(), PublishError>>> {
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        let span = tracing::info_span!(
            "publish",
            otel.name = format!("publish {}", broker.exchange()),
            otel.kind = "producer",
            messaging.system = "rabbitmq",
            messaging.operation.type = "send",
            messaging.destination.name = broker.exchange(),
            messaging.rabbitmq.destination.routing_key = %row.routing_key,
            messaging.message.id = %row.event_id,
            messaging.message.body.size = row.payload.len(),
        );
        set_parent_from_carrier(&span, &row.trace_context);
        let message_id = row.event_id.to_string();
        let confirm = async {
            let mut headers = FieldTable::default();
            carrier_into_amqp(&current_carrier(), &mut headers);
            publish_confirmed(
                channel,
                OutgoingMessage {
                    exchange: broker.exchange(),
                    routing_key: &row.routing_key,
                    message_id: &message_id,
                    payload: &row.payload,
                    headers,
                    expiration_ms: None,
                },
            )
            .await
        }
        .instrument(span.clone())
        .await?;
        pending.push((confirm, span));
    }
    let mut outcomes = Vec::with_capacity(pending.len());
    for (confirm, span) in pending {
        match confirm.instrument(span).await {
            // The channel itself failed: give up this batch.
            Err(PublishError::Amqp(error)) => return Err(error.into()),
            outcome => outcomes.push(outcome),
        }
    }
    Ok(outcomes)
}

/// Reads the pending count and the oldest event's age every `outbox.gauge_interval_ms`, from
/// the database, until `stop`: the figures move during a broker outage too.
pub async fn run_gauges(pool: PgPool, settings: OutboxSettings, stop: CancellationToken) {
    let interval = Duration::from_millis(settings.gauge_interval_ms.max(100));
    loop {
        let read: sqlx::Result<(i64, f64)> = sqlx::query_as(
            "SELECT count(*),
                    coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
             FROM platform_outbox",
        )
        .fetch_one(&pool)
        .await;
        match read {
            #[allow(clippy::cast_precision_loss, reason = "a row count, shown as a gauge")]
            Ok((pending, oldest_seconds)) => {
                metrics::gauge!(m::OUTBOX_PENDING).set(pending as f64);
                metrics::gauge!(m::OUTBOX_OLDEST_AGE).set(oldest_seconds.max(0.0));
            }
            Err(error) => tracing::debug!(error = %error, "cannot count the outbox"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
