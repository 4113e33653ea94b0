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
    /// A submission retried with the same key within this window is the same submission;
    /// after it the key is free again and its row is deleted.
    pub idempotency_key_hours: u32,
    pub sweep_interval_ms: u64,
    pub sweep_batch: u32,
}

/// Uploads older than `attachments.unused_upload_hours` that no message took
/// (`unused_uploads`).
pub fn unsent_attachments(
    pool: PgPool,
    store: FileStore,
    settings: &combipat_platform::files::FileStoreSettings,
) -> Sweep {
    combipat_platform::unused_uploads::sweep(
        pool,
        store,
        combipat_platform::unused_uploads::Uploads {
            what: "unsent_attachments",
            table: "attachments",
            unused: "request_id IS NULL",
        },
        settings.unused_schedule(),
    )
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
