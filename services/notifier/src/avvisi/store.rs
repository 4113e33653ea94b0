//! The avvisi as stored: one row per version, the links between versions, each reader's read
//! marks and the counts per patronato, pages newest first under a keyset cursor, and the
//! Italian text search (`search @@ websearch_to_tsquery('italian', ...)`, a GIN index).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use combipat_platform::ApiError;
use combipat_platform::time::to_timestamp;
use combipat_proto::notifier::v1::{Avviso, AvvisoVersion, PatronatoReadCount, ReadCountsResponse};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::model::{self, Audience, Priority, Territory};
use super::reading::Reader;
use crate::cursor;

const COLUMNS: &str =
    "a.id, a.series_id, a.version, a.supersedes, a.superseded_by, a.title, a.body, a.topic,
    a.priority, a.patronati, a.scope, a.region_code, a.province_codes, a.publish_at, a.expires_at,
    a.publisher_office, a.publisher_name, a.published_by, a.correction_note, a.created_at,
    a.delivered_at, a.withdrawn_at, a.withdrawn_reason, a.withdrawal_event_id";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: Uuid,
    pub series_id: Uuid,
    pub version: i32,
    pub supersedes: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    pub title: String,
    pub body: String,
    pub topic: String,
    pub priority: String,
    pub patronati: Vec<String>,
    pub scope: String,
    pub region_code: String,
    pub province_codes: Vec<String>,
    pub publish_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub publisher_office: String,
    pub publisher_name: String,
    pub published_by: String,
    pub correction_note: String,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: String,
    pub withdrawal_event_id: Option<Uuid>,
}

/// A row with what the reader's query adds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub row: Row,
    pub read: bool,
    pub file_count: i64,
}

impl Row {
    pub fn priority(&self) -> Priority {
        Priority::parse(&self.priority).unwrap_or(Priority::Informativo)
    }

    pub fn audience(&self) -> Audience {
        Audience {
            patronati: self.patronati.clone(),
            territory: Territory::from_columns(
                &self.scope,
                &self.region_code,
                &self.province_codes,
            ),
        }
    }

    pub fn status(&self, now: DateTime<Utc>) -> combipat_proto::notifier::v1::AvvisoStatus {
        model::status(
            now,
            self.publish_at,
            self.expires_at,
            self.superseded_by.is_some(),
            self.withdrawn_at.is_some(),
        )
    }

    pub fn to_message(&self, now: DateTime<Utc>, read: bool, file_count: i64) -> Avviso {
        let id = |value: Option<Uuid>| value.map(|id| id.to_string()).unwrap_or_default();
        Avviso {
            id: self.id.to_string(),
            series_id: self.series_id.to_string(),
            version: u32::try_from(self.version).unwrap_or_default(),
            supersedes_id: id(self.supersedes),
            superseded_by_id: id(self.superseded_by),
            title: self.title.clone(),
            text: self.body.clone(),
            topic: self.topic.clone(),
            priority: self.priority().to_proto() as i32,
            audience: Some(self.audience().to_proto()),
            publish_at: Some(to_timestamp(self.publish_at)),
            expires_at: self.expires_at.map(to_timestamp),
            created_at: Some(to_timestamp(self.created_at)),
            status: self.status(now) as i32,
            publisher_office: self.publisher_office.clone(),
            publisher_name: self.publisher_name.clone(),
            published_by: self.published_by.clone(),
            correction_note: self.correction_note.clone(),
            withdrawn_at: self.withdrawn_at.map(to_timestamp),
            withdrawn_reason: self.withdrawn_reason.clone(),
            read,
            file_count: u32::try_from(file_count).unwrap_or_default(),
            delivered_at: self.delivered_at.map(to_timestamp),
        }
    }
}

/// A version to write.
pub struct NewVersion<'a> {
    pub id: Uuid,
    pub series_id: Uuid,
    pub version: i32,
    pub supersedes: Option<Uuid>,
    pub title: &'a str,
    pub text: &'a str,
    pub topic: &'a str,
    pub priority: Priority,
    pub audience: &'a Audience,
    pub publish_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub publisher_office: &'a str,
    pub publisher_name: &'a str,
    pub published_by: &'a str,
    pub correction_note: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Writes a version; false when the publisher's idempotency key has an avviso already.
pub async fn insert(connection: &mut PgConnection, new: &NewVersion<'_>) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO avvisi (id, series_id, version, supersedes, title, body, topic, priority, patronati, scope,
                             region_code, province_codes, publish_at, expires_at, publisher_office, publisher_name,
                             published_by, correction_note, idempotency_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
         ON CONFLICT (publisher_office, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
    )
    .bind(new.id)
    .bind(new.series_id)
    .bind(new.version)
    .bind(new.supersedes)
    .bind(new.title)
    .bind(new.text)
    .bind(new.topic)
    .bind(new.priority.as_str())
    .bind(&new.audience.patronati)
    .bind(new.audience.territory.scope())
    .bind(new.audience.territory.region_code())
    .bind(new.audience.territory.province_codes())
    .bind(new.publish_at)
    .bind(new.expires_at)
    .bind(new.publisher_office)
    .bind(new.publisher_name)
    .bind(new.published_by)
    .bind(new.correction_note)
    .bind(new.idempotency_key)
    .bind(new.now)
    .execute(connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn by_idempotency_key(
    connection: &mut PgConnection,
    publisher_office: &str,
    key: &str,
) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM avvisi a WHERE a.publisher_office = $1 AND a.idempotency_key = $2"
    )))
    .bind(publisher_office)
    .bind(key)
    .fetch_optional(connection)
    .await
}

/// One version; `lock` takes it FOR UPDATE (a correction or withdrawal racing another).
pub async fn find(
    connection: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<Row>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM avvisi a WHERE a.id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

/// One version the reader may read, with their read mark and its file count.
pub async fn visible(
    connection: &mut PgConnection,
    reader: &Reader,
    subject: &str,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Listed>> {
    let mut query = select(reader, subject, now);
    query.push(" AND a.id = ").push_bind(id);
    query.build_query_as().fetch_optional(connection).await
}

fn select(reader: &Reader, subject: &str, now: DateTime<Utc>) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS}, r.reader IS NOT NULL AS read,
                (SELECT count(*) FROM avviso_version_files f WHERE f.avviso_id = a.id) AS file_count
         FROM avvisi a LEFT JOIN avviso_reads r ON r.avviso_id = a.id AND r.reader = "
    ));
    query.push_bind(subject.to_owned()).push(" WHERE true");
    reader.push_condition(&mut query, now);
    query
}

pub struct Filters {
    pub topic: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub query: String,
    pub unread_only: bool,
    pub include_expired: bool,
    pub include_withdrawn: bool,
}

/// One page of the current versions, newest first; the cursor is the last one's (time, id).
pub async fn page(
    connection: &mut PgConnection,
    reader: &Reader,
    subject: &str,
    filters: &Filters,
    now: DateTime<Utc>,
    page_size: u32,
    page_token: &str,
) -> Result<(Vec<Listed>, String), ApiError> {
    let size = cursor::page_size(page_size)?;
    let mut query = select(reader, subject, now);
    query.push(" AND a.superseded_by IS NULL");
    if !filters.include_withdrawn {
        query.push(" AND a.withdrawn_at IS NULL");
    }
    if !filters.include_expired {
        query
            .push(" AND (a.expires_at IS NULL OR a.expires_at > ")
            .push_bind(now)
            .push(")");
    }
    if !filters.topic.is_empty() {
        query
            .push(" AND a.topic = ")
            .push_bind(filters.topic.clone());
    }
    if let Some(from) = filters.from {
        query.push(" AND a.publish_at >= ").push_bind(from);
    }
    if let Some(to) = filters.to {
        query.push(" AND a.publish_at < ").push_bind(to);
    }
    if !filters.query.is_empty() {
        query
            .push(" AND a.search @@ websearch_to_tsquery('italian', ")
            .push_bind(filters.query.clone())
            .push(")");
    }
    if filters.unread_only {
        query.push(" AND r.reader IS NULL");
    }
    if let Some((at, id)) = cursor::parse(page_token)? {
        query
            .push(" AND (a.publish_at, a.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY a.publish_at DESC, a.id DESC LIMIT ")
        .push_bind(i64::try_from(size + 1).unwrap_or(101));
    let mut rows: Vec<Listed> = query.build_query_as().fetch_all(connection).await?;
    let more = rows.len() > size;
    rows.truncate(size);
    let next = match (more, rows.last()) {
        (true, Some(last)) => cursor::format(last.row.publish_at, last.row.id),
        _ => String::new(),
    };
    Ok((rows, next))
}

/// Every version of a series, oldest first.
pub async fn versions(
    connection: &mut PgConnection,
    series_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<AvvisoVersion>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM avvisi a WHERE a.series_id = $1 ORDER BY a.version"
    )))
    .bind(series_id)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .iter()
        .map(|row| AvvisoVersion {
            id: row.id.to_string(),
            version: u32::try_from(row.version).unwrap_or_default(),
            publish_at: Some(to_timestamp(row.publish_at)),
            status: row.status(now) as i32,
            correction_note: row.correction_note.clone(),
        })
        .collect())
}

pub async fn supersede(connection: &mut PgConnection, old: Uuid, new: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE avvisi SET superseded_by = $2 WHERE id = $1")
        .bind(old)
        .bind(new)
        .execute(connection)
        .await
        .map(|_| ())
}

pub async fn withdraw(
    connection: &mut PgConnection,
    id: Uuid,
    by: &str,
    reason: &str,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE avvisi SET withdrawn_at = $2, withdrawn_by = $3, withdrawn_reason = $4, withdrawal_event_id = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(by)
    .bind(reason)
    .bind(event_id)
    .execute(connection)
    .await
    .map(|_| ())
}

pub async fn delivered(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE avvisi SET delivered_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(connection)
        .await
        .map(|_| ())
}

/// Records that `reader` of `patronato` (and `office`, '' for a supervisore) read version
/// `id`; false when they had already.
pub async fn mark_read(
    connection: &mut PgConnection,
    id: Uuid,
    reader: &str,
    patronato: &str,
    office: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let marked = sqlx::query(
        "INSERT INTO avviso_reads (avviso_id, reader, patronato, office, read_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(reader)
    .bind(patronato)
    .bind(office)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// Per patronato: the offices reached, the offices where someone read it, the readers; and
/// their sums.
pub async fn read_counts(
    connection: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<ReadCountsResponse> {
    let reached: Vec<(String, i64)> = sqlx::query_as(
        "SELECT patronato, count(*) FROM avviso_recipients WHERE avviso_id = $1 GROUP BY patronato",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await?;
    let read: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT patronato, count(DISTINCT office) FILTER (WHERE office <> ''), count(*)
         FROM avviso_reads WHERE avviso_id = $1 GROUP BY patronato",
    )
    .bind(id)
    .fetch_all(connection)
    .await?;
    let count = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
    let mut by_patronato: BTreeMap<String, PatronatoReadCount> = BTreeMap::new();
    for (patronato, offices) in reached {
        entry(&mut by_patronato, &patronato).offices_reached = count(offices);
    }
    for (patronato, offices, readers) in read {
        let counts = entry(&mut by_patronato, &patronato);
        counts.offices_read = count(offices);
        counts.readers = count(readers);
    }
    let patronati: Vec<PatronatoReadCount> = by_patronato.into_values().collect();
    Ok(ReadCountsResponse {
        avviso_id: id.to_string(),
        offices_reached: patronati.iter().map(|p| p.offices_reached).sum(),
        offices_read: patronati.iter().map(|p| p.offices_read).sum(),
        readers: patronati.iter().map(|p| p.readers).sum(),
        patronati,
    })
}

fn entry<'m>(
    counts: &'m mut BTreeMap<String, PatronatoReadCount>,
    patronato: &str,
) -> &'m mut PatronatoReadCount {
    counts
        .entry(patronato.to_owned())
        .or_insert_with(|| PatronatoReadCount {
            patronato: patronato.to_owned(),
            ..PatronatoReadCount::default()
        })
}
