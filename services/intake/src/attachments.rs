//! Files the operator sends with a request or a reply: recognised by their bytes (PDF, PNG,
//! JPEG, signed P7M), at most 5 MB, kept in object storage (a local directory by default,
//! any S3-compatible store in production). Events carry references, never bytes.

use combipat_platform::ApiError;
use combipat_platform::audit;
use combipat_platform::auth::Principal;
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
    /// do not betray their existence. A file of a request is a read of the citizen's data,
    /// recorded in the read audit before it is served.
    pub async fn get(
        &self,
        id: Uuid,
        reader: &Principal,
        scope: &Scope,
    ) -> Result<(AttachmentRef, bytes::Bytes), ApiError> {
        let found: Option<FileAccess> = sqlx::query_as(
            "SELECT a.id, a.object_key, a.sha256, a.size_bytes, a.media_type, a.file_name,
                    a.patronato_office, a.patronato, a.request_id, r.codice_fiscale
             FROM attachments a LEFT JOIN requests r ON r.id = a.request_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let not_found = || ApiError::NotFound(format!("no attachment {id}"));
        let file = found.ok_or_else(not_found)?;
        // A row without a patronato is an upload from before files kept it, never sent:
        // nobody but an admin reads it, and the sweep deletes it.
        let allowed = match &file.patronato {
            Some(patronato) => scope.allows(patronato, &file.patronato_office),
            None => *scope == Scope::All,
        };
        if !allowed {
            return Err(not_found());
        }
        if let (Some(request_id), Some(codice_fiscale)) = (file.request_id, &file.codice_fiscale) {
            let detail = id.to_string();
            audit::record(
                &self.pool,
                reader,
                "combipat.intake.v1.Intake/GetAttachment",
                &[audit::Shown {
                    request_id,
                    codice_fiscale,
                    detail: &detail,
                }],
            )
            .await?;
        }
        let content = self
            .store
            .get_verified(&file.object_key, &file.sha256)
            .await?;
        Ok((
            StoredFile {
                id: file.id,
                object_key: file.object_key,
                sha256: file.sha256,
                size_bytes: file.size_bytes,
                media_type: file.media_type,
                file_name: file.file_name,
            }
            .into(),
            content,
        ))
    }
}

/// A stored file with what decides who reads it.
#[derive(sqlx::FromRow)]
struct FileAccess {
    id: Uuid,
    object_key: String,
    sha256: String,
    size_bytes: i64,
    media_type: String,
    file_name: String,
    patronato_office: String,
    patronato: Option<String>,
    request_id: Option<Uuid>,
    codice_fiscale: Option<String>,
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
        let Some(id) = combipat_platform::files::accepted_reference(file, "office-queue") else {
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
