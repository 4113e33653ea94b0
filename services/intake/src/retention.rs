//! What intake keeps only for a while: files uploaded and never sent with a message (an
//! operator who gave up a form) and idempotency keys past their window.

use std::time::Duration;

use combipat_platform::files::FileStore;
use combipat_platform::retention::Sweep;
use serde::Deserialize;
use sqlx::PgPool;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// An upload no message used by then is deleted, row and file.
    pub unsent_attachment_hours: u32,
    /// A submission retried with the same key within this window is the same submission;
    /// after it the key is free again and its row is deleted.
    pub idempotency_key_hours: u32,
    pub sweep_interval_ms: u64,
    pub sweep_batch: u32,
}

/// Uploads older than the retention that no message took: the files go first, then the
/// rows, in one transaction that holds the rows, so a message cannot take a file being
/// deleted (it waits, then finds it gone and says so).
pub fn unsent_attachments(pool: PgPool, store: FileStore, settings: &RetentionSettings) -> Sweep {
    let (hours, batch) = (settings.unsent_attachment_hours, settings.sweep_batch);
    Sweep {
        what: "unsent_attachments",
        interval: Duration::from_millis(settings.sweep_interval_ms),
        batch_size: u64::from(batch),
        batch: Box::new(move || {
            let (pool, store) = (pool.clone(), store.clone());
            Box::pin(async move {
                let mut transaction = pool.begin().await?;
                let expired: Vec<(uuid::Uuid, String)> = sqlx::query_as(
                    "SELECT id, object_key FROM attachments
                     WHERE request_id IS NULL AND uploaded_at < now() - make_interval(hours => $1)
                     ORDER BY uploaded_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                )
                .bind(i32::try_from(hours).unwrap_or(i32::MAX))
                .bind(i64::from(batch))
                .fetch_all(&mut *transaction)
                .await?;
                for (_, key) in &expired {
                    store.delete(key).await?;
                }
                let ids: Vec<uuid::Uuid> = expired.iter().map(|(id, _)| *id).collect();
                sqlx::query("DELETE FROM attachments WHERE id = ANY($1)")
                    .bind(&ids)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
            })
        }),
    }
}

/// Idempotency keys older than their window.
pub fn idempotency_keys(pool: PgPool, settings: &RetentionSettings) -> Sweep {
    let (hours, batch) = (settings.idempotency_key_hours, settings.sweep_batch);
    Sweep {
        what: "idempotency_keys",
        interval: Duration::from_millis(settings.sweep_interval_ms),
        batch_size: u64::from(batch),
        batch: Box::new(move || {
            let pool = pool.clone();
            Box::pin(async move {
                Ok(sqlx::query(
                    "DELETE FROM idempotency_keys WHERE ctid IN (
                         SELECT ctid FROM idempotency_keys
                         WHERE created_at < now() - make_interval(hours => $1)
                         LIMIT $2 FOR UPDATE SKIP LOCKED)",
                )
                .bind(i32::try_from(hours).unwrap_or(i32::MAX))
                .bind(i64::from(batch))
                .execute(&pool)
                .await?
                .rows_affected())
            })
        }),
    }
}
