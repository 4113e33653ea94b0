//! Exchange and queue declarations. Declarations are idempotent, so every process declares
//! what it uses at start and after each reconnect.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use super::Broker;

/// A consuming service's queue and the routing keys it is bound to.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    /// Without the prefix, e.g. `router.requests`.
    pub name: &'static str,
    pub bindings: &'static [&'static str],
}

/// The names derived from one queue: where failed messages wait, and where they end.
#[derive(Debug, Clone)]
pub struct QueueNames {
    pub main: String,
    /// One per configured retry delay, in order.
    pub retries: Vec<String>,
    pub dead_letter: String,
}

impl QueueNames {
    pub fn new(broker: &Broker, spec: &QueueSpec) -> Self {
        let main = broker.queue_name(spec.name);
        let retries = (1..=broker.settings().retry_delays_ms.len())
            .map(|attempt| format!("{main}.retry.{attempt}"))
            .collect();
        let dead_letter = format!("{main}.dlq");
        Self {
            main,
            retries,
            dead_letter,
        }
    }
}

/// Declares the durable topic exchange all events go through.
pub async fn declare_exchange(channel: &Channel, broker: &Broker) -> lapin::Result<()> {
    channel
        .exchange_declare(
            broker.exchange().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

/// Declares a consumer's quorum queue, its retry queues and its dead-letter queue, and binds
/// the main queue to its routing keys. Returns the names.
pub async fn declare_queue(
    channel: &Channel,
    broker: &Broker,
    spec: &QueueSpec,
) -> lapin::Result<QueueNames> {
    let names = QueueNames::new(broker, spec);
    let settings = broker.settings();

    declare_quorum(channel, broker, &names.dead_letter, FieldTable::default()).await?;

    // The broker dead-letters on its own only when a message exceeds the delivery limit
    // (a consumer that keeps crashing on it); the consumer sends every other failure
    // through the retry queues first.
    let mut main_args = FieldTable::default();
    main_args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    main_args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(names.dead_letter.as_str().into()),
    );
    main_args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongUInt(settings.delivery_limit),
    );
    at_least_once_dead_lettering(&mut main_args);
    declare_quorum(channel, broker, &names.main, main_args).await?;

    for (retry, delay_ms) in names.retries.iter().zip(&settings.retry_delays_ms) {
        // A message waits here for the queue's TTL, then the broker sends it back to the
        // main queue. One queue per delay, so a long wait never blocks a short one.
        let mut args = FieldTable::default();
        args.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(saturating_i64(*delay_ms)),
        );
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(names.main.as_str().into()),
        );
        at_least_once_dead_lettering(&mut args);
        declare_quorum(channel, broker, retry, args).await?;
    }

    bind(channel, broker, &names.main, spec.bindings).await?;
    Ok(names)
}

async fn bind(channel: &Channel, broker: &Broker, queue: &str, keys: &[&str]) -> lapin::Result<()> {
    for key in keys {
        channel
            .queue_bind(
                queue.into(),
                broker.exchange().into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Quorum queues dead-letter at most once by default: a message moving to a retry queue or
/// back could be dropped if the target refused it. At-least-once keeps it until the target
/// confirms (it requires `reject-publish` overflow).
fn at_least_once_dead_lettering(args: &mut FieldTable) {
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
) -> lapin::Result<()> {
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
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await
        .map(|_queue| ())
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
