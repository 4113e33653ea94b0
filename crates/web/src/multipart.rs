//! A page's multipart form: its text fields, and each file part uploaded as the caller (the
//! service's own `UploadAttachment`) as it arrives, so that the message the form sends names
//! the uploaded ids. Parts are counted before anything is stored: past
//! [`MAX_FILES`] files or [`MAX_FIELDS`] text fields the form is refused, and no later file
//! is uploaded.

use std::future::Future;

use axum::extract::Multipart;
use combipat_platform::files::MAX_PER_MESSAGE;
use combipat_proto::common::v1::UploadAttachmentRequest;

/// Files one form may carry: as many as one message takes.
pub const MAX_FILES: usize = MAX_PER_MESSAGE;
/// Text fields one form may carry (ours have a handful).
pub const MAX_FIELDS: usize = 40;

pub struct Form {
    pub fields: Vec<(String, String)>,
    pub attachment_ids: Vec<String>,
}

impl Form {
    /// The first value of the text field `name`, or "".
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// The text fields as a form struct (missing ones default).
    pub fn parse<T: serde::de::DeserializeOwned + Default>(&self) -> T {
        serde_urlencoded::to_string(&self.fields)
            .ok()
            .and_then(|encoded| serde_urlencoded::from_str(&encoded).ok())
            .unwrap_or_default()
    }
}

/// Reads `multipart`; a part whose name `is_file` is a file, given to `upload`, which stores
/// it and answers its id. An empty file input (no name, no bytes) is skipped.
pub async fn read<Upload, Stored>(
    mut multipart: Multipart,
    is_file: impl Fn(&str) -> bool,
    mut upload: Upload,
) -> Result<Form, tonic::Status>
where
    Upload: FnMut(UploadAttachmentRequest) -> Stored,
    Stored: Future<Output = Result<String, tonic::Status>>,
{
    let mut fields = Vec::new();
    let mut attachment_ids = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|error| {
        tonic::Status::invalid_argument(format!("il modulo non è arrivato intero: {error}"))
    })? {
        let name = field.name().unwrap_or_default().to_owned();
        if is_file(&name) {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content = field.bytes().await.map_err(|error| {
                tonic::Status::invalid_argument(format!("un file non è arrivato intero: {error}"))
            })?;
            if file_name.is_empty() && content.is_empty() {
                continue;
            }
            if attachment_ids.len() == MAX_FILES {
                return Err(tonic::Status::invalid_argument(format!(
                    "al massimo {MAX_FILES} file per messaggio"
                )));
            }
            attachment_ids.push(
                upload(UploadAttachmentRequest {
                    file_name,
                    media_type: String::new(),
                    content: content.to_vec(),
                })
                .await?,
            );
        } else {
            if fields.len() == MAX_FIELDS {
                return Err(tonic::Status::invalid_argument(format!(
                    "il modulo ha più di {MAX_FIELDS} campi"
                )));
            }
            fields.push((name, field.text().await.unwrap_or_default()));
        }
    }
    Ok(Form {
        fields,
        attachment_ids,
    })
}
