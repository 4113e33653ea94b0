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
use combipat_proto::officequeue::v1::{
    AddNoteRequest, AnswerRequest, ClaimRequest, CloseRequest, Item, ReleaseRequest,
};
use combipat_testkit::{token, with_token};
use common::{WAIT, claim, filed, get, official_named, start};
use tonic::Code;

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
                    ..AnswerRequest::default()
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
                    ..AnswerRequest::default()
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
                    ..AnswerRequest::default()
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
async fn an_official_over_the_write_limit_is_told_when_to_retry() {
    let mut harness = common::start_with(&[("rate_limit.calls_per_window", "3")]).await;
    let item = filed(&mut harness).await;
    let note = |who: &str| {
        let mut client = harness.client.clone();
        let request = with_token(
            AddNoteRequest {
                request_id: item.request_id.clone(),
                text: "verificare".into(),
            },
            &official_named("SEDE-MI", who),
        )
        .unwrap();
        async move { client.add_note(request).await }
    };
    for _ in 0..3 {
        note("anna").await.unwrap();
    }
    let limited = note("anna").await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted, "{limited:?}");
    use tonic_types::StatusExt as _;
    assert!(
        limited
            .get_details_retry_info()
            .unwrap()
            .retry_delay
            .unwrap()
            .as_secs()
            >= 1
    );
    // Counted per official: a colleague still writes; reading is never limited.
    note("bruno").await.unwrap();
    get(&mut harness.client, &item.request_id).await;
}
