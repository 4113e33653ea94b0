//! Who read which citizen's data: every request, list entry and file shown to a person is
//! recorded by the call that showed it, and an admin lists the reads by citizen or by reader
//! (gRPC and JSON); nobody else may.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::audit::v1::ListReadsRequest;
use combipat_proto::audit::v1::read_audit_client::ReadAuditClient;
use combipat_proto::common::v1::{GetAttachmentRequest, UploadAttachmentRequest};
use combipat_proto::intake::v1::{ListRequestsRequest, SubmitRequestRequest};
use combipat_testkit::{grpc_channel, with_token};
use common::{PDF, admin, get, good_request, operator, start, submit, supervisor};
use tonic::Code;

const CITIZEN: &str = "RSSMRA85T10A562S";

#[tokio::test]
async fn every_read_of_a_citizens_request_is_recorded_and_an_admin_lists_them() {
    let harness = start().await;
    let mine = operator("INCA-MI-01");
    let file = harness
        .client
        .clone()
        .upload_attachment(
            with_token(
                UploadAttachmentRequest {
                    file_name: "isee.pdf".into(),
                    media_type: String::new(),
                    content: PDF.to_vec(),
                },
                &mine,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let filed = submit(
        &harness,
        SubmitRequestRequest {
            attachment_ids: vec![file.id.clone()],
            ..good_request()
        },
        &mine,
    )
    .await
    .unwrap();
    let audit = ReadAuditClient::new(grpc_channel(harness.service.grpc_addr).await.unwrap());
    let reads = |request: ListReadsRequest, token: String| {
        let mut client = audit.clone();
        async move {
            client
                .list_reads(with_token(request, &token).unwrap())
                .await
                .map(|response| response.into_inner())
        }
    };
    let by_citizen = ListReadsRequest {
        codice_fiscale: CITIZEN.into(),
        ..ListReadsRequest::default()
    };
    assert!(
        reads(by_citizen.clone(), admin())
            .await
            .unwrap()
            .reads
            .is_empty(),
        "filing is not reading"
    );

    get(&harness, &filed.request_id, &mine).await.unwrap();
    harness
        .client
        .clone()
        .list_requests(with_token(ListRequestsRequest::default(), &supervisor("INCA")).unwrap())
        .await
        .unwrap();
    harness
        .client
        .clone()
        .get_attachment(
            with_token(
                GetAttachmentRequest {
                    attachment_id: file.id.clone(),
                },
                &mine,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // A refused read is not a read.
    let acli = common::operator_of("ACLI", "ACLI-MI-1");
    assert_eq!(
        get(&harness, &filed.request_id, &acli)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    let listed = reads(by_citizen.clone(), admin()).await.unwrap();
    let seen: Vec<(String, String, String, String)> = listed
        .reads
        .iter()
        .map(|read| {
            (
                read.reader.clone(),
                read.organisation.clone(),
                read.call.clone(),
                read.detail.clone(),
            )
        })
        .collect();
    // Newest first; a test token's subject is test-<role>.
    assert_eq!(
        seen,
        [
            (
                "test-operatore".to_owned(),
                "INCA/INCA-MI-01".to_owned(),
                "combipat.intake.v1.Intake/GetAttachment".to_owned(),
                file.id.clone()
            ),
            (
                "test-supervisore".to_owned(),
                "INCA".to_owned(),
                "combipat.intake.v1.Intake/ListRequests".to_owned(),
                "list".to_owned()
            ),
            (
                "test-operatore".to_owned(),
                "INCA/INCA-MI-01".to_owned(),
                "combipat.intake.v1.Intake/GetRequest".to_owned(),
                String::new()
            ),
        ]
    );
    assert!(
        listed
            .reads
            .iter()
            .all(|read| read.request_id == filed.request_id
                && read.codice_fiscale == CITIZEN
                && read.service == "intake"
                && read.at.is_some())
    );

    // By reader, a page at a time.
    let first = reads(
        ListReadsRequest {
            reader: "test-operatore".into(),
            page_size: 1,
            ..ListReadsRequest::default()
        },
        admin(),
    )
    .await
    .unwrap();
    assert_eq!(first.reads.len(), 1);
    let rest = reads(
        ListReadsRequest {
            reader: "test-operatore".into(),
            page_size: 1,
            page_token: first.next_page_token.clone(),
            ..ListReadsRequest::default()
        },
        admin(),
    )
    .await
    .unwrap();
    assert_eq!(rest.reads.len(), 1);
    assert!(rest.next_page_token.is_empty());

    // Nobody but an admin; a bad query names its field.
    for token in [mine.clone(), supervisor("INCA")] {
        let refused = reads(by_citizen.clone(), token).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let bad = reads(ListReadsRequest::default(), admin())
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(common::fields(&bad), ["codice_fiscale"]);

    // The same over JSON, with its OpenAPI document.
    let http = reqwest::Client::new();
    let base = format!("http://{}", harness.service.http_addr);
    let body: serde_json::Value = http
        .get(format!("{base}/v1/audit/reads?codice_fiscale={CITIZEN}"))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["reads"].as_array().unwrap().len(), 3, "{body}");
    let document = http
        .get(format!("{base}/openapi/audit.json"))
        .send()
        .await
        .unwrap();
    assert!(document.status().is_success());
}
