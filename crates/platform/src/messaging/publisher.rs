use lapin::options::BasicPublishOptions;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};

use super::CONTENT_TYPE;

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// One message to publish with a confirm.
#[derive(Debug)]
pub struct OutgoingMessage<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub message_id: &'a str,
    pub payload: &'a [u8],
    pub headers: FieldTable,
    /// Per-message TTL in milliseconds, if any.
    pub expiration_ms: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "the broker returned the message as unroutable: exchange `{exchange}`, routing key `{routing_key}`"
    )]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the channel is not in confirm mode")]
    NotConfirmed,
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
}

/// Publishes a persistent, `mandatory` message and starts waiting for its confirm.
///
/// The returned future resolves once the broker has taken responsibility for the message;
/// a message that no queue would receive is an error, never silently dropped. Publishing
/// many messages before awaiting their confirms pipelines them.
pub async fn publish_confirmed(
    channel: &Channel,
    message: OutgoingMessage<'_>,
) -> Result<impl Future<Output = Result<(), PublishError>> + use<>, PublishError> {
    let mut properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type(CONTENT_TYPE.into())
        .with_message_id(message.message_id.into())
        .with_headers(message.headers);
    if let Some(expiration_ms) = message.expiration_ms {
        properties = properties.with_expiration(expiration_ms.to_string().into());
    }
    let confirm = channel
        .basic_publish(
            message.exchange.into(),
            message.routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            message.payload,
            properties,
        )
        .await?;
    let exchange = message.exchange.to_owned();
    let routing_key = message.routing_key.to_owned();
    Ok(async move {
        match confirm.await? {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_returned)) => Err(PublishError::Unroutable {
                exchange,
                routing_key,
            }),
            Confirmation::Nack(_) => Err(PublishError::Nacked),
            Confirmation::NotRequested => Err(PublishError::NotConfirmed),
        }
    })
}
