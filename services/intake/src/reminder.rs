//! `SendReminder`: the sollecito, under the rule of `combipat_domain::sollecito`. The check,
//! the count, the history entry and the event commit together.

use chrono::{DateTime, Utc};
use combipat_domain::sollecito::{self, SollecitoRefusal};
use combipat_platform::messaging::new_envelope;
use combipat_platform::{ApiError, outbox};
use combipat_proto::events::v1::RequestSollecito;
use combipat_proto::events::v1::envelope::Payload;
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::status::{ANSWERED, CLOSED};
use crate::store::{Desk, Operator};

#[derive(sqlx::FromRow)]
struct Row {
    status: String,
    patronato: String,
    patronato_office: String,
    submitted_at: DateTime<Utc>,
    solleciti: i32,
    last_sollecito_at: Option<DateTime<Utc>>,
}

/// Sends a sollecito now; returns the count and when the next one becomes possible.
pub async fn send(
    desk: &Desk,
    operator: &Operator,
    request_id: Uuid,
) -> Result<(u32, DateTime<Utc>), ApiError> {
    let now = desk.clock.now();
    let mut transaction = desk.pool.begin().await?;
    let row: Row = sqlx::query_as(
        "SELECT status, patronato, patronato_office, submitted_at, solleciti, last_sollecito_at FROM requests WHERE id = $1 FOR UPDATE",
    )
    .bind(request_id)
    .fetch_optional(&mut *transaction)
    .await?
    .filter(|row: &Row| operator.owns(&row.patronato, &row.patronato_office))
    .ok_or_else(|| ApiError::NotFound(format!("no request {request_id}")))?;
    let answered = row.status == ANSWERED || row.status == CLOSED;
    sollecito::check(row.submitted_at, answered, row.last_sollecito_at, now).map_err(
        |refusal| match refusal {
            SollecitoRefusal::Answered => ApiError::FailedPrecondition(refusal.to_string()),
            SollecitoRefusal::TooEarly { possible_from } => ApiError::FailedPrecondition(format!(
                "a sollecito is possible from {}",
                possible_from
                    .with_timezone(&chrono_tz::Europe::Rome)
                    .format("%d/%m/%Y %H:%M")
            )),
        },
    )?;
    let count = row.solleciti + 1;
    sqlx::query("UPDATE requests SET solleciti = $2, last_sollecito_at = $3 WHERE id = $1")
        .bind(request_id)
        .bind(count)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("INSERT INTO request_history (request_id, at, status, detail) VALUES ($1, $2, 'SOLLECITO', $3)")
        .bind(request_id)
        .bind(now)
        .bind(format!("sollecito n. {count} by {}", operator.id))
        .execute(&mut *transaction)
        .await?;
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    let event = Payload::RequestSollecito(RequestSollecito {
        count,
        sent_by: operator.id.clone(),
    });
    outbox::enqueue(
        &mut transaction,
        &new_envelope(SERVICE_NAME, &request_id.to_string(), event),
    )
    .await?;
    desk.outbox.commit(transaction).await?;
    Ok((count, sollecito::possible_from(row.submitted_at, Some(now))))
}
