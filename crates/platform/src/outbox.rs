//! The transactional outbox: an event is committed with the change it announces, then
//! relayed to the broker with a publisher confirm, then deleted. A crash between publish and
//! delete publishes the event again, which the consumers' inbox absorbs: at least once on
//! the wire, exactly one effect.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use combipat_proto::events::v1::Envelope;
use lapin::Channel;
use lapin::options::ConfirmSelectOptions;
use lapin::types::FieldTable;
use prost::Message as _;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::messaging::{
    Broker, OutgoingMessage, PublishError, declare_exchange, publish_confirmed,
};
use crate::metrics as m;
use crate::propagation::{Carrier, carrier_into_amqp, current_carrier, set_parent_from_carrier};
use crate::settings::OutboxSettings;

/// Writes `envelope` to the outbox inside the caller's transaction. The routing key is the
/// event type. The current trace context is kept with it so the trace goes on after relay.
pub async fn enqueue(connection: &mut PgConnection, envelope: &Envelope) -> anyhow::Result<()> {
    let event_id = Uuid::parse_str(&envelope.event_id).context("event id is not a UUID")?;
    sqlx::query(
        "INSERT INTO platform_outbox (event_id, routing_key, payload, trace_context) VALUES ($1, $2, $3, $4)",
    )
    .bind(event_id)
    .bind(&envelope.event_type)
    .bind(envelope.encode_to_vec())
    .bind(Json(current_carrier()))
    .execute(connection)
    .await
    .context("cannot write the event to the outbox")?;
    Ok(())
}

/// Wakes the relay right after a commit, so events leave without waiting for the next poll.
#[derive(Debug, Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Publishes outbox rows until `stop` is cancelled, then keeps going until the outbox is
/// empty (the caller bounds that with its shutdown deadline). Reconnects after failures.
pub async fn run_relay(
    pool: PgPool,
    broker: Broker,
    settings: OutboxSettings,
    waker: OutboxWaker,
    stop: CancellationToken,
) {
    loop {
        match relay_session(&pool, &broker, &settings, &waker, &stop).await {
            Ok(()) => return,
            Err(error) => {
                metrics::counter!(m::AMQP_RECONNECTS, "task" => "outbox").increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "outbox relay failed; retrying"
                );
                // During shutdown keep trying (the caller's deadline ends it): the rows
                // stay in the outbox either way and the next start relays them.
                tokio::time::sleep(broker.settings().reconnect_delay()).await;
            }
        }
    }
}

async fn relay_session(
    pool: &PgPool,
    broker: &Broker,
    settings: &OutboxSettings,
    waker: &OutboxWaker,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let connection = broker
        .connect("outbox")
        .await
        .context("cannot connect to the broker")?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    declare_exchange(&channel, broker).await?;
    let poll = Duration::from_millis(settings.poll_interval_ms);
    // Counting the outbox scans it, so the gauge is refreshed at most once a second rather
    // than on every batch of a backlog.
    let mut counted_at: Option<tokio::time::Instant> = None;

    loop {
        if counted_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM platform_outbox")
                .fetch_one(pool)
                .await?;
            metrics::gauge!(m::OUTBOX_PENDING).set(pending as f64);
            counted_at = Some(tokio::time::Instant::now());
        }
        let relayed = relay_batch(pool, &channel, broker, settings.batch_size).await?;
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
/// delays the refused ones. Rows locked by another replica are skipped. Returns how many rows
/// were taken.
async fn relay_batch(
    pool: &PgPool,
    channel: &Channel,
    broker: &Broker,
    limit: i64,
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

    let mut pending = Vec::with_capacity(rows.len());
    for row in &rows {
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
        pending.push((confirm, row, span));
    }
    let mut confirmed = Vec::with_capacity(rows.len());
    for (confirm, row, span) in pending {
        match confirm.instrument(span).await {
            Ok(()) => {
                metrics::counter!(m::MESSAGES_PUBLISHED, "routing_key" => row.routing_key.clone(), "outcome" => "confirmed").increment(1);
                confirmed.push(row.id);
            }
            // The channel itself failed: give up this batch; its rows stay for the next session.
            Err(PublishError::Amqp(error)) => return Err(error.into()),
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

    sqlx::query("DELETE FROM platform_outbox WHERE id = ANY($1)")
        .bind(&confirmed)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(i64::try_from(rows.len()).unwrap_or(i64::MAX))
}
