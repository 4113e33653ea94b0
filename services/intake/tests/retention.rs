//! What intake keeps only for a while: a file uploaded and never sent is deleted after a day
//! (its row and its bytes), and an idempotency key identifies a submission only within its
//! window.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_proto::common::v1::{GetAttachmentRequest, UploadAttachmentRequest};
use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_testkit::{eventually, with_token};
use common::{PDF, admin, good_request, operator, start_with, submit};
use tonic::Code;

#[tokio::test]
async fn an_upload_never_sent_is_deleted_after_a_day_and_a_sent_one_is_kept() {
    let harness = start_with(&[("attachments.unused_sweep_interval_ms", "1000")]).await;
    let mine = operator("INCA-MI-01");
    let upload = || {
        let mut client = harness.client.clone();
        let token = mine.clone();
        async move {
            client
                .upload_attachment(
                    with_token(
                        UploadAttachmentRequest {
                            file_name: "isee.pdf".into(),
                            media_type: String::new(),
                            content: PDF.to_vec(),
                        },
                        &token,
                    )
                    .unwrap(),
                )
                .await
                .unwrap()
                .into_inner()
        }
    };
    let abandoned = upload().await;
    let sent = upload().await;
    let recent = upload().await;
    submit(
        &harness,
        SubmitRequestRequest {
            attachment_ids: vec![sent.id.clone()],
            ..good_request()
        },
        &mine,
    )
    .await
    .unwrap();
    let pool = harness.database.connect().await.unwrap();
    sqlx::query(
        "UPDATE attachments SET uploaded_at = now() - interval '25 hours' WHERE id = ANY($1)",
    )
    .bind(vec![
        uuid::Uuid::parse_str(&abandoned.id).unwrap(),
        uuid::Uuid::parse_str(&sent.id).unwrap(),
    ])
    .execute(&pool)
    .await
    .unwrap();

    let files = std::env::temp_dir()
        .join("combipat-test-attachments")
        .join(&harness.bus.queue_prefix);
    assert!(files.join(&abandoned.key).exists());
    eventually(Duration::from_secs(20), || async {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments")
            .fetch_one(&pool)
            .await?;
        Ok((left == 2).then_some(()))
    })
    .await
    .unwrap();
    assert!(
        !files.join(&abandoned.key).exists(),
        "its bytes are gone too"
    );
    let read = |id: String| {
        let mut client = harness.client.clone();
        async move {
            client
                .get_attachment(
                    with_token(GetAttachmentRequest { attachment_id: id }, &admin()).unwrap(),
                )
                .await
        }
    };
    assert_eq!(read(abandoned.id).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(read(sent.id).await.unwrap().into_inner().content, PDF);
    assert_eq!(read(recent.id).await.unwrap().into_inner().content, PDF);
}

#[tokio::test]
async fn an_idempotency_key_is_free_again_after_its_window() {
    let harness = start_with(&[("retention.sweep_interval_ms", "1000")]).await;
    let mine = operator("INCA-MI-01");
    let keyed = |subject: &str| SubmitRequestRequest {
        idempotency_key: "chiave-1".into(),
        subject: subject.into(),
        confirm_duplicate: true,
        ..good_request()
    };
    let first = submit(&harness, keyed("Prima"), &mine).await.unwrap();
    let misuse = submit(&harness, keyed("Altra"), &mine).await.unwrap_err();
    assert_eq!(misuse.code(), Code::AlreadyExists, "{misuse:?}");

    // A day later the key names nothing: the same key files a new request, whether or not
    // the sweep has deleted the old row yet.
    let pool = harness.database.connect().await.unwrap();
    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        .execute(&pool)
        .await
        .unwrap();
    let later = submit(&harness, keyed("Altra"), &mine).await.unwrap();
    assert!(!later.replayed);
    assert_ne!(later.request_id, first.request_id);
    let again = submit(&harness, keyed("Altra"), &mine).await.unwrap();
    assert!(again.replayed, "within the new window it is a retry again");
    assert_eq!(again.request_id, later.request_id);

    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        .execute(&pool)
        .await
        .unwrap();
    eventually(Duration::from_secs(20), || async {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
            .fetch_one(&pool)
            .await?;
        Ok((left == 0).then_some(()))
    })
    .await
    .unwrap();
}
