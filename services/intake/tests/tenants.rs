//! A patronato office belongs to one patronato. Two identity providers may issue the same
//! office code (INCA's "MI-01" and ACLI's "MI-01"): every path checks the pair, so neither
//! sees nor touches the other's requests, files or ratings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_platform::messaging::sequenced_envelope;
use combipat_proto::common::v1::{GetAttachmentRequest, OfficeRef, UploadAttachmentRequest};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{RequestAnswered, RequestInfoRequested};
use combipat_proto::intake::v1::{
    ListRequestsRequest, ProvideInfoRequest, RateAnswerRequest, SendReminderRequest,
    SubmitRequestRequest,
};
use combipat_testkit::{eventually, with_token};
use common::{Harness, PDF, get, good_request, operator_of, start, submit};
use tonic::Code;

const SHARED_OFFICE: &str = "MI-01";

async fn upload(harness: &Harness, token: &str) -> String {
    harness
        .client
        .clone()
        .upload_attachment(
            with_token(
                UploadAttachmentRequest {
                    file_name: "isee.pdf".into(),
                    media_type: String::new(),
                    content: PDF.to_vec(),
                },
                token,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn status_of(harness: &Harness, request_id: &str, token: &str, wanted: &str) {
    eventually(Duration::from_secs(20), || async {
        let seen = get(harness, request_id, token).await?;
        Ok((seen.status == wanted).then_some(()))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn two_patronati_sharing_an_office_code_never_see_each_others_requests() {
    let mut harness = start().await;
    harness.grant("ACLI", "RSSMRA85T10A562S").await;
    harness
        .bus
        .wait_for_consumer(combipat_intake::QUEUE.name)
        .await
        .unwrap();
    let inca = operator_of("INCA", SHARED_OFFICE);
    let acli = operator_of("ACLI", SHARED_OFFICE);

    let inca_file = upload(&harness, &inca).await;
    let theirs = submit(
        &harness,
        SubmitRequestRequest {
            attachment_ids: vec![inca_file.clone()],
            ..good_request()
        },
        &inca,
    )
    .await
    .unwrap()
    .request_id;
    let ours = submit(&harness, good_request(), &acli)
        .await
        .unwrap()
        .request_id;
    // INCA's request asks for information, then (a second request) is answered, so that
    // every write has something to act on.
    let office = Some(OfficeRef {
        code: "SEDE-MI".into(),
        name: "Sede di Milano".into(),
        ..OfficeRef::default()
    });
    harness
        .bus
        .publish_envelope(&sequenced_envelope(
            "test",
            &theirs,
            2,
            Payload::RequestInfoRequested(RequestInfoRequested {
                office: office.clone(),
                question: "Manca l'ISEE".into(),
                asked_by: "anna".into(),
                attachments: Vec::new(),
            }),
        ))
        .await
        .unwrap();
    let answered = submit(
        &harness,
        SubmitRequestRequest {
            codice_fiscale: "BNZVCN32S10E573Z".into(),
            ..good_request()
        },
        &inca,
    )
    .await
    .unwrap()
    .request_id;
    harness
        .bus
        .publish_envelope(&sequenced_envelope(
            "test",
            &answered,
            2,
            Payload::RequestAnswered(RequestAnswered {
                office,
                answer: "Pratica definita".into(),
                answered_by: "anna".into(),
                answered_at: None,
                attachments: Vec::new(),
            }),
        ))
        .await
        .unwrap();
    status_of(&harness, &theirs, &inca, "INFO_REQUESTED").await;
    status_of(&harness, &answered, &inca, "ANSWERED").await;

    // Reading: nothing of INCA's exists for ACLI's office of the same code.
    for request_id in [&theirs, &answered] {
        let refused = get(&harness, request_id, &acli).await.unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    }
    let listed = |token: String, office: &str| {
        let mut client = harness.client.clone();
        let request = ListRequestsRequest {
            patronato_office: office.into(),
            ..ListRequestsRequest::default()
        };
        async move {
            client
                .list_requests(with_token(request, &token).unwrap())
                .await
                .unwrap()
                .into_inner()
                .requests
                .into_iter()
                .map(|entry| entry.request_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(acli.clone(), "").await, vec![ours.clone()]);
    assert_eq!(
        listed(acli.clone(), SHARED_OFFICE).await,
        vec![ours.clone()]
    );
    let attachment = harness
        .client
        .clone()
        .get_attachment(
            with_token(
                GetAttachmentRequest {
                    attachment_id: inca_file.clone(),
                },
                &acli,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(attachment.code(), Code::NotFound);

    // Writing: each refused as if the request did not exist.
    let reply = harness
        .client
        .clone()
        .provide_info(
            with_token(
                ProvideInfoRequest {
                    request_id: theirs.clone(),
                    reply: "Ecco l'ISEE".into(),
                    attachment_ids: Vec::new(),
                },
                &acli,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply.code(), Code::NotFound, "{reply:?}");
    let reminder = harness
        .client
        .clone()
        .send_reminder(
            with_token(
                SendReminderRequest {
                    request_id: theirs.clone(),
                },
                &acli,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(reminder.code(), Code::NotFound, "{reminder:?}");
    let rating = harness
        .client
        .clone()
        .rate_answer(
            with_token(
                RateAnswerRequest {
                    request_id: answered.clone(),
                    rating: 1,
                    comment: String::new(),
                },
                &acli,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(rating.code(), Code::NotFound, "{rating:?}");
    // A file uploaded by ACLI's office cannot travel with INCA's reply, nor INCA's with
    // ACLI's request.
    let acli_file = upload(&harness, &acli).await;
    let smuggled = harness
        .client
        .clone()
        .provide_info(
            with_token(
                ProvideInfoRequest {
                    request_id: theirs.clone(),
                    reply: "Ecco l'ISEE".into(),
                    attachment_ids: vec![acli_file.clone()],
                },
                &inca,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(smuggled.code(), Code::InvalidArgument, "{smuggled:?}");
    let inca_unsent = upload(&harness, &inca).await;
    let borrowed = submit(
        &harness,
        SubmitRequestRequest {
            codice_fiscale: "RSSMRA85T10A562S".into(),
            confirm_duplicate: true,
            attachment_ids: vec![inca_unsent],
            ..good_request()
        },
        &acli,
    )
    .await
    .unwrap_err();
    assert_eq!(borrowed.code(), Code::InvalidArgument, "{borrowed:?}");

    // The owner still can, so the refusals above were about the tenant, not the request.
    let pool = harness.database.connect().await.unwrap();
    let ratings: i64 = sqlx::query_scalar("SELECT count(*) FROM ratings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(ratings, 0, "ACLI's rating was not stored");
    harness
        .client
        .clone()
        .provide_info(
            with_token(
                ProvideInfoRequest {
                    request_id: theirs.clone(),
                    reply: "Ecco l'ISEE".into(),
                    attachment_ids: Vec::new(),
                },
                &inca,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    harness
        .client
        .clone()
        .rate_answer(
            with_token(
                RateAnswerRequest {
                    request_id: answered.clone(),
                    rating: 5,
                    comment: String::new(),
                },
                &inca,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed(inca.clone(), "").await.len(),
        2,
        "INCA's office lists its own two, not ACLI's"
    );
}
