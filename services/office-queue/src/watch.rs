//! `WatchQueue`: one listener per replica on the `combipat_office_queue` notification (sent
//! by a trigger on every history entry, at commit, in commit order), fanned out to every
//! watcher of the office.

use std::time::Duration;

use combipat_proto::officequeue::v1::QueueChange;
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "combipat_office_queue";
/// Changes a slow watcher may fall behind by before it is told to re-read the queue.
const BACKLOG: usize = 4096;

/// One change, with the office it happened in.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub office: Option<String>,
    pub request_id: String,
    pub action: String,
    pub history_id: u64,
}

impl From<Change> for QueueChange {
    fn from(change: Change) -> Self {
        QueueChange {
            request_id: change.request_id,
            action: change.action,
            history_id: change.history_id,
        }
    }
}

#[derive(Clone)]
pub struct Changes {
    sender: broadcast::Sender<Change>,
    /// Cancelled when the service stops listening, which ends every watcher's stream (so a
    /// watcher never holds the graceful shutdown up).
    closed: CancellationToken,
}

impl Changes {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
            closed: CancellationToken::new(),
        }
    }

    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// Listens until `stop`, reconnecting after a lost connection.
    pub async fn listen(self, pool: PgPool, stop: CancellationToken) {
        let _close_on_return = self.closed.clone().drop_guard();
        loop {
            let listening = relay(&pool, &self.sender);
            tokio::select! {
                () = stop.cancelled() => return,
                Err(error) = listening => {
                    tracing::warn!(error = %error, "lost the queue change listener; reconnecting");
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// Forwards notifications until the connection fails.
async fn relay(
    pool: &PgPool,
    sender: &broadcast::Sender<Change>,
) -> Result<std::convert::Infallible, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let notification = listener.recv().await?;
        match serde_json::from_str::<Change>(notification.payload()) {
            // Nobody watching is no error: the change is simply not watched.
            Ok(change) => drop(sender.send(change)),
            Err(error) => tracing::warn!(error = %error, "unreadable queue change notice"),
        }
    }
}
