//! Rows that must not be kept for ever (processed event ids, uploads never sent, expired
//! idempotency keys): each kind is swept on an interval, a batch per statement so that a
//! sweep never holds long locks, by every replica at once (the batches skip rows another
//! replica has locked). What each sweep deleted is counted in
//! `combipat_rows_expired_total{what}`.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;

/// Deletes one batch of expired rows and says how many it deleted.
pub type Batch = Box<dyn Fn() -> BoxFuture<'static, anyhow::Result<u64>> + Send + Sync>;

/// One kind of expiring row.
pub struct Sweep {
    /// The metric label: `inbox`, `unsent_attachments`, ...
    pub what: &'static str,
    pub interval: Duration,
    /// Rows a batch deletes at most: a batch that deletes fewer ends the pass.
    pub batch_size: u64,
    pub batch: Batch,
}

impl Sweep {
    /// One pass: batches until one comes back short. Returns the rows deleted.
    pub async fn pass(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        loop {
            let deleted = (self.batch)().await?;
            metrics::counter!(m::ROWS_EXPIRED, "what" => self.what).increment(deleted);
            total += deleted;
            if deleted < self.batch_size.max(1) {
                return Ok(total);
            }
        }
    }

    /// A pass every `interval` until `stop`; a failed pass is logged and tried again at the
    /// next interval (the rows wait, nothing is lost by waiting).
    pub async fn run(self, stop: CancellationToken) {
        metrics::counter!(m::ROWS_EXPIRED, "what" => self.what).increment(0);
        let interval = self.interval.max(Duration::from_secs(1));
        loop {
            match self.pass().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(what = self.what, deleted, "expired rows deleted"),
                Err(error) => tracing::warn!(
                    what = self.what,
                    error = format!("{error:#}"),
                    "sweep failed; trying again at the next interval"
                ),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
