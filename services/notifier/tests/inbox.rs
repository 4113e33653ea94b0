//! Who reads which notices, each reader's read marks, pages newest first, preferences (an
//! information request cannot be muted), and the INPS side: a deadline near to the office, a
//! missed one to its responsabile, an escalation to the direzione regionale; an office event
//! that arrives before router's decision comes back until notifier knows the filer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::auth::Role;
use combipat_proto::events::v1::ReminderKind;
use combipat_proto::notifier::v1::{
    ChannelPreference, CountUnreadRequest, ListNotificationsRequest, MarkAllReadRequest,
    MarkReadRequest, PreferenceScope, SetPreferencesRequest,
};
use combipat_testkit::with_token;
use common::*;
use tonic::Code;

async fn unread(harness: &mut Harness, caller: &str) -> u32 {
    harness
        .inbox
        .count_unread(with_token(CountUnreadRequest {}, caller).unwrap())
        .await
        .unwrap()
        .into_inner()
        .unread
}

#[tokio::test]
async fn the_office_reads_its_notices_each_reader_marks_their_own_and_others_see_nothing() {
    let mut harness = start().await;
    let first = request("CP-2026-00000010");
    let second = request("CP-2026-00000011");
    harness.publish(&routed(&first)).await;
    harness.publish(&routed(&second)).await;
    harness.publish(&answered(&first, "Accolta")).await;
    harness.wait_for_notices(&operator(), 3).await;

    // A colleague of the same office reads them too, with read marks of their own.
    let colleague = operator_of(OFFICE, "lucia.gialli");
    assert_eq!(unread(&mut harness, &operator()).await, 3);
    assert_eq!(unread(&mut harness, &colleague).await, 3);
    let newest = harness.notices(&operator()).await.remove(0);
    let marked = harness
        .inbox
        .mark_read(
            with_token(
                MarkReadRequest {
                    notification_id: newest.id.clone(),
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(marked.changed);
    assert_eq!(unread(&mut harness, &operator()).await, 2);
    assert_eq!(unread(&mut harness, &colleague).await, 3);
    assert!(harness.notices(&operator()).await[0].read);

    // Another office, another patronato, an official: nothing, and no marking of it either.
    let elsewhere = operator_of("INCA-TO-02", "giulia.bianchi");
    assert!(harness.notices(&elsewhere).await.is_empty());
    assert!(harness.notices(&supervisore("ACLI")).await.is_empty());
    assert!(
        harness
            .notices(&official(Role::Funzionario, "SEDE-MI"))
            .await
            .is_empty()
    );
    let refused = harness
        .inbox
        .mark_read(
            with_token(
                MarkReadRequest {
                    notification_id: newest.id.clone(),
                },
                &elsewhere,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    // The patronato's supervisore reads every office's.
    assert_eq!(harness.notices(&supervisore(PATRONATO)).await.len(), 3);
    let analyst = combipat_testkit::token(Role::Analista, &[]).unwrap();
    let denied = harness
        .inbox
        .count_unread(with_token(CountUnreadRequest {}, &analyst).unwrap())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Pages of one, newest first, neither skipping nor repeating.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = harness
            .inbox
            .list_notifications(
                with_token(
                    ListNotificationsRequest {
                        page_size: 1,
                        page_token: page_token.clone(),
                        ..Default::default()
                    },
                    &colleague,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.notifications.into_iter().map(|notice| notice.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let all: Vec<String> = harness
        .notices(&colleague)
        .await
        .into_iter()
        .map(|notice| notice.id)
        .collect();
    assert_eq!(seen, all);

    let unread_only = harness
        .inbox
        .list_notifications(
            with_token(
                ListNotificationsRequest {
                    unread_only: true,
                    ..Default::default()
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unread_only.notifications.len(), 2);
    let marked = harness
        .inbox
        .mark_all_read(with_token(MarkAllReadRequest {}, &colleague).unwrap())
        .await
        .unwrap();
    assert_eq!(marked.into_inner().marked, 3);
    assert_eq!(unread(&mut harness, &colleague).await, 0);
    assert_eq!(unread(&mut harness, &operator()).await, 2);
}

#[tokio::test]
async fn a_muted_kind_leaves_the_reader_inbox_but_an_information_request_cannot_be_muted() {
    let mut harness = start().await;
    let mute = |event_type: &str| ChannelPreference {
        event_type: event_type.into(),
        inbox: false,
        email: false,
    };
    let refused = harness
        .inbox
        .set_preferences(
            with_token(
                SetPreferencesRequest {
                    scope: PreferenceScope::Operator as i32,
                    channels: vec![mute("request.routed"), mute("request.info_requested")],
                    ..Default::default()
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains(
            "channels[1]: request.info_requested asks the patronato to act: it cannot be muted"
        ),
        "{}",
        refused.message()
    );
    harness
        .inbox
        .set_preferences(
            with_token(
                SetPreferencesRequest {
                    scope: PreferenceScope::Operator as i32,
                    channels: vec![mute("request.routed")],
                    ..Default::default()
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let request = request("CP-2026-00000012");
    harness.publish(&routed(&request)).await;
    harness
        .publish(&info_requested(&request, "Manca la delega"))
        .await;
    let colleague = operator_of(OFFICE, "lucia.gialli");
    harness.wait_for_notices(&colleague, 2).await;
    let mine: Vec<String> = harness
        .notices(&operator())
        .await
        .into_iter()
        .map(|notice| notice.event_type)
        .collect();
    assert_eq!(
        mine,
        vec!["request.info_requested"],
        "routed is muted for mario only"
    );
    assert_eq!(unread(&mut harness, &operator()).await, 1);

    // An office's preferences are the office's: another office's are refused.
    let other = harness
        .inbox
        .set_preferences(
            with_token(
                SetPreferencesRequest {
                    scope: PreferenceScope::Office as i32,
                    office_code: "INCA-TO-02".into(),
                    ..Default::default()
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn deadlines_go_to_the_office_the_responsabile_and_the_direzione_regionale() {
    let mut harness = start().await;
    let request = request("CP-2026-00000013");
    harness
        .publish(&reminder(&request, ReminderKind::ReminderSlaWarning, ""))
        .await;
    harness
        .publish(&reminder(&request, ReminderKind::ReminderSlaOverdue, ""))
        .await;
    harness
        .publish(&reminder(
            &request,
            ReminderKind::ReminderSlaEscalation,
            "DR-LOMBARDIA",
        ))
        .await;
    harness
        .publish(&reminder(
            &request,
            ReminderKind::ReminderSollecitoPossible,
            "",
        ))
        .await;

    let responsabile = official(Role::Responsabile, "SEDE-MI");
    let kinds = |notices: Vec<combipat_proto::notifier::v1::Notification>| {
        let mut kinds: Vec<String> = notices
            .into_iter()
            .map(|notice| notice.event_type)
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(
        kinds(harness.wait_for_notices(&responsabile, 2).await),
        vec!["reminder.sla_overdue", "reminder.sla_warning"]
    );
    assert_eq!(
        kinds(
            harness
                .notices(&official(Role::Funzionario, "SEDE-MI"))
                .await
        ),
        vec!["reminder.sla_warning"]
    );
    assert_eq!(
        kinds(
            harness
                .wait_for_notices(&official(Role::Funzionario, "DR-LOMBARDIA"), 1)
                .await
        ),
        vec!["reminder.sla_escalation"]
    );
    let patronato = harness.wait_for_notices(&operator(), 1).await;
    assert_eq!(
        kinds(patronato.clone()),
        vec!["reminder.sollecito_possible"]
    );
    assert!(
        patronato[0].text.contains("sollecito"),
        "{:?}",
        patronato[0]
    );
}

#[tokio::test]
async fn an_office_event_before_the_routing_decision_waits_for_it() {
    // The answer waits on the retry schedule until the decision is applied: a schedule long
    // enough (about 12 s) that a busy machine's late decision is still in time, as the
    // production one (24 h) is.
    let mut harness = start_with(&[
        ("amqp.retry_delays_ms", "100,200,400,800,1600,3200,6400"),
        ("amqp.retry_for_ms", "30000"),
    ])
    .await;
    let request = request("CP-2026-00000002");
    harness
        .publish(&answered(&request, "Risposta arrivata prima"))
        .await;
    // The answer is refused for now (the filer is unknown); the decision follows it.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    harness.publish(&routed(&request)).await;
    let notices = harness.wait_for_notices(&operator(), 2).await;
    let kinds: Vec<&str> = notices
        .iter()
        .map(|notice| notice.event_type.as_str())
        .collect();
    assert!(
        kinds.contains(&"request.answered") && kinds.contains(&"request.routed"),
        "{kinds:?}"
    );
}
