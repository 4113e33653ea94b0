//! A multipart form: its text fields, and each file (the `allegati` inputs) uploaded as the
//! operator with `UploadAttachment`, for the message the form then sends.

use axum::extract::Multipart;
use combipat_proto::common::v1::UploadAttachmentRequest;
use combipat_proto::intake::v1::intake_server::Intake as _;

use super::{Pages, Session};

pub const FILE_FIELD: &str = "allegati";

pub struct Read {
    pub fields: Vec<(String, String)>,
    pub attachment_ids: Vec<String>,
}

impl Read {
    /// The text fields as a form struct (missing ones default).
    pub fn form<T: serde::de::DeserializeOwned + Default>(&self) -> T {
        serde_urlencoded::to_string(&self.fields)
            .ok()
            .and_then(|encoded| serde_urlencoded::from_str(&encoded).ok())
            .unwrap_or_default()
    }
}

pub async fn read(
    pages: &Pages,
    session: &Session,
    mut multipart: Multipart,
) -> Result<Read, tonic::Status> {
    let mut fields = Vec::new();
    let mut attachment_ids = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|error| {
        tonic::Status::invalid_argument(format!("il modulo non è arrivato intero: {error}"))
    })? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == FILE_FIELD {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content = field.bytes().await.map_err(|error| {
                tonic::Status::invalid_argument(format!("un file non è arrivato intero: {error}"))
            })?;
            if file_name.is_empty() && content.is_empty() {
                continue; // the file input left empty
            }
            let stored = pages
                .call(
                    session,
                    UploadAttachmentRequest {
                        file_name,
                        media_type: String::new(),
                        content: content.to_vec(),
                    },
                    |api, request| async move { api.upload_attachment(request).await },
                )
                .await?;
            attachment_ids.push(stored.id);
        } else {
            let value = field.text().await.unwrap_or_default();
            fields.push((name, value));
        }
    }
    Ok(Read {
        fields,
        attachment_ids,
    })
}
