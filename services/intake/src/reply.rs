//! `ProvideInfo`: the operator's reply when the office asked for more information. The
//! reply, the request's new status and the event leave in one transaction.

use combipat_platform::messaging::new_envelope;
use combipat_platform::{ApiError, Violation, outbox};
use combipat_proto::events::v1::RequestInfoProvided;
use combipat_proto::events::v1::envelope::Payload;
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::status::{INFO_REQUESTED, ROUTED};
use crate::store::{Desk, Operator};

const REPLY_MAX_CHARS: usize = 4000;

pub async fn provide_info(
    desk: &Desk,
    operator: &Operator,
    request_id: Uuid,
    reply: &str,
    attachment_ids: &[String],
) -> Result<&'static str, ApiError> {
    let mut violations = Vec::new();
    let reply = combipat_domain::text::clean(reply, REPLY_MAX_CHARS, true)
        .map_err(|reason| violations.push(Violation::new("reply", reason)))
        .unwrap_or_default();
    let attachment_ids =
        combipat_platform::files::attachment_ids("attachment_ids", attachment_ids, &mut violations);
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }
    let mut transaction = desk.pool.begin().await?;
    let found: Option<(String, String, String)> = sqlx::query_as(
        "SELECT status, patronato, patronato_office FROM requests WHERE id = $1 FOR UPDATE",
    )
    .bind(request_id)
    .fetch_optional(&mut *transaction)
    .await?;
    let (status, _, office) = found
        .filter(|(_, patronato, office)| operator.owns(patronato, office))
        .ok_or_else(|| ApiError::NotFound(format!("no request {request_id}")))?;
    if status != INFO_REQUESTED {
        return Err(ApiError::FailedPrecondition(format!(
            "the office has not asked for information (the request is {status})"
        )));
    }
    let attachments = crate::attachments::attach(
        &mut transaction,
        &attachment_ids,
        "attachment_ids",
        operator,
        request_id,
        "info_reply",
    )
    .await?;
    let mut detail = reply.clone();
    for attachment in &attachments {
        detail.push_str(&format!("\n[allegato: {}]", attachment.file_name));
    }
    sqlx::query("UPDATE requests SET status = $2 WHERE id = $1")
        .bind(request_id)
        .bind(ROUTED)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("INSERT INTO request_history (request_id, at, status, detail) VALUES ($1, $2, 'INFO_PROVIDED', $3)")
        .bind(request_id)
        .bind(desk.clock.now())
        .bind(&detail)
        .execute(&mut *transaction)
        .await?;
    let event = Payload::RequestInfoProvided(RequestInfoProvided {
        reply,
        provided_by: operator.id.clone(),
        attachments,
    });
    outbox::enqueue(
        &mut transaction,
        &new_envelope(SERVICE_NAME, &request_id.to_string(), event),
    )
    .await?;
    desk.outbox.commit(transaction).await?;
    tracing::info!(request.id = %request_id, office = %office, "information provided");
    Ok(ROUTED)
}
