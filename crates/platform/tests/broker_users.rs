//! Each service's broker user, with the permissions `messaging::permissions` derives from the
//! catalogue, against the real broker: intake's user can check the topology the topology
//! step created, publish its own routing keys, send a failed event to its own retry queue and
//! consume its own queue, and the broker refuses it everything else: another service's
//! routing key, another service's queue, the default exchange, creating a queue.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed assumption in a test is a failed test"
)]

use combipat_platform::messaging::permissions::of_service;
use combipat_platform::messaging::{
    Broker, OutgoingMessage, PublishError, declare_all, publish_confirmed,
};
use combipat_testkit::{BrokerTenant, TestBus};
use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

fn broker_on(bus: &TestBus, url: &str, creates: bool) -> Broker {
    let mut settings = bus.amqp_settings();
    settings.url = vec![url.to_owned().into()];
    settings.declare_topology = creates;
    // Queues that expire could not be declared again by a user without configure.
    settings.queue_expires_ms = None;
    Broker::new("intake", settings)
}

async fn publish(broker: &Broker, exchange: &str, routing_key: &str) -> Result<(), String> {
    let (_connection, channel) = broker.confirmed_channel("test").await.unwrap();
    let published = async {
        publish_confirmed(
            &channel,
            OutgoingMessage {
                exchange,
                routing_key,
                message_id: "probe",
                payload: b"probe",
                headers: FieldTable::default(),
                expiration_ms: None,
            },
        )
        .await?
        .await
    };
    published
        .await
        .map_err(|error: PublishError| error.to_string())
}

#[tokio::test]
async fn a_service_user_reaches_its_own_queues_and_routing_keys_and_nothing_else() {
    let mut tenant = BrokerTenant::create().unwrap();
    let names = TestBus::on(&tenant.url("guest"));
    let admin = broker_on(&names, &tenant.url("guest"), true);
    let user = tenant
        .add_users(&[of_service(&admin, "intake")])
        .unwrap()
        .remove(0);
    let intake = broker_on(&names, &tenant.url(&user), false);

    // Before the topology step, the service's check fails, naming what is missing.
    let connection = intake.connect("test").await.unwrap();
    let missing = declare_all(&connection.create_channel().await.unwrap(), &intake).await;
    assert!(
        format!("{:#}", missing.unwrap_err()).contains("NOT_FOUND"),
        "a passive check of a missing exchange"
    );

    let connection = admin.connect("topology").await.unwrap();
    declare_all(&connection.create_channel().await.unwrap(), &admin)
        .await
        .unwrap();
    let connection = intake.connect("test").await.unwrap();
    declare_all(&connection.create_channel().await.unwrap(), &intake)
        .await
        .expect("intake's user checks the whole topology");

    let events = intake.exchange().to_owned();
    let retries = intake.retry_exchange();
    let own_retry = intake.queue_name("intake.status.dlq");
    let other_retry = intake.queue_name("office-queue.decisions.dlq");
    publish(&intake, &events, "request.submitted")
        .await
        .expect("its own routing key");
    publish(&intake, &retries, &own_retry)
        .await
        .expect("its own dead-letter queue");
    for (exchange, routing_key, what) in [
        (events.as_str(), "request.routed", "router's routing key"),
        (
            retries.as_str(),
            other_retry.as_str(),
            "office-queue's queue",
        ),
        ("", other_retry.as_str(), "the default exchange"),
    ] {
        let refused = publish(&intake, exchange, routing_key).await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|error| error.contains("ACCESS_REFUSED")),
            "{what}: {refused:?}"
        );
    }

    let consume = |queue: &str| {
        let (connection, queue) = (&connection, intake.queue_name(queue));
        async move {
            let channel = connection.create_channel().await.unwrap();
            channel
                .basic_consume(
                    queue.as_str().into(),
                    "test".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
        }
    };
    consume("intake.status").await.expect("its own queue");
    for queue in ["office-queue.decisions", "combipat.history"] {
        let refused = consume(queue).await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("ACCESS_REFUSED")),
            "{queue}: {refused:?}"
        );
    }
    let channel = connection.create_channel().await.unwrap();
    let refused = channel
        .queue_declare(
            intake.queue_name("intake.new").as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("ACCESS_REFUSED")),
        "creating a queue: {refused:?}"
    );
}
