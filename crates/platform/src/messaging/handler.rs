//! What the consumer asks of a handler, and what a failure means for the event.

use combipat_proto::events::v1::Envelope;

/// Why handling an event failed, which decides what happens to it next.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Worth another try later (a conflict that will clear, a peer's refusal that may not
    /// last): the event goes round the retry schedule, then to the dead-letter queue.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Will fail the same way every time: straight to the dead-letter queue.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
    /// Something the handler needs is down (its database, a service it must call). Not the
    /// event's fault: the consumer stops taking deliveries, keeps the ones in hand, and
    /// tries again until the dependency answers. The retry schedule is not used.
    #[error("{dependency} is unavailable: {error:#}")]
    Unavailable {
        dependency: &'static str,
        error: anyhow::Error,
    },
}

impl HandleError {
    pub fn permanent(message: impl std::fmt::Display) -> Self {
        Self::Permanent(anyhow::anyhow!("{message}"))
    }

    pub fn transient(error: impl Into<anyhow::Error>) -> Self {
        Self::Transient(error.into())
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A database error is the database's being unavailable (the consumer pauses) or a transient
/// failure of this event (it is retried): see [`crate::db::is_unavailable`].
impl From<sqlx::Error> for HandleError {
    fn from(error: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&error) {
            Self::Unavailable {
                dependency: "database",
                error: error.into(),
            }
        } else {
            Self::Transient(error.into())
        }
    }
}

/// An error from a helper that returns `anyhow`: classified by the database error inside it,
/// if there is one.
impl From<anyhow::Error> for HandleError {
    fn from(error: anyhow::Error) -> Self {
        let unavailable = error
            .chain()
            .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
            .any(crate::db::is_unavailable);
        if unavailable {
            Self::Unavailable {
                dependency: "database",
                error,
            }
        } else {
            Self::Transient(error)
        }
    }
}

/// How a batch of events went.
#[derive(Debug)]
pub enum BatchOutcome {
    /// One result per event, in the order given.
    Each(Vec<Result<(), HandleError>>),
    /// A dependency is down: nothing was done; the whole batch is to be tried again once it
    /// answers.
    Unavailable {
        dependency: &'static str,
        error: anyhow::Error,
    },
}

/// One decoded event of a batch, with the span of its delivery (the trace it continues).
#[derive(Debug)]
pub struct Incoming {
    pub envelope: Envelope,
    pub span: tracing::Span,
    /// The delivery's position, when it comes from a stream.
    pub stream_offset: Option<u64>,
}

/// What a service does with a batch of events (one or more deliveries taken together). Must
/// be idempotent per event: an event may arrive more than once. Services implement
/// [`crate::handler::TransactionalHandler`], which does this with the inbox in one
/// transaction; this trait is the consumer's side of it.
pub trait BatchHandler: Send + Sync + 'static {
    fn handle_batch(&self, events: &[Incoming]) -> impl Future<Output = BatchOutcome> + Send;
}
