//! Uploads that nothing used: a file uploaded for a message the sender then gave up is
//! deleted (row and file) once it has waited `hours`, by the same sweep in every service that
//! takes files (intake's requests and replies, office-queue's answers, notifier's avvisi).

use std::time::Duration;

use sqlx::PgPool;

use crate::files::FileStore;
use crate::retention::Sweep;

/// Where a service keeps its uploads, and which of them nothing used.
#[derive(Debug, Clone, Copy)]
pub struct Uploads {
    /// The metric label (`combipat_rows_expired_total{what}`).
    pub what: &'static str,
    /// The table, with `id`, `object_key` and `uploaded_at` columns.
    pub table: &'static str,
    /// An SQL condition on the table's row that holds while nothing uses the upload.
    pub unused: &'static str,
}

/// How long an unused upload waits, and how the sweep goes.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub hours: u32,
    pub interval: Duration,
    pub batch: u32,
}

/// The sweep: the files go first, then the rows, in one transaction that holds the rows, so
/// a message cannot take a file being deleted (it waits, then finds it gone and says so).
/// The table and condition are the caller's constants, never input: the SQL is built once
/// from them.
pub fn sweep(pool: PgPool, store: FileStore, uploads: Uploads, schedule: Schedule) -> Sweep {
    let select = format!(
        "SELECT id, object_key FROM {table}
         WHERE ({unused}) AND uploaded_at < now() - make_interval(hours => $1)
         ORDER BY uploaded_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        table = uploads.table,
        unused = uploads.unused,
    );
    let delete = format!("DELETE FROM {} WHERE id = ANY($1)", uploads.table);
    Sweep {
        what: uploads.what,
        interval: schedule.interval,
        batch_size: u64::from(schedule.batch),
        batch: Box::new(move || {
            let (pool, store) = (pool.clone(), store.clone());
            let (select, delete) = (select.clone(), delete.clone());
            Box::pin(async move {
                let mut transaction = pool.begin().await?;
                let expired: Vec<(uuid::Uuid, String)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(select))
                        .bind(i32::try_from(schedule.hours).unwrap_or(i32::MAX))
                        .bind(i64::from(schedule.batch))
                        .fetch_all(&mut *transaction)
                        .await?;
                for (_, key) in &expired {
                    store.delete(key).await?;
                }
                let ids: Vec<uuid::Uuid> = expired.iter().map(|(id, _)| *id).collect();
                sqlx::query(sqlx::AssertSqlSafe(delete))
                    .bind(&ids)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
            })
        }),
    }
}
