//! Office-queue against the real PostgreSQL and RabbitMQ.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_proto::common::v1::Provenance;
use combipat_proto::officequeue::v1::ListItemsRequest;
use combipat_testkit::{eventually, token, with_token};
use common::{WAIT, decision, list, official, routed, start};
use tonic::Code;

#[tokio::test]
async fn a_routed_request_is_filed_once_in_its_office_queue() {
    let mut harness = start().await;
    let event = routed("SEDE-MI", "CP-2026-00000007");
    harness.bus.publish_envelope(&event).await.unwrap();
    harness.bus.publish_envelope(&event).await.unwrap(); // redelivered: one item

    let client = harness.client.clone();
    let items = eventually(WAIT, || {
        let mut client = client.clone();
        async move {
            let items = list(&mut client, "SEDE-MI", 0, "").await.items;
            Ok((!items.is_empty()).then_some(items))
        }
    })
    .await
    .unwrap();
    assert_eq!(items[0].protocol_number, "CP-2026-00000007");
    assert_eq!(items[0].provenance, Provenance::Patronato as i32);
    assert_eq!(items[0].patronato, "ACLI");
    harness
        .service
        .wait_for_metric("combipat_inbox_duplicates_total{consumer=\"office-queue\"} 1")
        .await
        .unwrap();
    assert_eq!(
        list(&mut harness.client, "SEDE-MI", 0, "")
            .await
            .items
            .len(),
        1
    );
    assert!(
        list(&mut harness.client, "SEDE-TO", 0, "")
            .await
            .items
            .is_empty()
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn pages_neither_skip_nor_repeat_while_items_arrive() {
    let mut harness = start().await;
    for n in 0..5 {
        harness
            .bus
            .publish_envelope(&routed("SEDE-RM", &format!("CP-2026-{n:08}")))
            .await
            .unwrap();
    }
    let client = harness.client.clone();
    eventually(WAIT, || {
        let mut client = client.clone();
        async move { Ok((list(&mut client, "SEDE-RM", 200, "").await.items.len() == 5).then_some(())) }
    })
    .await
    .unwrap();

    let first = list(&mut harness.client, "SEDE-RM", 2, "").await;
    assert_eq!(first.items.len(), 2);
    // A new item arrives between pages: it lands after the cursor, not before.
    harness
        .bus
        .publish_envelope(&routed("SEDE-RM", "CP-2026-00000099"))
        .await
        .unwrap();
    let mut seen: Vec<String> = first
        .items
        .iter()
        .map(|item| item.protocol_number.clone())
        .collect();
    let mut token = first.next_page_token;
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 6 && tokio::time::Instant::now() < deadline {
        if token.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            token = String::new();
            let all = list(&mut harness.client, "SEDE-RM", 200, "").await;
            seen = all
                .items
                .iter()
                .map(|item| item.protocol_number.clone())
                .collect();
            continue;
        }
        let page = list(&mut harness.client, "SEDE-RM", 2, &token).await;
        seen.extend(page.items.iter().map(|item| item.protocol_number.clone()));
        token = page.next_page_token;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "an item was repeated: {seen:?}");
    assert_eq!(seen.len(), 6, "{seen:?}");
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_the_office_itself_reads_its_queue() {
    let mut harness = start().await;
    let other_office = harness
        .client
        .list_items(
            with_token(
                ListItemsRequest {
                    office_code: "SEDE-MI".into(),
                    ..Default::default()
                },
                &official("SEDE-TO"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(other_office.code(), Code::PermissionDenied);
    let operator = token(
        Role::Operatore,
        &[("patronato", "INCA"), ("patronato_office", "X")],
    )
    .unwrap();
    let wrong_role = harness
        .client
        .list_items(
            with_token(
                ListItemsRequest {
                    office_code: "SEDE-MI".into(),
                    ..Default::default()
                },
                &operator,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong_role.code(), Code::PermissionDenied);
    let anonymous = harness
        .client
        .list_items(ListItemsRequest {
            office_code: "SEDE-MI".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn once_filed_the_item_is_office_queues_and_a_later_decision_changes_nothing() {
    let mut harness = start().await;
    let request_id = uuid::Uuid::now_v7().to_string();
    harness
        .bus
        .publish_envelope(&decision(&request_id, "SEDE-MI", "CP-2026-00000077", 1))
        .await
        .unwrap();
    let client = harness.client.clone();
    eventually(WAIT, || {
        let mut client = client.clone();
        async move { Ok((list(&mut client, "SEDE-MI", 0, "").await.items.len() == 1).then_some(())) }
    })
    .await
    .unwrap();

    // Transfers are office-queue's own decisions: a routing decision for a filed request
    // (router deciding again, or a replayed event) moves nothing.
    harness
        .bus
        .publish_envelope(&decision(&request_id, "SEDE-TO", "CP-2026-00000077", 2))
        .await
        .unwrap();
    harness
        .service
        .wait_for_metric("combipat_items_filed_total{outcome=\"stale\"} 1")
        .await
        .unwrap();
    let milano = list(&mut harness.client, "SEDE-MI", 0, "").await.items;
    assert_eq!(milano.len(), 1);
    assert_eq!(milano[0].request_id, request_id);
    assert!(
        list(&mut harness.client, "SEDE-TO", 0, "")
            .await
            .items
            .is_empty()
    );
    harness.service.shutdown().await.unwrap();
}
