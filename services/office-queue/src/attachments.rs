//! The item's files: the patronato's (references from the request) and the office's own,
//! uploaded before an answer or a question and tied to it when it is sent. Bytes live in
//! the store the services share; rows and events hold references.

use combipat_platform::ApiError;
use combipat_platform::files::{self, FileStore, STORED_FILE_COLUMNS, StoredFile};
use combipat_proto::common::v1::AttachmentRef;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const PATRONATO: &str = "patronato";

/// Stores a checked file for `office`; an answer or question of that office uses it later.
pub async fn upload(
    store: &FileStore,
    pool: &PgPool,
    office: &str,
    uploaded_by: &str,
    call: combipat_proto::common::v1::UploadAttachmentRequest,
) -> Result<AttachmentRef, ApiError> {
    let (id, stored) = store
        .put_checked(
            crate::SERVICE_NAME,
            &call.file_name,
            &call.media_type,
            call.content.into(),
        )
        .await?;
    sqlx::query(
        "INSERT INTO attachments (id, object_key, sha256, size_bytes, media_type, file_name, sent_by, office_code, uploaded_by)
         VALUES ($1, $2, $3, $4, $5, $6, 'office', $7, $8)",
    )
    .bind(id)
    .bind(&stored.key)
    .bind(&stored.sha256)
    .bind(i64::try_from(stored.size_bytes).unwrap_or(i64::MAX))
    .bind(&stored.media_type)
    .bind(&stored.file_name)
    .bind(office)
    .bind(uploaded_by)
    .execute(pool)
    .await?;
    Ok(stored)
}

/// Ties the office's uploads to the item, inside the message's transaction.
pub async fn attach(
    connection: &mut PgConnection,
    ids: &[Uuid],
    office: &str,
    request_id: Uuid,
) -> Result<Vec<AttachmentRef>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let tied: Vec<StoredFile> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE attachments SET request_id = $1
         WHERE id = ANY($2) AND office_code = $3 AND sent_by = 'office' AND request_id IS NULL
         RETURNING {STORED_FILE_COLUMNS}"
    )))
    .bind(request_id)
    .bind(ids)
    .bind(office)
    .fetch_all(&mut *connection)
    .await?;
    files::in_order("attachment_ids", ids, tied)
}

/// The patronato's files of a newly filed item (references from the request).
pub async fn record_from_patronato(
    connection: &mut PgConnection,
    request_id: Uuid,
    files: &[AttachmentRef],
    sent_by: &str,
) -> sqlx::Result<()> {
    for file in files {
        let Some(id) = combipat_platform::files::accepted_reference(file, "intake") else {
            continue;
        };
        sqlx::query(
            "INSERT INTO attachments (id, object_key, sha256, size_bytes, media_type, file_name, sent_by, uploaded_by, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, 'patronato', $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(&file.key)
        .bind(&file.sha256)
        .bind(i64::try_from(file.size_bytes).unwrap_or(i64::MAX))
        .bind(&file.media_type)
        .bind(&file.file_name)
        .bind(sent_by)
        .bind(request_id)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// The item's files: (the patronato's, the office's), oldest first.
pub async fn of_item(
    connection: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<(Vec<AttachmentRef>, Vec<AttachmentRef>)> {
    let rows: Vec<(String, Uuid, String, String, i64, String, String)> = sqlx::query_as(
        "SELECT sent_by, id, object_key, sha256, size_bytes, media_type, file_name
         FROM attachments WHERE request_id = $1 ORDER BY uploaded_at, id",
    )
    .bind(request_id)
    .fetch_all(connection)
    .await?;
    let (mut patronato, mut office) = (Vec::new(), Vec::new());
    for (sent_by, id, object_key, sha256, size_bytes, media_type, file_name) in rows {
        let file = AttachmentRef::from(StoredFile {
            id,
            object_key,
            sha256,
            size_bytes,
            media_type,
            file_name,
        });
        if sent_by == PATRONATO {
            patronato.push(file);
        } else {
            office.push(file);
        }
    }
    Ok((patronato, office))
}

/// A stored file with the office it belongs to and, once sent, its request's citizen.
#[derive(sqlx::FromRow)]
struct FoundRow {
    id: Uuid,
    object_key: String,
    sha256: String,
    size_bytes: i64,
    media_type: String,
    file_name: String,
    office: Option<String>,
    request_id: Option<Uuid>,
    codice_fiscale: Option<String>,
}

/// A file found by id: its reference, the office it belongs to (the item's office, or for a
/// file not yet sent, the office that uploaded it), and the request and citizen it concerns
/// once sent.
pub struct Found {
    pub file: AttachmentRef,
    pub office: String,
    pub request: Option<(Uuid, String)>,
}

pub async fn find(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Found>> {
    let found: Option<FoundRow> = sqlx::query_as(
        "SELECT a.id, a.object_key, a.sha256, a.size_bytes, a.media_type, a.file_name,
                COALESCE(i.office_code, a.office_code) AS office, i.request_id, i.codice_fiscale
         FROM attachments a LEFT JOIN items i ON i.request_id = a.request_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|row| Found {
        file: AttachmentRef::from(StoredFile {
            id: row.id,
            object_key: row.object_key,
            sha256: row.sha256,
            size_bytes: row.size_bytes,
            media_type: row.media_type,
            file_name: row.file_name,
        }),
        office: row.office.unwrap_or_default(),
        request: row.request_id.zip(row.codice_fiscale),
    }))
}
