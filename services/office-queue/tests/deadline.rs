//! Office-queue owns the office's deadline clock and says so: filing starts it on the
//! office's calendar (its patron saint's day skipped), asking for information pauses it, the
//! reply restarts it, the answer stops it, each announced in `request.sla_changed`; a changed
//! calendar moves open deadlines, with the reason; the scheduler's escalations show among the
//! item's priority reasons.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Europe::Rome;
use combipat_platform::messaging::new_envelope;
use combipat_platform::time::{from_timestamp, to_timestamp};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{
    CalendarChanged, OfficeCalendarChange, ReminderDue, ReminderKind, RequestInfoProvided,
    RequestSlaChanged, SlaClock,
};
use combipat_proto::officequeue::v1::{AnswerRequest, RequestInfoRequest};
use combipat_testkit::{Observer, eventually, with_token};
use common::{Harness, WAIT, claim, decision, get, official_named, start};

fn rome(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Rome.with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn next_clock(clocks: &mut Observer) -> (u64, RequestSlaChanged) {
    let envelope = clocks.next(WAIT).await.unwrap();
    match envelope.payload {
        Some(Payload::RequestSlaChanged(clock)) => (envelope.sequence, clock),
        other => panic!("expected request.sla_changed, got {other:?}"),
    }
}

/// Files a request sent at `sent` to SEDE-MI, whose patron saint's day is `patron_day`.
async fn file_at_milano(harness: &Harness, sent: DateTime<Utc>, patron_day: &str) -> String {
    let request_id = uuid::Uuid::now_v7().to_string();
    let mut envelope = decision(&request_id, "SEDE-MI", "CP-2026-00000700", 1);
    if let Some(Payload::RequestRouted(routed)) = envelope.payload.as_mut() {
        if let Some(request) = routed.request.as_mut() {
            request.submitted_at = Some(to_timestamp(sent));
        }
        if let Some(office) = routed.office.as_mut() {
            office.patron_day = patron_day.into();
            office.parent_code = "DR-LOMBARDIA".into();
        }
    }
    harness.bus.publish_envelope(&envelope).await.unwrap();
    request_id
}

#[tokio::test]
async fn the_clock_is_announced_on_the_offices_calendar_from_filing_to_answer() {
    let mut harness = start().await;
    let mut clocks = harness.bus.observe("request.sla_changed").await.unwrap();
    // Sent Monday 26 October 2026: 30 business days at Milano skip 1 November (a Sunday this
    // year), 7 December (Sant'Ambrogio) and 8 December.
    let request_id = file_at_milano(&harness, rome(2026, 10, 26, 11), "12-07").await;
    let (sequence, running) = next_clock(&mut clocks).await;
    assert_eq!(sequence, 2, "filed at version 1: lifecycle position 2");
    assert_eq!(running.clock(), SlaClock::Running);
    assert_eq!(running.office.as_ref().unwrap().parent_code, "DR-LOMBARDIA");
    assert_eq!(running.calendar_version, "it-2026.1+patron-12-07");
    let due = from_timestamp(running.due_at.as_ref()).unwrap();
    let national = combipat_domain::sla::SlaPolicy::default().deadline(rome(2026, 10, 26, 11));
    assert_eq!(
        due,
        rome(2026, 12, 10, 0),
        "due by the end of 9 December at Milano"
    );
    assert_eq!(
        national.due_at,
        rome(2026, 12, 8, 0),
        "by the end of 7 December where it is a working day"
    );

    let item = get(&mut harness.client, &request_id).await.item.unwrap();
    let claimed = harness
        .client
        .claim(claim(&item, item.version, 600, "anna"))
        .await
        .unwrap()
        .into_inner();
    harness
        .client
        .request_info(
            with_token(
                RequestInfoRequest {
                    request_id: request_id.clone(),
                    expected_version: claimed.version,
                    question: "Serve l'ISEE".into(),
                    attachment_ids: Vec::new(),
                },
                &official_named("SEDE-MI", "anna"),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (paused_at, paused) = next_clock(&mut clocks).await;
    assert_eq!(paused.clock(), SlaClock::Paused);
    assert!(paused.business_days_left > 0);
    assert!(paused_at > sequence);

    let reply = new_envelope(
        "intake",
        &request_id,
        Payload::RequestInfoProvided(RequestInfoProvided {
            reply: "Allegato".into(),
            provided_by: "op".into(),
            attachments: Vec::new(),
        }),
    );
    harness.bus.publish_envelope(&reply).await.unwrap();
    let (resumed_at, resumed) = next_clock(&mut clocks).await;
    assert_eq!(resumed.clock(), SlaClock::Running);
    assert!(resumed_at > paused_at);

    let item = get(&mut harness.client, &request_id).await.item.unwrap();
    let claimed = harness
        .client
        .claim(claim(&item, item.version, 600, "anna"))
        .await
        .unwrap()
        .into_inner();
    harness
        .client
        .answer(
            with_token(
                AnswerRequest {
                    request_id: request_id.clone(),
                    expected_version: claimed.version,
                    text: "Pratica definita".into(),
                    attachment_ids: Vec::new(),
                },
                &official_named("SEDE-MI", "anna"),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (stopped_at, stopped) = next_clock(&mut clocks).await;
    assert_eq!(stopped.clock(), SlaClock::Stopped);
    assert!(stopped_at > resumed_at);
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_changed_calendar_moves_open_deadlines_and_says_why_and_escalations_show_in_the_priority()
{
    let mut harness = start().await;
    let mut clocks = harness.bus.observe("request.sla_changed").await.unwrap();
    // Sent today to an office with no patron day known; its deadline lies weeks ahead.
    let request_id = file_at_milano(&harness, Utc::now(), "").await;
    let (_, first) = next_clock(&mut clocks).await;
    let due = from_timestamp(first.due_at.as_ref()).unwrap();

    // A new directory names one three business days from today: one more day to skip before
    // the deadline, which moves a business day later.
    let in_between = combipat_domain::calendar::add_business_days(
        combipat_domain::sla::rome_date(Utc::now()),
        3,
    );
    let new_day = in_between.format("%m-%d").to_string();
    let change = new_envelope(
        "router",
        "",
        Payload::CalendarChanged(CalendarChanged {
            ruleset_version: "demo-2".into(),
            previous_ruleset_version: "demo-1".into(),
            offices: vec![OfficeCalendarChange {
                office_code: "SEDE-MI".into(),
                previous_patron_day: String::new(),
                patron_day: new_day.clone(),
            }],
        }),
    );
    harness.bus.publish_envelope(&change).await.unwrap();
    let (_, moved) = next_clock(&mut clocks).await;
    let moved_due = from_timestamp(moved.due_at.as_ref()).unwrap();
    assert!(
        moved_due > due,
        "a new closing day before the deadline moves it later"
    );
    assert!(
        moved_due - due <= chrono::Duration::days(4),
        "by one business day"
    );
    assert!(
        moved.reason.contains("calendar of SEDE-MI changed"),
        "{}",
        moved.reason
    );
    assert!(moved.reason.contains(&new_day), "{}", moved.reason);
    assert_eq!(moved.office.unwrap().patron_day, new_day);

    // The scheduler warns the office: the item says so.
    let warning = new_envelope(
        "reminder-scheduler",
        &request_id,
        Payload::ReminderDue(ReminderDue {
            kind: ReminderKind::ReminderSlaWarning as i32,
            due_at: Some(to_timestamp(Utc::now())),
            deadline: moved.due_at,
            explanation: "5 giorni lavorativi prima della scadenza".into(),
            ..ReminderDue::default()
        }),
    );
    harness.bus.publish_envelope(&warning).await.unwrap();
    let client = harness.client.clone();
    let reasons = eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = request_id.clone();
        async move {
            let item = get(&mut client, &request_id).await.item.unwrap();
            let reasons = item.priority.unwrap().reasons;
            Ok(reasons
                .iter()
                .any(|reason| reason.contains("warned"))
                .then_some(reasons))
        }
    })
    .await
    .unwrap();
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("the deadline is near")),
        "{reasons:?}"
    );
    let history = get(&mut harness.client, &request_id).await.history;
    assert!(history.iter().any(|entry| entry.action == "sla_warning"));
    harness.service.shutdown().await.unwrap();
}
