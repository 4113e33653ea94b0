//! What officials do with items, against the real servers: claims and leases, optimistic
//! concurrency, answers, internal notes, closing, and who may do what.

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
use combipat_proto::officequeue::v1::{
    AddNoteRequest, AnswerRequest, ClaimRequest, CloseRequest, GetItemRequest, GetItemResponse,
    Item, ReleaseRequest,
};
use combipat_testkit::{eventually, token, with_token};
use common::{Harness, WAIT, decision, start};
use tonic::Code;
use tonic::transport::Channel;

fn official_named(office: &str, name: &str) -> String {
    token(Role::Funzionario, &[("inps_office", office), ("sub", name)]).unwrap()
}

/// Files one item at SEDE-MI and returns it.
async fn filed(harness: &mut Harness) -> Item {
    let request_id = uuid::Uuid::now_v7().to_string();
    harness
        .bus
        .publish_envelope(&decision(&request_id, "SEDE-MI", "CP-2026-00000500", 1))
        .await
        .unwrap();
    let client = harness.client.clone();
    eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = request_id.clone();
        async move {
            let found = client
                .get_item(with_token(
                    GetItemRequest { request_id },
                    &official_named("SEDE-MI", "anna"),
                )?)
                .await;
            Ok(found.ok().and_then(|response| response.into_inner().item))
        }
    })
    .await
    .unwrap()
}

async fn get(client: &mut OfficeQueueClient<Channel>, request_id: &str) -> GetItemResponse {
    client
        .get_item(
            with_token(
                GetItemRequest {
                    request_id: request_id.into(),
                },
                &official_named("SEDE-MI", "anna"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
}

fn claim(item: &Item, version: u64, lease_seconds: u32, who: &str) -> tonic::Request<ClaimRequest> {
    with_token(
        ClaimRequest {
            request_id: item.request_id.clone(),
            expected_version: version,
            lease_seconds,
        },
        &official_named("SEDE-MI", who),
    )
    .unwrap()
}

#[tokio::test]
async fn of_many_concurrent_claims_exactly_one_wins() {
    let mut harness = start().await;
    let item = filed(&mut harness).await;
    let attempts = (0..16).map(|n| {
        let mut client = harness.client.clone();
        let request = claim(&item, item.version, 0, &format!("official-{n}"));
        tokio::spawn(async move { client.claim(request).await })
    });
    let outcomes = futures::future::join_all(attempts).await;
    let winners: Vec<Item> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().unwrap().as_ref().ok())
        .map(|r| r.get_ref().clone())
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        if let Err(status) = outcome.as_ref().unwrap() {
            assert!(
                matches!(status.code(), Code::Aborted | Code::FailedPrecondition),
                "{status:?}"
            );
        }
    }
    let now = get(&mut harness.client, &item.request_id)
        .await
        .item
        .unwrap();
    assert_eq!(now.claimed_by, winners[0].claimed_by);
    assert_eq!(now.version, item.version + 1);
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_lease_can_be_taken_again() {
    let mut harness = start().await;
    let item = filed(&mut harness).await;
    let held = harness
        .client
        .claim(claim(&item, item.version, 1, "anna"))
        .await
        .unwrap()
        .into_inner();
    let refused = harness
        .client
        .claim(claim(&item, held.version, 60, "bruno"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("anna holds the item"),
        "{}",
        refused.message()
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let taken = harness
        .client
        .claim(claim(&item, held.version, 60, "bruno"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(taken.claimed_by, "bruno");
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stale_write_is_refused_and_changes_nothing() {
    let mut harness = start().await;
    let item = filed(&mut harness).await;
    let claimed = harness
        .client
        .claim(claim(&item, item.version, 0, "anna"))
        .await
        .unwrap()
        .into_inner();
    let stale = harness
        .client
        .answer(
            with_token(
                AnswerRequest {
                    request_id: item.request_id.clone(),
                    expected_version: item.version,
                    text: "Risposta".into(),
                },
                &official_named("SEDE-MI", "anna"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    assert!(
        stale
            .message()
            .contains(&format!("it is at version {}", claimed.version)),
        "{}",
        stale.message()
    );
    let now = get(&mut harness.client, &item.request_id).await;
    assert_eq!(now.item.unwrap().status, "NEW");
    assert!(now.history.iter().all(|entry| entry.action != "answered"));
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_answer_needs_the_lease_and_is_announced_while_notes_never_leave() {
    let mut harness = start().await;
    let mut events = harness.bus.observe("request.*").await.unwrap();
    let item = filed(&mut harness).await;
    let anna = official_named("SEDE-MI", "anna");
    let unclaimed = harness
        .client
        .answer(
            with_token(
                AnswerRequest {
                    request_id: item.request_id.clone(),
                    expected_version: item.version,
                    text: "Risposta".into(),
                },
                &anna,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(unclaimed.code(), Code::FailedPrecondition);

    harness
        .client
        .add_note(
            with_token(
                AddNoteRequest {
                    request_id: item.request_id.clone(),
                    text: "NOTA INTERNA: verificare estratto conto".into(),
                },
                &anna,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let claimed = harness
        .client
        .claim(claim(&item, item.version, 0, "anna"))
        .await
        .unwrap()
        .into_inner();
    let answered = harness
        .client
        .answer(
            with_token(
                AnswerRequest {
                    request_id: item.request_id.clone(),
                    expected_version: claimed.version,
                    text: "La domanda è in istruttoria.".into(),
                },
                &anna,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (answered.status.as_str(), answered.claimed_by.as_str()),
        ("ANSWERED", "")
    );

    // The only event after filing is the answer, and it carries no note.
    let mut seen = Vec::new();
    while let Some(event) = events.try_next(Duration::from_millis(700)).await.unwrap() {
        seen.push(event);
    }
    let answers: Vec<_> = seen
        .iter()
        .filter_map(|event| match &event.payload {
            Some(Payload::RequestAnswered(answer)) => Some(answer),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1, "{seen:?}");
    assert_eq!(answers[0].answer, "La domanda è in istruttoria.");
    assert_eq!(answers[0].answered_by, "anna");
    assert!(
        seen.iter()
            .all(|event| !format!("{event:?}").contains("NOTA INTERNA"))
    );

    let history = get(&mut harness.client, &item.request_id).await.history;
    let actions: Vec<(&str, bool)> = history
        .iter()
        .map(|entry| (entry.action.as_str(), entry.internal))
        .collect();
    assert_eq!(
        actions,
        [
            ("filed", false),
            ("note", true),
            ("claimed", false),
            ("answered", false)
        ]
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_closed_item_takes_no_more_work_and_history_cannot_be_rewritten() {
    let mut harness = start().await;
    let mut closed_events = harness.bus.observe("request.closed").await.unwrap();
    let item = filed(&mut harness).await;
    let anna = official_named("SEDE-MI", "anna");
    let closed = harness
        .client
        .close(
            with_token(
                CloseRequest {
                    request_id: item.request_id.clone(),
                    expected_version: item.version,
                },
                &anna,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, "CLOSED");
    let event = closed_events.next(WAIT).await.unwrap();
    assert_eq!(event.request_id, item.request_id);
    let again = harness
        .client
        .claim(claim(&item, closed.version, 0, "anna"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    let database_url = harness.database.url.clone();
    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let rewrite = sqlx::query("UPDATE item_history SET text = 'changed'")
        .execute(&pool)
        .await;
    assert!(rewrite.unwrap_err().to_string().contains("append-only"));
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_officials_of_the_office_work_its_items() {
    let mut harness = start().await;
    let item = filed(&mut harness).await;
    let outsiders = [
        token(Role::Funzionario, &[("inps_office", "SEDE-TO")]).unwrap(),
        token(
            Role::Operatore,
            &[("patronato", "INCA"), ("patronato_office", "INCA-MI-01")],
        )
        .unwrap(),
        token(Role::Analista, &[]).unwrap(),
        token(Role::Admin, &[]).unwrap(),
    ];
    for outsider in &outsiders {
        let request_id = item.request_id.clone();
        let claim = harness
            .client
            .claim(
                with_token(
                    ClaimRequest {
                        request_id: request_id.clone(),
                        expected_version: item.version,
                        lease_seconds: 0,
                    },
                    outsider,
                )
                .unwrap(),
            )
            .await;
        assert_eq!(claim.unwrap_err().code(), Code::PermissionDenied);
        let note = harness
            .client
            .add_note(
                with_token(
                    AddNoteRequest {
                        request_id: request_id.clone(),
                        text: "x".into(),
                    },
                    outsider,
                )
                .unwrap(),
            )
            .await;
        assert_eq!(note.unwrap_err().code(), Code::PermissionDenied);
        let close = harness
            .client
            .close(
                with_token(
                    CloseRequest {
                        request_id,
                        expected_version: item.version,
                    },
                    outsider,
                )
                .unwrap(),
            )
            .await;
        assert_eq!(close.unwrap_err().code(), Code::PermissionDenied);
    }
    // A responsabile of the office may release someone else's claim; another funzionario may not.
    let held = harness
        .client
        .claim(claim(&item, item.version, 0, "anna"))
        .await
        .unwrap()
        .into_inner();
    let release = |who: String| {
        with_token(
            ReleaseRequest {
                request_id: item.request_id.clone(),
                expected_version: held.version,
            },
            &who,
        )
        .unwrap()
    };
    let by_colleague = harness
        .client
        .release(release(official_named("SEDE-MI", "bruno")))
        .await
        .unwrap_err();
    assert_eq!(by_colleague.code(), Code::PermissionDenied);
    let manager = token(
        Role::Responsabile,
        &[("inps_office", "SEDE-MI"), ("sub", "carla")],
    )
    .unwrap();
    let released = harness
        .client
        .release(release(manager))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.claimed_by, "");
    harness.service.shutdown().await.unwrap();
}

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
