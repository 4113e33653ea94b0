//! The transactional handler: a service says what one event does to its tables (and which
//! events it emits); the platform does the rest, the same way for every consumer: parse the
//! envelope's ids (refusing what it cannot parse), record the events in the inbox, run the
//! effects, write the outgoing events to the outbox, commit, wake the relay, and tell the
//! consumer what to ack. A batch of deliveries shares one transaction; if one of them fails,
//! the batch is rolled back and each event runs in a transaction of its own, so that one bad
//! event never takes the others with it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;
use futures::FutureExt as _;
use sqlx::{PgConnection, PgPool};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::inbox;
use crate::messaging::{BatchHandler, BatchOutcome, HandleError, Incoming};
use crate::outbox::{self, OutboxWaker, Pending};
use crate::propagation::current_carrier;
use crate::time::from_timestamp;

/// An event as a handler sees it: the envelope's ids parsed and checked.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    pub event_type: String,
    /// Every request event has one; a few event kinds (notices to all patronati) do not.
    pub request_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    /// The request's lifecycle position (see the envelope's `sequence`); 0 when the event
    /// changes no shared state.
    pub sequence: u64,
    pub producer: String,
    pub payload: Payload,
    /// Its position in the history stream, when read from there.
    pub stream_offset: Option<u64>,
}

impl Event {
    /// Refuses (for good) an envelope whose ids or time are missing or malformed: a guess
    /// would corrupt the reader's state.
    pub fn parse(envelope: &Envelope) -> Result<Self, HandleError> {
        let id = Uuid::parse_str(&envelope.event_id)
            .map_err(|error| HandleError::permanent(format!("event id: {error}")))?;
        let request_id = if envelope.request_id.is_empty() {
            None
        } else {
            Some(
                Uuid::parse_str(&envelope.request_id)
                    .map_err(|error| HandleError::permanent(format!("request id: {error}")))?,
            )
        };
        let occurred_at = from_timestamp(envelope.occurred_at.as_ref())
            .ok_or_else(|| HandleError::permanent("the event has no valid occurred_at"))?;
        let payload = envelope.payload.clone().ok_or_else(|| {
            HandleError::permanent(format!("{} without a payload", envelope.event_type))
        })?;
        Ok(Self {
            id,
            event_type: envelope.event_type.clone(),
            request_id,
            occurred_at,
            sequence: envelope.sequence,
            producer: envelope.producer.clone(),
            payload,
            stream_offset: None,
        })
    }

    /// The request the event is about; refused for good when it has none.
    pub fn request_id(&self) -> Result<Uuid, HandleError> {
        self.request_id.ok_or_else(|| {
            HandleError::permanent(format!("{} without a request id", self.event_type))
        })
    }

    /// Refuses an event of a type this handler does not follow.
    pub fn unexpected(&self) -> HandleError {
        HandleError::permanent(format!(
            "unexpected event {} from {}",
            self.event_type, self.producer
        ))
    }
}

/// What a handler may do inside the transaction: write to its tables (`db`) and emit events.
pub struct Effects<'t> {
    connection: &'t mut PgConnection,
    outgoing: &'t mut Vec<Pending>,
}

impl<'t> Effects<'t> {
    /// Effects in `connection`'s transaction, collecting events in `outgoing` for the caller
    /// to write to the outbox before it commits.
    pub(crate) fn new(connection: &'t mut PgConnection, outgoing: &'t mut Vec<Pending>) -> Self {
        Self {
            connection,
            outgoing,
        }
    }

    /// The open transaction.
    pub fn db(&mut self) -> &mut PgConnection {
        self.connection
    }

    /// An event to publish once the transaction commits (through the outbox), continuing the
    /// trace of the event being handled.
    pub fn emit(&mut self, envelope: Envelope) {
        self.outgoing.push(Pending {
            envelope,
            trace_context: current_carrier(),
        });
    }
}

/// What a service does with one event, inside the transaction the platform opens.
pub trait TransactionalHandler: Send + Sync + 'static {
    /// The name the inbox records events under: one per consumer.
    const CONSUMER: &'static str;

    /// Applies `event`. The platform has already made sure it is the first delivery.
    fn apply(
        &self,
        effects: &mut Effects<'_>,
        event: &Event,
    ) -> impl Future<Output = Result<(), HandleError>> + Send;

    /// Runs once per batch, before any event's `apply`, in the same transaction, with the
    /// events about to be applied (those already applied before left out): e.g. to take every
    /// lock the batch will need at once and in one order ([`crate::db::advisory_locks`]), so
    /// that two batches in flight never wait for each other in a cycle. Nothing by default.
    fn before_batch(
        &self,
        effects: &mut Effects<'_>,
        events: &[&Event],
    ) -> impl Future<Output = Result<(), HandleError>> + Send {
        let _unused = (effects, events);
        std::future::ready(Ok(()))
    }

    /// Runs once per batch, after every event's `apply`, in the same transaction, with every
    /// event of the batch (those already applied before included): e.g. the stream reader
    /// stores its position here. Nothing by default.
    fn after_batch(
        &self,
        effects: &mut Effects<'_>,
        events: &[&Event],
    ) -> impl Future<Output = Result<(), HandleError>> + Send {
        let _unused = (effects, events);
        std::future::ready(Ok(()))
    }
}

/// Runs a [`TransactionalHandler`] for the consumer.
pub struct Transactional<H> {
    pool: PgPool,
    outbox: OutboxWaker,
    handler: H,
}

impl<H: TransactionalHandler> Transactional<H> {
    pub fn new(pool: PgPool, outbox: OutboxWaker, handler: H) -> Self {
        crate::metrics::zero::inbox(H::CONSUMER);
        Self {
            pool,
            outbox,
            handler,
        }
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Applies the fresh ones of `events` in one transaction.
    async fn together(&self, events: &[(&Event, &tracing::Span)]) -> Result<(), HandleError> {
        let mut transaction = self.pool.begin().await?;
        let ids: Vec<Uuid> = events.iter().map(|(event, _)| event.id).collect();
        let mut fresh = inbox::first_deliveries(&mut transaction, H::CONSUMER, &ids).await?;
        // `remove`: an event delivered twice in one batch is applied once.
        let to_apply: Vec<(&Event, &tracing::Span)> = events
            .iter()
            .filter(|(event, _)| fresh.remove(&event.id))
            .copied()
            .collect();
        let mut outgoing = Vec::new();
        if !to_apply.is_empty() {
            let fresh_events: Vec<&Event> = to_apply.iter().map(|(event, _)| *event).collect();
            let mut effects = Effects::new(&mut transaction, &mut outgoing);
            self.handler
                .before_batch(&mut effects, &fresh_events)
                .await?;
        }
        for (event, span) in &to_apply {
            let mut effects = Effects::new(&mut transaction, &mut outgoing);
            self.handler
                .apply(&mut effects, event)
                .instrument((*span).clone())
                .await?;
        }
        let all: Vec<&Event> = events.iter().map(|(event, _)| *event).collect();
        let mut effects = Effects::new(&mut transaction, &mut outgoing);
        self.handler.after_batch(&mut effects, &all).await?;
        outbox::enqueue_many(&mut transaction, &outgoing).await?;
        transaction.commit().await?;
        if !outgoing.is_empty() {
            self.outbox.wake();
        }
        Ok(())
    }

    /// [`Self::together`], with a panic turned into a transient failure.
    async fn guarded(&self, events: &[(&Event, &tracing::Span)]) -> Result<(), HandleError> {
        std::panic::AssertUnwindSafe(self.together(events))
            .catch_unwind()
            .await
            .unwrap_or_else(|_panic| {
                Err(HandleError::transient(anyhow::anyhow!(
                    "the handler panicked"
                )))
            })
    }
}

impl<H: TransactionalHandler> BatchHandler for Transactional<H> {
    async fn handle_batch(&self, incoming: &[Incoming]) -> BatchOutcome {
        let parsed: Vec<Result<Event, HandleError>> = incoming
            .iter()
            .map(|incoming| {
                Event::parse(&incoming.envelope).map(|event| Event {
                    stream_offset: incoming.stream_offset,
                    ..event
                })
            })
            .collect();
        let valid: Vec<(&Event, &tracing::Span)> = parsed
            .iter()
            .zip(incoming)
            .filter_map(|(event, incoming)| Some((event.as_ref().ok()?, &incoming.span)))
            .collect();

        let mut done: HashSet<Uuid> = HashSet::new();
        let mut failed: Vec<(Uuid, HandleError)> = Vec::new();
        let mut separately = true;
        if valid.len() > 1 {
            match self.guarded(&valid).await {
                Ok(()) => {
                    done.extend(valid.iter().map(|(event, _)| event.id));
                    separately = false;
                }
                Err(HandleError::Unavailable { dependency, error }) => {
                    return BatchOutcome::Unavailable { dependency, error };
                }
                Err(error) => {
                    tracing::debug!(error = %error, size = valid.len(), "a batch failed; its events run one by one");
                }
            }
        }
        if separately {
            for one in &valid {
                match self.guarded(std::slice::from_ref(one)).await {
                    Ok(()) => {
                        done.insert(one.0.id);
                    }
                    // Those before committed; the inbox skips them when the batch comes again.
                    Err(HandleError::Unavailable { dependency, error }) => {
                        return BatchOutcome::Unavailable { dependency, error };
                    }
                    Err(error) => failed.push((one.0.id, error)),
                }
            }
        }

        BatchOutcome::Each(
            parsed
                .into_iter()
                .map(|event| {
                    let event = event?;
                    if done.contains(&event.id) {
                        return Ok(());
                    }
                    match failed.iter().position(|(id, _)| *id == event.id) {
                        Some(index) => Err(failed.swap_remove(index).1),
                        // The same event twice in the batch, the other copy failed.
                        None => Err(HandleError::transient(anyhow::anyhow!(
                            "a copy of this event in the same batch failed"
                        ))),
                    }
                })
                .collect(),
        )
    }
}
