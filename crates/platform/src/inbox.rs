//! Exactly one effect per event: a consumer records the event id in the same transaction as
//! the effect; a redelivery finds it there and does nothing.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::metrics as m;

/// Records `event_id` for `consumer`. Returns `false` when it was already recorded, in which
/// case the caller must skip the effect (and may commit or roll back: nothing changed).
pub async fn first_delivery(
    connection: &mut PgConnection,
    consumer: &'static str,
    event_id: Uuid,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO platform_inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(connection)
    .await?
    .rows_affected();
    if inserted == 0 {
        metrics::counter!(m::INBOX_DUPLICATES, "consumer" => consumer).increment(1);
        tracing::info!(consumer, %event_id, "event already processed; skipping");
    }
    Ok(inserted == 1)
}
