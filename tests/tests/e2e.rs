//! One request through intake -> router -> office-queue, as separate processes over the
//! real PostgreSQL and RabbitMQ.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::collections::HashSet;
use std::time::Duration;

use combipat_e2e::fixtures::{all_items, operator, request};
use combipat_e2e::{Options, OtlpSink, System};
use combipat_platform::auth::Role;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_proto::intake::v1::{GetRequestRequest, ProvideInfoRequest, SubmitRequestRequest};
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::officequeue::v1::{
    AnswerRequest, ClaimRequest, GetItemRequest, RequestInfoRequest,
};
use combipat_testkit::{eventually, grpc_channel, token, with_token};
use nix::sys::signal::Signal;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_request_reaches_the_office_queue_in_one_trace() {
    let sink = OtlpSink::start().await.unwrap();
    let mut system = System::start(Some(sink.addr)).await.unwrap();
    let mut intake = IntakeClient::new(grpc_channel(system.intake().grpc_addr).await.unwrap());
    let mut queue =
        OfficeQueueClient::new(grpc_channel(system.office_queue().grpc_addr).await.unwrap());

    let submitted = intake
        .submit_request(with_token(request("F205", "Domanda di pensione"), &operator()).unwrap())
        .await
        .unwrap()
        .into_inner();

    let client = queue.clone();
    let item = eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = submitted.request_id.clone();
        async move {
            Ok(all_items(&mut client, "SEDE-MI")
                .await
                .into_iter()
                .find(|item| item.request_id == request_id))
        }
    })
    .await
    .unwrap();
    assert_eq!(item.protocol_number, submitted.protocol_number);

    // The operator sees where the request went.
    let client = intake.clone();
    let status = eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = submitted.request_id.clone();
        async move {
            let seen = client
                .get_request(with_token(GetRequestRequest { request_id }, &operator())?)
                .await?
                .into_inner();
            Ok((seen.status == "ROUTED").then_some(seen))
        }
    })
    .await
    .unwrap();
    assert_eq!(status.office.unwrap().code, "SEDE-MI");

    // An official of that office claims and answers; the operator sees the answer.
    let official = token(
        Role::Funzionario,
        &[("inps_office", "SEDE-MI"), ("sub", "anna")],
    )
    .unwrap();
    let claimed = queue
        .claim(
            with_token(
                ClaimRequest {
                    request_id: item.request_id.clone(),
                    expected_version: item.version,
                    lease_seconds: 0,
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    queue
        .answer(
            with_token(
                AnswerRequest {
                    request_id: item.request_id.clone(),
                    expected_version: claimed.version,
                    text: "La pratica è in lavorazione.".into(),
                    ..AnswerRequest::default()
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let client = intake.clone();
    let answered = eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = submitted.request_id.clone();
        async move {
            let seen = client
                .get_request(with_token(GetRequestRequest { request_id }, &operator())?)
                .await?
                .into_inner();
            Ok((seen.status == "ANSWERED").then_some(seen))
        }
    })
    .await
    .unwrap();
    assert!(
        answered
            .history
            .iter()
            .any(|change| change.detail == "La pratica è in lavorazione.")
    );
    assert_eq!(all_items(&mut queue, "SEDE-MI").await.len(), 1);

    // Every service's spans for this request share the trace that intake's RPC started: each
    // one that handled one of its events.
    let required = ["intake", "office-queue", "reminder-scheduler", "router"];
    let trace = eventually(WAIT, || {
        let spans = sink.spans();
        async move {
            let Some(root) = spans.iter().find(|span| {
                span.service == "intake" && span.name.ends_with("Intake/SubmitRequest")
            }) else {
                return Ok(None);
            };
            let services: HashSet<&str> = spans
                .iter()
                .filter(|span| span.trace_id == root.trace_id)
                .map(|span| span.service.as_str())
                .collect();
            Ok(required
                .iter()
                .all(|service| services.contains(service))
                .then(|| {
                    (
                        services.into_iter().map(str::to_owned).collect::<Vec<_>>(),
                        spans.clone(),
                    )
                }))
        }
    })
    .await;
    let (mut services, _spans) =
        trace.unwrap_or_else(|error| panic!("{error}: received {:#?}", sink.spans()));
    services.sort();
    assert!(
        required
            .iter()
            .all(|service| services.iter().any(|seen| seen == service)),
        "{services:?}"
    );

    system.stop_all().await.unwrap();
}

#[tokio::test]
async fn sigterm_in_the_middle_of_a_flow_loses_nothing() {
    let mut system = System::start(None).await.unwrap();
    let mut intake = IntakeClient::new(grpc_channel(system.intake().grpc_addr).await.unwrap());
    let mut queue =
        OfficeQueueClient::new(grpc_channel(system.office_queue().grpc_addr).await.unwrap());
    let token = operator();
    let mut accepted = HashSet::new();

    // Half the requests, then the router is stopped while it is still working through them.
    for n in 0..20 {
        let response = intake
            .submit_request(with_token(request("L219", &format!("Richiesta {n}")), &token).unwrap())
            .await
            .unwrap();
        accepted.insert(response.into_inner().request_id);
    }
    assert_eq!(
        system
            .service_mut("router")
            .stop(Signal::SIGTERM)
            .await
            .unwrap(),
        Some(0),
        "{}",
        system.router().log_tail()
    );

    // The other half while the router is down; then intake is stopped right after the last
    // acceptance, so its outbox must be flushed (or kept) by the shutdown.
    for n in 20..40 {
        let response = intake
            .submit_request(with_token(request("L219", &format!("Richiesta {n}")), &token).unwrap())
            .await
            .unwrap();
        accepted.insert(response.into_inner().request_id);
    }
    assert_eq!(
        system
            .service_mut("intake")
            .stop(Signal::SIGTERM)
            .await
            .unwrap(),
        Some(0),
        "{}",
        system.intake().log_tail()
    );
    system.service_mut("router").start().await.unwrap();
    system.service_mut("intake").start().await.unwrap();

    let client = queue.clone();
    let expected = accepted.len();
    let filed = eventually(WAIT, || {
        let mut client = client.clone();
        async move {
            let items = all_items(&mut client, "SEDE-TO").await;
            Ok((items.len() >= expected).then_some(items))
        }
    })
    .await
    .unwrap_or_else(|error| {
        panic!("{error}: not every accepted request was filed ({expected} accepted)")
    });
    let filed_ids: HashSet<String> = filed.iter().map(|item| item.request_id.clone()).collect();
    assert_eq!(filed.len(), filed_ids.len(), "an item was filed twice");
    assert_eq!(filed_ids, accepted, "lost or unexpected requests");
    // Nothing more arrives later (a late duplicate would show here).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(all_items(&mut queue, "SEDE-TO").await.len(), expected);

    system.stop_all().await.unwrap();
}

#[tokio::test]
async fn an_office_asks_for_information_and_the_operator_replies_with_files_both_ways() {
    use combipat_proto::common::v1::{GetAttachmentRequest, UploadAttachmentRequest};
    const DELEGA: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    const MODULO: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

    // Every service on a broker user of its own, as a deployment runs them: the least
    // privilege the catalogue gives each one carries the whole exchange.
    let mut system = System::start_with(Options {
        broker_users: true,
        ..Options::default()
    })
    .await
    .unwrap();
    let mut intake = IntakeClient::new(grpc_channel(system.intake().grpc_addr).await.unwrap());
    let mut queue =
        OfficeQueueClient::new(grpc_channel(system.office_queue().grpc_addr).await.unwrap());
    let delega = intake
        .upload_attachment(
            with_token(
                UploadAttachmentRequest {
                    file_name: "delega.pdf".into(),
                    media_type: String::new(),
                    content: DELEGA.to_vec(),
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let submitted = intake
        .submit_request(
            with_token(
                SubmitRequestRequest {
                    attachment_ids: vec![delega.id.clone()],
                    ..request("F205", "Pagamento assegno")
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let official = token(
        Role::Funzionario,
        &[("inps_office", "SEDE-MI"), ("sub", "anna")],
    )
    .unwrap();
    let item_now = |queue: OfficeQueueClient<Channel>, status: &'static str| {
        let official = official.clone();
        let request_id = submitted.request_id.clone();
        move || {
            let mut queue = queue.clone();
            let (official, request_id) = (official.clone(), request_id.clone());
            async move {
                let found = queue
                    .get_item(with_token(GetItemRequest { request_id }, &official)?)
                    .await;
                Ok(found
                    .ok()
                    .and_then(|response| response.into_inner().item)
                    .filter(|item| item.status == status))
            }
        }
    };
    let request_now = |intake: IntakeClient<Channel>, status: &'static str| {
        let request_id = submitted.request_id.clone();
        move || {
            let mut intake = intake.clone();
            let request_id = request_id.clone();
            async move {
                let seen = intake
                    .get_request(with_token(GetRequestRequest { request_id }, &operator())?)
                    .await?
                    .into_inner();
                Ok((seen.status == status).then_some(seen))
            }
        }
    };

    let item = eventually(WAIT, item_now(queue.clone(), "NEW"))
        .await
        .unwrap();
    // The patronato's file reached the office by reference, and the office reads its bytes.
    let files = queue
        .get_item(
            with_token(
                GetItemRequest {
                    request_id: item.request_id.clone(),
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
        .request_attachments;
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].file_name.as_str(), files[0].sha256.as_str()),
        ("delega.pdf", delega.sha256.as_str())
    );
    let read = queue
        .get_attachment(
            with_token(
                GetAttachmentRequest {
                    attachment_id: files[0].id.clone(),
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.content, DELEGA);
    let modulo = queue
        .upload_attachment(
            with_token(
                UploadAttachmentRequest {
                    file_name: "modulo IBAN.png".into(),
                    media_type: "image/png".into(),
                    content: MODULO.to_vec(),
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let claimed = queue
        .claim(
            with_token(
                ClaimRequest {
                    request_id: item.request_id.clone(),
                    expected_version: item.version,
                    lease_seconds: 0,
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    queue
        .request_info(
            with_token(
                RequestInfoRequest {
                    request_id: item.request_id.clone(),
                    expected_version: claimed.version,
                    question: "Serve l'IBAN aggiornato.".into(),
                    attachment_ids: vec![modulo.id.clone()],
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap();

    let asked = eventually(WAIT, request_now(intake.clone(), "INFO_REQUESTED"))
        .await
        .unwrap();
    assert!(
        asked
            .history
            .iter()
            .any(|change| change.detail == "Serve l'IBAN aggiornato.")
    );
    // The office's file reached the operator: listed with the request, readable from intake.
    let names: Vec<&str> = asked
        .request
        .as_ref()
        .unwrap()
        .attachments
        .iter()
        .map(|file| file.file_name.as_str())
        .collect();
    assert_eq!(names, ["delega.pdf", "modulo IBAN.png"]);
    let read = intake
        .get_attachment(
            with_token(
                GetAttachmentRequest {
                    attachment_id: modulo.id.clone(),
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.content, MODULO);
    let iban = intake
        .upload_attachment(
            with_token(
                UploadAttachmentRequest {
                    file_name: "IBAN.pdf".into(),
                    media_type: "application/pdf".into(),
                    content: DELEGA.to_vec(),
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let replied = intake
        .provide_info(
            with_token(
                ProvideInfoRequest {
                    request_id: submitted.request_id.clone(),
                    reply: "IBAN IT60X0542811101000000123456".into(),
                    attachment_ids: vec![iban.id.clone()],
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replied.status, "ROUTED");
    let again = intake
        .provide_info(
            with_token(
                ProvideInfoRequest {
                    request_id: submitted.request_id.clone(),
                    reply: "di nuovo".into(),
                    ..ProvideInfoRequest::default()
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);

    // The item is work again at the office, with the reply in its history.
    eventually(WAIT, item_now(queue.clone(), "NEW"))
        .await
        .unwrap();
    let read = queue
        .get_item(
            with_token(
                GetItemRequest {
                    request_id: submitted.request_id.clone(),
                },
                &official,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let history = read.history;
    let actions: Vec<&str> = history.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(
        actions,
        ["filed", "claimed", "info_requested", "info_provided"]
    );
    // The reply's file reached the office with it.
    let names: Vec<&str> = read
        .request_attachments
        .iter()
        .map(|file| file.file_name.as_str())
        .collect();
    assert_eq!(names, ["delega.pdf", "IBAN.pdf"]);
    assert_eq!(history[3].text, "IBAN IT60X0542811101000000123456");

    system.stop_all().await.unwrap();
}
