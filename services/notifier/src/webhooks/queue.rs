//! A notice to the patronato's endpoints: one delivery per active endpoint whose filter takes
//! its kind, with the body it will carry on every attempt (signed afresh each time).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::deliveries::{self, NewDelivery};
use super::endpoints::{self, EndpointRow};
use super::payload;
use crate::notice::{Notice, request_link};

/// The event type of the test event an administrator sends.
pub const TEST_EVENT: &str = "webhook.test";

pub async fn for_notice(
    connection: &mut PgConnection,
    notice: &Notice,
    patronato: &str,
    data: &serde_json::Value,
    request_url_base: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<usize> {
    let kind = notice.kind.as_str();
    let link = request_link(request_url_base, notice.request_id);
    let body = payload::body(kind, notice.occurred_at, data, link);
    let mut queued = 0;
    for endpoint in endpoints::of_patronato(&mut *connection, patronato).await? {
        if !endpoint.is_active() || !endpoint.wants(kind) {
            continue;
        }
        let delivery = NewDelivery {
            endpoint_id: endpoint.id,
            event_id: notice.event_id,
            event_type: kind,
            request_id: notice.request_id,
            payload: &body,
        };
        if deliveries::create(&mut *connection, &delivery, now)
            .await?
            .is_some()
        {
            queued += 1;
        }
    }
    Ok(queued)
}

/// A test event for one endpoint (whatever its filter): its delivery id.
pub async fn test_event(
    connection: &mut PgConnection,
    endpoint: &EndpointRow,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Uuid>> {
    let event_id = Uuid::now_v7();
    let data = serde_json::json!({
        "event_id": event_id,
        "patronato": endpoint.patronato,
        "message": "Evento di prova inviato da COMBIPAT: l'endpoint è raggiungibile e la firma si verifica con il segreto.",
    });
    let body = payload::body(TEST_EVENT, now, &data, None);
    deliveries::create(
        connection,
        &NewDelivery {
            endpoint_id: endpoint.id,
            event_id,
            event_type: TEST_EVENT,
            request_id: None,
            payload: &body,
        },
        now,
    )
    .await
}
