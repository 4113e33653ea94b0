//! The complete channel: per-motivo fields, idempotency, likely duplicates, ratings,
//! attachments and the rate limit, against the real servers (mandates and who reads what
//! are in access.rs).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::common::v1::{
    GetAttachmentRequest, Motivo, OfficeRef, UploadAttachmentRequest,
};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::intake::v1::{RateAnswerRequest, SubmitRequestRequest};
use combipat_testkit::{eventually, with_token};
use common::{
    PDF, PNG, WAIT, fields, get, good_request, operator, sollecito_pratica, start, start_with,
    stored_rows, submit, supervisor,
};
use tonic::Code;
use tonic_types::StatusExt as _;

#[tokio::test]
async fn each_motivo_needs_its_own_fields_and_a_refusal_stores_nothing() {
    let harness = start().await;
    let mine = operator("INCA-MI-01");
    let refused = submit(
        &harness,
        SubmitRequestRequest {
            pratica_protocol_number: String::new(),
            topic: "pensioni".into(),
            ..sollecito_pratica("")
        },
        &mine,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["topic", "pratica_protocol_number"]);
    let refused = submit(
        &harness,
        SubmitRequestRequest {
            motivo: Motivo::InfoPagamenti as i32,
            ..good_request()
        },
        &mine,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&refused), ["topic", "prestazione"]);
    assert_eq!(stored_rows(&harness.database).await, (0, 0));

    let accepted = submit(&harness, sollecito_pratica("INPS.5000.2026.0012345"), &mine)
        .await
        .unwrap();
    let read = get(&harness, &accepted.request_id, &mine).await.unwrap();
    let summary = read.request.unwrap();
    assert_eq!(summary.pratica_protocol_number, "INPS.5000.2026.0012345");
    assert_eq!(summary.topic, "pensioni");
}

#[tokio::test]
async fn an_idempotency_key_gives_one_request_whatever_the_retries() {
    let harness = start().await;
    let mine = operator("INCA-MI-01");
    let keyed = SubmitRequestRequest {
        idempotency_key: "4f1c2d9e-retry".into(),
        ..good_request()
    };
    let first = submit(&harness, keyed.clone(), &mine).await.unwrap();
    assert!(!first.replayed);
    let again = submit(&harness, keyed.clone(), &mine).await.unwrap();
    assert_eq!(
        (
            again.request_id.as_str(),
            again.protocol_number.as_str(),
            again.replayed
        ),
        (
            first.request_id.as_str(),
            first.protocol_number.as_str(),
            true
        )
    );
    // Retries racing each other: still one request.
    let racing = SubmitRequestRequest {
        idempotency_key: "racing".into(),
        codice_fiscale: "BNZVCN32S10E573Z".into(),
        ..good_request()
    };
    let answers =
        futures::future::join_all((0..8).map(|_| submit(&harness, racing.clone(), &mine))).await;
    let ids: std::collections::HashSet<String> = answers
        .into_iter()
        .map(|answer| answer.unwrap().request_id)
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(stored_rows(&harness.database).await, (2, 2));

    // The same key for other content is a conflict, and stores nothing.
    let misuse = submit(
        &harness,
        SubmitRequestRequest {
            subject: "Altro".into(),
            ..keyed
        },
        &mine,
    )
    .await
    .unwrap_err();
    assert_eq!(misuse.code(), Code::AlreadyExists);
    assert!(
        misuse.message().contains(&first.protocol_number),
        "{misuse:?}"
    );
    assert_eq!(stored_rows(&harness.database).await, (2, 2));
}

#[tokio::test]
async fn a_likely_duplicate_is_refused_with_its_reference_unless_confirmed() {
    let harness = start().await;
    let mine = operator("INCA-MI-01");
    let first = submit(&harness, sollecito_pratica("INPS.5000.2026.0000001"), &mine)
        .await
        .unwrap();
    let duplicate = submit(&harness, sollecito_pratica("INPS.5000.2026.0000001"), &mine)
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::FailedPrecondition);
    assert!(
        duplicate.message().contains(&first.protocol_number),
        "{duplicate:?}"
    );
    assert!(duplicate.message().contains(&first.request_id));
    // Another application of the same citizen is another request.
    submit(&harness, sollecito_pratica("INPS.5000.2026.0000002"), &mine)
        .await
        .unwrap();
    // Confirmed by the operator: filed.
    submit(
        &harness,
        SubmitRequestRequest {
            confirm_duplicate: true,
            ..sollecito_pratica("INPS.5000.2026.0000001")
        },
        &mine,
    )
    .await
    .unwrap();
    assert_eq!(stored_rows(&harness.database).await.0, 3);
}

#[tokio::test]
async fn an_answer_is_rated_once_from_one_to_five() {
    let harness = start().await;
    let mine = operator("INCA-MI-01");
    let submitted = submit(&harness, good_request(), &mine).await.unwrap();
    let fresh = get(&harness, &submitted.request_id, &mine).await.unwrap();
    let sollecito = fresh.sollecito.unwrap();
    assert!(!sollecito.allowed);
    assert!(sollecito.possible_from.is_some(), "the page shows the date");
    let rate = |rating: u32| {
        let mut client = harness.client.clone();
        let (request_id, mine) = (submitted.request_id.clone(), mine.clone());
        async move {
            client
                .rate_answer(
                    with_token(
                        RateAnswerRequest {
                            request_id,
                            rating,
                            comment: "Risposta chiara".into(),
                        },
                        &mine,
                    )
                    .unwrap(),
                )
                .await
        }
    };
    assert_eq!(rate(5).await.unwrap_err().code(), Code::FailedPrecondition);

    let answered = combipat_platform::messaging::sequenced_envelope(
        "office-queue",
        &submitted.request_id,
        5,
        Payload::RequestAnswered(combipat_proto::events::v1::RequestAnswered {
            office: Some(OfficeRef {
                code: "SEDE-MI".into(),
                ..OfficeRef::default()
            }),
            answer: "Pratica definita".into(),
            answered_by: "anna".into(),
            answered_at: None,
            attachments: Vec::new(),
        }),
    );
    harness
        .bus
        .wait_for_consumer(combipat_intake::QUEUE.name)
        .await
        .unwrap();
    harness.bus.publish_envelope(&answered).await.unwrap();
    eventually(WAIT, || async {
        let read = get(&harness, &submitted.request_id, &mine).await?;
        Ok((read.status == "ANSWERED").then_some(()))
    })
    .await
    .unwrap();

    let mut announced = harness.bus.observe("request.rated").await.unwrap();
    let refused = rate(6).await.unwrap_err();
    assert_eq!(fields(&refused), ["rating"]);
    let rated = rate(4).await.unwrap().into_inner().rating.unwrap();
    assert_eq!((rated.answer_number, rated.rating), (1, 4));
    // The satisfaction figures come from this event.
    let event = announced.next(WAIT).await.unwrap();
    assert_eq!(event.request_id, submitted.request_id);
    let Some(Payload::RequestRated(event)) = event.payload else {
        panic!("expected request.rated")
    };
    assert_eq!((event.rating, event.answer_number), (4, 1));
    assert_eq!(event.filer.unwrap().patronato, "INCA");
    assert_eq!(event.office.unwrap().code, "SEDE-MI");
    assert_eq!(rate(5).await.unwrap_err().code(), Code::AlreadyExists);
    let read = get(&harness, &submitted.request_id, &mine).await.unwrap();
    assert_eq!(read.ratings.len(), 1);
    assert_eq!(read.ratings[0].comment, "Risposta chiara");
    let sollecito = read.sollecito.unwrap();
    assert!(!sollecito.allowed && sollecito.reason.contains("answered"));
}

#[tokio::test]
async fn attachments_are_known_by_their_bytes_and_travel_as_references() {
    let harness = start().await;
    let mine = operator("INCA-MI-01");
    let upload = |file_name: &str, media_type: &str, content: &[u8], token: &str| {
        let mut client = harness.client.clone();
        let request = with_token(
            UploadAttachmentRequest {
                file_name: file_name.into(),
                media_type: media_type.into(),
                content: content.to_vec(),
            },
            token,
        )
        .unwrap();
        async move {
            client
                .upload_attachment(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let renamed = upload("scansione.pdf", "", PNG, &mine).await.unwrap_err();
    assert_eq!(fields(&renamed), ["file_name"]);
    let executable = upload("modulo.pdf", "", b"MZ\x90\x00\x03", &mine)
        .await
        .unwrap_err();
    assert_eq!(fields(&executable), ["content"]);
    let lying = upload("isee.pdf", "image/png", PDF, &mine)
        .await
        .unwrap_err();
    assert_eq!(fields(&lying), ["media_type"]);
    let big = {
        let mut bytes = PDF.to_vec();
        bytes.resize(5 * 1024 * 1024 + 1, b' ');
        bytes
    };
    let oversized = upload("grande.pdf", "", &big, &mine).await.unwrap_err();
    assert_eq!(fields(&oversized), ["content"]);
    let pool = harness.database.connect().await.unwrap();
    let count = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM attachments")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count().await, 0, "nothing stored on a refusal");

    let isee = upload("ISEE 2026.pdf", "application/pdf", PDF, &mine)
        .await
        .unwrap();
    assert_eq!(isee.media_type, "application/pdf");
    assert_eq!(isee.size_bytes, PDF.len() as u64);
    let photo = upload("documento.png", "", PNG, &mine).await.unwrap();

    let mut submitted_events = harness.bus.observe("request.submitted").await.unwrap();
    let submitted = submit(
        &harness,
        SubmitRequestRequest {
            attachment_ids: vec![isee.id.clone(), photo.id.clone()],
            ..good_request()
        },
        &mine,
    )
    .await
    .unwrap();
    let event = submitted_events.next(WAIT).await.unwrap();
    assert_eq!(event.request_id, submitted.request_id);
    let Some(Payload::RequestSubmitted(payload)) = event.payload else {
        panic!("expected request.submitted");
    };
    let refs = payload.request.unwrap().attachments;
    assert_eq!(
        refs.iter()
            .map(|r| r.file_name.as_str())
            .collect::<Vec<_>>(),
        ["ISEE 2026.pdf", "documento.png"]
    );
    assert_eq!(refs[0].sha256, isee.sha256, "references, not bytes");

    let read = |token: String| {
        let mut client = harness.client.clone();
        let attachment_id = isee.id.clone();
        async move {
            client
                .get_attachment(with_token(GetAttachmentRequest { attachment_id }, &token).unwrap())
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_eq!(read(mine.clone()).await.unwrap().content, PDF);
    assert_eq!(read(supervisor("INCA")).await.unwrap().content, PDF);
    assert_eq!(
        read(operator("INCA-TO-02")).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        read(supervisor("ACLI")).await.unwrap_err().code(),
        Code::NotFound
    );

    // A file goes with one message only; at most five per message.
    let reused = submit(
        &harness,
        SubmitRequestRequest {
            attachment_ids: vec![isee.id.clone()],
            confirm_duplicate: true,
            ..good_request()
        },
        &mine,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&reused), ["attachment_ids[0]"]);
    let too_many = submit(
        &harness,
        SubmitRequestRequest {
            attachment_ids: (0..6).map(|_| uuid::Uuid::new_v4().to_string()).collect(),
            confirm_duplicate: true,
            ..good_request()
        },
        &mine,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&too_many), ["attachment_ids"]);
    assert_eq!(stored_rows(&harness.database).await.0, 1);
}

#[tokio::test]
async fn over_the_rate_limit_an_operator_is_told_when_to_retry() {
    let harness = start_with(&[
        ("rate_limit.calls_per_window", "3"),
        ("router.timeout_ms", "200"),
    ])
    .await;
    let mine = operator("INCA-MI-01");
    for n in 0..3 {
        submit(
            &harness,
            SubmitRequestRequest {
                subject: format!("Richiesta {n}"),
                confirm_duplicate: true,
                ..good_request()
            },
            &mine,
        )
        .await
        .unwrap();
    }
    let limited = submit(&harness, good_request(), &mine).await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    let retry = limited.get_details_retry_info().unwrap();
    assert!(retry.retry_delay.unwrap().as_secs() >= 1);
    assert_eq!(stored_rows(&harness.database).await.0, 3);
    // The limit is per operator (the token's subject).
    let colleague = combipat_testkit::token(
        combipat_platform::auth::Role::Operatore,
        &[
            ("patronato", "INCA"),
            ("patronato_office", "INCA-MI-01"),
            ("sub", "op-2"),
        ],
    )
    .unwrap();
    submit(
        &harness,
        SubmitRequestRequest {
            confirm_duplicate: true,
            ..good_request()
        },
        &colleague,
    )
    .await
    .unwrap();
    // Previews are counted apart (whatever router answers, or whether it answers at all).
    let preview = || {
        let mut client = harness.client.clone();
        let token = mine.clone();
        async move {
            client
                .preview_submission(with_token(good_request(), &token).unwrap())
                .await
        }
    };
    for _ in 0..3 {
        let outcome = preview().await;
        assert!(
            outcome
                .as_ref()
                .err()
                .is_none_or(|status| status.code() != Code::ResourceExhausted),
            "{outcome:?}"
        );
    }
    let limited = preview().await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted, "{limited:?}");
}

#[tokio::test]
async fn submissions_settled_together_each_get_the_answer_they_would_get_alone() {
    // One writer: while it writes the first submission the others wait, and are then
    // settled together, in one transaction.
    let harness = start_with(&[("submissions.writers", "1")]).await;
    let mine = operator("INCA-MI-01");
    let pratica = |n: usize| sollecito_pratica(&format!("INPS.5000.2026.{n:07}"));
    let keyed = |n: usize, subject: &str| SubmitRequestRequest {
        idempotency_key: "one-key".into(),
        subject: subject.into(),
        ..pratica(n)
    };
    let mut batch: Vec<SubmitRequestRequest> = (1..=6).map(pratica).collect();
    // The same request twice: one is filed, the other is its likely duplicate.
    batch.push(pratica(1));
    // No mandate for this citizen.
    batch.push(SubmitRequestRequest {
        codice_fiscale: "VRDGPP80A01H501U".into(),
        ..pratica(7)
    });
    // One key: twice the same content (one request, replayed), once other content.
    batch.extend([
        keyed(8, "Sollecito"),
        keyed(8, "Sollecito"),
        keyed(9, "Altro"),
    ]);
    let answers =
        futures::future::join_all(batch.iter().map(|r| submit(&harness, r.clone(), &mine))).await;

    for answer in &answers[1..6] {
        assert!(answer.is_ok(), "{answer:?}");
    }
    let twins: Vec<_> = [&answers[0], &answers[6]].into_iter().collect();
    let filed: Vec<_> = twins.iter().filter_map(|a| a.as_ref().ok()).collect();
    let refused: Vec<_> = twins.iter().filter_map(|a| a.as_ref().err()).collect();
    assert_eq!((filed.len(), refused.len()), (1, 1), "{twins:?}");
    assert_eq!(refused[0].code(), Code::FailedPrecondition);
    assert!(
        refused[0].message().contains(&filed[0].protocol_number),
        "{:?}",
        refused[0]
    );
    let denied = answers[7].as_ref().unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // Whichever content took the key first, the key names one request: the same content
    // gets it back, other content a conflict naming it.
    let keyed_answers = &answers[8..];
    let (winner_request, winner) = batch[8..]
        .iter()
        .zip(keyed_answers)
        .find_map(|(request, answer)| {
            Some((request, answer.as_ref().ok().filter(|a| !a.replayed)?))
        })
        .expect("one keyed submission was filed");
    for (request, answer) in batch[8..].iter().zip(keyed_answers) {
        if request.pratica_protocol_number == winner_request.pratica_protocol_number {
            assert_eq!(answer.as_ref().unwrap().request_id, winner.request_id);
        } else {
            let status = answer.as_ref().unwrap_err();
            assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
            assert!(
                status.message().contains(&winner.protocol_number),
                "{status:?}"
            );
        }
    }
    let filed_count = answers
        .iter()
        .filter(|a| a.as_ref().is_ok_and(|a| !a.replayed))
        .count();
    assert_eq!(filed_count, 6 + 1);
    assert_eq!(
        stored_rows(&harness.database).await,
        (filed_count as i64, filed_count as i64)
    );
    // And they were settled in fewer transactions than submissions.
    let metrics = combipat_testkit::http_get(harness.service.http_addr, "/metrics")
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|line| line.starts_with(name) && line.contains("intake.submissions"))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
            .unwrap_or_default()
    };
    let (items, batches) = (
        value("combipat_batch_items_sum"),
        value("combipat_batch_items_count"),
    );
    assert_eq!(items, batch.len() as f64, "{metrics}");
    assert!(batches < items, "{batches} batches for {items} submissions");
}
