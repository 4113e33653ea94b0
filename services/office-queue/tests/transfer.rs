//! A transfer is office-queue's decision: the target is looked up in router's directory, then
//! the item moves in one transaction with its history and `request.transferred`, which router
//! records for Explain. Nothing else can move a filed item.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::officequeue::v1::{GetItemRequest, Item, TransferRequest};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, eventually, grpc_channel, overrides, request_summary,
    submitted_event, token, with_token,
};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(10);

fn official(office: &str) -> String {
    token(
        Role::Funzionario,
        &[("inps_office", office), ("sub", "anna")],
    )
    .unwrap()
}

#[tokio::test]
async fn a_transfer_is_validated_by_router_and_moves_the_item() {
    let bus = TestBus::new();
    let router = TestService::start::<combipat_router::Service>(&overrides(
        &TestDatabase::create().await.unwrap(),
        &bus,
    ))
    .await
    .unwrap();
    let mut settings = overrides(&TestDatabase::create().await.unwrap(), &bus);
    settings.push((
        "router.endpoint".into(),
        format!("http://{}", router.grpc_addr),
    ));
    let queue = TestService::start::<combipat_office_queue::Service>(&settings)
        .await
        .unwrap();
    bus.wait_for_consumer(combipat_router::QUEUE.name)
        .await
        .unwrap();
    bus.wait_for_consumer(combipat_office_queue::QUEUE.name)
        .await
        .unwrap();
    let mut client = OfficeQueueClient::new(grpc_channel(queue.grpc_addr).await.unwrap());

    // A request from Milano, routed by router and filed at SEDE-MI.
    let request = request_summary("F205", "pensioni", "CP-2026-00000900");
    let request_id = request.request_id.clone();
    bus.publish_envelope(&submitted_event(request))
        .await
        .unwrap();
    let reader = client.clone();
    let at = |office: &'static str| {
        let client = reader.clone();
        let request_id = request_id.clone();
        move || {
            let mut client = client.clone();
            let request_id = request_id.clone();
            async move {
                let found = client
                    .get_item(with_token(
                        GetItemRequest { request_id },
                        &official(office),
                    )?)
                    .await;
                Ok(found
                    .ok()
                    .and_then(|response| response.into_inner().item)
                    .filter(|item: &Item| item.office_code == office))
            }
        }
    };
    let item = eventually(WAIT, at("SEDE-MI")).await.unwrap();

    let transfer = |office: &str, to: &str, version: u64| {
        with_token(
            TransferRequest {
                request_id: request_id.clone(),
                expected_version: version,
                to_office_code: to.into(),
                reason: "residente a Torino".into(),
            },
            &official(office),
        )
        .unwrap()
    };
    let not_ours = client
        .transfer(transfer("SEDE-TO", "SEDE-TO", item.version))
        .await
        .unwrap_err();
    assert_eq!(not_ours.code(), Code::PermissionDenied);
    let stale = client
        .transfer(transfer("SEDE-MI", "SEDE-TO", item.version + 7))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let nowhere = client
        .transfer(transfer("SEDE-MI", "SEDE-XX", item.version))
        .await
        .unwrap_err();
    assert_eq!(nowhere.code(), Code::InvalidArgument, "{nowhere:?}");
    assert!(
        nowhere.message().contains("SEDE-XX"),
        "{}",
        nowhere.message()
    );

    let mut transfers = bus.observe("request.transferred").await.unwrap();
    let done = client
        .transfer(transfer("SEDE-MI", "SEDE-TO", item.version))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.to_office.unwrap().code, "SEDE-TO");
    // Moved at once, in the same transaction as its announcement.
    let moved = done.item.unwrap();
    assert_eq!(moved.office_code, "SEDE-TO");
    let announced = transfers.next(WAIT).await.unwrap();
    assert_eq!(announced.request_id, request_id);
    assert_eq!(
        announced.sequence,
        moved.version + 1,
        "the item's version after the move, plus one, is the request's lifecycle position"
    );
    match announced.payload {
        Some(Payload::RequestTransferred(transferred)) => {
            assert_eq!(transferred.from_office.unwrap().code, "SEDE-MI");
            assert_eq!(transferred.to_office.unwrap().code, "SEDE-TO");
            assert_eq!(transferred.reason, "residente a Torino");
        }
        other => panic!("expected request.transferred, got {other:?}"),
    }
    // The refused attempts above announced nothing.
    assert!(
        transfers
            .try_next(std::time::Duration::from_millis(300))
            .await
            .unwrap()
            .is_none()
    );
    let moved = eventually(WAIT, at("SEDE-TO")).await.unwrap();
    assert_eq!(moved.protocol_number, "CP-2026-00000900");
    // Router records it from the event, so Explain tells the whole story.
    let router_client = combipat_proto::router::v1::router_client::RouterClient::new(
        grpc_channel(router.grpc_addr).await.unwrap(),
    );
    let decisions = eventually(WAIT, || {
        let mut router_client = router_client.clone();
        let request_id = request_id.clone();
        async move {
            let explained = router_client
                .explain(with_token(
                    combipat_proto::router::v1::ExplainRequest { request_id },
                    &official("SEDE-TO"),
                )?)
                .await?
                .into_inner();
            Ok((explained.decisions.len() == 2).then_some(explained.decisions))
        }
    })
    .await
    .unwrap();
    assert_eq!(decisions[1].kind, "transfer");
    assert_eq!(decisions[1].office.as_ref().unwrap().code, "SEDE-TO");
    let history = client
        .get_item(
            with_token(
                GetItemRequest {
                    request_id: request_id.clone(),
                },
                &official("SEDE-TO"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
        .history;
    let actions: Vec<&str> = history.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["filed", "transferred"]);

    queue.shutdown().await.unwrap();
    router.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_router_a_transfer_is_refused_as_unavailable_and_nothing_changes() {
    let bus = TestBus::new();
    let mut settings = overrides(&TestDatabase::create().await.unwrap(), &bus);
    // Nothing listens there.
    let port = combipat_testkit::free_port().unwrap();
    settings.push(("router.endpoint".into(), format!("http://127.0.0.1:{port}")));
    let queue = TestService::start::<combipat_office_queue::Service>(&settings)
        .await
        .unwrap();
    bus.wait_for_consumer(combipat_office_queue::QUEUE.name)
        .await
        .unwrap();
    let request_id = uuid::Uuid::now_v7().to_string();
    bus.publish_envelope(&common::decision(
        &request_id,
        "SEDE-MI",
        "CP-2026-00000901",
        1,
    ))
    .await
    .unwrap();
    let client = OfficeQueueClient::new(grpc_channel(queue.grpc_addr).await.unwrap());
    let read = || {
        let client = client.clone();
        let request_id = request_id.clone();
        async move {
            let mut client = client;
            anyhow::Ok(
                client
                    .get_item(with_token(
                        GetItemRequest { request_id },
                        &official("SEDE-MI"),
                    )?)
                    .await?
                    .into_inner(),
            )
        }
    };
    let before = eventually(WAIT, || async { Ok(read().await.ok()) })
        .await
        .unwrap();
    let version = before.item.as_ref().unwrap().version;

    let mut caller = client.clone();
    let refused = caller
        .transfer(
            with_token(
                TransferRequest {
                    request_id: request_id.clone(),
                    expected_version: version,
                    to_office_code: "SEDE-TO".into(),
                    reason: "residente a Torino".into(),
                },
                &official("SEDE-MI"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    let after = read().await.unwrap();
    assert_eq!(after.item.unwrap().version, version);
    assert_eq!(after.history.len(), before.history.len());
    queue.shutdown().await.unwrap();
}
