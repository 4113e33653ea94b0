//! Exactly one effect per event: a consumer records the event ids in the same transaction as
//! the effects; a redelivery finds them there and does nothing. Rows are kept for
//! `inbox.retention_hours` (longer than any redelivery: the retry schedule, a dead letter's
//! replay), then deleted in small batches.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::metrics as m;
use crate::retention::Sweep;
use crate::settings::InboxSettings;

/// Records `event_ids` for `consumer` and returns the ones recorded now: the caller applies
/// those and skips the rest (already applied by an earlier delivery).
pub async fn first_deliveries(
    connection: &mut PgConnection,
    consumer: &'static str,
    event_ids: &[Uuid],
) -> sqlx::Result<HashSet<Uuid>> {
    let distinct: HashSet<Uuid> = event_ids.iter().copied().collect();
    let ids: Vec<Uuid> = distinct.iter().copied().collect();
    let fresh: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO platform_inbox (consumer, event_id)
         SELECT $1, id FROM unnest($2::uuid[]) AS given(id)
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(consumer)
    .bind(&ids)
    .fetch_all(connection)
    .await?;
    let duplicates = event_ids.len() - fresh.len();
    if duplicates > 0 {
        metrics::counter!(m::INBOX_DUPLICATES, "consumer" => consumer)
            .increment(u64::try_from(duplicates).unwrap_or(u64::MAX));
        tracing::info!(
            consumer,
            duplicates,
            "events already processed; skipping them"
        );
    }
    Ok(fresh.into_iter().collect())
}

/// The inbox's sweep: rows older than the retention, `cleanup_batch` at a time, every
/// `cleanup_interval_ms`.
pub fn sweep(pool: PgPool, settings: InboxSettings) -> Sweep {
    let batch_size = u64::try_from(settings.cleanup_batch.max(1)).unwrap_or(u64::MAX);
    Sweep {
        what: "inbox",
        interval: Duration::from_millis(settings.cleanup_interval_ms),
        batch_size,
        batch: Box::new(move || {
            let (pool, settings) = (pool.clone(), settings.clone());
            Box::pin(async move { Ok(delete_expired_batch(&pool, &settings).await?) })
        }),
    }
}

/// One batch of the inbox's expired rows. Returns how many it deleted.
pub async fn delete_expired_batch(pool: &PgPool, settings: &InboxSettings) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM platform_inbox WHERE ctid IN (
             SELECT ctid FROM platform_inbox
             WHERE processed_at < now() - make_interval(hours => $1)
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(i32::try_from(settings.retention_hours).unwrap_or(i32::MAX))
    .bind(settings.cleanup_batch.max(1))
    .execute(pool)
    .await?
    .rows_affected())
}
