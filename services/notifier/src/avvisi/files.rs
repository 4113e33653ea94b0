//! An avviso's files: uploaded by the publisher with the channel's one checked upload
//! (`FileStore::put_checked`), then named by the version that carries them. A correction may
//! carry the corrected version's files again; the bytes are stored once, in the store the
//! services share.

use chrono::{DateTime, Utc};
use combipat_platform::files::{self, FileStore, STORED_FILE_COLUMNS, StoredFile};
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::{AttachmentRef, UploadAttachmentRequest};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Stores a checked file for `publisher_office`; one of its avvisi names it later.
pub async fn upload(
    store: &FileStore,
    pool: &PgPool,
    publisher_office: &str,
    uploaded_by: &str,
    call: UploadAttachmentRequest,
    now: DateTime<Utc>,
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
        "INSERT INTO avviso_files (id, object_key, sha256, size_bytes, media_type, file_name, publisher_office, uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(&stored.key)
    .bind(&stored.sha256)
    .bind(i64::try_from(stored.size_bytes).unwrap_or(i64::MAX))
    .bind(&stored.media_type)
    .bind(&stored.file_name)
    .bind(publisher_office)
    .bind(uploaded_by)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(stored)
}

/// The files `ids` names, each the publisher's own upload not yet carried by an avviso, or
/// (for a correction) one `corrected` carries; every other id refused by position.
pub async fn usable(
    connection: &mut PgConnection,
    ids: &[Uuid],
    publisher_office: &str,
    corrected: Option<Uuid>,
) -> Result<Vec<AttachmentRef>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<StoredFile> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STORED_FILE_COLUMNS} FROM avviso_files f
         WHERE f.id = ANY($1) AND f.publisher_office = $2
           AND (NOT EXISTS (SELECT 1 FROM avviso_version_files v WHERE v.file_id = f.id)
                OR EXISTS (SELECT 1 FROM avviso_version_files v WHERE v.file_id = f.id AND v.avviso_id = $3))"
    )))
    .bind(ids)
    .bind(publisher_office)
    .bind(corrected)
    .fetch_all(connection)
    .await?;
    files::in_order("attachment_ids", ids, found).map_err(|error| match error {
        ApiError::InvalidArgument(violations) => ApiError::InvalidArgument(
            violations
                .into_iter()
                .map(|violation| {
                    Violation::new(
                        violation.field,
                        "is not a file your office uploaded for an avviso (nor one the corrected version carries)",
                    )
                })
                .collect(),
        ),
        other => other,
    })
}

/// Ties `files` to version `avviso_id`, in their order.
pub async fn attach(
    connection: &mut PgConnection,
    avviso_id: Uuid,
    files: &[AttachmentRef],
) -> Result<(), ApiError> {
    for (position, file) in files.iter().enumerate() {
        let file_id = Uuid::parse_str(&file.id)
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("stored file id {}", file.id)))?;
        sqlx::query(
            "INSERT INTO avviso_version_files (avviso_id, file_id, position) VALUES ($1, $2, $3)",
        )
        .bind(avviso_id)
        .bind(file_id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// The files version `avviso_id` carries, in order.
pub async fn of_version(
    connection: &mut PgConnection,
    avviso_id: Uuid,
) -> sqlx::Result<Vec<AttachmentRef>> {
    let files: Vec<StoredFile> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM avviso_files f JOIN avviso_version_files v ON v.file_id = f.id
         WHERE v.avviso_id = $1 ORDER BY v.position",
        columns = prefixed(STORED_FILE_COLUMNS)
    )))
    .bind(avviso_id)
    .fetch_all(connection)
    .await?;
    Ok(files.into_iter().map(AttachmentRef::from).collect())
}

/// `id, object_key, ...` as `f.id, f.object_key, ...`.
fn prefixed(columns: &str) -> String {
    columns
        .split(',')
        .map(|column| format!("f.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
