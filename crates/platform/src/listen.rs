//! PostgreSQL LISTEN with the reconnection every listener needs: a lost connection is opened
//! again with a doubling, jittered delay, and the handler is told (`Notice::Reconnected`),
//! since notices sent meanwhile are lost and what they announced must be read again.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::messaging::backoff;

/// What a listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A notification's payload.
    Payload(String),
    /// Listening again after a lost connection (not sent for the first connection): notices
    /// may have been missed.
    Reconnected,
}

/// Listens on `channel` until `stop`, calling `on` with every notice.
pub async fn listen<F, Fut>(pool: PgPool, channel: &'static str, stop: CancellationToken, mut on: F)
where
    F: FnMut(Notice) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut failures = 0;
    let mut connected_before = false;
    loop {
        let session = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(channel).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let listener = tokio::select! {
            () = stop.cancelled() => return,
            listener = session => listener,
        };
        match listener {
            Ok(mut listener) => {
                failures = 0;
                if connected_before {
                    on(Notice::Reconnected).await;
                }
                connected_before = true;
                loop {
                    let received = tokio::select! {
                        () = stop.cancelled() => return,
                        received = listener.recv() => received,
                    };
                    match received {
                        Ok(notification) => {
                            on(Notice::Payload(notification.payload().to_owned())).await
                        }
                        Err(error) => {
                            tracing::warn!(channel, error = %error, "lost the notification connection; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(channel, error = %error, "cannot listen for notifications; trying again");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff(Duration::from_millis(500), Duration::from_secs(30), failures.max(1))) => {}
        }
    }
}
