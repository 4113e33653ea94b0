//! The inbox as stored: one notice per (event, audience), each reader's read marks, pages
//! newest first under a keyset cursor.

use chrono::{DateTime, Utc};
use combipat_platform::ApiError;
use combipat_platform::time::to_timestamp;
use combipat_proto::notifier::v1::Notification;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::access::Visibility;
use crate::cursor;
use crate::notice::Notice;

/// Writes `notice`; false when it was there already (the unique key).
pub async fn insert(connection: &mut PgConnection, notice: &Notice) -> sqlx::Result<bool> {
    let audience = &notice.audience;
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, event_id, audience, audience_code, patronato, operator_id, request_id,
                                    protocol_number, event_type, title, body, action_needed, created_at, avviso_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (event_id, audience, audience_code) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(notice.event_id)
    .bind(audience.kind())
    .bind(audience.code())
    .bind(audience.patronato().unwrap_or_default())
    .bind(audience.operator().unwrap_or_default())
    .bind(notice.request_id)
    .bind(&notice.protocol_number)
    .bind(notice.kind.as_str())
    .bind(&notice.title)
    .bind(&notice.text)
    .bind(notice.kind.action_needed())
    .bind(notice.occurred_at)
    .bind(notice.avviso_id)
    .execute(connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Who reads, and what they keep out.
pub struct Reader<'a> {
    pub subject: &'a str,
    pub visibility: &'a Visibility,
    /// Kinds the reader's own preferences keep out of their inbox.
    pub muted: &'a [&'static str],
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    request_id: Option<Uuid>,
    avviso_id: Option<Uuid>,
    protocol_number: String,
    event_type: String,
    title: String,
    body: String,
    created_at: DateTime<Utc>,
    read: bool,
    action_needed: bool,
    audience: String,
    audience_code: String,
    operator_id: String,
}

pub struct Filters {
    pub unread_only: bool,
    pub mine_only: bool,
}

fn visible(reader: &Reader<'_>, select: &str) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(select);
    push_visible(&mut query, reader);
    query
}

/// ` FROM notifications n ... WHERE <what the reader sees>`, with their read marks as `r`.
fn push_visible(query: &mut QueryBuilder<Postgres>, reader: &Reader<'_>) {
    query
        .push(" FROM notifications n LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.reader = ")
        .push_bind(reader.subject.to_owned())
        .push(" WHERE true");
    reader.visibility.push_condition(query);
    if !reader.muted.is_empty() {
        let muted: Vec<String> = reader.muted.iter().map(|kind| (*kind).to_owned()).collect();
        query
            .push(" AND n.event_type <> ALL(")
            .push_bind(muted)
            .push(")");
    }
}

/// One page, newest first; the cursor is the last notice's (time, id).
pub async fn page(
    connection: &mut PgConnection,
    reader: &Reader<'_>,
    filters: &Filters,
    page_size: u32,
    page_token: &str,
) -> Result<(Vec<Notification>, String), ApiError> {
    let size = cursor::page_size(page_size)?;
    let mut query = visible(
        reader,
        "SELECT n.id, n.request_id, n.avviso_id, n.protocol_number, n.event_type, n.title, n.body, n.created_at,
                r.reader IS NOT NULL AS read, n.action_needed, n.audience, n.audience_code, n.operator_id",
    );
    if filters.unread_only {
        query.push(" AND r.reader IS NULL");
    }
    if filters.mine_only {
        query
            .push(" AND n.operator_id = ")
            .push_bind(reader.subject.to_owned());
    }
    if let Some((at, id)) = cursor::parse(page_token)? {
        query
            .push(" AND (n.created_at, n.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY n.created_at DESC, n.id DESC LIMIT ")
        .push_bind(i64::try_from(size + 1).unwrap_or(101));
    let mut rows: Vec<Row> = query.build_query_as().fetch_all(connection).await?;
    let more = rows.len() > size;
    rows.truncate(size);
    let next = match (more, rows.last()) {
        (true, Some(last)) => cursor::format(last.created_at, last.id),
        _ => String::new(),
    };
    Ok((rows.into_iter().map(into_notification).collect(), next))
}

fn into_notification(row: Row) -> Notification {
    Notification {
        id: row.id.to_string(),
        request_id: row.request_id.map(|id| id.to_string()).unwrap_or_default(),
        protocol_number: row.protocol_number,
        event_type: row.event_type,
        title: row.title,
        text: row.body,
        created_at: Some(to_timestamp(row.created_at)),
        read: row.read,
        action_needed: row.action_needed,
        audience: row.audience,
        audience_code: row.audience_code,
        operator_id: row.operator_id,
        avviso_id: row.avviso_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

pub async fn count_unread(connection: &mut PgConnection, reader: &Reader<'_>) -> sqlx::Result<i64> {
    let mut query = visible(reader, "SELECT count(*)");
    query.push(" AND r.reader IS NULL");
    query.build_query_scalar().fetch_one(connection).await
}

/// Marks one notice read; NOT_FOUND when the reader cannot see it.
pub async fn mark_read(
    connection: &mut PgConnection,
    reader: &Reader<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let mut query = visible(reader, "SELECT n.id");
    query.push(" AND n.id = ").push_bind(id);
    let found: Option<Uuid> = query
        .build_query_scalar()
        .fetch_optional(&mut *connection)
        .await?;
    if found.is_none() {
        return Err(ApiError::NotFound(format!("no notice {id} for you")));
    }
    let marked = sqlx::query(
        "INSERT INTO notification_reads (notification_id, reader, read_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(reader.subject)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(marked.rows_affected() == 1)
}

pub async fn mark_all_read(
    connection: &mut PgConnection,
    reader: &Reader<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let mut query = QueryBuilder::new(
        "INSERT INTO notification_reads (notification_id, reader, read_at) SELECT n.id, ",
    );
    query
        .push_bind(reader.subject.to_owned())
        .push(", ")
        .push_bind(now);
    push_visible(&mut query, reader);
    query.push(" AND r.reader IS NULL ON CONFLICT DO NOTHING");
    Ok(query.build().execute(connection).await?.rows_affected())
}
