//! Router against the real PostgreSQL and RabbitMQ: routing, redelivery, poison events,
//! unroutable requests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::router::v1::LoadDirectoryRequest;
use combipat_proto::router::v1::router_client::RouterClient;
use combipat_testkit::{
    TestBus, TestDatabase, TestService, eventually, grpc_channel, overrides, request_summary,
    submitted_event, token, with_token,
};

const WAIT: Duration = Duration::from_secs(10);

struct Harness {
    bus: TestBus,
    database: TestDatabase,
    service: TestService,
}

async fn start() -> Harness {
    let bus = TestBus::new();
    let database = TestDatabase::create().await.unwrap();
    let service = TestService::start::<combipat_router::Service>(&overrides(&database, &bus))
        .await
        .unwrap();
    // The consumer declares its queue shortly after start; wait for it before publishing.
    bus.wait_for_consumer(combipat_router::QUEUE.name)
        .await
        .unwrap();
    Harness {
        bus,
        database,
        service,
    }
}

fn admin() -> String {
    token(Role::Admin, &[]).unwrap()
}

fn submitted(comune: &str) -> Envelope {
    submitted_event(request_summary(comune, "pensioni", "CP-2026-00000001"))
}

async fn decisions(database: &TestDatabase) -> Vec<(String, String, String)> {
    let pool = database.connect().await.unwrap();
    sqlx::query_as(
        "SELECT request_id::text, office_code, rule FROM routing_decisions ORDER BY sequence",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(name_and_labels))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_submitted_request_is_routed_to_the_sede_of_its_province() {
    let harness = start().await;
    let mut routed = harness.bus.observe("request.routed").await.unwrap();
    let event = submitted("F205");
    harness.bus.publish_envelope(&event).await.unwrap();

    let out = routed.next(WAIT).await.unwrap();
    assert_eq!(out.request_id, event.request_id);
    assert_eq!(out.producer, "router");
    let Some(Payload::RequestRouted(routed_payload)) = out.payload else {
        panic!("{out:?}")
    };
    let office = routed_payload.office.unwrap();
    assert_eq!(office.code, "SEDE-MI");
    assert_eq!(office.region_code, "03");
    assert_eq!(routed_payload.rule, "province:MI");
    assert_eq!(
        routed_payload.request.unwrap().protocol_number,
        "CP-2026-00000001"
    );

    let stored = decisions(&harness.database).await;
    assert_eq!(
        stored,
        vec![(
            event.request_id.clone(),
            "SEDE-MI".to_owned(),
            "province:MI".to_owned()
        )]
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_redelivered_event_has_exactly_one_effect() {
    let harness = start().await;
    let mut routed = harness.bus.observe("request.routed").await.unwrap();
    let event = submitted("L219"); // Torino
    harness.bus.publish_envelope(&event).await.unwrap();
    harness.bus.publish_envelope(&event).await.unwrap();

    routed.next(WAIT).await.unwrap();
    // Wait until the router has seen the second copy, then check it changed nothing.
    let service = &harness.service;
    eventually(WAIT, || async move {
        let text = service.metrics().await?;
        Ok((metric(
            &text,
            "combipat_inbox_duplicates_total{consumer=\"router\"}",
        ) >= 1.0)
            .then_some(()))
    })
    .await
    .unwrap();
    assert!(
        routed
            .try_next(Duration::from_millis(500))
            .await
            .unwrap()
            .is_none(),
        "a second request.routed was published"
    );
    assert_eq!(decisions(&harness.database).await.len(), 1);
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_does_not_stall_the_queue() {
    let harness = start().await;
    let mut routed = harness.bus.observe("request.routed").await.unwrap();
    harness
        .bus
        .publish("request.submitted", "poison-1", b"\xff\xfe not protobuf")
        .await
        .unwrap();
    let good = submitted("H501"); // Roma
    harness.bus.publish_envelope(&good).await.unwrap();

    let out = routed.next(WAIT).await.unwrap();
    assert_eq!(out.request_id, good.request_id);
    let bus = harness.bus.clone();
    let dead_letters = eventually(WAIT, || {
        let bus = bus.clone();
        async move {
            let depth = bus.queue_depth("router.requests.dlq").await?;
            Ok((depth > 0).then_some(depth))
        }
    })
    .await
    .unwrap();
    assert_eq!(dead_letters, 1);
    let text = harness.service.metrics().await.unwrap();
    assert!(text.contains("outcome=\"dead_lettered\""), "{text}");
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_request_no_rule_covers_goes_to_a_fallback_queue_and_is_announced() {
    let harness = start().await;
    // The demo directory without its catch-all polo for residents abroad.
    let demo = std::fs::read_to_string(combipat_testkit::demo_directory()).unwrap();
    let without_abroad = demo
        .replace("version: demo-2026-12-01", "version: no-abroad-1")
        .replace(
            "  - { id: estero, office: POLO-ESTERO, abroad: true }\n",
            "",
        );
    let mut client = RouterClient::new(grpc_channel(harness.service.grpc_addr).await.unwrap());
    client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: without_abroad,
                    activate: true,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap();

    let mut unroutable = harness.bus.observe("request.unroutable").await.unwrap();
    let event = submitted("Z110"); // resident in France: no polo in this directory
    harness.bus.publish_envelope(&event).await.unwrap();

    let out = unroutable.next(WAIT).await.unwrap();
    let Some(Payload::RequestUnroutable(payload)) = out.payload else {
        panic!("{out:?}")
    };
    assert!(payload.reason.contains("FRANCIA"), "{}", payload.reason);
    assert_eq!(payload.fallback_office.unwrap().code, "FALLBACK-ESTERO");
    assert_eq!(payload.ruleset_version, "no-abroad-1");
    assert_eq!(
        decisions(&harness.database).await,
        vec![(
            event.request_id.clone(),
            "FALLBACK-ESTERO".to_owned(),
            "none".to_owned()
        )]
    );
    let text = harness.service.metrics().await.unwrap();
    assert!(
        text.contains("combipat_routing_decisions_total{outcome=\"unroutable\",rule=\"none\"} 1"),
        "{text}"
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_retried_dead_lettered_and_replayed() {
    let harness = start().await;
    // Every attempt now fails with a database error: a transient failure that never clears.
    let pool = harness.database.connect().await.unwrap();
    sqlx::query("ALTER TABLE routing_decisions RENAME TO routing_decisions_away")
        .execute(&pool)
        .await
        .unwrap();
    harness
        .bus
        .publish_envelope(&submitted("F205"))
        .await
        .unwrap();

    let bus = harness.bus.clone();
    eventually(WAIT, || {
        let bus = bus.clone();
        async move { Ok((bus.queue_depth("router.requests.dlq").await? == 1).then_some(())) }
    })
    .await
    .unwrap();
    let text = harness.service.metrics().await.unwrap();
    let queue = "router.requests";
    // Two retry delays configured by the test settings: two retries, then the dead letter.
    assert_eq!(
        metric(
            &text,
            &format!("combipat_messages_consumed_total{{queue=\"{queue}\",outcome=\"retried\"}}")
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            &format!(
                "combipat_messages_consumed_total{{queue=\"{queue}\",outcome=\"dead_lettered\"}}"
            )
        ),
        1.0
    );
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM platform_outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        outbox, 0,
        "a failed event must not leave a routed event behind"
    );

    // Once the cause is fixed, the replay command brings the event back and it is routed.
    sqlx::query("ALTER TABLE routing_decisions_away RENAME TO routing_decisions")
        .execute(&pool)
        .await
        .unwrap();
    let mut routed = harness.bus.observe("request.routed").await.unwrap();
    let broker = combipat_platform::messaging::Broker::new("test", harness.bus.amqp_settings());
    let moved = combipat_platform::messaging::replay_dead_letters(&broker, "router.requests", 100)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let out = routed.next(WAIT).await.unwrap();
    assert!(matches!(out.payload, Some(Payload::RequestRouted(_))));
    assert_eq!(
        harness
            .bus
            .queue_depth("router.requests.dlq")
            .await
            .unwrap(),
        0
    );
    harness.service.shutdown().await.unwrap();
}
