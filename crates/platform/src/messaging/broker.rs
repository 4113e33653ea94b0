use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret as _;

use crate::settings::AmqpSettings;

/// How this service reaches RabbitMQ. Cheap to clone; each long-lived task (a consumer, the
/// outbox relay) opens its own connection so that one failing does not take the others down.
#[derive(Debug, Clone)]
pub struct Broker {
    settings: AmqpSettings,
    service_name: &'static str,
}

impl Broker {
    pub fn new(service_name: &'static str, settings: AmqpSettings) -> Self {
        Self {
            settings,
            service_name,
        }
    }

    pub fn settings(&self) -> &AmqpSettings {
        &self.settings
    }

    pub fn exchange(&self) -> &str {
        &self.settings.exchange
    }

    pub fn service_name(&self) -> &'static str {
        self.service_name
    }

    /// Full name of one of this service's queues (with the configured prefix).
    pub fn queue_name(&self, name: &str) -> String {
        format!("{}{name}", self.settings.queue_prefix)
    }

    /// Opens a connection named after the service and the task, as shown in the broker's UI.
    pub async fn connect(&self, task: &str) -> lapin::Result<Connection> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("{}/{task}", self.service_name).into());
        Connection::connect(self.settings.url.expose_secret(), properties).await
    }
}
