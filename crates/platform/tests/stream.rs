//! The history stream's reader: it starts at the first event kept, moves its position with
//! the effects, resumes after a restart without counting anything twice, and goes past an
//! event that can never be applied, recording it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed assumption in a test is a failed test"
)]

use std::time::Duration;

use combipat_platform::handler::{Effects, Event, TransactionalHandler};
use combipat_platform::messaging::{Broker, HandleError, StreamReader, declare_all, new_envelope};
use combipat_platform::outbox::OutboxWaker;
use combipat_proto::events::v1::RequestSollecito;
use combipat_proto::events::v1::envelope::Payload;
use combipat_testkit::{TestBus, TestDatabase, eventually};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Counts each event; a sollecito numbered 0 can never be applied.
struct Counter;

impl TransactionalHandler for Counter {
    const CONSUMER: &'static str = "test-reader";

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        if let Payload::RequestSollecito(sollecito) = &event.payload
            && sollecito.count == 0
        {
            return Err(HandleError::permanent("a poison event"));
        }
        sqlx::query("INSERT INTO counted (event_id) VALUES ($1)")
            .bind(event.id)
            .execute(effects.db())
            .await?;
        Ok(())
    }
}

async fn publish(bus: &TestBus, count: u32) {
    let envelope = new_envelope(
        "test",
        &uuid::Uuid::now_v7().to_string(),
        Payload::RequestSollecito(RequestSollecito {
            count,
            sent_by: "op".into(),
        }),
    );
    bus.publish_envelope(&envelope).await.unwrap();
}

async fn counted(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM counted")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn reader(bus: &TestBus, pool: &PgPool) -> StreamReader<Counter> {
    let broker = Broker::new("test", bus.amqp_settings());
    StreamReader::new(
        broker,
        pool.clone(),
        OutboxWaker::default(),
        "test-reader",
        Counter,
    )
}

#[tokio::test]
async fn a_reader_starts_at_the_first_event_resumes_after_a_restart_and_goes_past_a_poison_event() {
    let bus = TestBus::new();
    let pool = TestDatabase::create()
        .await
        .unwrap()
        .with_platform_tables()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE counted (event_id UUID NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    // History written before the reader exists (a service deployed later).
    let broker = Broker::new("test", bus.amqp_settings());
    let connection = broker.connect("test").await.unwrap();
    declare_all(&connection.create_channel().await.unwrap(), &broker)
        .await
        .unwrap();
    for n in 1..=30 {
        publish(&bus, if n == 12 { 0 } else { n }).await;
    }

    let stop = CancellationToken::new();
    let running = tokio::spawn(reader(&bus, &pool).run(stop.clone()));
    eventually(Duration::from_secs(20), || async {
        Ok((counted(&pool).await == 29).then_some(()))
    })
    .await
    .unwrap();
    eventually(Duration::from_secs(10), || async {
        Ok(
            (StreamReader::<Counter>::position(&pool, "test-reader").await? == Some(30))
                .then_some(()),
        )
    })
    .await
    .unwrap();
    let skipped: i64 = sqlx::query_scalar("SELECT count(*) FROM platform_stream_skipped")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        skipped, 1,
        "the poison event is recorded, and the reader went past it"
    );
    stop.cancel();
    running.await.unwrap();

    // Ten more while it is stopped, then a restart: it reads from its position.
    for n in 31..=40 {
        publish(&bus, n).await;
    }
    let stop = CancellationToken::new();
    let running = tokio::spawn(reader(&bus, &pool).run(stop.clone()));
    eventually(Duration::from_secs(20), || async {
        Ok((counted(&pool).await == 39).then_some(()))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (total, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT event_id) FROM counted")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((total, distinct), (39, 39), "nothing counted twice");
    stop.cancel();
    running.await.unwrap();
}
