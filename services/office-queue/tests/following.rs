//! Following an office's queue: filters, solleciti, and the stream of changes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::officequeue::v1::AnswerRequest;
use combipat_testkit::with_token;
use common::{WAIT, claim, decision, filed, get, official_named, start};
use tonic::Code;

#[tokio::test]
async fn the_queue_filters_by_status_motivo_topic_patronato_age_and_claim() {
    use combipat_proto::common::v1::{Motivo, Provenance};
    use combipat_proto::officequeue::v1::{ClaimFilter, ListItemsRequest};

    let mut harness = start().await;
    let first = filed(&mut harness).await;
    let second = filed(&mut harness).await;
    let anna = official_named("SEDE-MI", "anna");
    let claimed = harness
        .client
        .claim(claim(&second, second.version, 0, "anna"))
        .await
        .unwrap()
        .into_inner();
    harness
        .client
        .answer(
            with_token(
                AnswerRequest {
                    request_id: second.request_id.clone(),
                    expected_version: claimed.version,
                    text: "Fatto".into(),
                    ..AnswerRequest::default()
                },
                &anna,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let third = filed(&mut harness).await;
    harness
        .client
        .claim(claim(&third, third.version, 0, "anna"))
        .await
        .unwrap();

    let list = |filter: ListItemsRequest| {
        let mut client = harness.client.clone();
        let anna = anna.clone();
        async move {
            let request = ListItemsRequest {
                office_code: "SEDE-MI".into(),
                page_size: 200,
                ..filter
            };
            let items = client
                .list_items(with_token(request, &anna).unwrap())
                .await
                .unwrap()
                .into_inner()
                .items;
            items
                .into_iter()
                .map(|item| item.request_id)
                .collect::<Vec<_>>()
        }
    };
    let all = vec![
        first.request_id.clone(),
        second.request_id.clone(),
        third.request_id.clone(),
    ];
    assert_eq!(list(ListItemsRequest::default()).await, all);
    assert_eq!(
        list(ListItemsRequest {
            status: vec!["ANSWERED".into()],
            ..Default::default()
        })
        .await,
        vec![second.request_id.clone()]
    );
    assert_eq!(
        list(ListItemsRequest {
            status: vec!["NEW".into()],
            claimed: ClaimFilter::Unclaimed as i32,
            ..Default::default()
        })
        .await,
        vec![first.request_id.clone()]
    );
    assert_eq!(
        list(ListItemsRequest {
            claimed: ClaimFilter::Claimed as i32,
            ..Default::default()
        })
        .await,
        vec![third.request_id.clone()]
    );
    // The fixture files every item with motivo INFO_PAGAMENTI, topic assegno_unico, patronato ACLI.
    assert_eq!(
        list(ListItemsRequest {
            motivo: vec![Motivo::InfoPagamenti as i32],
            topic: "assegno_unico".into(),
            patronato: "ACLI".into(),
            provenance: Provenance::Patronato as i32,
            ..Default::default()
        })
        .await,
        all
    );
    assert!(
        list(ListItemsRequest {
            motivo: vec![Motivo::SollecitoPratica as i32],
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert!(
        list(ListItemsRequest {
            patronato: "INCA".into(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let long_ago =
        combipat_platform::time::to_timestamp(chrono::Utc::now() - chrono::Duration::days(30));
    assert!(
        list(ListItemsRequest {
            submitted_before: Some(long_ago),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    let bad = harness
        .client
        .list_items(
            with_token(
                ListItemsRequest {
                    office_code: "SEDE-MI".into(),
                    status: vec!["OPEN".into()],
                    ..Default::default()
                },
                &anna,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("`OPEN` is not one of"),
        "{}",
        bad.message()
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_sollecito_is_counted_on_the_item_and_kept_in_its_history() {
    use combipat_proto::events::v1::RequestSollecito;

    let mut harness = start().await;
    let item = filed(&mut harness).await;
    let sollecito = combipat_platform::messaging::new_envelope(
        "intake",
        &item.request_id,
        Payload::RequestSollecito(RequestSollecito {
            count: 1,
            sent_by: "op-1".into(),
        }),
    );
    harness.bus.publish_envelope(&sollecito).await.unwrap();
    harness.bus.publish_envelope(&sollecito).await.unwrap(); // redelivered: counted once
    harness
        .service
        .wait_for_metric("combipat_inbox_duplicates_total{consumer=\"office-queue\"} 1")
        .await
        .unwrap();
    let now = get(&mut harness.client, &item.request_id).await;
    assert_eq!(now.item.unwrap().solleciti, 1);
    let entries: Vec<&str> = now
        .history
        .iter()
        .map(|entry| entry.action.as_str())
        .collect();
    assert_eq!(entries, ["filed", "sollecito"]);
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn watch_queue_delivers_an_offices_changes_in_order() {
    use combipat_proto::officequeue::v1::WatchQueueRequest;
    use futures::StreamExt as _;

    let mut harness = start().await;
    let anna = official_named("SEDE-MI", "anna");
    let mut changes = harness
        .client
        .watch_queue(
            with_token(
                WatchQueueRequest {
                    office_code: "SEDE-MI".into(),
                },
                &anna,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    // Another office's watcher sees none of these.
    let refused = harness
        .client
        .watch_queue(
            with_token(
                WatchQueueRequest {
                    office_code: "SEDE-MI".into(),
                },
                &official_named("SEDE-TO", "bruno"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let first = filed(&mut harness).await;
    let second = filed(&mut harness).await;
    harness
        .bus
        .publish_envelope(&decision(
            &uuid::Uuid::now_v7().to_string(),
            "SEDE-TO",
            "CP-9",
            1,
        ))
        .await
        .unwrap();
    harness
        .client
        .claim(claim(&first, first.version, 0, "anna"))
        .await
        .unwrap();

    let mut seen = Vec::new();
    while seen.len() < 3 {
        let change = tokio::time::timeout(WAIT, changes.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(change);
    }
    let steps: Vec<(&str, &str)> = seen
        .iter()
        .map(|change| (change.request_id.as_str(), change.action.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (first.request_id.as_str(), "filed"),
            (second.request_id.as_str(), "filed"),
            (first.request_id.as_str(), "claimed")
        ]
    );
    assert!(
        seen.windows(2)
            .all(|pair| pair[0].history_id < pair[1].history_id)
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_watch_ends_when_the_token_that_opened_it_expires() {
    use combipat_proto::officequeue::v1::WatchQueueRequest;
    use futures::StreamExt as _;

    let mut harness = start().await;
    // A token that lasts two more seconds.
    let claims = combipat_platform::auth::Claims {
        sub: "anna".into(),
        role: combipat_platform::auth::Role::Funzionario,
        patronato: None,
        patronato_office: None,
        inps_office: Some("SEDE-MI".into()),
        exp: chrono::Utc::now().timestamp() + 2,
        nbf: None,
        iss: None,
        aud: None,
    };
    let key =
        std::fs::read(combipat_testkit::workspace_root().join("dev/keys/dev-jwt-private.pem"))
            .unwrap();
    let short = combipat_platform::auth::sign(&claims, &key).unwrap();
    let mut changes = harness
        .client
        .watch_queue(
            with_token(
                WatchQueueRequest {
                    office_code: "SEDE-MI".into(),
                },
                &short,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), changes.next())
        .await
        .expect("the watch ended by itself")
        .expect("with a status");
    let status = ended.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{status:?}");
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_caller_holds_a_bounded_number_of_watches_and_a_closed_one_frees_its_place() {
    use combipat_proto::officequeue::v1::WatchQueueRequest;

    let harness = start().await;
    let watch = |who: &str| {
        let mut client = harness.client.clone();
        let request = with_token(
            WatchQueueRequest {
                office_code: "SEDE-MI".into(),
            },
            &official_named("SEDE-MI", who),
        )
        .unwrap();
        async move { client.watch_queue(request).await }
    };
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(watch("anna").await.unwrap().into_inner());
    }
    let refused = watch("anna").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Someone else still watches; and a closed watch gives its place back.
    let _bruno = watch("bruno").await.unwrap();
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..50 {
        match watch("anna").await {
            Ok(stream) => {
                reopened = Some(stream);
                break;
            }
            // The server notices the closed stream a moment after the client drops it.
            Err(status) if status.code() == Code::ResourceExhausted => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(reopened.is_some(), "the closed watch's place was freed");
}
