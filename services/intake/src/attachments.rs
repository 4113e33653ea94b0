//! Files the operator sends with a request or a reply: recognised by their bytes (PDF, PNG,
//! JPEG, signed P7M), at most 5 MB, kept in object storage (a local directory by default,
//! any S3-compatible store in production). Events carry references, never bytes.

use combipat_platform::ApiError;
use combipat_platform::files::{FileStore, STORED_FILE_COLUMNS, StoredFile};
use combipat_proto::common::v1::AttachmentRef;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::access::Scope;
use crate::store::Operator;

pub use combipat_domain::files::MAX_BYTES;

#[derive(Clone)]
pub struct Attachments {
    store: FileStore,
    pool: PgPool,
}

impl Attachments {
    pub fn new(store: FileStore, pool: PgPool) -> Self {
        Self { store, pool }
    }

    /// Stores a checked file for the uploader's office; a message uses it later.
    pub async fn upload(
        &self,
        uploader: &Operator,
        file_name: &str,
        media_type: &str,
        content: bytes::Bytes,
    ) -> Result<AttachmentRef, ApiError> {
        let (id, stored) = self
            .store
            .put_checked(crate::SERVICE_NAME, file_name, media_type, content)
            .await?;
        let row: StoredFile = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO attachments (id, object_key, sha256, size_bytes, media_type, file_name, patronato, patronato_office, uploaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {STORED_FILE_COLUMNS}"
        )))
        .bind(id)
        .bind(&stored.key)
        .bind(&stored.sha256)
        .bind(i64::try_from(stored.size_bytes).unwrap_or(i64::MAX))
        .bind(&stored.media_type)
        .bind(&stored.file_name)
        .bind(&uploader.patronato)
        .bind(&uploader.patronato_office)
        .bind(&uploader.id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    /// The file and its reference, if the reader's scope holds the office that uploaded it
    /// (or whose request carries it); otherwise NOT_FOUND, so that another office's files
    /// do not betray their existence.
    pub async fn get(
        &self,
        id: Uuid,
        reader: &Scope,
    ) -> Result<(AttachmentRef, bytes::Bytes), ApiError> {
        let found: Option<(StoredFile, String, Option<String>)> = sqlx::query_as(
            "SELECT id, object_key, sha256, size_bytes, media_type, file_name, patronato_office, patronato
             FROM attachments WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|(id, object_key, sha256, size_bytes, media_type, file_name, office, patronato): (Uuid, String, String, i64, String, String, String, Option<String>)| {
            (StoredFile { id, object_key, sha256, size_bytes, media_type, file_name }, office, patronato)
        });
        let not_found = || ApiError::NotFound(format!("no attachment {id}"));
        let (row, office, patronato) = found.ok_or_else(not_found)?;
        // A row without a patronato is an upload from before files kept it, never sent:
        // nobody but an admin reads it, and the sweep deletes it.
        let allowed = match patronato {
            Some(patronato) => reader.allows(&patronato, &office),
            None => *reader == Scope::All,
        };
        if !allowed {
            return Err(not_found());
        }
        let content = self.store.get(&row.object_key).await?;
        Ok((row.into(), content))
    }
}

/// Ties uploaded files to a message of `request_id`, inside the message's transaction. Each
/// must have been uploaded by the same office of the same patronato and not used yet.
pub async fn attach(
    connection: &mut PgConnection,
    ids: &[Uuid],
    field: &str,
    sender: &Operator,
    request_id: Uuid,
    message: &str,
) -> Result<Vec<AttachmentRef>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let tied: Vec<StoredFile> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE attachments SET request_id = $1, message = $2
         WHERE id = ANY($3) AND patronato = $4 AND patronato_office = $5 AND request_id IS NULL
         RETURNING {STORED_FILE_COLUMNS}"
    )))
    .bind(request_id)
    .bind(message)
    .bind(ids)
    .bind(&sender.patronato)
    .bind(&sender.patronato_office)
    .fetch_all(&mut *connection)
    .await?;
    combipat_platform::files::in_order(field, ids, tied)
}

/// The files of a request, oldest first.
pub async fn of_request(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Vec<AttachmentRef>> {
    let rows: Vec<StoredFile> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STORED_FILE_COLUMNS} FROM attachments WHERE request_id = $1 ORDER BY uploaded_at, id"
    )))
    .bind(request_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(AttachmentRef::from).collect())
}

/// Files the office sent with an answer or a question (references from its event): kept
/// beside the request so that its office reads them like its own.
pub async fn record_from_office(
    connection: &mut PgConnection,
    request_id: Uuid,
    files: &[AttachmentRef],
    message: &str,
    sent_by: &str,
) -> sqlx::Result<()> {
    for file in files {
        let Ok(id) = Uuid::parse_str(&file.id) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO attachments (id, object_key, sha256, size_bytes, media_type, file_name,
                                      patronato, patronato_office, uploaded_by, request_id, message)
             SELECT $1, $2, $3, $4, $5, $6, patronato, patronato_office, $7, id, $8
             FROM requests WHERE id = $9
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(&file.key)
        .bind(&file.sha256)
        .bind(i64::try_from(file.size_bytes).unwrap_or(i64::MAX))
        .bind(&file.media_type)
        .bind(&file.file_name)
        .bind(sent_by)
        .bind(message)
        .bind(request_id)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}
