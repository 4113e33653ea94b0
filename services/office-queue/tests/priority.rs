//! Priority, the SLA clock and the responsabile's tools: the order of the queue and why,
//! the filters on solleciti and SLA state, the clock stopping while the office waits for
//! information, reassignment and the workload.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use chrono::{Duration, Utc};
use combipat_platform::messaging::new_envelope;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{RequestInfoProvided, RequestSollecito};
use combipat_proto::officequeue::v1::{
    AnswerRequest, GetWorkloadRequest, Item, ListItemsRequest, ListOrder, ReassignRequest,
    RequestInfoRequest, SlaState,
};
use combipat_testkit::{eventually, with_token};
use common::{
    Harness, WAIT, claim, filed_submitted, get, official_named, responsabile_named, start,
};
use tonic::Code;

async fn sollecito(harness: &Harness, item: &Item, count: u32) {
    let envelope = new_envelope(
        "intake",
        &item.request_id,
        Payload::RequestSollecito(RequestSollecito {
            count,
            sent_by: "op-1".into(),
        }),
    );
    harness.bus.publish_envelope(&envelope).await.unwrap();
    let mut client = harness.client.clone();
    let request_id = item.request_id.clone();
    eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = request_id.clone();
        async move {
            let item = get(&mut client, &request_id).await.item.unwrap();
            Ok((item.solleciti == count).then_some(()))
        }
    })
    .await
    .unwrap();
    let _ = get(&mut client, &item.request_id).await;
}

async fn list_all(harness: &Harness, request: ListItemsRequest, page_size: u32) -> Vec<Item> {
    let mut client = harness.client.clone();
    let anna = official_named("SEDE-MI", "anna");
    let mut items = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_items(
                with_token(
                    ListItemsRequest {
                        office_code: "SEDE-MI".into(),
                        page_size,
                        page_token: page_token.clone(),
                        ..request.clone()
                    },
                    &anna,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner();
        items.extend(page.items);
        if page.next_page_token.is_empty() {
            return items;
        }
        page_token = page.next_page_token;
    }
}

/// The same time of day, `count` Italian business days ago.
fn business_days_ago(count: u32) -> chrono::DateTime<Utc> {
    let now = Utc::now();
    let today = combipat_domain::sla::rome_date(now);
    let then = combipat_domain::calendar::sub_business_days(today, count);
    now - Duration::days((today - then).num_days())
}

fn ids(items: &[Item]) -> Vec<String> {
    items.iter().map(|item| item.request_id.clone()).collect()
}

fn state(item: &Item) -> SlaState {
    SlaState::try_from(item.priority.as_ref().unwrap().sla_state).unwrap()
}

#[tokio::test]
async fn the_queue_ranks_overdue_then_due_soon_then_solleciti_then_age_and_says_why() {
    let mut harness = start().await;
    let now = Utc::now();
    // Sent today, a week ago, 27 business days ago (3 left of 30: due soon) and 100 days ago.
    let fresh = filed_submitted(&mut harness, now).await;
    let week_old = filed_submitted(&mut harness, now - Duration::days(7)).await;
    let due_soon = filed_submitted(&mut harness, business_days_ago(27)).await;
    let overdue = filed_submitted(&mut harness, now - Duration::days(100)).await;
    sollecito(&harness, &fresh, 2).await;

    let ranked = list_all(&harness, ListItemsRequest::default(), 2).await;
    assert_eq!(
        ids(&ranked),
        ids(&[
            overdue.clone(),
            due_soon.clone(),
            fresh.clone(),
            week_old.clone()
        ]),
        "overdue, due soon, the one with solleciti, then by age"
    );
    let explained: Vec<_> = ranked
        .iter()
        .map(|item| item.priority.clone().unwrap())
        .collect();
    assert_eq!(
        explained.iter().map(|p| p.score).collect::<Vec<_>>(),
        vec![20, 10, 2, 0],
        "the score the SQL sorted by is the one each item explains"
    );
    assert!(
        explained[0].reasons[0].starts_with("overdue"),
        "{explained:?}"
    );
    assert!(
        explained[1].reasons[0].starts_with("due soon"),
        "{explained:?}"
    );
    assert!(
        explained[2]
            .reasons
            .iter()
            .any(|reason| reason == "2 solleciti received")
    );
    assert!(explained[3].reasons[0].starts_with("on track"));
    assert!(explained.iter().all(|p| p.due_at.is_some()));

    // Arrival order is still there for clients that keep a copy of the queue.
    let arrived = list_all(
        &harness,
        ListItemsRequest {
            order: ListOrder::Arrival as i32,
            ..ListItemsRequest::default()
        },
        3,
    )
    .await;
    assert_eq!(ids(&arrived), ids(&[fresh, week_old, due_soon, overdue]));
}

#[tokio::test]
async fn the_queue_filters_by_sla_state_and_solleciti() {
    let mut harness = start().await;
    let now = Utc::now();
    let fresh = filed_submitted(&mut harness, now).await;
    let overdue = filed_submitted(&mut harness, now - Duration::days(100)).await;
    let chased = filed_submitted(&mut harness, now - Duration::days(20)).await;
    sollecito(&harness, &chased, 1).await;

    let overdue_only = list_all(
        &harness,
        ListItemsRequest {
            sla_state: vec![SlaState::Overdue as i32],
            ..ListItemsRequest::default()
        },
        50,
    )
    .await;
    assert_eq!(ids(&overdue_only), ids(std::slice::from_ref(&overdue)));
    let on_track = list_all(
        &harness,
        ListItemsRequest {
            sla_state: vec![SlaState::OnTrack as i32],
            ..ListItemsRequest::default()
        },
        50,
    )
    .await;
    assert_eq!(ids(&on_track), ids(&[chased.clone(), fresh.clone()]));
    let with_solleciti = list_all(
        &harness,
        ListItemsRequest {
            min_solleciti: 1,
            ..ListItemsRequest::default()
        },
        50,
    )
    .await;
    assert_eq!(ids(&with_solleciti), ids(&[chased]));

    let refused = harness
        .client
        .clone()
        .list_items(
            with_token(
                ListItemsRequest {
                    office_code: "SEDE-MI".into(),
                    sla_state: vec![42],
                    ..ListItemsRequest::default()
                },
                &official_named("SEDE-MI", "anna"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("sla_state"), "{refused:?}");
}

#[tokio::test]
async fn the_clock_stops_while_the_office_waits_for_information_and_restarts_on_the_reply() {
    let mut harness = start().await;
    let item = filed_submitted(&mut harness, Utc::now() - Duration::days(7)).await;
    let due_before = item.priority.clone().unwrap().due_at.unwrap();
    let claimed = harness
        .client
        .claim(claim(&item, item.version, 0, "anna"))
        .await
        .unwrap()
        .into_inner();
    let waiting = harness
        .client
        .request_info(
            with_token(
                RequestInfoRequest {
                    request_id: item.request_id.clone(),
                    expected_version: claimed.version,
                    question: "Serve l'ISEE aggiornato".into(),
                    ..RequestInfoRequest::default()
                },
                &official_named("SEDE-MI", "anna"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let paused = waiting.priority.clone().unwrap();
    assert_eq!(state(&waiting), SlaState::Paused);
    assert!(paused.due_at.is_none());
    // A week (two to five business days, holidays permitting) had gone of the 30.
    assert!((25..=28).contains(&paused.business_days_left), "{paused:?}");
    let waiting_only = list_all(
        &harness,
        ListItemsRequest {
            sla_state: vec![SlaState::Paused as i32],
            ..ListItemsRequest::default()
        },
        50,
    )
    .await;
    assert_eq!(ids(&waiting_only), ids(std::slice::from_ref(&item)));

    let reply = new_envelope(
        "intake",
        &item.request_id,
        Payload::RequestInfoProvided(RequestInfoProvided {
            reply: "Allegato l'ISEE".into(),
            provided_by: "op-1".into(),
            attachments: Vec::new(),
        }),
    );
    harness.bus.publish_envelope(&reply).await.unwrap();
    let client = harness.client.clone();
    let resumed = eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = item.request_id.clone();
        async move {
            let item = get(&mut client, &request_id).await.item.unwrap();
            Ok((item.status == "NEW").then_some(item))
        }
    })
    .await
    .unwrap();
    assert_eq!(state(&resumed), SlaState::OnTrack);
    let due_after = resumed.priority.unwrap().due_at.unwrap();
    // The clock restarted today with the business days it had left: the deadline is no
    // earlier than before the pause.
    assert!(
        due_after.seconds >= due_before.seconds,
        "{due_before:?} -> {due_after:?}"
    );
}

#[tokio::test]
async fn a_responsabile_reassigns_items_and_sees_the_workload_and_nobody_else_does() {
    let mut harness = start().await;
    let item = filed_submitted(&mut harness, Utc::now() - Duration::days(100)).await;
    let other = filed_submitted(&mut harness, Utc::now()).await;
    let held = harness
        .client
        .claim(claim(&item, item.version, 0, "anna"))
        .await
        .unwrap()
        .into_inner();
    let reassign = |token: String, version: u64| {
        with_token(
            ReassignRequest {
                request_id: item.request_id.clone(),
                expected_version: version,
                to_official: "bruno".into(),
                lease_seconds: 0,
            },
            &token,
        )
        .unwrap()
    };

    let refused = harness
        .client
        .reassign(reassign(official_named("SEDE-MI", "anna"), held.version))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = harness
        .client
        .reassign(reassign(
            responsabile_named("SEDE-TO", "carla"),
            held.version,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let stale = harness
        .client
        .reassign(reassign(
            responsabile_named("SEDE-MI", "carla"),
            item.version,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let reassigned = harness
        .client
        .reassign(reassign(
            responsabile_named("SEDE-MI", "carla"),
            held.version,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reassigned.claimed_by, "bruno");
    let history = get(&mut harness.client, &item.request_id).await.history;
    let last = history.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("carla", "reassigned")
    );
    assert!(last.text.contains("from anna to bruno"), "{last:?}");
    // The new holder works it; the old one no longer can.
    let answer = |who: &str| {
        with_token(
            AnswerRequest {
                request_id: item.request_id.clone(),
                expected_version: reassigned.version,
                text: "Pratica definita".into(),
                ..AnswerRequest::default()
            },
            &official_named("SEDE-MI", who),
        )
        .unwrap()
    };
    let not_yours = harness.client.answer(answer("anna")).await.unwrap_err();
    assert_eq!(not_yours.code(), Code::FailedPrecondition);
    harness.client.answer(answer("bruno")).await.unwrap();
    harness
        .client
        .claim(claim(&other, other.version, 0, "anna"))
        .await
        .unwrap();

    let workload = |token: String| {
        with_token(
            GetWorkloadRequest {
                office_code: "SEDE-MI".into(),
            },
            &token,
        )
        .unwrap()
    };
    let denied = harness
        .client
        .get_workload(workload(official_named("SEDE-MI", "anna")))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let load = harness
        .client
        .get_workload(workload(responsabile_named("SEDE-MI", "carla")))
        .await
        .unwrap()
        .into_inner();
    let by_status: Vec<_> = load
        .by_status
        .iter()
        .map(|count| (count.status.as_str(), count.items))
        .collect();
    assert_eq!(by_status, vec![("ANSWERED", 1), ("NEW", 1)]);
    let count_in = |wanted: SlaState| {
        load.by_sla_state
            .iter()
            .find(|count| count.sla_state == wanted as i32)
            .map(|count| count.items)
    };
    assert_eq!(count_in(SlaState::OnTrack), Some(1));
    assert_eq!(
        count_in(SlaState::Overdue),
        Some(0),
        "answered: nothing is due"
    );
    assert_eq!(count_in(SlaState::Done), Some(1));
    let holders: Vec<_> = load
        .by_official
        .iter()
        .map(|load| (load.official.as_str(), load.claimed))
        .collect();
    assert_eq!(holders, vec![("anna", 1)]);
}
