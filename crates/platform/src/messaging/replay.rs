//! Moving dead-lettered events back to their queue once the cause is fixed.

use anyhow::Context as _;
use lapin::options::{BasicAckOptions, BasicGetOptions};

use super::{
    ATTEMPT_HEADER, Broker, ERROR_HEADER, FIRST_FAILURE_HEADER, OutgoingMessage,
    SOURCE_QUEUE_HEADER, header_text, message_id, publish_confirmed,
};

const RESET_HEADERS: &[&str] = &[
    ATTEMPT_HEADER,
    FIRST_FAILURE_HEADER,
    ERROR_HEADER,
    SOURCE_QUEUE_HEADER,
    "x-death",
];

/// Moves up to `limit` messages from `<queue>.dlq` back to `<queue>` (names without the
/// prefix), each with its attempts reset. Each one is acknowledged in the dead-letter queue
/// only after the broker confirmed its copy, so a crash mid-way duplicates at worst (and the
/// consumers' inbox absorbs duplicates). Returns how many were moved.
pub async fn replay_dead_letters(broker: &Broker, queue: &str, limit: u64) -> anyhow::Result<u64> {
    let main = broker.queue_name(queue);
    let dead_letter = format!("{main}.dlq");
    let (connection, channel) = broker.confirmed_channel("replay").await?;
    let retry_exchange = broker.retry_exchange();
    let mut moved = 0;
    while moved < limit {
        let Some(message) = channel
            .basic_get(
                dead_letter.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .with_context(|| format!("cannot read {dead_letter}"))?
        else {
            break;
        };
        let delivery = message.delivery;
        let original = delivery.properties.headers().clone().unwrap_or_default();
        let error = header_text(&original, ERROR_HEADER).unwrap_or_default();
        // A fresh start: no attempts, no cause, no broker death records.
        let mut headers = lapin::types::FieldTable::default();
        for (key, value) in original.inner() {
            if !(RESET_HEADERS.contains(&key.as_str())
                || key.as_str().starts_with("x-first-death")
                || key.as_str().starts_with("x-last-death"))
            {
                headers.insert(key.clone(), value.clone());
            }
        }
        let message_id = message_id(&delivery);
        publish_confirmed(
            &channel,
            OutgoingMessage {
                exchange: &retry_exchange,
                routing_key: &main,
                message_id: &message_id,
                payload: &delivery.data,
                headers,
                expiration_ms: None,
            },
        )
        .await?
        .await
        .with_context(|| format!("cannot move message {message_id} back to {main}"))?;
        delivery.acker.ack(BasicAckOptions::default()).await?;
        tracing::info!(queue = %main, message.id = %message_id, previous_error = %error, "dead letter replayed");
        moved += 1;
    }
    if let Err(error) = connection.close(200, "replayed".into()).await {
        tracing::debug!(error = %error, "connection close failed");
    }
    Ok(moved)
}
