//! What officials do with an item: claim, release, answer, note, close. Each change runs in
//! one transaction: the item locked, the caller's office and the item's version checked, the
//! change and its history entry written, and its event (if any) put in the outbox.

use combipat_domain::sla::SlaPolicy;
use combipat_platform::auth::{Principal, Role};
use combipat_platform::clock::Clock;
use combipat_platform::outbox::OutboxWaker;
use combipat_platform::{ApiError, Violation, outbox};
use combipat_proto::common::v1::OfficeRef;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{
    RequestAnswered, RequestClosed, RequestInfoRequested, RequestTransferred,
};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::items::{self, COLUMNS, ItemRow};
use crate::lifecycle;

pub const DEFAULT_LEASE_SECONDS: u32 = 900;
pub const MAX_LEASE_SECONDS: u32 = 3600;
const TEXT_MAX_CHARS: usize = 4000;
const OFFICIAL_MAX_CHARS: usize = 200;

pub const CLOSED: &str = "CLOSED";

/// What every change to an item needs: the database, the relay to wake after a commit that
/// wrote an event, the SLA policy and the clock.
pub struct Desk {
    pub pool: PgPool,
    pub outbox: OutboxWaker,
    pub sla: SlaPolicy,
    pub clock: Clock,
}

/// A funzionario or responsabile of the item's office; admins read but do not work items.
pub fn authorise_work(caller: &Principal, office_code: &str) -> Result<(), ApiError> {
    match caller.role {
        Role::Funzionario | Role::Responsabile
            if caller.inps_office.as_deref() == Some(office_code) =>
        {
            Ok(())
        }
        _ => Err(ApiError::PermissionDenied(format!(
            "only officials of office {office_code} work its items"
        ))),
    }
}

fn clean(field: &str, text: &str) -> Result<String, ApiError> {
    combipat_domain::text::clean(text, TEXT_MAX_CHARS, true)
        .map_err(|reason| ApiError::InvalidArgument(vec![Violation::new(field, reason)]))
}

/// Opens the transaction of one change: the item locked, office and version checked.
async fn begin(
    pool: &PgPool,
    caller: &Principal,
    request_id: Uuid,
    expected_version: Option<u64>,
) -> Result<(Transaction<'static, Postgres>, ItemRow), ApiError> {
    let mut transaction = pool.begin().await?;
    let item = items::lock(&mut transaction, request_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no item for request {request_id}")))?;
    authorise_work(caller, &item.office_code)?;
    if let Some(expected) = expected_version
        && u64::try_from(item.version).ok() != Some(expected)
    {
        return Err(ApiError::Aborted(format!(
            "the item changed since you read it (you sent version {expected}, it is at version {}); read it again",
            item.version
        )));
    }
    if item.status == CLOSED {
        return Err(ApiError::FailedPrecondition(
            "the item is closed".to_owned(),
        ));
    }
    Ok((transaction, item))
}

async fn update(
    transaction: &mut Transaction<'static, Postgres>,
    request_id: Uuid,
    set: &str,
) -> Result<ItemRow, ApiError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE items SET {set}, version = version + 1 WHERE request_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(request_id)
    .fetch_one(&mut **transaction)
    .await?)
}

fn lease_seconds(requested: u32) -> Result<u32, ApiError> {
    match requested {
        0 => Ok(DEFAULT_LEASE_SECONDS),
        1..=MAX_LEASE_SECONDS => Ok(requested),
        _ => Err(ApiError::InvalidArgument(vec![Violation::new(
            "lease_seconds",
            format!("must be at most {MAX_LEASE_SECONDS}"),
        )])),
    }
}

/// Gives `official` a lease on the item: inside a transaction already checked by [`begin`].
async fn lease(
    desk: &Desk,
    transaction: &mut Transaction<'static, Postgres>,
    request_id: Uuid,
    official: &str,
    lease_seconds: u32,
) -> Result<ItemRow, ApiError> {
    // From the service's clock, the one every lease is read against.
    let until = desk.clock.now() + chrono::Duration::seconds(i64::from(lease_seconds));
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE items SET claimed_by = $2, lease_until = $3, version = version + 1
         WHERE request_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(request_id)
    .bind(official)
    .bind(until)
    .fetch_one(&mut **transaction)
    .await?)
}

pub async fn claim(
    desk: &Desk,
    caller: &Principal,
    request_id: Uuid,
    expected_version: u64,
    lease_seconds: u32,
) -> Result<ItemRow, ApiError> {
    let lease_seconds = self::lease_seconds(lease_seconds)?;
    let (mut transaction, item) =
        begin(&desk.pool, caller, request_id, Some(expected_version)).await?;
    if let Some(holder) = item.held_by_other(&caller.subject, desk.clock.now()) {
        return Err(ApiError::FailedPrecondition(format!(
            "{holder} holds the item until {}",
            item.lease_until
                .map(|until| until.to_rfc3339())
                .unwrap_or_default()
        )));
    }
    let claimed = lease(
        desk,
        &mut transaction,
        request_id,
        &caller.subject,
        lease_seconds,
    )
    .await?;
    items::record(
        &mut transaction,
        request_id,
        &caller.subject,
        "claimed",
        &format!("lease of {lease_seconds} s"),
        false,
    )
    .await?;
    transaction.commit().await?;
    Ok(claimed)
}

/// A responsabile gives the item to an official of the office, whoever held it.
pub async fn reassign(
    desk: &Desk,
    caller: &Principal,
    call: combipat_proto::officequeue::v1::ReassignRequest,
) -> Result<ItemRow, ApiError> {
    let request_id = combipat_platform::error::request_id(&call.request_id)?;
    let lease_seconds = self::lease_seconds(call.lease_seconds)?;
    let official = call.to_official.trim();
    if official.is_empty() || official.chars().count() > OFFICIAL_MAX_CHARS {
        return Err(ApiError::InvalidArgument(vec![Violation::new(
            "to_official",
            format!("must name an official (1 to {OFFICIAL_MAX_CHARS} characters)"),
        )]));
    }
    let (mut transaction, item) =
        begin(&desk.pool, caller, request_id, Some(call.expected_version)).await?;
    if caller.role != Role::Responsabile {
        return Err(ApiError::PermissionDenied(
            "only a responsabile of the office reassigns items".to_owned(),
        ));
    }
    let previous = item.holder(desk.clock.now()).unwrap_or("nobody").to_owned();
    let reassigned = lease(desk, &mut transaction, request_id, official, lease_seconds).await?;
    items::record(
        &mut transaction,
        request_id,
        &caller.subject,
        "reassigned",
        &format!("from {previous} to {official}, lease of {lease_seconds} s"),
        false,
    )
    .await?;
    transaction.commit().await?;
    Ok(reassigned)
}

pub async fn release(
    desk: &Desk,
    caller: &Principal,
    request_id: Uuid,
    expected_version: u64,
) -> Result<ItemRow, ApiError> {
    let (mut transaction, item) =
        begin(&desk.pool, caller, request_id, Some(expected_version)).await?;
    if item
        .held_by_other(&caller.subject, desk.clock.now())
        .is_some()
        && caller.role != Role::Responsabile
    {
        return Err(ApiError::PermissionDenied(
            "only the holder or a responsabile releases a claimed item".to_owned(),
        ));
    }
    let released = update(
        &mut transaction,
        request_id,
        "claimed_by = NULL, lease_until = NULL",
    )
    .await?;
    items::record(
        &mut transaction,
        request_id,
        &caller.subject,
        "released",
        "",
        false,
    )
    .await?;
    transaction.commit().await?;
    Ok(released)
}

/// What an official writes to the patronato, with the files that go with it.
pub struct Message<'a> {
    pub text: &'a str,
    pub attachment_ids: &'a [String],
    pub kind: ToPatronato,
}

/// What an official sends the patronato: an answer, or a request for more information.
#[derive(Debug, Clone, Copy)]
pub enum ToPatronato {
    Answer,
    InfoRequest,
}

impl ToPatronato {
    fn status(self) -> &'static str {
        match self {
            Self::Answer => "ANSWERED",
            Self::InfoRequest => "INFO_REQUESTED",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Self::Answer => "answered",
            Self::InfoRequest => "info_requested",
        }
    }

    fn event(
        self,
        item: &ItemRow,
        caller: &Principal,
        text: String,
        attachments: Vec<combipat_proto::common::v1::AttachmentRef>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Payload {
        match self {
            Self::Answer => Payload::RequestAnswered(RequestAnswered {
                office: Some(office(item)),
                answer: text,
                answered_by: caller.subject.clone(),
                answered_at: Some(combipat_platform::time::to_timestamp(now)),
                attachments,
            }),
            Self::InfoRequest => Payload::RequestInfoRequested(RequestInfoRequested {
                office: Some(office(item)),
                question: text,
                asked_by: caller.subject.clone(),
                attachments,
            }),
        }
    }
}

/// Sends `text` to the patronato: needs the caller's lease, ends it, sets the status, and
/// writes the history entry and the event in one transaction.
pub async fn to_patronato(
    desk: &Desk,
    caller: &Principal,
    request_id: Uuid,
    expected_version: u64,
    message: Message<'_>,
) -> Result<ItemRow, ApiError> {
    let Message {
        text,
        attachment_ids,
        kind,
    } = message;
    let mut violations = Vec::new();
    let text = combipat_domain::text::clean(text, TEXT_MAX_CHARS, true)
        .map_err(|reason| violations.push(Violation::new("text", reason)))
        .unwrap_or_default();
    let attachment_ids =
        combipat_platform::files::attachment_ids("attachment_ids", attachment_ids, &mut violations);
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }
    let (mut transaction, item) =
        begin(&desk.pool, caller, request_id, Some(expected_version)).await?;
    if item.holder(desk.clock.now()) != Some(caller.subject.as_str()) {
        return Err(ApiError::FailedPrecondition(
            "claim the item before writing to the patronato".to_owned(),
        ));
    }
    let clock = if let ToPatronato::InfoRequest = kind {
        // The clock stops while the office waits; it keeps the business days left. An item
        // whose clock had ended (answered, then asked again) gets a whole new term.
        let days_left = item.deadline().map_or(desk.sla.business_days, |deadline| {
            desk.sla
                .remaining_at(&deadline, desk.clock.now(), &item.calendar())
        });
        sqlx::query("UPDATE items SET sla_due_at = NULL, sla_warn_at = NULL, sla_days_left = $2 WHERE request_id = $1")
            .bind(request_id)
            .bind(i32::try_from(days_left).unwrap_or(i32::MAX))
            .execute(&mut *transaction)
            .await?;
        lifecycle::Clock::Paused {
            business_days_left: days_left,
        }
    } else {
        lifecycle::Clock::Stopped
    };
    let changed = update(
        &mut transaction,
        request_id,
        &format!(
            "status = '{}', claimed_by = NULL, lease_until = NULL",
            kind.status()
        ),
    )
    .await?;
    items::record(
        &mut transaction,
        request_id,
        &caller.subject,
        kind.action(),
        &text,
        false,
    )
    .await?;
    let files = crate::attachments::attach(
        &mut transaction,
        &attachment_ids,
        &item.office_code,
        request_id,
    )
    .await?;
    let event = kind.event(&item, caller, text, files, desk.clock.now());
    outbox::enqueue(&mut transaction, &lifecycle::event(&changed, event)).await?;
    let reason = match kind {
        ToPatronato::InfoRequest => "information requested: the clock stops",
        ToPatronato::Answer => "answered: the clock stops",
    };
    outbox::enqueue(
        &mut transaction,
        &lifecycle::sla_changed(&changed, &clock, reason),
    )
    .await?;
    desk.outbox.commit(transaction).await?;
    Ok(changed)
}

/// Notes are internal and append-only; they change no state, so they need no version.
pub async fn add_note(
    desk: &Desk,
    caller: &Principal,
    request_id: Uuid,
    text: &str,
) -> Result<ItemRow, ApiError> {
    let text = clean("text", text)?;
    let (mut transaction, item) = begin(&desk.pool, caller, request_id, None).await?;
    items::record(
        &mut transaction,
        request_id,
        &caller.subject,
        "note",
        &text,
        true,
    )
    .await?;
    transaction.commit().await?;
    Ok(item)
}

pub async fn close(
    desk: &Desk,
    caller: &Principal,
    request_id: Uuid,
    expected_version: u64,
) -> Result<ItemRow, ApiError> {
    let (mut transaction, item) =
        begin(&desk.pool, caller, request_id, Some(expected_version)).await?;
    if let Some(holder) = item.held_by_other(&caller.subject, desk.clock.now()) {
        return Err(ApiError::FailedPrecondition(format!(
            "{holder} holds the item; they or a responsabile release it first"
        )));
    }
    let closed = update(
        &mut transaction,
        request_id,
        "status = 'CLOSED', claimed_by = NULL, lease_until = NULL",
    )
    .await?;
    items::record(
        &mut transaction,
        request_id,
        &caller.subject,
        "closed",
        "",
        false,
    )
    .await?;
    let event = Payload::RequestClosed(RequestClosed {
        office: Some(office(&item)),
        closed_by: caller.subject.clone(),
    });
    outbox::enqueue(&mut transaction, &lifecycle::event(&closed, event)).await?;
    outbox::enqueue(
        &mut transaction,
        &lifecycle::sla_changed(&closed, &lifecycle::Clock::Stopped, "closed"),
    )
    .await?;
    desk.outbox.commit(transaction).await?;
    Ok(closed)
}

/// Sends the item on to another office. Office-queue owns the request once it is filed, so
/// the transfer is decided here in one transaction (the item locked, office, version and
/// state checked, the item moved, its history and `request.transferred` written); router
/// records it from the event. The target is checked against router's directory first,
/// a read that changes nothing.
pub async fn transfer(
    desk: &Desk,
    router: &crate::router_client::Router,
    caller: &Principal,
    authorization: &str,
    call: combipat_proto::officequeue::v1::TransferRequest,
) -> Result<(ItemRow, OfficeRef), ApiError> {
    let request_id = combipat_platform::error::request_id(&call.request_id)?;
    let reason = combipat_domain::text::clean(&call.reason, 500, false)
        .map_err(|reason| ApiError::InvalidArgument(vec![Violation::new("reason", reason)]))?;
    let to_office = router
        .office(authorization, call.to_office_code.trim())
        .await?;
    let (mut transaction, before) =
        begin(&desk.pool, caller, request_id, Some(call.expected_version)).await?;
    if before.office_code == to_office.code {
        return Err(ApiError::FailedPrecondition(format!(
            "the request is already at {}",
            to_office.code
        )));
    }
    if let Some(holder) = before.held_by_other(&caller.subject, desk.clock.now()) {
        return Err(ApiError::FailedPrecondition(format!(
            "{holder} holds the item; they or a responsabile release it first"
        )));
    }
    // Writers to the target office take turns, so that its `seq` follows commit order.
    items::lock_office(&mut transaction, &to_office.code).await?;
    // The citizen's clock goes on at the new office; one that was stopped while the office
    // waited for information restarts with the business days it had left, on the new
    // office's calendar.
    // An answered item sent on is new work with a whole term, like one asked again.
    let deadline = match (before.deadline(), before.sla_days_left) {
        (Some(running), _) => running,
        (None, Some(left)) => desk.sla.resume_at(
            u32::try_from(left).unwrap_or_default(),
            desk.clock.now(),
            &lifecycle::calendar(&to_office.patron_day),
        ),
        (None, None) => desk.sla.resume_at(
            desk.sla.business_days,
            desk.clock.now(),
            &lifecycle::calendar(&to_office.patron_day),
        ),
    };
    sqlx::query(
        "UPDATE items SET sla_due_at = $2, sla_warn_at = $3, sla_days_left = NULL,
                          office_patron_day = $4, office_direzione = $5, office_region = $6,
                          escalation = NULL
         WHERE request_id = $1",
    )
    .bind(request_id)
    .bind(deadline.due_at)
    .bind(deadline.warn_at)
    .bind(&to_office.patron_day)
    .bind(&to_office.parent_code)
    .bind(&to_office.region_code)
    .execute(&mut *transaction)
    .await?;
    // At the new office it is new work (the citizen's clock goes on): no lease from the old
    // office, a new place in the new office's queue, a new version.
    let moved: ItemRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE items SET office_code = $2, seq = DEFAULT, status = 'NEW', filed_at = clock_timestamp(),
                          rule = $3, claimed_by = NULL, lease_until = NULL, version = version + 1
         WHERE request_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(request_id)
    .bind(&to_office.code)
    .bind(format!("transfer:{}", before.office_code))
    .fetch_one(&mut *transaction)
    .await?;
    items::record(
        &mut transaction,
        request_id,
        &caller.subject,
        "transferred",
        &format!(
            "from {} to {}: {reason}",
            before.office_code, to_office.code
        ),
        false,
    )
    .await?;
    let event = Payload::RequestTransferred(RequestTransferred {
        from_office: Some(office(&before)),
        to_office: Some(to_office.clone()),
        reason,
        transferred_by: caller.subject.clone(),
    });
    outbox::enqueue(&mut transaction, &lifecycle::event(&moved, event)).await?;
    outbox::enqueue(
        &mut transaction,
        &lifecycle::sla_changed(
            &moved,
            &lifecycle::Clock::Running(deadline),
            &format!(
                "transferred to {}: the deadline follows the request",
                to_office.code
            ),
        ),
    )
    .await?;
    desk.outbox.commit(transaction).await?;
    tracing::info!(request.id = %request_id, from = %before.office_code, to = %to_office.code, "transferred");
    Ok((moved, to_office))
}

fn office(item: &ItemRow) -> OfficeRef {
    OfficeRef {
        code: item.office_code.clone(),
        ..OfficeRef::default()
    }
}
