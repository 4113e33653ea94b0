//! A multipart form of the operator's pages: its text fields, and each file (the `allegati`
//! inputs) uploaded as the operator with `UploadAttachment`, for the message the form then
//! sends (counted and capped by the shared reader, `combipat_web::multipart`).

use axum::extract::Multipart;
use combipat_proto::intake::v1::intake_server::Intake as _;
use combipat_web::multipart::Form;

use super::{Pages, Session};

pub const FILE_FIELD: &str = "allegati";

pub async fn read(
    pages: &Pages,
    session: &Session,
    multipart: Multipart,
) -> Result<Form, tonic::Status> {
    combipat_web::multipart::read(
        multipart,
        |name| name == FILE_FIELD,
        |upload| async move {
            pages
                .call(session, upload, |api, request| async move {
                    api.upload_attachment(request).await
                })
                .await
                .map(|stored| stored.id)
        },
    )
    .await
}
