//! The outbox relay cannot stall and hide it: a broker that stops taking messages (a memory
//! alarm blocks every publisher) makes the relay time out and try again, the outbox figures
//! keep moving because they are read from the database, and everything is delivered once the
//! broker takes messages again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed assumption in a test is a failed test"
)]

use std::time::Duration;

use combipat_e2e::fixtures::{operator, request};
use combipat_e2e::own_servers::OwnRabbitMq;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_testkit::{
    TestBus, TestDatabase, TestService, eventually, grpc_channel, overrides, with_token,
};

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn a_blocked_broker_is_seen_and_waited_out_and_nothing_is_lost() {
    let broker = OwnRabbitMq::start().await.unwrap();
    let bus = TestBus::on(&broker.url());
    let mut settings = overrides(&TestDatabase::create().await.unwrap(), &bus);
    settings.extend([
        ("outbox.publish_timeout_ms".to_owned(), "1500".to_owned()),
        ("outbox.gauge_interval_ms".to_owned(), "200".to_owned()),
        ("rate_limit.calls_per_window".to_owned(), "0".to_owned()),
    ]);
    let intake = TestService::start::<combipat_intake::Service>(&settings)
        .await
        .unwrap();
    let mut client = IntakeClient::new(grpc_channel(intake.grpc_addr).await.unwrap());
    let admin = combipat_testkit::token(combipat_platform::auth::Role::Admin, &[]).unwrap();
    combipat_proto::intake::v1::mandates_client::MandatesClient::new(
        grpc_channel(intake.grpc_addr).await.unwrap(),
    )
    .put_mandates(
        with_token(
            combipat_proto::intake::v1::PutMandatesRequest {
                mandates: vec![combipat_proto::intake::v1::Mandate {
                    patronato: "INCA".into(),
                    codice_fiscale: "RSSMRA85T10A562S".into(),
                    ..Default::default()
                }],
            },
            &admin,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let mut submitted = bus.observe("request.submitted").await.unwrap();
    let submit = |client: &mut IntakeClient<tonic::transport::Channel>, n: usize| {
        let mut client = client.clone();
        async move {
            client
                .submit_request(
                    with_token(request("F205", &format!("Richiesta {n}")), &operator()).unwrap(),
                )
                .await
                .unwrap();
        }
    };
    submit(&mut client, 0).await;
    submitted.next(Duration::from_secs(10)).await.unwrap();

    broker.block_publishers(true).await.unwrap();
    for n in 1..=5 {
        submit(&mut client, n).await;
    }
    // The figures come from the database: they show the backlog while the relay is stuck.
    eventually(Duration::from_secs(15), || async {
        let text = intake.metrics().await?;
        Ok((metric(&text, "combipat_outbox_pending") == Some(5.0)
            && metric(&text, "combipat_outbox_oldest_age_seconds").is_some_and(|age| age >= 2.0))
        .then_some(()))
    })
    .await
    .unwrap();
    // The relay gave up on the blocked session and started another, instead of hanging.
    eventually(Duration::from_secs(15), || async {
        let text = intake.metrics().await?;
        Ok(
            metric(&text, "combipat_amqp_reconnects_total{task=\"outbox\"}")
                .is_some_and(|count| count >= 1.0)
                .then_some(()),
        )
    })
    .await
    .unwrap();

    broker.block_publishers(false).await.unwrap();
    for _ in 1..=5 {
        submitted.next(Duration::from_secs(30)).await.unwrap();
    }
    eventually(Duration::from_secs(15), || async {
        Ok(
            (metric(&intake.metrics().await?, "combipat_outbox_pending") == Some(0.0))
                .then_some(()),
        )
    })
    .await
    .unwrap();
    intake.shutdown().await.unwrap();
}
