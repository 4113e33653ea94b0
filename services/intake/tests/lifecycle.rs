//! The operator's view follows the request's lifecycle sequence, not the arrival order: any
//! permutation of a request's events, with some delivered twice, gives the same status, office
//! and history as the same events in order (a late `request.routed` can no longer overwrite
//! INFO_REQUESTED and strand the operator, who could then not reply).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_platform::messaging::sequenced_envelope;
use combipat_proto::common::v1::OfficeRef;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{
    Envelope, RequestAnswered, RequestInfoRequested, RequestRouted, RequestTransferred,
};
use combipat_proto::intake::v1::GetRequestRequest;
use combipat_testkit::{eventually, with_token};
use common::{Harness, good_request, operator, start};
use proptest::prelude::*;

fn office(code: &str) -> Option<OfficeRef> {
    Some(OfficeRef {
        code: code.into(),
        name: format!("Sede {code}"),
        ..OfficeRef::default()
    })
}

/// The events of one request's life, in order, each one second after the last: routed to
/// Milano, information asked, sent on to Torino, information asked there, answered.
fn life(request_id: &str) -> Vec<Envelope> {
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let steps: Vec<(u64, Payload)> = vec![
        (
            1,
            Payload::RequestRouted(RequestRouted {
                office: office("SEDE-MI"),
                ruleset_version: "demo".into(),
                rule: "province:MI".into(),
                decision_sequence: 7,
                kind: "automatic".into(),
                request: None,
            }),
        ),
        (
            4,
            Payload::RequestInfoRequested(RequestInfoRequested {
                office: office("SEDE-MI"),
                question: "Manca l'ISEE".into(),
                asked_by: "anna".into(),
                attachments: Vec::new(),
            }),
        ),
        (
            6,
            Payload::RequestTransferred(RequestTransferred {
                from_office: office("SEDE-MI"),
                to_office: office("SEDE-TO"),
                reason: "residente a Torino".into(),
                transferred_by: "anna".into(),
            }),
        ),
        (
            8,
            Payload::RequestInfoRequested(RequestInfoRequested {
                office: office("SEDE-TO"),
                question: "Serve il modello AP70".into(),
                asked_by: "bruno".into(),
                attachments: Vec::new(),
            }),
        ),
        (
            11,
            Payload::RequestAnswered(RequestAnswered {
                office: office("SEDE-TO"),
                answer: "Pratica definita".into(),
                answered_by: "bruno".into(),
                answered_at: None,
                attachments: Vec::new(),
            }),
        ),
    ];
    steps
        .into_iter()
        .enumerate()
        .map(|(n, (sequence, payload))| {
            let mut envelope = sequenced_envelope("test", request_id, sequence, payload);
            envelope.occurred_at = Some(combipat_platform::time::to_timestamp(
                start + chrono::Duration::seconds(i64::try_from(n).unwrap()),
            ));
            envelope
        })
        .collect()
}

/// What the operator sees: status, office, and the history's (status, detail).
type View = (String, String, Vec<(String, String)>);

async fn submit(harness: &Harness) -> String {
    harness
        .client
        .clone()
        .submit_request(
            with_token(
                combipat_proto::intake::v1::SubmitRequestRequest {
                    confirm_duplicate: true,
                    ..good_request()
                },
                &operator("INCA-MI-01"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
        .request_id
}

/// Publishes `events` in the given order and waits until the view has all their history.
async fn deliver(harness: &Harness, request_id: &str, events: &[Envelope]) -> View {
    for event in events {
        harness.bus.publish_envelope(event).await.unwrap();
    }
    let client = harness.client.clone();
    eventually(Duration::from_secs(20), || {
        let mut client = client.clone();
        let request_id = request_id.to_owned();
        async move {
            let seen = client
                .get_request(with_token(
                    GetRequestRequest { request_id },
                    &operator("INCA-MI-01"),
                )?)
                .await?
                .into_inner();
            // SUBMITTED, then one entry per distinct event.
            Ok((seen.history.len() == 6).then(|| {
                (
                    seen.status,
                    seen.office.map(|office| office.code).unwrap_or_default(),
                    seen.history
                        .into_iter()
                        .skip(1)
                        .map(|change| (change.status, change.detail))
                        .collect(),
                )
            }))
        }
    })
    .await
    .unwrap()
}

/// The same events about another request (same times, same sequences, new ids).
fn for_request(events: &[Envelope], request_id: &str) -> Vec<Envelope> {
    events
        .iter()
        .map(|event| Envelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            request_id: request_id.to_owned(),
            ..event.clone()
        })
        .collect()
}

#[test]
fn any_order_and_any_duplicates_give_the_same_state_and_history() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let harness = runtime.block_on(async {
        let harness = start().await;
        harness
            .bus
            .wait_for_consumer(combipat_intake::QUEUE.name)
            .await
            .unwrap();
        harness
    });
    let in_order = runtime.block_on(async {
        let request_id = submit(&harness).await;
        deliver(&harness, &request_id, &life(&request_id)).await
    });
    assert_eq!(
        (in_order.0.as_str(), in_order.1.as_str()),
        ("ANSWERED", "SEDE-TO")
    );
    let template = life("template");
    let config = ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(order in Just((0..template.len()).collect::<Vec<_>>()).prop_shuffle(),
                        repeats in proptest::collection::vec(0..template.len(), 0..4))| {
        let seen = runtime.block_on(async {
            let request_id = submit(&harness).await;
            let events = for_request(&template, &request_id);
            let mut shuffled: Vec<Envelope> = order.iter().map(|n| events[*n].clone()).collect();
            // Some delivered again (the same event, as a relay that died before its delete).
            shuffled.extend(repeats.iter().map(|n| events[*n].clone()));
            deliver(&harness, &request_id, &shuffled).await
        });
        prop_assert_eq!(&seen, &in_order);
    });
}
