//! Declaring the topology: the exchange, each consumer's queue family (main queue, one retry
//! queue per distinct delay, dead-letter queue) and the history stream. Declarations are
//! idempotent, and every service declares the whole [`catalogue`](super::catalogue) before it
//! publishes or consumes, so that no event is ever published while a queue that should take
//! it is missing (a message some other queue takes is confirmed, and `mandatory` cannot tell).
//!
//! With `amqp.declare_topology` off (services whose broker user may not configure), every
//! declaration is passive: it checks that the exchange or queue exists and fails, naming it,
//! when the `topology` step has not created it; bindings are left to that step.

use anyhow::Context as _;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use super::Broker;
use super::catalogue::{CATALOGUE, HISTORY};

/// A consuming service's queue and the routing keys it is bound to.
#[derive(Debug, Clone, Copy)]
pub struct QueueSpec {
    /// The service that consumes it.
    pub service: &'static str,
    /// Without the prefix, e.g. `router.requests`.
    pub name: &'static str,
    pub bindings: &'static [&'static str],
}

/// A stream (an append-only log read from any offset) and what it is bound to.
#[derive(Debug, Clone, Copy)]
pub struct StreamSpec {
    pub name: &'static str,
    pub bindings: &'static [&'static str],
}

/// The names derived from one queue: where failed messages wait, and where they end.
#[derive(Debug, Clone)]
pub struct QueueNames {
    pub main: String,
    /// One per distinct retry delay, in the order of the schedule, with that delay.
    pub retries: Vec<(String, u64)>,
    pub dead_letter: String,
}

impl QueueNames {
    pub fn new(broker: &Broker, spec: &QueueSpec) -> Self {
        let main = broker.queue_name(spec.name);
        let retries = distinct_delays(&broker.settings().retry_delays_ms)
            .into_iter()
            .map(|delay_ms| (format!("{main}.retry.{}", delay_label(delay_ms)), delay_ms))
            .collect();
        let dead_letter = format!("{main}.dlq");
        Self {
            main,
            retries,
            dead_letter,
        }
    }

    /// Every queue of the family.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.main.as_str())
            .chain(self.retries.iter().map(|(name, _)| name.as_str()))
            .chain(std::iter::once(self.dead_letter.as_str()))
    }

    /// The retry queue that holds events for `delay_ms`.
    pub fn retry_queue(&self, delay_ms: u64) -> Option<&str> {
        self.retries
            .iter()
            .find(|(_, delay)| *delay == delay_ms)
            .map(|(name, _)| name.as_str())
    }
}

/// The delays of the schedule, each once, in order of first use.
pub fn distinct_delays(delays: &[u64]) -> Vec<u64> {
    let mut distinct = Vec::new();
    for delay in delays {
        if !distinct.contains(delay) {
            distinct.push(*delay);
        }
    }
    distinct
}

/// `1s`, `10m`, `1h`, `250ms`: the delay in the retry queue's name, so that two services
/// with different schedules declare different queues instead of conflicting ones.
pub fn delay_label(delay_ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
    UNITS
        .iter()
        .find(|(unit, _)| delay_ms >= *unit && delay_ms.is_multiple_of(*unit))
        .map_or_else(
            || format!("{delay_ms}ms"),
            |(unit, suffix)| format!("{}{suffix}", delay_ms / unit),
        )
}

/// Declares the whole topology: the exchange, every consumer's queue family with its
/// bindings, and the history stream.
pub async fn declare_all(channel: &Channel, broker: &Broker) -> anyhow::Result<()> {
    declare_exchange(channel, broker)
        .await
        .context("cannot declare the exchange")?;
    for spec in CATALOGUE {
        declare_queue(channel, broker, spec)
            .await
            .with_context(|| format!("cannot declare the queues of {}", spec.name))?;
    }
    declare_stream(channel, broker, &HISTORY)
        .await
        .with_context(|| format!("cannot declare the stream {}", HISTORY.name))?;
    Ok(())
}

/// Declares the durable topic exchanges: the one all events go through, and the one failed
/// events go through to their retry and dead-letter queues.
pub async fn declare_exchange(channel: &Channel, broker: &Broker) -> lapin::Result<()> {
    for exchange in [broker.exchange(), broker.retry_exchange().as_str()] {
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    passive: !broker.creates_topology(),
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Declares a consumer's quorum queue, its retry queues and its dead-letter queue, and binds
/// the main queue to its routing keys. Returns the names.
pub async fn declare_queue(
    channel: &Channel,
    broker: &Broker,
    spec: &QueueSpec,
) -> lapin::Result<QueueNames> {
    Ok(declare_queue_counted(channel, broker, spec).await?.0)
}

/// How many messages wait in a queue and how many consumers it has, as its declaration said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCounts {
    pub queue: String,
    pub messages: u32,
    pub consumers: u32,
}

/// [`declare_queue`], also answering each queue's counts (a declaration reports them).
pub async fn declare_queue_counted(
    channel: &Channel,
    broker: &Broker,
    spec: &QueueSpec,
) -> lapin::Result<(QueueNames, Vec<QueueCounts>)> {
    let names = QueueNames::new(broker, spec);
    let settings = broker.settings();
    let mut counts = Vec::with_capacity(names.retries.len() + 2);

    counts.push(declare_quorum(channel, broker, &names.dead_letter, FieldTable::default()).await?);

    // The broker dead-letters on its own only when a message exceeds the delivery limit
    // (a consumer process that keeps crashing on it); the consumer sends every other
    // failure through the retry queues first.
    let mut main_args = FieldTable::default();
    dead_letter_to(&mut main_args, &names.dead_letter);
    main_args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongUInt(settings.delivery_limit),
    );
    counts.push(declare_quorum(channel, broker, &names.main, main_args).await?);

    for (retry, delay_ms) in &names.retries {
        // A message waits here for its own expiration (the delay with jitter), then the
        // broker sends it back to the main queue. The queue's TTL only bounds a message
        // published without one. One queue per delay, so a long wait never blocks a short one.
        let mut args = FieldTable::default();
        args.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(saturating_i64(delay_ms.saturating_mul(5) / 4)),
        );
        dead_letter_to(&mut args, &names.main);
        counts.push(declare_quorum(channel, broker, retry, args).await?);
    }

    bind(
        channel,
        broker,
        broker.exchange(),
        &names.main,
        spec.bindings,
    )
    .await?;
    // Each queue of the family under its own name on the retry exchange: a failed event goes
    // to a retry queue or the dead-letter queue, and a replay back to the main queue.
    let retry_exchange = broker.retry_exchange();
    for queue in names.all() {
        bind(channel, broker, &retry_exchange, queue, &[queue]).await?;
    }
    Ok((names, counts))
}

/// Declares a stream queue kept by age and size, bound to its routing keys.
pub async fn declare_stream(
    channel: &Channel,
    broker: &Broker,
    spec: &StreamSpec,
) -> lapin::Result<String> {
    let settings = broker.settings();
    let name = broker.queue_name(spec.name);
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("stream".into()),
    );
    args.insert(
        "x-max-age".into(),
        AMQPValue::LongString(settings.history_max_age.as_str().into()),
    );
    args.insert(
        "x-max-length-bytes".into(),
        AMQPValue::LongLongInt(saturating_i64(settings.history_max_bytes)),
    );
    args.insert(
        "x-stream-max-segment-size-bytes".into(),
        AMQPValue::LongLongInt(saturating_i64(settings.history_segment_bytes)),
    );
    channel
        .queue_declare(
            name.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                passive: !broker.creates_topology(),
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await?;
    bind(channel, broker, broker.exchange(), &name, spec.bindings).await?;
    Ok(name)
}

/// Binds `queue` to `exchange` under `keys` (left to the `topology` step when this process
/// only checks the topology: binding needs rights the services' users lack).
async fn bind(
    channel: &Channel,
    broker: &Broker,
    exchange: &str,
    queue: &str,
    keys: &[&str],
) -> lapin::Result<()> {
    if !broker.creates_topology() {
        return Ok(());
    }
    for key in keys {
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Where the broker sends what this queue dead-letters (through the default exchange).
/// Quorum queues dead-letter at most once by default: a message moving to a retry queue or
/// back could be dropped if the target refused it. At-least-once keeps it until the target
/// confirms (it requires `reject-publish` overflow).
fn dead_letter_to(args: &mut FieldTable, target: &str) {
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(target.into()),
    );
    args.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
}

async fn declare_quorum(
    channel: &Channel,
    broker: &Broker,
    name: &str,
    mut args: FieldTable,
) -> lapin::Result<QueueCounts> {
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    if let Some(expires_ms) = broker.settings().queue_expires_ms {
        args.insert(
            "x-expires".into(),
            AMQPValue::LongLongInt(saturating_i64(expires_ms)),
        );
    }
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                passive: !broker.creates_topology(),
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await
        .map(|queue| QueueCounts {
            queue: name.to_owned(),
            messages: queue.message_count(),
            consumers: queue.consumer_count(),
        })
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_queues_are_named_by_their_delay() {
        assert_eq!(delay_label(1_000), "1s");
        assert_eq!(delay_label(10_000), "10s");
        assert_eq!(delay_label(600_000), "10m");
        assert_eq!(delay_label(3_600_000), "1h");
        assert_eq!(delay_label(90_000), "90s");
        assert_eq!(delay_label(250), "250ms");
        assert_eq!(delay_label(0), "0ms");
    }

    #[test]
    fn a_delay_used_twice_has_one_queue() {
        assert_eq!(
            distinct_delays(&[1_000, 3_600_000, 1_000, 3_600_000]),
            vec![1_000, 3_600_000]
        );
    }
}
