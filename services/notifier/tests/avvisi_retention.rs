//! A file uploaded for an avviso that no version took is deleted after a day; one an avviso
//! published is kept however old (the same sweep as intake's, `unused_uploads`).

#![allow(
    clippy::unwrap_used,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_proto::common::v1::UploadAttachmentRequest;
use combipat_proto::notifier::v1::PublishAvvisoRequest;
use combipat_testkit::{eventually, with_token};
use common::avvisi::{draft, inps, region};

#[tokio::test]
async fn a_file_no_avviso_took_is_deleted_after_a_day_and_a_published_one_is_kept() {
    let mut avvisi =
        common::avvisi::start_with_settings(&[("attachments.unused_sweep_interval_ms", "1000")])
            .await;
    let publisher = inps(Role::Responsabile, "DR-LOMBARDIA");
    let upload = || {
        let mut client = avvisi.client.clone();
        let caller = publisher.clone();
        async move {
            client
                .upload_avviso_file(
                    with_token(
                        UploadAttachmentRequest {
                            file_name: "circolare.pdf".into(),
                            media_type: String::new(),
                            content: b"%PDF-1.7\n%%EOF\n".to_vec(),
                        },
                        &caller,
                    )
                    .unwrap(),
                )
                .await
                .unwrap()
                .into_inner()
        }
    };
    let abandoned = upload().await;
    let published = upload().await;
    avvisi
        .publish(
            &publisher,
            PublishAvvisoRequest {
                attachment_ids: vec![published.id.clone()],
                ..draft("Nuova circolare", "Il testo della circolare.", region("03"))
            },
        )
        .await;
    let pool = avvisi.harness.db().await;
    sqlx::query("UPDATE avviso_files SET uploaded_at = now() - interval '25 hours'")
        .execute(&pool)
        .await
        .unwrap();
    let left = eventually(Duration::from_secs(20), || async {
        let left: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM avviso_files")
            .fetch_all(&pool)
            .await?;
        Ok((left.len() == 1).then_some(left))
    })
    .await
    .unwrap();
    assert_eq!(left[0].to_string(), published.id);
    assert_ne!(left[0].to_string(), abandoned.id);
}
