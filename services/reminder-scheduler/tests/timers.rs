//! The scheduler in-process against the real servers, on a clock the tests move: the
//! sollecito timer at exactly 15 days (and 15 after the last sollecito), none once answered;
//! the ladder around the office's deadline, paused while information is awaited, moved with
//! its reason when the deadline moves, firing in order; the same timers whatever order the
//! events arrive in.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Europe::Rome;
use combipat_platform::auth::Role;
use combipat_platform::clock::Clock;
use combipat_platform::messaging::{new_envelope, sequenced_envelope};
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{Filer, OfficeRef};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{
    Envelope, ReminderKind, RequestAnswered, RequestSlaChanged, RequestSollecito, RequestSubmitted,
    SlaClock,
};
use combipat_proto::reminderscheduler::v1::ListTimersRequest;
use combipat_proto::reminderscheduler::v1::reminder_scheduler_client::ReminderSchedulerClient;
use combipat_testkit::{
    Observer, TestBus, TestDatabase, TestService, eventually, grpc_channel, overrides,
    request_summary, token, with_token,
};
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(15);

struct Harness {
    bus: TestBus,
    clock: Clock,
    service: TestService,
    client: ReminderSchedulerClient<Channel>,
    due: Observer,
}

async fn start() -> Harness {
    let bus = TestBus::new();
    let clock = Clock::system();
    let mut settings = overrides(&TestDatabase::create().await.unwrap(), &bus);
    settings.push(("jobs.poll_interval_ms".into(), "100".into()));
    let service = TestService::start_with_clock::<combipat_reminder_scheduler::Service>(
        &settings,
        clock.clone(),
    )
    .await
    .unwrap();
    bus.wait_for_consumer(combipat_reminder_scheduler::QUEUE.name)
        .await
        .unwrap();
    let due = bus.observe("reminder.due").await.unwrap();
    let client = ReminderSchedulerClient::new(grpc_channel(service.grpc_addr).await.unwrap());
    Harness {
        bus,
        clock,
        service,
        client,
        due,
    }
}

fn rome(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Rome.with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn submitted(sent_at: DateTime<Utc>) -> Envelope {
    let mut summary = request_summary("F205", "pensioni", "CP-2027-00000001");
    summary.submitted_at = Some(to_timestamp(sent_at));
    summary.filer = Some(Filer {
        patronato: "INCA".into(),
        patronato_office: "INCA-MI-01".into(),
        operator_id: "mario.rossi".into(),
    });
    let mut envelope = new_envelope(
        "intake",
        &summary.request_id.clone(),
        Payload::RequestSubmitted(RequestSubmitted {
            request: Some(summary),
        }),
    );
    envelope.occurred_at = Some(to_timestamp(sent_at));
    envelope
}

fn at(mut envelope: Envelope, when: DateTime<Utc>) -> Envelope {
    envelope.occurred_at = Some(to_timestamp(when));
    envelope
}

fn sollecito(request_id: &str, when: DateTime<Utc>, count: u32) -> Envelope {
    at(
        new_envelope(
            "intake",
            request_id,
            Payload::RequestSollecito(RequestSollecito {
                count,
                sent_by: "mario.rossi".into(),
            }),
        ),
        when,
    )
}

fn answered(request_id: &str, when: DateTime<Utc>) -> Envelope {
    at(
        sequenced_envelope(
            "office-queue",
            request_id,
            5,
            Payload::RequestAnswered(RequestAnswered {
                office: Some(OfficeRef {
                    code: "SEDE-MI".into(),
                    ..OfficeRef::default()
                }),
                answer: "Pratica definita".into(),
                answered_by: "anna".into(),
                answered_at: None,
                attachments: Vec::new(),
            }),
        ),
        when,
    )
}

fn clock_event(
    request_id: &str,
    sequence: u64,
    clock: SlaClock,
    due_at: Option<DateTime<Utc>>,
    reason: &str,
) -> Envelope {
    sequenced_envelope(
        "office-queue",
        request_id,
        sequence,
        Payload::RequestSlaChanged(RequestSlaChanged {
            office: Some(OfficeRef {
                code: "SEDE-MI".into(),
                patron_day: "12-07".into(),
                parent_code: "DR-LOMBARDIA".into(),
                ..OfficeRef::default()
            }),
            clock: clock as i32,
            due_at: due_at.map(to_timestamp),
            warn_at: None,
            business_days_left: 12,
            motivo: 3,
            topic: "pensioni".into(),
            protocol_number: "CP-2027-00000001".into(),
            calendar_version: "it-2026.1+patron-12-07".into(),
            reason: reason.into(),
        }),
    )
}

fn admin() -> String {
    token(Role::Admin, &[]).unwrap()
}

impl Harness {
    async fn timers(&self, request_id: &str) -> Vec<(ReminderKind, DateTime<Utc>, String)> {
        let mut client = self.client.clone();
        let timers = client
            .list_timers(
                with_token(
                    ListTimersRequest {
                        request_id: request_id.into(),
                    },
                    &admin(),
                )
                .unwrap(),
            )
            .await
            .map(|response| response.into_inner().timers)
            .unwrap_or_default();
        timers
            .into_iter()
            .map(|timer| {
                (
                    timer.kind(),
                    combipat_platform::time::from_timestamp(timer.due_at.as_ref()).unwrap(),
                    timer.explanation,
                )
            })
            .collect()
    }

    /// Waits until the request's timers are `kinds` (in due order).
    async fn wait_timers(
        &self,
        request_id: &str,
        kinds: &[ReminderKind],
    ) -> Vec<(ReminderKind, DateTime<Utc>, String)> {
        eventually(WAIT, || async {
            let timers = self.timers(request_id).await;
            let seen: Vec<ReminderKind> = timers.iter().map(|timer| timer.0).collect();
            Ok((seen == kinds).then_some(timers))
        })
        .await
        .unwrap_or_else(|_| panic!("the timers of {request_id} never became {kinds:?}"))
    }

    async fn publish(&self, envelope: &Envelope) {
        self.bus.publish_envelope(envelope).await.unwrap();
    }

    /// The next reminder.due within a while, if any.
    async fn next_due(
        &mut self,
        within: Duration,
    ) -> Option<combipat_proto::events::v1::ReminderDue> {
        let envelope = self.due.try_next(within).await.unwrap()?;
        match envelope.payload {
            Some(Payload::ReminderDue(due)) => Some(due),
            other => panic!("expected reminder.due, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_sollecito_becomes_possible_at_exactly_fifteen_days_across_summer_time_and_again_after_the_first()
 {
    let mut harness = start().await;
    // Sent on 20 March 2027 at 10:00 in Rome; summer time begins on the 28th.
    let sent = rome(2027, 3, 20, 10);
    harness.clock.set(sent + chrono::Duration::minutes(5));
    let event = submitted(sent);
    let id = event.request_id.clone();
    harness.publish(&event).await;
    let timers = harness
        .wait_timers(&id, &[ReminderKind::ReminderSollecitoPossible])
        .await;
    assert_eq!(
        timers[0].1,
        rome(2027, 4, 4, 10),
        "15 calendar days, 10:00 in Rome both times"
    );
    assert_eq!(
        timers[0].2,
        "15 giorni dall'invio del 20 marzo 2027 alle 10:00 (ora di Roma)"
    );

    // A second before: nothing.
    harness
        .clock
        .set(rome(2027, 4, 4, 10) - chrono::Duration::seconds(2));
    assert!(harness.next_due(Duration::from_millis(700)).await.is_none());
    harness
        .clock
        .set(rome(2027, 4, 4, 10) + chrono::Duration::seconds(1));
    let due = harness
        .next_due(WAIT)
        .await
        .expect("the sollecito timer fired");
    assert_eq!(due.kind(), ReminderKind::ReminderSollecitoPossible);
    assert_eq!(due.filer.unwrap().patronato_office, "INCA-MI-01");
    assert!(harness.timers(&id).await.is_empty());

    // The operator sends a sollecito on 6 April at 09:00: the next one 15 days later.
    let first = rome(2027, 4, 6, 9);
    harness.publish(&sollecito(&id, first, 1)).await;
    let timers = harness
        .wait_timers(&id, &[ReminderKind::ReminderSollecitoPossible])
        .await;
    assert_eq!(timers[0].1, rome(2027, 4, 21, 9));
    assert!(timers[0].2.contains("ultimo sollecito"), "{}", timers[0].2);
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn nothing_fires_once_the_office_has_answered() {
    let mut harness = start().await;
    let sent = harness.clock.now();
    let event = submitted(sent);
    let id = event.request_id.clone();
    harness.publish(&event).await;
    harness
        .wait_timers(&id, &[ReminderKind::ReminderSollecitoPossible])
        .await;
    harness
        .publish(&answered(&id, sent + chrono::Duration::days(3)))
        .await;
    harness.wait_timers(&id, &[]).await;
    harness.clock.advance(chrono::Duration::days(30));
    assert!(
        harness.next_due(Duration::from_secs(1)).await.is_none(),
        "no sollecito after an answer"
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_ladder_follows_the_deadline_pauses_moves_with_its_reason_and_fires_in_order() {
    let mut harness = start().await;
    harness.clock.set(rome(2026, 11, 2, 9));
    let event = submitted(rome(2026, 11, 2, 9));
    let id = event.request_id.clone();
    harness.publish(&event).await;
    // Due by Wednesday 9 December at SEDE-MI (Sant'Ambrogio the 7th, Immacolata the 8th).
    let due = rome(2026, 12, 10, 0);
    harness
        .publish(&clock_event(
            &id,
            2,
            SlaClock::Running,
            Some(due),
            "filed: the office's deadline starts",
        ))
        .await;
    let ladder = [
        ReminderKind::ReminderSollecitoPossible,
        ReminderKind::ReminderSlaWarning,
        ReminderKind::ReminderSlaOverdue,
        ReminderKind::ReminderSlaEscalation,
    ];
    let timers = harness.wait_timers(&id, &ladder).await;
    assert_eq!(
        timers[1].1,
        rome(2026, 11, 30, 0),
        "5 business days before, patron saint and holiday skipped"
    );
    assert_eq!(timers[2].1, due);
    assert_eq!(timers[3].1, rome(2026, 12, 24, 0));

    // The office asks for information: the ladder stops; a late copy of the first clock
    // (lower sequence) changes nothing.
    harness
        .publish(&clock_event(
            &id,
            4,
            SlaClock::Paused,
            None,
            "information requested: the clock stops",
        ))
        .await;
    harness
        .publish(&clock_event(
            &id,
            2,
            SlaClock::Running,
            Some(due),
            "filed: the office's deadline starts",
        ))
        .await;
    harness
        .wait_timers(&id, &[ReminderKind::ReminderSollecitoPossible])
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        harness.timers(&id).await.len(),
        1,
        "the older clock did not bring the ladder back"
    );

    // The reply restarts it, later; then a calendar change moves it a day, with its reason.
    let resumed = rome(2026, 12, 17, 0);
    harness
        .publish(&clock_event(
            &id,
            6,
            SlaClock::Running,
            Some(resumed),
            "the patronato replied",
        ))
        .await;
    harness.wait_timers(&id, &ladder).await;
    let moved = rome(2026, 12, 18, 0);
    harness
        .publish(&clock_event(
            &id,
            8,
            SlaClock::Running,
            Some(moved),
            "the calendar of SEDE-MI changed (directory demo-2)",
        ))
        .await;
    let timers = eventually(WAIT, || async {
        let timers = harness.timers(&id).await;
        Ok(timers
            .iter()
            .any(|timer| timer.0 == ReminderKind::ReminderSlaOverdue && timer.1 == moved)
            .then_some(timers))
    })
    .await
    .unwrap();
    let overdue = timers
        .iter()
        .find(|timer| timer.0 == ReminderKind::ReminderSlaOverdue)
        .unwrap();
    assert!(
        overdue.2.contains("the calendar of SEDE-MI changed"),
        "{}",
        overdue.2
    );

    // Time passes, step by step: each step fires at its time, in order, once. The
    // sollecito first (15 days after the sending); the deadline is now 17 December: warned on the 10th (five business days before, the patron saint
    // and the Immacolata skipped), overdue on the 18th, escalated when 4 January (ten
    // business days later, Christmas and New Year skipped) is over.
    let steps = [
        (
            rome(2026, 11, 17, 9),
            vec![ReminderKind::ReminderSollecitoPossible],
        ),
        (
            rome(2026, 12, 10, 0),
            vec![ReminderKind::ReminderSlaWarning],
        ),
        (
            rome(2026, 12, 18, 0),
            vec![ReminderKind::ReminderSlaOverdue],
        ),
        (
            rome(2027, 1, 5, 0),
            vec![ReminderKind::ReminderSlaEscalation],
        ),
    ];
    for (when, expected) in steps {
        harness.clock.set(when - chrono::Duration::seconds(2));
        assert!(
            harness.next_due(Duration::from_millis(600)).await.is_none(),
            "nothing before {when}"
        );
        harness.clock.set(when + chrono::Duration::seconds(1));
        let mut fired = Vec::new();
        while fired.len() < expected.len() {
            let due = harness.next_due(WAIT).await.expect("a step fired");
            if due.kind() == ReminderKind::ReminderSlaEscalation {
                assert_eq!(due.escalate_to, "DR-LOMBARDIA");
            }
            fired.push(due.kind());
        }
        fired.sort_by_key(|kind| *kind as i32);
        assert_eq!(fired, expected, "at {when}");
    }
    assert!(
        harness.next_due(Duration::from_millis(600)).await.is_none(),
        "each fired once"
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_same_events_in_any_order_give_the_same_timers() {
    let harness = start().await;
    // Whole seconds: instants round-trip through the database in microseconds.
    let sent = DateTime::from_timestamp(harness.clock.now().timestamp(), 0).unwrap();
    let due = sent + chrono::Duration::days(40);
    let make = |request_id: &str| {
        vec![
            sollecito(request_id, sent + chrono::Duration::days(16), 1),
            clock_event(request_id, 2, SlaClock::Running, Some(due), "filed"),
            clock_event(
                request_id,
                4,
                SlaClock::Paused,
                None,
                "information requested",
            ),
            clock_event(
                request_id,
                6,
                SlaClock::Running,
                Some(due + chrono::Duration::days(5)),
                "replied",
            ),
        ]
    };
    let mut requests = Vec::new();
    for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 4, 0, 3, 1]] {
        let first = submitted(sent);
        let id = first.request_id.clone();
        let mut events = vec![first];
        events.extend(make(&id));
        for index in order {
            harness.publish(&events[index]).await;
        }
        requests.push(id);
    }
    // Every event handled before judging.
    harness
        .service
        .wait_for_metric(
            "combipat_messages_consumed_total{queue=\"reminder-scheduler.events\",outcome=\"processed\"} 15",
        )
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for id in &requests {
        let timers = harness.timers(id).await;
        outcomes.push(
            timers
                .into_iter()
                .map(|(kind, at, _)| (kind, at))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(outcomes[0].len(), 4, "{:?}", outcomes[0]);
    assert_eq!(
        outcomes[0][0].1,
        combipat_domain::sollecito::possible_from(sent, Some(sent + chrono::Duration::days(16)))
    );
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0], outcomes[2]);
    harness.service.shutdown().await.unwrap();
}
