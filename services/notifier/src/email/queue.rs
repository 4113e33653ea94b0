//! A notice by e-mail: the message row (one per event and address) and its send job, in the
//! caller's transaction. A suppressed address gets nothing (counted).

use chrono::{DateTime, Utc};
use combipat_platform::clock::Clock;
use combipat_platform::jobs::{self, NewJob};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{SEND_KIND, suppression, templates};
use crate::notice::{Notice, notice_link};
use crate::settings::EmailSettings;

/// Queues `notice` to `address`; the outcome for the metric: queued, suppressed or duplicate.
pub async fn notice(
    connection: &mut PgConnection,
    notice: &Notice,
    address: &str,
    clock: &Clock,
    settings: &EmailSettings,
) -> sqlx::Result<&'static str> {
    if suppression::is_suppressed(&mut *connection, address).await? {
        return Ok("suppressed");
    }
    let link = notice_link(notice, settings);
    let rendered = templates::notice(notice, link.as_deref());
    let queued = insert(
        connection,
        notice.event_id,
        address,
        "notice",
        &rendered,
        clock.now(),
    )
    .await?;
    Ok(if queued { "queued" } else { "duplicate" })
}

/// Writes one message and its send job, due now; false when (event, address) has one.
pub async fn insert(
    connection: &mut PgConnection,
    event_id: Uuid,
    address: &str,
    kind: &str,
    rendered: &templates::Rendered,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO emails (id, event_id, address, kind, subject, text_body, html_body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id, address) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(event_id)
    .bind(suppression::normalise(address))
    .bind(kind)
    .bind(&rendered.subject)
    .bind(&rendered.text)
    .bind(&rendered.html)
    .bind(now)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(id) = id else { return Ok(false) };
    jobs::schedule(
        connection,
        &NewJob {
            kind: SEND_KIND,
            subject: &id.to_string(),
            due_at: now,
            payload: serde_json::json!({}),
        },
    )
    .await?;
    Ok(true)
}
