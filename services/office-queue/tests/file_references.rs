//! File references in events are checked before anything is served: a reference intake could
//! not have made (another service's key, another file's key under this id) is not kept, and
//! a file whose bytes no longer match the fingerprint its reference recorded is refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::files::{FileStore, FileStoreSettings};
use combipat_proto::common::v1::{AttachmentRef, GetAttachmentRequest};
use combipat_proto::events::v1::envelope::Payload;
use combipat_testkit::{eventually, with_token};
use common::{WAIT, decision, get, official_named, start};
use tonic::Code;

/// The store the service under test uses (the test settings' local directory).
fn store(harness: &common::Harness) -> FileStore {
    let local_dir = std::env::temp_dir()
        .join("combipat-test-attachments")
        .join(&harness.bus.queue_prefix)
        .display()
        .to_string();
    FileStore::new(&FileStoreSettings {
        store_url: String::new(),
        local_dir,
        unused_upload_hours: 24,
        unused_sweep_interval_ms: 600_000,
    })
    .unwrap()
}

#[tokio::test]
async fn only_references_intake_made_are_kept_and_only_matching_bytes_are_served() {
    let mut harness = start().await;
    let files = store(&harness);
    let own = files
        .put(
            "intake",
            uuid::Uuid::new_v4(),
            "delega.pdf",
            "application/pdf",
            bytes::Bytes::from_static(b"%PDF-1.7 delega"),
        )
        .await
        .unwrap();
    let tampered = files
        .put(
            "intake",
            uuid::Uuid::new_v4(),
            "modulo.pdf",
            "application/pdf",
            bytes::Bytes::from_static(b"%PDF-1.7 modulo"),
        )
        .await
        .unwrap();
    // Someone else's file, named by a reference that borrows its key under a new id.
    let borrowed = AttachmentRef {
        id: uuid::Uuid::new_v4().to_string(),
        file_name: "altrui.pdf".into(),
        ..own.clone()
    };
    let foreign = AttachmentRef {
        key: format!("office-queue/2026/12/{}", own.id),
        file_name: "ufficio.pdf".into(),
        ..own.clone()
    };

    let request_id = uuid::Uuid::now_v7().to_string();
    let mut envelope = decision(&request_id, "SEDE-MI", "CP-2026-00000900", 1);
    if let Some(Payload::RequestRouted(routed)) = envelope.payload.as_mut()
        && let Some(request) = routed.request.as_mut()
    {
        request.attachments = vec![own.clone(), borrowed, foreign, tampered.clone()];
    }
    harness.bus.publish_envelope(&envelope).await.unwrap();
    let client = harness.client.clone();
    let filed = eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = request_id.clone();
        async move {
            let found = client
                .get_item(with_token(
                    combipat_proto::officequeue::v1::GetItemRequest { request_id },
                    &official_named("SEDE-MI", "anna"),
                )?)
                .await;
            Ok(found.ok().map(tonic::Response::into_inner))
        }
    })
    .await
    .unwrap();
    let mut names: Vec<&str> = filed
        .request_attachments
        .iter()
        .map(|file| file.file_name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["delega.pdf", "modulo.pdf"],
        "only intake's own references"
    );
    assert_eq!(
        get(&mut harness.client, &request_id)
            .await
            .request_attachments
            .len(),
        2
    );

    let read = |id: &str| {
        let mut client = harness.client.clone();
        let id = id.to_owned();
        async move {
            client
                .get_attachment(
                    with_token(
                        GetAttachmentRequest { attachment_id: id },
                        &official_named("SEDE-MI", "anna"),
                    )
                    .unwrap(),
                )
                .await
        }
    };
    let served = read(&own.id).await.unwrap().into_inner();
    assert_eq!(served.content, b"%PDF-1.7 delega");

    // The bytes behind a kept reference change: they are not served.
    let path = std::path::Path::new(&std::env::temp_dir())
        .join("combipat-test-attachments")
        .join(&harness.bus.queue_prefix)
        .join(&tampered.key);
    std::fs::write(&path, b"altro contenuto").unwrap();
    let refused = read(&tampered.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
}
