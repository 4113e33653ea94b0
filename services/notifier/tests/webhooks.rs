//! Webhook deliveries against a receiver of the test's own: the retry schedule on the moved
//! clock (immediately, 5 s, 5 min, 30 min ...), a 410 that disables the endpoint and tells
//! the patronato, replay of one delivery and of everything since a time (same webhook-id), a
//! rotation whose grace period sends both signatures, Retry-After, the circuit breaker, egress
//! refusals, a signed test event, and another patronato kept out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use combipat_platform::auth::Role;
use combipat_platform::time::{from_timestamp, to_timestamp};
use combipat_proto::notifier::v1::endpoints_client::EndpointsClient;
use combipat_proto::notifier::v1::{
    Delivery, DeliveryWithAttempts, EnableEndpointRequest, GetDeliveryRequest,
    ListDeliveriesRequest, ListEndpointsRequest, RegisterEndpointRequest, ReplayDeliveryRequest,
    ReplaySinceRequest, RotateSecretRequest, SendTestEventRequest,
};
use combipat_testkit::{eventually, with_token};
use common::*;
use tonic::Code;
use tonic::transport::Channel;

async fn deliveries(client: &EndpointsClient<Channel>, endpoint: &str) -> Vec<Delivery> {
    client
        .clone()
        .list_deliveries(
            with_token(
                ListDeliveriesRequest {
                    endpoint_id: endpoint.into(),
                    page_size: 100,
                    ..Default::default()
                },
                &supervisore(PATRONATO),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

/// Waits until the delivery has had `attempts` attempts and is settled for now.
async fn after_attempts(harness: &mut Harness, id: &str, attempts: u32) -> DeliveryWithAttempts {
    let client = harness.endpoints.clone();
    eventually(WAIT, || {
        let mut client = client.clone();
        let id = id.to_owned();
        async move {
            let seen = client
                .get_delivery(with_token(
                    GetDeliveryRequest { delivery_id: id },
                    &supervisore(PATRONATO),
                )?)
                .await?
                .into_inner();
            let delivery = seen.delivery.clone().unwrap_or_default();
            let settled = delivery.status != "pending" || delivery.next_attempt_at.is_some();
            Ok((delivery.attempts == attempts && settled).then_some(seen))
        }
    })
    .await
    .unwrap()
}

fn at(timestamp: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    from_timestamp(timestamp).unwrap()
}

/// The wait the delivery was given after its last attempt, in seconds.
fn wait_after_last(seen: &DeliveryWithAttempts) -> f64 {
    let last = at(seen.attempts.last().unwrap().attempted_at.as_ref());
    (at(seen.delivery.as_ref().unwrap().next_attempt_at.as_ref()) - last).as_seconds_f64()
}

#[tokio::test]
async fn retries_follow_the_schedule_on_the_moved_clock_a_410_disables_and_a_replay_delivers() {
    let mut harness = start().await;
    let endpoint = harness.register(&[]).await.endpoint.unwrap();
    harness.hooks.answer(500, None);
    harness.publish(&routed(&request("CP-2026-00000020"))).await;
    harness.wait_for_hooks(1).await;
    let id = eventually(WAIT, || async {
        Ok(deliveries(&harness.endpoints, &endpoint.id)
            .await
            .first()
            .map(|delivery| delivery.id.clone()))
    })
    .await
    .unwrap();

    // Immediately, then 5 s, then 5 min, then 30 min (each ±20%).
    let first = after_attempts(&mut harness, &id, 1).await;
    let wait = wait_after_last(&first);
    assert!(
        (4.0..=6.0).contains(&wait),
        "5 s after the first attempt, not {wait} s"
    );
    assert_eq!(first.attempts[0].status_code, 500);
    assert_eq!(first.attempts[0].response_excerpt, "ok");
    harness.clock.advance(chrono::Duration::seconds(7));
    let second = after_attempts(&mut harness, &id, 2).await;
    let wait = wait_after_last(&second);
    assert!(
        (240.0..=360.0).contains(&wait),
        "5 min after the second attempt, not {wait} s"
    );
    harness.clock.advance(chrono::Duration::minutes(7));
    let third = after_attempts(&mut harness, &id, 3).await;
    let wait = wait_after_last(&third);
    assert!(
        (1440.0..=2160.0).contains(&wait),
        "30 min after the third attempt, not {wait} s"
    );
    assert_eq!(harness.hooks.received().len(), 3, "nothing before its time");

    // The endpoint is gone: a 410 disables it, and the patronato is told in the inbox and by e-mail.
    harness.hooks.answer(410, None);
    harness.clock.advance(chrono::Duration::minutes(37));
    let fourth = after_attempts(&mut harness, &id, 4).await;
    assert_eq!(fourth.delivery.as_ref().unwrap().status, "failed");
    let listed = harness
        .endpoints
        .list_endpoints(
            with_token(ListEndpointsRequest::default(), &supervisore(PATRONATO)).unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.endpoints[0].status, "disabled");
    assert!(listed.endpoints[0].disabled_reason.contains("410"));
    let told = harness.wait_for_notices(&supervisore(PATRONATO), 2).await;
    assert!(
        told.iter()
            .any(|notice| notice.event_type == "endpoint.disabled"
                && notice.text.contains(&harness.hooks.url()))
    );
    let mails = harness.wait_for_mail(1).await;
    assert_eq!(mails[0].to, vec!["it@inca.example"]);
    harness
        .service
        .wait_for_metric("combipat_webhook_endpoints_disabled 1")
        .await
        .unwrap();
    let metrics = harness.service.metrics().await.unwrap();
    let label = format!("endpoint=\"{}\"", endpoint.id);
    for (outcome, count) in [("retried", 3), ("failed", 1)] {
        let line =
            format!("combipat_webhook_deliveries_total{{{label},outcome=\"{outcome}\"}} {count}");
        assert!(
            metrics.lines().any(|candidate| candidate == line),
            "no `{line}` in\n{metrics}"
        );
    }

    // Enabled again, the delivery is replayed with the same webhook-id.
    harness
        .endpoints
        .enable_endpoint(
            with_token(
                EnableEndpointRequest {
                    endpoint_id: endpoint.id.clone(),
                },
                &supervisore(PATRONATO),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    harness.hooks.answer(204, None);
    harness
        .endpoints
        .replay_delivery(
            with_token(
                ReplayDeliveryRequest {
                    delivery_id: id.clone(),
                },
                &supervisore(PATRONATO),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let received = harness.wait_for_hooks(5).await;
    let replayed = after_attempts(&mut harness, &id, 1).await;
    assert_eq!(replayed.delivery.as_ref().unwrap().status, "delivered");
    assert!(
        received.iter().all(|hook| hook.id == id),
        "one webhook-id across retries and the replay"
    );
    assert_eq!(replayed.attempts.len(), 5, "the log keeps every attempt");
}

#[tokio::test]
async fn everything_since_a_time_is_replayed_once_dead() {
    let mut harness = start_with(&[("webhooks.retry_schedule_ms", "0,100")]).await;
    let endpoint = harness.register(&[]).await.endpoint.unwrap();
    let since = harness.clock.now();
    harness.hooks.answer(503, None);
    harness.publish(&routed(&request("CP-2026-00000021"))).await;
    harness.publish(&routed(&request("CP-2026-00000022"))).await;
    let dead = eventually(WAIT, || async {
        let all = deliveries(&harness.endpoints, &endpoint.id).await;
        Ok((all.len() == 2 && all.iter().all(|delivery| delivery.status == "dead")).then_some(all))
    })
    .await
    .unwrap();
    let label = format!("endpoint=\"{}\"", endpoint.id);
    harness
        .service
        .wait_for_metric(&format!(
            "combipat_webhook_deliveries_total{{{label},outcome=\"dead\"}} 2"
        ))
        .await
        .unwrap();
    harness.hooks.answer(200, None);
    let replayed = harness
        .endpoints
        .replay_since(
            with_token(
                ReplaySinceRequest {
                    endpoint_id: endpoint.id.clone(),
                    since: Some(to_timestamp(since)),
                    include_delivered: false,
                },
                &supervisore(PATRONATO),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.replayed, 2);
    let received = harness.wait_for_hooks(6).await;
    eventually(WAIT, || async {
        let all = deliveries(&harness.endpoints, &endpoint.id).await;
        Ok(all
            .iter()
            .all(|delivery| delivery.status == "delivered")
            .then_some(()))
    })
    .await
    .unwrap();
    let ids: std::collections::HashSet<String> =
        received.iter().map(|hook| hook.id.clone()).collect();
    let dead_ids: std::collections::HashSet<String> =
        dead.into_iter().map(|delivery| delivery.id).collect();
    assert_eq!(
        ids, dead_ids,
        "the same two webhook-ids, before and after the replay"
    );
}

#[tokio::test]
async fn both_signatures_are_sent_during_a_rotation_grace_period_and_the_old_one_stops_after() {
    let mut harness = start().await;
    let registered = harness.register(&[]).await;
    let request = request("CP-2026-00000023");
    harness.publish(&routed(&request)).await;
    assert_eq!(harness.wait_for_hooks(1).await[0].verified_by, vec![0]);

    let rotated = harness
        .endpoints
        .rotate_secret(
            with_token(
                RotateSecretRequest {
                    endpoint_id: registered.endpoint.as_ref().unwrap().id.clone(),
                    grace_period_seconds: 3600,
                },
                &supervisore(PATRONATO),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.secret, registered.secret);
    harness.hooks.trust(&rotated.secret);
    harness.publish(&answered(&request, "Accolta")).await;
    let during = harness.wait_for_hooks(2).await.pop().unwrap();
    assert_eq!(
        during.verified_by,
        vec![0, 1],
        "both secrets verify during the grace period"
    );
    assert_eq!(during.signature.split(' ').count(), 2);

    harness.clock.advance(chrono::Duration::hours(2));
    harness
        .publish(&info_requested(&request, "Manca la delega"))
        .await;
    let after = harness.wait_for_hooks(3).await.pop().unwrap();
    assert_eq!(
        after.verified_by,
        vec![1],
        "only the new secret after the grace period"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_repeated_failures_open_the_circuit() {
    let mut harness = start_with(&[("webhooks.circuit_failures", "2")]).await;
    let endpoint = harness
        .register(&["request.routed"])
        .await
        .endpoint
        .unwrap();
    harness.hooks.answer(429, Some("600"));
    harness.publish(&routed(&request("CP-2026-00000024"))).await;
    harness.wait_for_hooks(1).await;
    let id = eventually(WAIT, || async {
        Ok(deliveries(&harness.endpoints, &endpoint.id)
            .await
            .first()
            .map(|delivery| delivery.id.clone()))
    })
    .await
    .unwrap();
    let first = after_attempts(&mut harness, &id, 1).await;
    let wait = wait_after_last(&first);
    assert!(
        (599.0..=601.0).contains(&wait),
        "Retry-After 600 s, not {wait} s"
    );

    harness.hooks.answer(500, None);
    harness.clock.advance(chrono::Duration::seconds(601));
    after_attempts(&mut harness, &id, 2).await;
    let listed = harness
        .endpoints
        .list_endpoints(
            with_token(ListEndpointsRequest::default(), &supervisore(PATRONATO)).unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.endpoints[0].circuit_open_until.is_some(),
        "two failures open the circuit: {:?}",
        listed.endpoints[0]
    );
    // The filter: an answer is not for this endpoint.
    harness
        .publish(&answered(&request("CP-2026-00000025"), "x"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deliveries(&harness.endpoints, &endpoint.id).await.len(), 1);
}

#[tokio::test]
async fn egress_and_roles_are_checked_at_registration() {
    let mut harness = start_with(&[("webhooks.allow_loopback", "false")]).await;
    let register = |url: &str, token: &str| {
        with_token(
            RegisterEndpointRequest {
                url: url.into(),
                ..Default::default()
            },
            token,
        )
        .unwrap()
    };
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest",
        "ftp://example.it/",
    ] {
        let refused = harness
            .endpoints
            .register_endpoint(register(url, &supervisore(PATRONATO)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{url}");
    }
    let operatore = harness
        .endpoints
        .register_endpoint(register("https://hooks.example.it/", &operator()))
        .await
        .unwrap_err();
    assert_eq!(operatore.code(), Code::PermissionDenied);
    let admin_without = harness
        .endpoints
        .register_endpoint(register(
            "https://hooks.example.it/",
            &combipat_testkit::token(Role::Admin, &[]).unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(admin_without.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_test_event_arrives_signed() {
    let mut harness = start().await;
    let endpoint = harness
        .register(&["request.answered"])
        .await
        .endpoint
        .unwrap();
    let test = harness
        .endpoints
        .send_test_event(
            with_token(
                SendTestEventRequest {
                    endpoint_id: endpoint.id,
                },
                &supervisore(PATRONATO),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    let hook = harness.wait_for_hooks(1).await.remove(0);
    assert_eq!(hook.id, test.id);
    assert_eq!(hook.verified_by, vec![0]);
    let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["type"], "webhook.test");
    // Another patronato cannot see it.
    let hidden = harness
        .endpoints
        .get_delivery(
            with_token(
                GetDeliveryRequest {
                    delivery_id: test.id.clone(),
                },
                &supervisore("ACLI"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
}
