//! Events over RabbitMQ with lapin: one durable topic exchange, a quorum queue per
//! consuming service, publisher confirms with `mandatory`, manual acks, retry queues with
//! backoff, then a dead-letter queue. Every step is counted (see [`crate::metrics`]).

mod broker;
mod consumer;
mod envelope;
mod publisher;
mod replay;
mod topology;

pub use broker::Broker;
pub use consumer::{EventHandler, HandleError, StartGate, Started, run_consumer};
pub use envelope::{EnvelopeExt, new_envelope};
pub use publisher::{OutgoingMessage, PublishError, publish_confirmed};
pub use replay::replay_dead_letters;
pub use topology::{QueueNames, QueueSpec, declare_exchange, declare_queue};

/// AMQP header with the number of failed attempts so far.
pub const ATTEMPT_HEADER: &str = "x-combipat-attempt";
/// AMQP header on a dead-lettered message: why it failed.
pub const ERROR_HEADER: &str = "x-combipat-error";
/// AMQP header on a dead-lettered message: the queue it came from.
pub const SOURCE_QUEUE_HEADER: &str = "x-combipat-source-queue";
/// Content type of every event body.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
