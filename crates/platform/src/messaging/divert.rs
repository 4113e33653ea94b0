//! Moving a failed delivery to its next retry queue, or to the dead-letter queue when it can
//! never succeed or its schedule is over. The delivery is acknowledged only after the broker
//! confirmed the copy.

use anyhow::Context as _;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable};

use super::retry::{Next, RetrySchedule};
use super::topology::{QueueNames, QueueSpec, declare_queue};
use super::{
    ATTEMPT_HEADER, Broker, ERROR_HEADER, FIRST_FAILURE_HEADER, HandleError, OutgoingMessage,
    PublishError, SOURCE_QUEUE_HEADER, publish_confirmed,
};

/// Where a failed delivery goes.
pub struct Diverter {
    pub broker: Broker,
    pub spec: QueueSpec,
    pub names: QueueNames,
    pub schedule: RetrySchedule,
    pub publisher: Channel,
}

impl Diverter {
    /// Publishes the copy and returns the outcome label (`retried` or `dead_lettered`) once
    /// the broker confirmed it.
    pub async fn divert(
        &self,
        delivery: &Delivery,
        error: &HandleError,
    ) -> anyhow::Result<&'static str> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        let failures = header_u64(&headers, ATTEMPT_HEADER)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
            .saturating_add(1);
        let now_ms = epoch_ms();
        let first_failure_ms = header_u64(&headers, FIRST_FAILURE_HEADER).unwrap_or(now_ms);
        headers.insert(
            ATTEMPT_HEADER.into(),
            AMQPValue::LongLongInt(i64::from(failures)),
        );
        headers.insert(
            FIRST_FAILURE_HEADER.into(),
            AMQPValue::LongLongInt(i64::try_from(first_failure_ms).unwrap_or(i64::MAX)),
        );
        headers.insert(
            ERROR_HEADER.into(),
            AMQPValue::LongString(bounded(&error.to_string()).into()),
        );
        let next = if error.is_permanent() {
            Next::DeadLetter
        } else {
            self.schedule.after_failure(
                failures,
                now_ms.saturating_sub(first_failure_ms),
                fastrand::f64(),
            )
        };
        let (target, expiration_ms, outcome) = match next {
            Next::Retry { delay_ms, wait_ms } => {
                let queue = self
                    .names
                    .retry_queue(delay_ms)
                    .context("no retry queue for a scheduled delay")?;
                tracing::warn!(attempt = failures, retry_queue = %queue, wait_ms, error = %error, "event failed; will retry");
                (queue, Some(wait_ms), "retried")
            }
            Next::DeadLetter => {
                headers.insert(
                    SOURCE_QUEUE_HEADER.into(),
                    AMQPValue::LongString(self.names.main.as_str().into()),
                );
                tracing::error!(attempt = failures, dead_letter_queue = %self.names.dead_letter, error = %error, "event failed for good; dead-lettered");
                (self.names.dead_letter.as_str(), None, "dead_lettered")
            }
        };
        let retry_exchange = self.broker.retry_exchange();
        let message_id = message_id(delivery);
        let publish = || {
            let headers = headers.clone();
            let message_id = message_id.as_str();
            let retry_exchange = retry_exchange.as_str();
            async move {
                publish_confirmed(
                    &self.publisher,
                    OutgoingMessage {
                        exchange: retry_exchange,
                        routing_key: target,
                        message_id,
                        payload: &delivery.data,
                        headers,
                        expiration_ms,
                    },
                )
                .await?
                .await
            }
        };
        match publish().await {
            // The queue is gone (deleted by hand, or expired where a test lets queues
            // expire): declare the family again and publish once more.
            Err(PublishError::Unroutable { .. }) => {
                declare_queue(&self.publisher, &self.broker, &self.spec)
                    .await
                    .context("cannot declare the queues again")?;
                publish().await?;
            }
            other => other?,
        }
        Ok(outcome)
    }
}

fn epoch_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
}

/// An error quoted in a header: bounded, so that a huge one cannot exceed the frame size.
fn bounded(text: &str) -> String {
    text.chars().take(2_000).collect()
}

/// The delivery's message id (the event id), or empty.
pub fn message_id(delivery: &Delivery) -> String {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// A numeric header, whatever integer type the broker or a client gave it.
pub fn header_u64(headers: &FieldTable, key: &str) -> Option<u64> {
    match headers.inner().get(key)? {
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        _ => None,
    }
}

/// A text header as text (a long string is bytes on the wire).
pub fn header_text(headers: &FieldTable, key: &str) -> Option<String> {
    match headers.inner().get(key)? {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_as_text_and_numbers_whatever_their_wire_type() {
        let mut headers = FieldTable::default();
        headers.insert(
            "x-combipat-error".into(),
            AMQPValue::LongString("the database is unavailable".into()),
        );
        headers.insert("n".into(), AMQPValue::LongInt(3));
        assert_eq!(
            header_text(&headers, "x-combipat-error").as_deref(),
            Some("the database is unavailable"),
            "an error header is logged as text, not as a list of bytes"
        );
        assert_eq!(header_u64(&headers, "n"), Some(3));
        assert_eq!(header_u64(&headers, "missing"), None);
    }
}
