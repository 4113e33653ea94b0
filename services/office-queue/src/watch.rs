//! `WatchQueue`: one listener per replica on the `combipat_office_queue` notification (sent
//! by a trigger on every history entry, at commit, in commit order), fanned out to every
//! watcher of the office.

use combipat_platform::listen::{Notice, listen};
use combipat_proto::officequeue::v1::QueueChange;
use serde::Deserialize;
use sqlx::PgPool;
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

/// What the feed carries to watchers.
#[derive(Debug, Clone)]
pub enum Feed {
    Change(Change),
    /// The listener lost its connection: changes may have been missed.
    Interrupted,
}

#[derive(Clone)]
pub struct Changes {
    sender: broadcast::Sender<Feed>,
    /// Cancelled when the service stops listening, which ends every watcher's stream (so a
    /// watcher never holds the graceful shutdown up).
    closed: CancellationToken,
    /// Watches one caller holds at once on this replica.
    watchers: combipat_platform::streams::StreamLimit,
}

/// A person watches a queue or two (a console tab each); a client gone wrong opens
/// hundreds.
const WATCHES_PER_CALLER: usize = 8;

impl Changes {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
            closed: CancellationToken::new(),
            watchers: combipat_platform::streams::StreamLimit::new(WATCHES_PER_CALLER),
        }
    }

    /// A place for one more watch of `caller` (refused past [`WATCHES_PER_CALLER`]); the
    /// watch holds it until its stream ends.
    pub fn watch_permit(
        &self,
        caller: &str,
    ) -> Result<combipat_platform::streams::StreamPermit, combipat_platform::ApiError> {
        self.watchers.acquire(caller)
    }

    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Feed> {
        self.sender.subscribe()
    }

    /// Listens until `stop`. After a lost connection every watcher is told to read its
    /// queue again: the changes committed meanwhile were not heard.
    pub async fn listen(self, pool: PgPool, stop: CancellationToken) {
        let _close_on_return = self.closed.clone().drop_guard();
        let sender = self.sender.clone();
        listen(pool, CHANNEL, stop, |notice| {
            match notice {
                Notice::Payload(payload) => match serde_json::from_str::<Change>(&payload) {
                    // Nobody watching is no error: the change is simply not watched.
                    Ok(change) => drop(sender.send(Feed::Change(change))),
                    Err(error) => tracing::warn!(error = %error, "unreadable queue change notice"),
                },
                Notice::Reconnected => drop(sender.send(Feed::Interrupted)),
            }
            std::future::ready(())
        })
        .await;
    }
}
