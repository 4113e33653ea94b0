//! The object store every service keeps files in: a local directory by default, any
//! S3-compatible store in production (`object_store`). Services share one store, so a file
//! one service wrote is read by another from its reference (key, sha256, size, type, name);
//! events carry such references, never bytes.

use std::sync::Arc;

use chrono::{Datelike as _, Utc};
use combipat_proto::common::v1::AttachmentRef;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::{ApiError, Violation};

/// At most this many files per message.
pub const MAX_PER_MESSAGE: usize = 5;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStoreSettings {
    /// An object store URL (`s3://bucket/prefix`, credentials from the usual AWS_*
    /// variables) or empty for the local directory below.
    pub store_url: String,
    /// Where files go when `store_url` is empty (shared by the services of one machine).
    pub local_dir: String,
    /// An upload nothing used within this many hours is deleted, row and file
    /// (`unused_uploads`), checked every `unused_sweep_interval_ms`.
    #[serde(default = "a_day")]
    pub unused_upload_hours: u32,
    #[serde(default = "ten_minutes_ms")]
    pub unused_sweep_interval_ms: u64,
}

const fn a_day() -> u32 {
    24
}

const fn ten_minutes_ms() -> u64 {
    600_000
}

impl FileStoreSettings {
    /// The unused-uploads sweep's schedule these settings give.
    pub fn unused_schedule(&self) -> crate::unused_uploads::Schedule {
        crate::unused_uploads::Schedule {
            hours: self.unused_upload_hours,
            interval: std::time::Duration::from_millis(self.unused_sweep_interval_ms),
            batch: 1000,
        }
    }
}

#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
}

/// Counter {service, media_type}: files stored, by the service that took them.
const UPLOADED: &str = "combipat_attachments_uploaded_total";

impl FileStore {
    /// Shows `service`'s upload counters at zero, one per accepted kind (call once at start in
    /// a service that takes files).
    pub fn show_uploads_from(service: &'static str) {
        for kind in combipat_domain::files::Kind::ALL {
            metrics::counter!(UPLOADED, "service" => service, "media_type" => kind.media_type())
                .increment(0);
        }
    }

    pub fn new(settings: &FileStoreSettings) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = if settings.store_url.trim().is_empty() {
            std::fs::create_dir_all(&settings.local_dir).map_err(|error| {
                anyhow::anyhow!("attachments.local_dir `{}`: {error}", settings.local_dir)
            })?;
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(
                &settings.local_dir,
            )?)
        } else {
            let url = url::Url::parse(settings.store_url.trim()).map_err(|error| {
                anyhow::anyhow!("attachments.store_url `{}`: {error}", settings.store_url)
            })?;
            let (store, prefix) = object_store::parse_url_opts(&url, std::env::vars())?;
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self { store })
    }

    /// Checks a file the channel is sent (`combipat_domain::files`: its bytes, size, name
    /// and declared type) and stores it under a new id, answered with its reference; every
    /// problem is a field violation.
    pub async fn put_checked(
        &self,
        service: &str,
        file_name: &str,
        media_type: &str,
        content: bytes::Bytes,
    ) -> Result<(uuid::Uuid, AttachmentRef), ApiError> {
        let (file_name, kind) = combipat_domain::files::check(file_name, media_type, &content)
            .map_err(|problems| {
                ApiError::InvalidArgument(
                    problems
                        .into_iter()
                        .map(|problem| Violation::new(problem.field, problem.reason))
                        .collect(),
                )
            })?;
        let id = uuid::Uuid::now_v7();
        let stored = self
            .put(service, id, &file_name, kind.media_type(), content)
            .await?;
        metrics::counter!(
            UPLOADED,
            "service" => service.to_owned(),
            "media_type" => kind.media_type()
        )
        .increment(1);
        Ok((id, stored))
    }

    /// Stores `content` under a new key of `service`; the reference to put in rows and
    /// events (its `id` is the new file's).
    pub async fn put(
        &self,
        service: &str,
        id: uuid::Uuid,
        file_name: &str,
        media_type: &str,
        content: bytes::Bytes,
    ) -> Result<AttachmentRef, ApiError> {
        let now = Utc::now();
        let key = format!("{service}/{}/{:02}/{id}", now.year(), now.month());
        let sha256 = hex::encode(Sha256::digest(&content));
        let size_bytes = u64::try_from(content.len()).unwrap_or(u64::MAX);
        self.store
            .put(&ObjectPath::from(key.as_str()), content.into())
            .await
            .map_err(|error| ApiError::Internal(anyhow::anyhow!("storing {key}: {error}")))?;
        Ok(AttachmentRef {
            key,
            sha256,
            size_bytes,
            media_type: media_type.to_owned(),
            file_name: file_name.to_owned(),
            id: id.to_string(),
        })
    }

    /// Deletes a stored file; a file already gone is not an error (a sweep that failed
    /// half-way deletes it again).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(anyhow::anyhow!("deleting {key}: {error}")),
        }
    }

    /// The file under `key`, refused unless its bytes are the ones its reference recorded
    /// (`sha256`): a reference an event carried is only as good as the file behind it.
    pub async fn get_verified(&self, key: &str, sha256: &str) -> Result<bytes::Bytes, ApiError> {
        let content = self.get(key).await?;
        if hex::encode(Sha256::digest(&content)) != sha256.to_ascii_lowercase() {
            tracing::error!(
                key,
                "a stored file does not match the fingerprint of its reference"
            );
            metrics::counter!(FILE_REFERENCES_REFUSED, "reason" => "fingerprint").increment(1);
            return Err(ApiError::FailedPrecondition(
                "the stored file does not match the fingerprint recorded with it; it is not served"
                    .to_owned(),
            ));
        }
        Ok(content)
    }

    pub async fn get(&self, key: &str) -> Result<bytes::Bytes, ApiError> {
        let read = |error: object_store::Error| {
            ApiError::Internal(anyhow::anyhow!("reading {key}: {error}"))
        };
        self.store
            .get(&ObjectPath::from(key))
            .await
            .map_err(read)?
            .bytes()
            .await
            .map_err(read)
    }
}

/// Upload ids of the files a message carries: at most [`MAX_PER_MESSAGE`], no repeats.
pub fn attachment_ids(
    field: &str,
    ids: &[String],
    violations: &mut Vec<Violation>,
) -> Vec<uuid::Uuid> {
    // Counted before anything is parsed: 150,000 ids must cost nothing but this refusal.
    if ids.len() > MAX_PER_MESSAGE {
        violations.push(Violation::new(
            field,
            format!(
                "at most {MAX_PER_MESSAGE} files per message, not {}",
                ids.len()
            ),
        ));
        return Vec::new();
    }
    let mut parsed = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        match uuid::Uuid::parse_str(id.trim()) {
            Ok(id) if parsed.contains(&id) => violations.push(Violation::new(
                format!("{field}[{index}]"),
                "names the same file twice",
            )),
            Ok(id) => parsed.push(id),
            Err(_) => violations.push(Violation::new(
                format!("{field}[{index}]"),
                "is not an attachment id from UploadAttachment",
            )),
        }
    }
    parsed
}

/// File references from events that were not kept or not served, by `reason`.
pub const FILE_REFERENCES_REFUSED: &str = "combipat_file_references_refused_total";

/// The id of a file an event names, when the reference is one `producer` could have made: a
/// key in `producer`'s part of the store, `producer/YYYY/MM/<id>` with the reference's own id,
/// and a SHA-256 fingerprint. Anything else (another service's key, another file's key under
/// this id, a path of its own) is refused, logged and counted, so an event cannot point a
/// request at a file that is not its own.
pub fn accepted_reference(file: &AttachmentRef, producer: &str) -> Option<uuid::Uuid> {
    let id = uuid::Uuid::parse_str(&file.id).ok();
    let parts: Vec<&str> = file.key.split('/').collect();
    let well_formed = match (id, parts.as_slice()) {
        (Some(id), [service, year, month, key_id]) => {
            *service == producer
                && year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && month.len() == 2
                && month.bytes().all(|b| b.is_ascii_digit())
                && uuid::Uuid::parse_str(key_id).ok() == Some(id)
        }
        _ => false,
    };
    let fingerprint = file.sha256.len() == 64 && file.sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if well_formed && fingerprint {
        id
    } else {
        tracing::warn!(
            key = file.key,
            id = file.id,
            producer,
            "a file reference that its producer could not have made is ignored"
        );
        metrics::counter!(FILE_REFERENCES_REFUSED, "reason" => "reference").increment(1);
        None
    }
}

/// A file as the services' `attachments` tables keep it (select [`STORED_FILE_COLUMNS`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredFile {
    pub id: uuid::Uuid,
    pub object_key: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub media_type: String,
    pub file_name: String,
}

pub const STORED_FILE_COLUMNS: &str = "id, object_key, sha256, size_bytes, media_type, file_name";

impl From<StoredFile> for AttachmentRef {
    fn from(file: StoredFile) -> Self {
        AttachmentRef {
            key: file.object_key,
            sha256: file.sha256,
            size_bytes: u64::try_from(file.size_bytes).unwrap_or_default(),
            media_type: file.media_type,
            file_name: file.file_name,
            id: file.id.to_string(),
        }
    }
}

/// The files a message names, as the statement that tied them to it returned them: in the
/// order the sender gave, each id that did not come back refused (not found, already used,
/// or another office's).
pub fn in_order(
    field: &str,
    ids: &[uuid::Uuid],
    tied: Vec<StoredFile>,
) -> Result<Vec<AttachmentRef>, ApiError> {
    let missing: Vec<Violation> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !tied.iter().any(|file| file.id == **id))
        .map(|(index, id)| {
            Violation::new(
                format!("{field}[{index}]"),
                format!("no unused file {id} uploaded by your office"),
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::InvalidArgument(missing));
    }
    let mut tied = tied;
    tied.sort_by_key(|file| ids.iter().position(|id| *id == file.id));
    Ok(tied.into_iter().map(AttachmentRef::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(key: &str, id: &str) -> AttachmentRef {
        AttachmentRef {
            key: key.to_owned(),
            id: id.to_owned(),
            sha256: "ab".repeat(32),
            ..AttachmentRef::default()
        }
    }

    #[test]
    fn only_the_producers_own_references_are_accepted() {
        let id = "0b6f2a38-6f1e-4c55-9d7a-2f1a6d3c9e01";
        let other = "5d1c9e0a-3b2f-4a8e-8f6d-7c4b2a1e0f93";
        assert!(
            accepted_reference(&reference(&format!("intake/2026/12/{id}"), id), "intake").is_some()
        );
        for (key, named) in [
            (format!("office-queue/2026/12/{id}"), id),
            (format!("intake/2026/12/{other}"), id),
            (format!("intake/2026/12/{id}/../../{other}"), id),
            (format!("intake/26/12/{id}"), id),
            ("../etc/passwd".to_owned(), id),
            (format!("intake/2026/12/{id}"), "not-an-id"),
        ] {
            assert!(
                accepted_reference(&reference(&key, named), "intake").is_none(),
                "{key}"
            );
        }
        let mut unfingerprinted = reference(&format!("intake/2026/12/{id}"), id);
        unfingerprinted.sha256 = "x".to_owned();
        assert!(accepted_reference(&unfingerprinted, "intake").is_none());
    }

    #[test]
    fn too_many_ids_are_refused_before_any_is_read() {
        let ids: Vec<String> = (0..150_000).map(|n| format!("not-an-id-{n}")).collect();
        let mut violations = Vec::new();
        let started = std::time::Instant::now();
        assert!(attachment_ids("attachment_ids", &ids, &mut violations).is_empty());
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert_eq!(violations.len(), 1, "one violation, not one per id");
        assert_eq!(violations[0].field, "attachment_ids");
    }

    #[test]
    fn repeats_and_malformed_ids_are_named_by_position() {
        let id = uuid::Uuid::new_v4().to_string();
        let mut violations = Vec::new();
        let parsed = attachment_ids(
            "attachment_ids",
            &[id.clone(), "x".into(), id],
            &mut violations,
        );
        assert_eq!(parsed.len(), 1);
        let fields: Vec<&str> = violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["attachment_ids[1]", "attachment_ids[2]"]);
    }
}
