//! The stored rank that lets `ListItems` walk an index in priority order
//! (`migrations/20261210000000_stored_rank.sql`): each item keeps its score as of
//! `ranked_as_of`, with the reading times it holds for (`rank_from` to `rank_until`), all
//! generated from its own columns. Time alone makes it stale, when the clock crosses the
//! item's `sla_warn_at` or `sla_due_at`; every `RERANK_INTERVAL` the service moves
//! `ranked_as_of` to the platform clock's now for the items it crossed.
//!
//! Pages stay exact without it (`list.rs` computes the score of every item whose stored one
//! does not hold at the page's instant); the move only keeps those items few. Each replica
//! moves the same items; `SKIP LOCKED` leaves the rows another replica or an official's
//! transaction holds to whoever holds them, or to the next pass.

use std::time::Duration;

use chrono::{DateTime, Utc};
use combipat_platform::clock::Clock;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

const RERANK_INTERVAL: Duration = Duration::from_secs(30);
/// Items moved per statement, so that no pass holds many rows at once.
const BATCH: i64 = 1_000;

pub async fn run(pool: PgPool, clock: Clock, stop: CancellationToken) {
    loop {
        if let Err(error) = rerank(&pool, clock.now()).await {
            tracing::warn!(error = %error, "cannot move the stored rank of the items");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RERANK_INTERVAL) => {}
        }
    }
}

/// Ranks as of `now` every item whose stored score stopped holding by `now` (its band
/// crossed), and returns how many it moved. Items whose stored score only starts to hold
/// after `now` (moved by a replica whose clock is ahead) are left alone: time brings them in.
pub async fn rerank(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let mut moved = 0;
    loop {
        let done = sqlx::query(
            "UPDATE items SET ranked_as_of = $1
             WHERE request_id IN (
                 SELECT request_id FROM items
                 WHERE rank_until <= $1 AND rank_until < 'infinity'::timestamptz
                 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        moved += done;
        if done < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            return Ok(moved);
        }
    }
}
