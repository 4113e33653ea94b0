//! The stream reader's handler: a batch of events becomes, in the batch's transaction, the
//! merged facts of its requests and the cells' differences, for one generation.
//!
//! The work is done once per batch (`after_batch`, which sees every event of the batch, those
//! the inbox already knew included) rather than per event: merging is idempotent, so an event
//! seen again changes nothing, and a batch costs a handful of statements whatever its size.
//! `apply` only checks each event, so that one that can never be read fails alone (the
//! platform then redoes the batch event by event and goes past that one, recording it).

use std::collections::HashMap;
use std::sync::Arc;

use combipat_platform::clock::Clock;
use combipat_platform::handler::{Effects, Event, TransactionalHandler};
use combipat_platform::messaging::HandleError;
use uuid::Uuid;

use crate::events::{described_offices, patch};
use crate::metrics as m;
use crate::model::contribution::{Cells, difference, without_zeros};
use crate::model::facts::Fact;
use crate::places::Places;
use crate::store::{cells, facts, generations, offices};

pub struct Projector {
    pub generation: i32,
    pub places: Arc<Places>,
    pub clock: Clock,
}

impl TransactionalHandler for Projector {
    const CONSUMER: &'static str = "reporting";

    async fn apply(&self, _effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        patch(event, &self.places).map(|_| ())
    }

    async fn after_batch(
        &self,
        effects: &mut Effects<'_>,
        events: &[&Event],
    ) -> Result<(), HandleError> {
        project(
            effects.db(),
            self.generation,
            &self.places,
            &self.clock,
            events,
        )
        .await
    }
}

/// What the batch tells of each request, merged.
fn patches(events: &[&Event], places: &Places) -> HashMap<Uuid, Fact> {
    let mut patches: HashMap<Uuid, Fact> = HashMap::new();
    for event in events {
        // Events `apply` refused never reach here; the others it checked already.
        let (Ok(Some(patch)), Some(request)) = (patch(event, places), event.request_id) else {
            continue;
        };
        patches.entry(request).or_default().merge(patch);
    }
    patches
}

/// Applies `events` to `generation` in `connection`'s transaction.
pub async fn project(
    connection: &mut sqlx::PgConnection,
    generation: i32,
    places: &Places,
    clock: &Clock,
    events: &[&Event],
) -> Result<(), HandleError> {
    if !generations::lock_for_writing(connection, generation).await? {
        // A retired generation's reader runs until the process restarts: it reads on and
        // writes nothing.
        return Ok(());
    }
    let patches = patches(events, places);
    let ids: Vec<Uuid> = patches.keys().copied().collect();
    let stored = facts::load(connection, generation, &ids).await?;
    let mut changed = facts::Columns::default();
    let mut differences = Cells::new();
    for (id, patch) in patches {
        let old = stored.get(&id);
        let mut new = old.cloned().unwrap_or_default();
        new.merge(patch);
        if old == Some(&new) {
            continue;
        }
        difference(old, &new, &mut differences);
        changed.push(id, &new).map_err(|error| {
            HandleError::transient(anyhow::anyhow!("cannot write a fact: {error}"))
        })?;
    }
    let differences = cells::Columns::from_cells(&without_zeros(differences));
    facts::save(connection, generation, &changed).await?;
    cells::add(connection, generation, &differences).await?;
    let described: Vec<_> = events
        .iter()
        .flat_map(|event| described_offices(&event.payload))
        .collect();
    offices::remember(connection, &described).await?;
    if let Some(newest_event_at) = events.iter().map(|event| event.occurred_at).max() {
        let read = generations::Read {
            newest_event_at,
            events: events.len(),
            at: clock.now(),
            next_offset: events
                .iter()
                .filter_map(|event| event.stream_offset)
                .max()
                .map(|last| last + 1),
        };
        generations::record_read(connection, generation, &read).await?;
    }
    let label = generation.to_string();
    metrics::counter!(m::FACTS_CHANGED, "generation" => label.clone())
        .increment(changed.len() as u64);
    metrics::counter!(m::CELLS_WRITTEN, "generation" => label).increment(differences.len() as u64);
    Ok(())
}
