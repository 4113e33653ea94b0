//! Intake against the real PostgreSQL and RabbitMQ.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::auth::Role;
use combipat_proto::common::v1::Motivo;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_proto::intake::v1::{GetRequestRequest, SubmitRequestRequest};
use std::time::Duration;

use combipat_testkit::{token, with_token};
use common::{WAIT, good_request, operator, start, stored_rows};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

#[tokio::test]
async fn an_accepted_request_is_stored_and_announced() {
    let mut harness = start().await;
    let mut submitted = harness.bus.observe("request.submitted").await.unwrap();
    let response = harness
        .client
        .submit_request(with_token(good_request(), &operator("INCA-MI-01")).unwrap())
        .await
        .unwrap()
        .into_inner();
    assert!(
        response.protocol_number.starts_with("CP-2026-")
            || response.protocol_number.starts_with("CP-")
    );

    let event = submitted.next(WAIT).await.unwrap();
    assert_eq!(event.event_type, "request.submitted");
    assert_eq!(event.request_id, response.request_id);
    let Some(Payload::RequestSubmitted(payload)) = event.payload else {
        panic!()
    };
    let summary = payload.request.unwrap();
    assert_eq!(summary.protocol_number, response.protocol_number);
    assert_eq!(summary.filer.unwrap().patronato_office, "INCA-MI-01");
    assert_eq!(summary.comune_residenza, "F205");

    let fetched = harness
        .client
        .get_request(
            with_token(
                GetRequestRequest {
                    request_id: response.request_id.clone(),
                },
                &operator("INCA-MI-01"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        fetched.request.unwrap().protocol_number,
        response.protocol_number
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_refusal_names_every_bad_field_and_stores_nothing() {
    let mut harness = start().await;
    let bad = SubmitRequestRequest {
        motivo: 0,
        codice_fiscale: "RSSMRA85T10A562X".into(),
        comune_residenza: "A003".into(),
        topic: "boh".into(),
        subject: String::new(),
        body: "ok".into(),
        ..SubmitRequestRequest::default()
    };
    let status = harness
        .client
        .submit_request(with_token(bad, &operator("INCA-MI-01")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(
        fields,
        [
            "motivo",
            "codice_fiscale",
            "comune_residenza",
            "topic",
            "subject"
        ]
    );
    assert_eq!(stored_rows(&harness.database).await, (0, 0));
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn callers_without_a_valid_operator_token_are_refused() {
    let mut harness = start().await;
    let missing = harness
        .client
        .submit_request(good_request())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);

    let forged = harness
        .client
        .submit_request(with_token(good_request(), "not.a.token").unwrap())
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);

    let official = token(Role::Funzionario, &[("inps_office", "SEDE-MI")]).unwrap();
    let wrong_role = harness
        .client
        .submit_request(with_token(good_request(), &official).unwrap())
        .await
        .unwrap_err();
    assert_eq!(wrong_role.code(), Code::PermissionDenied);

    let no_office = token(Role::Operatore, &[("patronato", "INCA")]).unwrap();
    let incomplete = harness
        .client
        .submit_request(with_token(good_request(), &no_office).unwrap())
        .await
        .unwrap_err();
    assert_eq!(incomplete.code(), Code::PermissionDenied);
    assert_eq!(stored_rows(&harness.database).await, (0, 0));
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn another_office_cannot_read_a_request() {
    let mut harness = start().await;
    let response = harness
        .client
        .submit_request(with_token(good_request(), &operator("INCA-MI-01")).unwrap())
        .await
        .unwrap()
        .into_inner();
    let status = harness
        .client
        .get_request(
            with_token(
                GetRequestRequest {
                    request_id: response.request_id,
                },
                &operator("INCA-TO-02"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_and_metrics_are_served_on_the_http_port() {
    let harness = start().await;
    let live = combipat_testkit::http_get(harness.service.http_addr, "/health/livez")
        .await
        .unwrap();
    assert!(live.starts_with("HTTP/1.1 200"), "{live}");
    // Ready once its consumer is attached to intake.status, so no decision can miss it.
    let addr = harness.service.http_addr;
    combipat_testkit::eventually(Duration::from_secs(30), || async move {
        let ready = combipat_testkit::http_get(addr, "/health/readyz").await?;
        Ok(ready.starts_with("HTTP/1.1 200").then_some(()))
    })
    .await
    .unwrap();
    harness
        .bus
        .wait_for_consumer(combipat_intake::QUEUE.name)
        .await
        .unwrap();
    harness.service.shutdown().await.unwrap();
}

fn routed(
    request_id: &str,
    office: &str,
    sequence: u64,
    kind: &str,
) -> combipat_proto::events::v1::Envelope {
    use combipat_proto::common::v1::OfficeRef;
    use combipat_proto::events::v1::RequestRouted;
    combipat_platform::messaging::sequenced_envelope(
        "router",
        request_id,
        1,
        Payload::RequestRouted(RequestRouted {
            request: None,
            office: Some(OfficeRef {
                code: office.into(),
                name: format!("Sede {office}"),
                ..OfficeRef::default()
            }),
            ruleset_version: "demo-2026-11-22".into(),
            rule: "province:MI".into(),
            decision_sequence: sequence,
            kind: kind.into(),
        }),
    )
}

#[tokio::test]
async fn the_operator_sees_where_the_request_is_and_its_history() {
    let mut harness = start().await;
    harness
        .bus
        .wait_for_consumer(combipat_intake::QUEUE.name)
        .await
        .unwrap();
    let token = operator("INCA-MI-01");
    let response = harness
        .client
        .submit_request(with_token(good_request(), &token).unwrap())
        .await
        .unwrap()
        .into_inner();
    let id = response.request_id.clone();
    let get = |client: IntakeClient<Channel>| {
        let (id, token) = (id.clone(), token.clone());
        async move {
            let mut client = client;
            anyhow::Ok(
                client
                    .get_request(with_token(GetRequestRequest { request_id: id }, &token)?)
                    .await?
                    .into_inner(),
            )
        }
    };
    let fresh = get(harness.client.clone()).await.unwrap();
    assert_eq!(
        (fresh.status.as_str(), fresh.office.is_none()),
        ("SUBMITTED", true)
    );

    let first = routed(&id, "SEDE-MI", 1, "automatic");
    harness.bus.publish_envelope(&first).await.unwrap();
    // The office sends it on: office-queue's one event moves it (the item's version 2 after
    // the move, so its lifecycle position 3).
    let transferred = combipat_platform::messaging::sequenced_envelope(
        "office-queue",
        &id,
        3,
        Payload::RequestTransferred(combipat_proto::events::v1::RequestTransferred {
            from_office: Some(combipat_proto::common::v1::OfficeRef {
                code: "SEDE-MI".into(),
                ..Default::default()
            }),
            to_office: Some(combipat_proto::common::v1::OfficeRef {
                code: "SEDE-TO".into(),
                name: "Sede di Torino".into(),
                ..Default::default()
            }),
            reason: "residente a Torino".into(),
            transferred_by: "anna".into(),
        }),
    );
    harness.bus.publish_envelope(&transferred).await.unwrap();
    // The first decision published again (a relay that died before its delete) must neither
    // move the request back nor add to its history.
    harness.bus.publish_envelope(&first).await.unwrap();
    // All three deliveries handled (the copy included) before judging the final state.
    harness
        .service
        .wait_for_metric(&format!(
            "combipat_messages_consumed_total{{queue=\"{}\",outcome=\"processed\"}} 3",
            combipat_intake::QUEUE.name
        ))
        .await
        .unwrap();
    let seen = get(harness.client.clone()).await.unwrap();
    assert_eq!(seen.history.len(), 3, "{:?}", seen.history);
    assert_eq!(seen.status, "ROUTED");
    assert_eq!(seen.office.unwrap().code, "SEDE-TO");
    let steps: Vec<&str> = seen
        .history
        .iter()
        .map(|change| change.status.as_str())
        .collect();
    assert_eq!(steps, ["SUBMITTED", "ROUTED", "TRANSFERRED"]);
    assert_eq!(
        seen.history[2].detail,
        "sent on to SEDE-TO Sede di Torino: residente a Torino"
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_sollecito_waits_fifteen_days_and_none_follows_an_answer() {
    use combipat_proto::intake::v1::SendReminderRequest;

    let mut harness = start().await;
    let mut solleciti = harness.bus.observe("request.sollecito").await.unwrap();
    let token = operator("INCA-MI-01");
    let submitted = harness
        .client
        .submit_request(with_token(good_request(), &token).unwrap())
        .await
        .unwrap()
        .into_inner();
    let remind = |client: IntakeClient<Channel>, token: String| {
        let request_id = submitted.request_id.clone();
        async move {
            let mut client = client;
            client
                .send_reminder(with_token(SendReminderRequest { request_id }, &token).unwrap())
                .await
        }
    };
    let too_early = remind(harness.client.clone(), token.clone())
        .await
        .unwrap_err();
    assert_eq!(too_early.code(), Code::FailedPrecondition);
    assert!(
        too_early.message().contains("a sollecito is possible from"),
        "{}",
        too_early.message()
    );

    // Sixteen days later.
    let pool = harness.database.connect().await.unwrap();
    sqlx::query("UPDATE requests SET submitted_at = submitted_at - interval '16 days'")
        .execute(&pool)
        .await
        .unwrap();
    let other_office = remind(harness.client.clone(), operator("INCA-TO-02"))
        .await
        .unwrap_err();
    assert_eq!(other_office.code(), Code::NotFound);
    let sent = remind(harness.client.clone(), token.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.solleciti, 1);
    let event = solleciti.next(Duration::from_secs(10)).await.unwrap();
    let Some(Payload::RequestSollecito(sollecito)) = event.payload else {
        panic!("{event:?}")
    };
    assert_eq!(sollecito.count, 1);

    // Another one needs fifteen days since this one; an answered request needs none.
    let again = remind(harness.client.clone(), token.clone())
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    sqlx::query("UPDATE requests SET status = 'ANSWERED', last_sollecito_at = last_sollecito_at - interval '20 days'")
        .execute(&pool)
        .await
        .unwrap();
    let answered = remind(harness.client.clone(), token.clone())
        .await
        .unwrap_err();
    assert!(
        answered.message().contains("already answered"),
        "{}",
        answered.message()
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_office_lists_its_own_requests_filtered_and_page_by_page() {
    use combipat_proto::intake::v1::ListRequestsRequest;

    let mut harness = start().await;
    let mine = operator("INCA-MI-01");
    let mut protocol_numbers = Vec::new();
    for (n, motivo) in [
        Motivo::RichiestaGenerica,
        Motivo::InfoPagamenti,
        Motivo::RichiestaGenerica,
    ]
    .into_iter()
    .enumerate()
    {
        let mut request = good_request();
        request.motivo = motivo as i32;
        request.subject = format!("Richiesta {n}");
        if motivo == Motivo::InfoPagamenti {
            request.prestazione = std::mem::take(&mut request.topic);
        }
        if n == 2 {
            request.codice_fiscale = "BNZVCN32S10E573Z".into();
        }
        let response = harness
            .client
            .submit_request(with_token(request, &mine).unwrap())
            .await
            .unwrap()
            .into_inner();
        protocol_numbers.push(response.protocol_number);
    }
    harness
        .client
        .submit_request(
            with_token(
                SubmitRequestRequest {
                    confirm_duplicate: true,
                    ..good_request()
                },
                &operator("INCA-TO-02"),
            )
            .unwrap(),
        )
        .await
        .unwrap();

    let list = |filter: ListRequestsRequest, token: String| {
        let client = harness.client.clone();
        async move {
            let mut client = client;
            client
                .list_requests(with_token(filter, &token).unwrap())
                .await
        }
    };
    let numbers = |response: &combipat_proto::intake::v1::ListRequestsResponse| {
        response
            .requests
            .iter()
            .map(|entry| entry.protocol_number.clone())
            .collect::<Vec<_>>()
    };
    let newest_first: Vec<String> = protocol_numbers.iter().rev().cloned().collect();
    let all = list(ListRequestsRequest::default(), mine.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        numbers(&all),
        newest_first,
        "only this office's requests, newest first"
    );

    let first_page = list(
        ListRequestsRequest {
            page_size: 2,
            ..Default::default()
        },
        mine.clone(),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(numbers(&first_page), newest_first[..2]);
    let second_page = list(
        ListRequestsRequest {
            page_size: 2,
            page_token: first_page.next_page_token.clone(),
            ..Default::default()
        },
        mine.clone(),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(numbers(&second_page), newest_first[2..]);
    assert!(second_page.next_page_token.is_empty());

    let payments = list(
        ListRequestsRequest {
            motivo: vec![Motivo::InfoPagamenti as i32],
            ..Default::default()
        },
        mine.clone(),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(numbers(&payments), [protocol_numbers[1].clone()]);
    let citizen = list(
        ListRequestsRequest {
            codice_fiscale: "bnzvcn32s10e573z".into(),
            ..Default::default()
        },
        mine.clone(),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(numbers(&citizen), [protocol_numbers[2].clone()]);
    let submitted = list(
        ListRequestsRequest {
            status: vec!["SUBMITTED".into()],
            ..Default::default()
        },
        mine.clone(),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(submitted.requests.len(), 3);

    let bad = list(
        ListRequestsRequest {
            codice_fiscale: "XYZ".into(),
            page_token: "nonsense".into(),
            ..Default::default()
        },
        mine.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields: Vec<String> = bad
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["codice_fiscale", "page_token"]);
    harness.service.shutdown().await.unwrap();
}
