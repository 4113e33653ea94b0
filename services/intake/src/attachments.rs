//! Files the operator sends with a request or a reply: recognised by their bytes (PDF, PNG,
//! JPEG, signed P7M), at most 5 MB, kept in object storage (a local directory by default,
//! any S3-compatible store in production). Events carry references, never bytes.

use std::sync::Arc;

use chrono::{Datelike as _, Utc};
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::AttachmentRef;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const MAX_BYTES: usize = 5 * 1024 * 1024;
const FILE_NAME_MAX_CHARS: usize = 200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSettings {
    /// An object store URL (`s3://bucket/prefix`, credentials from the usual AWS_*
    /// variables) or empty for the local directory below.
    pub store_url: String,
    /// Where files go when `store_url` is empty.
    pub local_dir: String,
}

/// The kinds of file the channel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Png,
    Jpeg,
    /// A CAdES signed file (`.p7m`), DER-encoded PKCS#7 signedData.
    P7m,
}

/// The PKCS#7 signedData object identifier (1.2.840.113549.1.7.2), DER-encoded.
const SIGNED_DATA_OID: [u8; 11] = [
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];

impl Kind {
    /// What the bytes are, whatever the file is called.
    pub fn of(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.first() == Some(&0x30)
            && bytes.get(..bytes.len().min(32)).is_some_and(|head| {
                head.windows(SIGNED_DATA_OID.len())
                    .any(|w| w == SIGNED_DATA_OID)
            })
        {
            Some(Self::P7m)
        } else {
            None
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::P7m => "application/pkcs7-mime",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Pdf => &["pdf"],
            Self::Png => &["png"],
            Self::Jpeg => &["jpg", "jpeg"],
            Self::P7m => &["p7m"],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Pdf => "a PDF",
            Self::Png => "a PNG image",
            Self::Jpeg => "a JPEG image",
            Self::P7m => "a signed P7M file",
        }
    }
}

/// A file checked and ready to store: every problem reported at once.
pub fn check(
    file_name: &str,
    media_type: &str,
    content: &[u8],
) -> Result<(String, Kind), Vec<Violation>> {
    let mut violations = Vec::new();
    let name = combipat_domain::text::clean(file_name, FILE_NAME_MAX_CHARS, false)
        .map_err(|reason| violations.push(Violation::new("file_name", reason)))
        .ok()
        .filter(|name| {
            let plain = !name.contains(['/', '\\']);
            if !plain {
                violations.push(Violation::new("file_name", "must be a name, not a path"));
            }
            plain
        });
    if content.is_empty() {
        violations.push(Violation::new("content", "the file is empty"));
    } else if content.len() > MAX_BYTES {
        violations.push(Violation::new(
            "content",
            format!(
                "the file has {} bytes; at most {MAX_BYTES} (5 MB)",
                content.len()
            ),
        ));
    }
    let kind = Kind::of(content);
    if kind.is_none() && !content.is_empty() {
        violations.push(Violation::new(
            "content",
            "is not a PDF, PNG, JPEG or signed P7M file (recognised by its bytes)",
        ));
    }
    if let (Some(kind), Some(name)) = (kind, &name) {
        let extension = name
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase())
            .unwrap_or_default();
        if !kind.extensions().contains(&extension.as_str()) {
            violations.push(Violation::new(
                "file_name",
                format!(
                    "says .{extension} but the file is {}: name it .{}",
                    kind.describe(),
                    kind.extensions()[0]
                ),
            ));
        }
        let declared = media_type.trim().to_ascii_lowercase();
        if !declared.is_empty() && declared != kind.media_type() {
            violations.push(Violation::new(
                "media_type",
                format!(
                    "says {declared} but the file is {} ({})",
                    kind.describe(),
                    kind.media_type()
                ),
            ));
        }
    }
    match (name, kind) {
        (Some(name), Some(kind)) if violations.is_empty() => Ok((name, kind)),
        _ => Err(violations),
    }
}

#[derive(Clone)]
pub struct Attachments {
    store: Arc<dyn ObjectStore>,
    pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    id: Uuid,
    object_key: String,
    sha256: String,
    size_bytes: i64,
    media_type: String,
    file_name: String,
}

impl From<AttachmentRow> for AttachmentRef {
    fn from(row: AttachmentRow) -> Self {
        AttachmentRef {
            key: row.object_key,
            sha256: row.sha256,
            size_bytes: u64::try_from(row.size_bytes).unwrap_or_default(),
            media_type: row.media_type,
            file_name: row.file_name,
            id: row.id.to_string(),
        }
    }
}

/// Who may read an attachment: the office that uploaded it (or whose request carries it),
/// a supervisor of its patronato, or an admin.
#[derive(Debug)]
pub struct Reader<'a> {
    pub patronato_office: Option<&'a str>,
    pub patronato: Option<&'a str>,
    pub admin: bool,
}

const REF_COLUMNS: &str = "id, object_key, sha256, size_bytes, media_type, file_name";

impl Attachments {
    pub fn new(settings: &AttachmentSettings, pool: PgPool) -> anyhow::Result<Self> {
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
        Ok(Self { store, pool })
    }

    /// Stores a checked file for the uploader's office; a message uses it later.
    pub async fn upload(
        &self,
        patronato_office: &str,
        uploaded_by: &str,
        file_name: &str,
        media_type: &str,
        content: bytes::Bytes,
    ) -> Result<AttachmentRef, ApiError> {
        let (file_name, kind) =
            check(file_name, media_type, &content).map_err(ApiError::InvalidArgument)?;
        let id = Uuid::now_v7();
        let now = Utc::now();
        let key = format!("attachments/{}/{:02}/{id}", now.year(), now.month());
        let sha256 = hex::encode(Sha256::digest(&content));
        let size = content.len();
        self.store
            .put(&ObjectPath::from(key.as_str()), content.into())
            .await
            .map_err(|error| ApiError::Internal(anyhow::anyhow!("storing {key}: {error}")))?;
        let row: AttachmentRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO attachments (id, object_key, sha256, size_bytes, media_type, file_name, patronato_office, uploaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {REF_COLUMNS}"
        )))
        .bind(id)
        .bind(&key)
        .bind(&sha256)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(kind.media_type())
        .bind(&file_name)
        .bind(patronato_office)
        .bind(uploaded_by)
        .fetch_one(&self.pool)
        .await?;
        metrics::counter!("combipat_attachments_uploaded_total", "media_type" => kind.media_type())
            .increment(1);
        Ok(row.into())
    }

    /// The file and its reference, if `reader` may see it; otherwise NOT_FOUND, so that
    /// another office's files do not betray their existence.
    pub async fn get(
        &self,
        id: Uuid,
        reader: &Reader<'_>,
    ) -> Result<(AttachmentRef, bytes::Bytes), ApiError> {
        let found: Option<(AttachmentRow, String, Option<String>)> = sqlx::query_as(
            "SELECT a.id, a.object_key, a.sha256, a.size_bytes, a.media_type, a.file_name, a.patronato_office, r.patronato
             FROM attachments a LEFT JOIN requests r ON r.id = a.request_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|(id, object_key, sha256, size_bytes, media_type, file_name, office, patronato): (Uuid, String, String, i64, String, String, String, Option<String>)| {
            (AttachmentRow { id, object_key, sha256, size_bytes, media_type, file_name }, office, patronato)
        });
        let not_found = || ApiError::NotFound(format!("no attachment {id}"));
        let (row, office, patronato) = found.ok_or_else(not_found)?;
        let allowed = reader.admin
            || reader.patronato_office == Some(office.as_str())
            || (reader.patronato.is_some() && reader.patronato == patronato.as_deref());
        if !allowed {
            return Err(not_found());
        }
        let content = self
            .store
            .get(&ObjectPath::from(row.object_key.as_str()))
            .await
            .map_err(|error| {
                ApiError::Internal(anyhow::anyhow!("reading {}: {error}", row.object_key))
            })?
            .bytes()
            .await
            .map_err(|error| {
                ApiError::Internal(anyhow::anyhow!("reading {}: {error}", row.object_key))
            })?;
        Ok((row.into(), content))
    }
}

/// Ties uploaded files to a message of `request_id`, inside the message's transaction. Each
/// must have been uploaded by the same office and not used yet.
pub async fn attach(
    connection: &mut PgConnection,
    ids: &[Uuid],
    field: &str,
    patronato_office: &str,
    request_id: Uuid,
    message: &str,
) -> Result<Vec<AttachmentRef>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE attachments SET request_id = $1, message = $2
         WHERE id = ANY($3) AND patronato_office = $4 AND request_id IS NULL
         RETURNING {REF_COLUMNS}"
    )))
    .bind(request_id)
    .bind(message)
    .bind(ids)
    .bind(patronato_office)
    .fetch_all(&mut *connection)
    .await?;
    let violations: Vec<Violation> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !rows.iter().any(|row| row.id == **id))
        .map(|(index, id)| {
            Violation::new(
                format!("{field}[{index}]"),
                format!("no unused file {id} uploaded by your office"),
            )
        })
        .collect();
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }
    // In the order the operator gave them.
    let mut ordered = rows;
    ordered.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(ordered.into_iter().map(AttachmentRef::from).collect())
}

/// The files of a request, oldest first.
pub async fn of_request(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Vec<AttachmentRef>> {
    let rows: Vec<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REF_COLUMNS} FROM attachments WHERE request_id = $1 ORDER BY uploaded_at, id"
    )))
    .bind(request_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(AttachmentRef::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
    const P7M: &[u8] = &[
        0x30, 0x82, 0x05, 0x10, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
        0xA0, 0x82,
    ];

    #[test]
    fn files_are_recognised_by_their_bytes() {
        assert_eq!(Kind::of(PDF), Some(Kind::Pdf));
        assert_eq!(Kind::of(PNG), Some(Kind::Png));
        assert_eq!(Kind::of(JPEG), Some(Kind::Jpeg));
        assert_eq!(Kind::of(P7M), Some(Kind::P7m));
        assert_eq!(Kind::of(b"MZ\x90\x00 an executable"), None);
        assert_eq!(
            Kind::of(&[0x30, 0x82, 0x01, 0x00]),
            None,
            "DER, but not signedData"
        );
    }

    #[test]
    fn a_name_or_type_that_disagrees_with_the_bytes_is_refused() {
        assert_eq!(check("ISEE 2026.pdf", "", PDF).unwrap().1, Kind::Pdf);
        assert_eq!(
            check("foto.JPEG", "image/jpeg", JPEG).unwrap().1,
            Kind::Jpeg
        );
        assert_eq!(check("domanda.pdf.p7m", "", P7M).unwrap().1, Kind::P7m);
        let renamed = check("virus.pdf", "", b"MZ\x90\x00").unwrap_err();
        assert_eq!(renamed[0].field, "content");
        let wrong_name = check("scansione.pdf", "", PNG).unwrap_err();
        assert_eq!(wrong_name[0].field, "file_name");
        assert!(wrong_name[0].reason.contains("PNG"), "{wrong_name:?}");
        let wrong_type = check("scansione.png", "application/pdf", PNG).unwrap_err();
        assert_eq!(wrong_type[0].field, "media_type");
        let fields: Vec<_> = check("../etc/passwd.pdf", "", &[])
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["file_name", "content"]);
        let mut big = PDF.to_vec();
        big.resize(MAX_BYTES + 1, b' ');
        assert!(
            check("grande.pdf", "", &big).unwrap_err()[0]
                .reason
                .contains("at most")
        );
    }
}
