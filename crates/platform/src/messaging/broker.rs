use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use secrecy::ExposeSecret as _;

use crate::settings::AmqpSettings;

/// How this service reaches RabbitMQ. Cheap to clone; each long-lived task (a consumer, the
/// outbox relay) opens its own connection so that one failing does not take the others down.
#[derive(Debug, Clone)]
pub struct Broker {
    settings: AmqpSettings,
    service_name: &'static str,
    /// The node the next connection tries first: after a failure the next one, so that the
    /// tasks of a replica spread over the nodes that answer.
    next_node: Arc<AtomicUsize>,
}

impl Broker {
    pub fn new(service_name: &'static str, settings: AmqpSettings) -> Self {
        Self {
            settings,
            service_name,
            next_node: Arc::default(),
        }
    }

    pub fn settings(&self) -> &AmqpSettings {
        &self.settings
    }

    pub fn exchange(&self) -> &str {
        &self.settings.exchange
    }

    /// The topic exchange a consumer sends its failed events through, to its own retry and
    /// dead-letter queues (each bound under its own name): a topic exchange, so that the
    /// broker's topic permissions let each service reach only its own queues, which the
    /// default exchange cannot restrict.
    pub fn retry_exchange(&self) -> String {
        format!("{}.retries", self.settings.exchange)
    }

    /// Whether this process creates the topology or only checks it (`amqp.declare_topology`).
    pub fn creates_topology(&self) -> bool {
        self.settings.declare_topology
    }

    pub fn service_name(&self) -> &'static str {
        self.service_name
    }

    /// Full name of a queue (with the configured prefix).
    pub fn queue_name(&self, name: &str) -> String {
        format!("{}{name}", self.settings.queue_prefix)
    }

    /// The name without the configured prefix, as metrics and commands show it.
    pub fn unprefixed<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(self.settings.queue_prefix.as_str())
            .unwrap_or(name)
    }

    /// Opens a connection named after the service and the task (as the broker's UI shows
    /// it), trying each configured node in turn.
    pub async fn connect(&self, task: &str) -> anyhow::Result<Connection> {
        let nodes = &self.settings.url;
        anyhow::ensure!(!nodes.is_empty(), "amqp.url lists no broker");
        let first = self.next_node.load(Ordering::Relaxed);
        let mut last_error = None;
        for offset in 0..nodes.len() {
            let index = (first + offset) % nodes.len();
            let properties = ConnectionProperties::default()
                .with_connection_name(format!("{}/{task}", self.service_name).into());
            match Connection::connect(nodes[index].expose_secret(), properties).await {
                Ok(connection) => {
                    self.next_node.store(index, Ordering::Relaxed);
                    return Ok(connection);
                }
                Err(error) => {
                    // The URL may carry a password: name the node by its position only.
                    tracing::debug!(node = index, error = %error, "broker node did not answer");
                    last_error = Some(error);
                    self.next_node
                        .store((index + 1) % nodes.len(), Ordering::Relaxed);
                }
            }
        }
        Err(last_error.map_or_else(|| anyhow::anyhow!("no broker node"), anyhow::Error::from))
            .with_context(|| format!("no broker node of {} answered", nodes.len()))
    }

    /// A connection and a channel in confirm mode on it, for a task that publishes.
    pub async fn confirmed_channel(&self, task: &str) -> anyhow::Result<(Connection, Channel)> {
        let connection = self
            .connect(task)
            .await
            .context("cannot connect to the broker")?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok((connection, channel))
    }
}
