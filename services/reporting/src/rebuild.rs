//! Rebuilds without downtime. `combipat-reporting admin rebuild` adds a `building`
//! generation; here each replica notices it, reads the history stream from the first event
//! kept into it under the generation's own reader name, and switches to it as soon as it has
//! read as far as the active one (one transaction, see `store/generations.rs`). Queries keep
//! reading the old generation until then, and the new one from the next answer on; the old
//! one's partitions are dropped `retired_kept_seconds` later, once no answer still reads it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use combipat_platform::ServiceContext;
use combipat_platform::messaging::{Broker, StreamReader};
use combipat_platform::outbox::OutboxWaker;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;
use crate::places::Places;
use crate::projector::Projector;
use crate::store::generations::{self, State};

pub struct Supervisor {
    pub pool: PgPool,
    pub broker: Broker,
    pub outbox: OutboxWaker,
    pub places: Arc<Places>,
    pub clock: combipat_platform::clock::Clock,
    pub interval: Duration,
    pub retired_kept: chrono::Duration,
}

/// A stream reader's name lives as long as the process (the platform's reader wants a
/// `&'static str`); a process leaks one short name per rebuild it runs.
pub fn static_name(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// Registers the active generation's reader with the service (its health counts for
/// readiness) and the supervisor beside it.
pub async fn start(
    context: &mut ServiceContext,
    places: Arc<Places>,
    supervisor: Supervisor,
) -> anyhow::Result<()> {
    let active = generations::active(&context.pool).await?;
    metrics::gauge!(m::ACTIVE_GENERATION).set(f64::from(active.generation));
    context.add_stream_reader(
        static_name(active.reader.clone()),
        Projector {
            generation: active.generation,
            places,
            clock: context.clock.clone(),
        },
    );
    context.add_background(move |stop| Box::pin(supervisor.run(stop)));
    Ok(())
}

impl Supervisor {
    pub async fn run(self, stop: CancellationToken) {
        let mut readers: HashMap<i32, CancellationToken> = HashMap::new();
        let mut tasks = JoinSet::new();
        loop {
            if let Err(error) = self.tick(&mut readers, &mut tasks, &stop).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "the rebuild supervisor could not look at the generations; trying again"
                );
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
        for reader in readers.values() {
            reader.cancel();
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn tick(
        &self,
        readers: &mut HashMap<i32, CancellationToken>,
        tasks: &mut JoinSet<()>,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        for row in generations::all(&self.pool).await? {
            match row.state() {
                State::Building => {
                    if let std::collections::hash_map::Entry::Vacant(entry) =
                        readers.entry(row.generation)
                    {
                        tracing::info!(
                            generation = row.generation,
                            reader = row.reader,
                            "rebuilding the projection from the history stream"
                        );
                        let token = stop.child_token();
                        let reader = StreamReader::new(
                            self.broker.clone(),
                            self.pool.clone(),
                            self.outbox.clone(),
                            static_name(row.reader.clone()),
                            Projector {
                                generation: row.generation,
                                places: Arc::clone(&self.places),
                                clock: self.clock.clone(),
                            },
                        );
                        tasks.spawn(reader.run(token.clone()));
                        entry.insert(token);
                    }
                    if generations::switch_if_caught_up(&self.pool, row.generation).await? {
                        tracing::info!(
                            generation = row.generation,
                            "the rebuilt projection took over"
                        );
                        metrics::counter!(m::REBUILDS, "outcome" => "switched").increment(1);
                        metrics::gauge!(m::ACTIVE_GENERATION).set(f64::from(row.generation));
                    }
                }
                State::Active => {
                    metrics::gauge!(m::ACTIVE_GENERATION).set(f64::from(row.generation))
                }
                State::Retired => {
                    // A retired generation's reader (started here) has nothing left to do.
                    if let Some(token) = readers.remove(&row.generation) {
                        token.cancel();
                    }
                }
            }
        }
        for dropped in generations::drop_retired(&self.pool, self.retired_kept).await? {
            tracing::info!(
                generation = dropped,
                "dropped a retired generation's tables"
            );
        }
        Ok(())
    }
}
