//! Items as stored, their history, and how they look over the API.

use chrono::{DateTime, Utc};
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::Provenance;
use combipat_proto::officequeue::v1::{HistoryEntry, Item};
use sqlx::PgConnection;
use uuid::Uuid;

pub const COLUMNS: &str =
    "seq, request_id, protocol_number, office_code, motivo, topic, subject, patronato,
    status, submitted_at, filed_at, version, claimed_by, lease_until, solleciti,
    sla_due_at, sla_warn_at, sla_days_left, office_patron_day, office_direzione, escalation,
    escalated_at, codice_fiscale, comune_residenza, pratica_protocol_number, patronato_office";

#[derive(Debug, sqlx::FromRow)]
pub struct ItemRow {
    pub seq: i64,
    pub request_id: Uuid,
    pub protocol_number: String,
    pub office_code: String,
    pub motivo: i32,
    pub topic: String,
    pub subject: String,
    pub patronato: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub filed_at: DateTime<Utc>,
    pub version: i64,
    pub claimed_by: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub solleciti: i32,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub sla_warn_at: Option<DateTime<Utc>>,
    pub sla_days_left: Option<i32>,
    pub office_patron_day: String,
    pub office_direzione: String,
    pub escalation: Option<String>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub codice_fiscale: String,
    pub comune_residenza: String,
    pub pratica_protocol_number: String,
    pub patronato_office: String,
}

impl ItemRow {
    /// The business days of the item's office: the national calendar and its patron day.
    pub fn calendar(&self) -> combipat_domain::calendar::OfficeCalendar {
        combipat_domain::calendar::OfficeCalendar::with_patron_day(&self.office_patron_day)
    }

    /// The office as events name it, with its calendar and direzione.
    pub fn office_ref(&self) -> combipat_proto::common::v1::OfficeRef {
        combipat_proto::common::v1::OfficeRef {
            code: self.office_code.clone(),
            patron_day: self.office_patron_day.clone(),
            parent_code: self.office_direzione.clone(),
            ..combipat_proto::common::v1::OfficeRef::default()
        }
    }

    /// Who holds an unexpired lease, if anyone.
    pub fn holder(&self, now: DateTime<Utc>) -> Option<&str> {
        match (&self.claimed_by, self.lease_until) {
            (Some(holder), Some(until)) if until > now => Some(holder),
            _ => None,
        }
    }

    /// Someone other than `subject` who holds an unexpired lease.
    pub fn held_by_other(&self, subject: &str, now: DateTime<Utc>) -> Option<&str> {
        self.holder(now).filter(|holder| *holder != subject)
    }
}

impl From<ItemRow> for Item {
    fn from(row: ItemRow) -> Self {
        row.into_item(Utc::now())
    }
}

impl ItemRow {
    /// The item as the API shows it, its lease and priority as of `as_of`.
    pub fn into_item(self, as_of: DateTime<Utc>) -> Item {
        let row = self;
        let holder = row.holder(as_of).map(str::to_owned);
        let priority = row.priority(as_of);
        Item {
            request_id: row.request_id.to_string(),
            protocol_number: row.protocol_number,
            office_code: row.office_code,
            motivo: row.motivo,
            topic: row.topic,
            subject: row.subject,
            provenance: Provenance::Patronato as i32,
            patronato: row.patronato,
            status: row.status,
            submitted_at: Some(to_timestamp(row.submitted_at)),
            filed_at: Some(to_timestamp(row.filed_at)),
            version: u64::try_from(row.version).unwrap_or_default(),
            lease_until: holder.as_ref().and(row.lease_until).map(to_timestamp),
            claimed_by: holder.unwrap_or_default(),
            solleciti: u32::try_from(row.solleciti).unwrap_or_default(),
            priority: Some(priority),
            codice_fiscale: row.codice_fiscale,
            comune_residenza: row.comune_residenza,
            pratica_protocol_number: row.pratica_protocol_number,
            patronato_office: row.patronato_office,
        }
    }
}

/// The item, locked for the rest of the caller's transaction.
pub async fn lock(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Option<ItemRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM items WHERE request_id = $1 FOR UPDATE"
    )))
    .bind(request_id)
    .fetch_optional(connection)
    .await
}

pub async fn find(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Option<ItemRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM items WHERE request_id = $1"
    )))
    .bind(request_id)
    .fetch_optional(connection)
    .await
}

/// The operator's text of a request (kept apart from the item's columns, which lists read).
pub async fn body(connection: &mut PgConnection, request_id: Uuid) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT body FROM items WHERE request_id = $1")
        .bind(request_id)
        .fetch_one(connection)
        .await
}

/// Serialises the writers that give items a place in `office`'s queue until commit, so that
/// the office's `seq` values (the ListItems cursor) follow commit order.
pub async fn lock_office(connection: &mut PgConnection, office: &str) -> sqlx::Result<()> {
    combipat_platform::db::advisory_locks(connection, &[(office.to_owned(), OFFICE_LOCK_SEED)])
        .await
}

/// The seed of the offices' advisory locks (`hashtextextended(office, seed)`).
pub const OFFICE_LOCK_SEED: i64 = 0;

/// Appends one entry to the item's history (the table refuses updates and deletes).
pub async fn record(
    connection: &mut PgConnection,
    request_id: Uuid,
    actor: &str,
    action: &str,
    text: &str,
    internal: bool,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO item_history (request_id, actor, action, text, internal) VALUES ($1, $2, $3, $4, $5)")
        .bind(request_id)
        .bind(actor)
        .bind(action)
        .bind(text)
        .bind(internal)
        .execute(connection)
        .await
        .map(|_| ())
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    at: DateTime<Utc>,
    actor: String,
    action: String,
    text: String,
    internal: bool,
}

pub async fn history(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Vec<HistoryEntry>> {
    let rows: Vec<HistoryRow> =
        sqlx::query_as("SELECT at, actor, action, text, internal FROM item_history WHERE request_id = $1 ORDER BY id")
            .bind(request_id)
            .fetch_all(connection)
            .await?;
    Ok(rows
        .into_iter()
        .map(|row| HistoryEntry {
            at: Some(to_timestamp(row.at)),
            actor: row.actor,
            action: row.action,
            text: row.text,
            internal: row.internal,
        })
        .collect())
}
