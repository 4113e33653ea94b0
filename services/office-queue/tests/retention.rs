//! An official's upload that no answer or question took is deleted after a day, row and
//! bytes; a recent one is kept (the same sweep as intake's, `unused_uploads`).

#![allow(
    clippy::unwrap_used,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_proto::common::v1::UploadAttachmentRequest;
use combipat_testkit::{eventually, with_token};
use common::{official, start_with};

#[tokio::test]
async fn an_upload_no_answer_took_is_deleted_after_a_day() {
    let harness = start_with(&[("attachments.unused_sweep_interval_ms", "1000")]).await;
    let upload = || {
        let mut client = harness.client.clone();
        async move {
            client
                .upload_attachment(
                    with_token(
                        UploadAttachmentRequest {
                            file_name: "risposta.pdf".into(),
                            media_type: String::new(),
                            content: b"%PDF-1.7\n%%EOF\n".to_vec(),
                        },
                        &official("SEDE-MI"),
                    )
                    .unwrap(),
                )
                .await
                .unwrap()
                .into_inner()
        }
    };
    let abandoned = upload().await;
    let recent = upload().await;
    let pool = harness.database.connect().await.unwrap();
    sqlx::query("UPDATE attachments SET uploaded_at = now() - interval '25 hours' WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&abandoned.id).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    eventually(Duration::from_secs(20), || async {
        let left: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM attachments")
            .fetch_all(&pool)
            .await?;
        Ok((left.len() == 1).then_some(left))
    })
    .await
    .map(|left| assert_eq!(left[0].to_string(), recent.id))
    .unwrap();
}
