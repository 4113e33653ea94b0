//! Events over RabbitMQ with lapin: one durable topic exchange, a quorum queue per
//! consuming service, publisher confirms with `mandatory`, manual acks, deliveries handled in
//! batches, retry queues with a long jittered schedule, then a dead-letter queue; a pause
//! while a dependency is down; every event also kept in the history stream. The whole
//! topology is one definition ([`catalogue`]). Every step is counted (see [`crate::metrics`]).

mod broker;
pub mod catalogue;
mod consumer;
mod delivery;
mod divert;
mod envelope;
mod handler;
mod pause;
pub mod permissions;
mod publisher;
mod queue_metrics;
mod replay;
pub mod retry;
mod stream;
mod topology;

pub use broker::Broker;
pub use consumer::{Consumer, StartGate, Started};
pub use divert::{header_text, header_u64, message_id};
pub use envelope::{EVENT_TYPES, EnvelopeExt, new_envelope, sequenced_envelope};
pub use handler::{BatchHandler, BatchOutcome, HandleError, Incoming};
pub use pause::{ConsumerHealth, backoff};
pub use publisher::{OutgoingMessage, PublishError, publish_confirmed};
pub use queue_metrics::report_queue_depths;
pub use replay::replay_dead_letters;
pub use stream::{Positioned, StreamReader};
pub use topology::{
    QueueNames, QueueSpec, StreamSpec, declare_all, declare_exchange, declare_queue,
    declare_stream, delay_label,
};

/// AMQP header with the number of failed attempts so far.
pub const ATTEMPT_HEADER: &str = "x-combipat-attempt";
/// AMQP header with the time of the first failure (milliseconds since the epoch): the retry
/// schedule runs for `amqp.retry_for_ms` from it.
pub const FIRST_FAILURE_HEADER: &str = "x-combipat-first-failure-ms";
/// AMQP header on a retried or dead-lettered message: why it failed last.
pub const ERROR_HEADER: &str = "x-combipat-error";
/// AMQP header on a dead-lettered message: the queue it came from.
pub const SOURCE_QUEUE_HEADER: &str = "x-combipat-source-queue";
/// Content type of every event body.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
