//! The consumer and the transactional handler against the real servers: a database outage
//! pauses the consumer (nothing dead-lettered, everything applied once it is back); a batch
//! with one bad event applies the others once; a retry queue that disappeared is declared
//! again instead of the event going back to the head of the queue.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use combipat_platform::handler::{Effects, Event, Transactional, TransactionalHandler};
use combipat_platform::messaging::{
    Broker, Consumer, ConsumerHealth, HandleError, QueueSpec, new_envelope,
};
use combipat_platform::outbox::OutboxWaker;
use combipat_proto::events::v1::RequestSollecito;
use combipat_proto::events::v1::envelope::Payload;
use combipat_testkit::{TestBus, TestDatabase, eventually};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

const SPEC: QueueSpec = QueueSpec {
    service: "test",
    name: "test.consumer",
    bindings: &["request.sollecito"],
};

/// `count` says what the event does: 0 fails for good, 1 fails once (transiently), others
/// apply. Each application records the event and its transaction.
struct Recorder {
    failed_once: AtomicUsize,
}

impl TransactionalHandler for Recorder {
    const CONSUMER: &'static str = "test";

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        let Payload::RequestSollecito(sollecito) = &event.payload else {
            return Err(event.unexpected());
        };
        match sollecito.count {
            0 => return Err(HandleError::permanent("a poison event")),
            1 if self.failed_once.fetch_add(1, Ordering::SeqCst) == 0 => {
                return Err(HandleError::transient(anyhow::anyhow!("a passing failure")));
            }
            _ => {}
        }
        sqlx::query("INSERT INTO applied (event_id, tx) VALUES ($1, txid_current())")
            .bind(event.id)
            .execute(effects.db())
            .await?;
        Ok(())
    }
}

struct Harness {
    bus: TestBus,
    database: TestDatabase,
    admin: PgPool,
    pool: PgPool,
}

/// A consumer of the test queue, running.
struct Running {
    health: ConsumerHealth,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

async fn setup() -> Harness {
    let bus = TestBus::new();
    let database = TestDatabase::create().await.unwrap();
    let admin = PgPool::connect(
        &std::env::var("COMBIPAT_TEST_ADMIN_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    )
    .await
    .unwrap();
    // A short acquire timeout, so an outage shows within a second.
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&database.url)
        .await
        .unwrap();
    combipat_platform::db::migrate(&pool, &sqlx::migrate::Migrator::DEFAULT)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE applied (event_id UUID NOT NULL, tx BIGINT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let harness = Harness {
        bus,
        database,
        admin,
        pool,
    };
    // The queue exists before anything is published to it.
    let broker = harness.broker("1");
    let connection = broker.connect("test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    combipat_platform::messaging::declare_all(&channel, &broker)
        .await
        .unwrap();
    combipat_platform::messaging::declare_queue(&channel, &broker, &SPEC)
        .await
        .unwrap();
    connection.close(200, "declared".into()).await.unwrap();
    harness
}

impl Harness {
    fn broker(&self, batch_size: &str) -> Broker {
        let mut overrides = self.bus.overrides();
        overrides.push(("amqp.batch_size".into(), batch_size.into()));
        Broker::new(
            "test",
            combipat_platform::settings::platform_section("amqp", &overrides).unwrap(),
        )
    }

    async fn consume(&self, batch_size: &str) -> Running {
        let health = ConsumerHealth::new(SPEC.name);
        let consumer = Consumer {
            broker: self.broker(batch_size),
            spec: SPEC,
            handler: Arc::new(Transactional::new(
                self.pool.clone(),
                OutboxWaker::default(),
                Recorder {
                    failed_once: AtomicUsize::new(0),
                },
            )),
            health: health.clone(),
            deadline: Duration::from_secs(5),
            started: None,
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(consumer.run(stop.clone()));
        self.bus.wait_for_consumer(SPEC.name).await.unwrap();
        Running { health, stop, task }
    }

    async fn publish(&self, count: u32) -> String {
        let envelope = new_envelope(
            "test",
            &uuid::Uuid::now_v7().to_string(),
            Payload::RequestSollecito(RequestSollecito {
                count,
                sent_by: "op".into(),
            }),
        );
        self.bus.publish_envelope(&envelope).await.unwrap();
        envelope.event_id
    }

    async fn applied(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM applied")
            .fetch_one(&self.pool)
            .await
            .unwrap_or(-1)
    }

    async fn wait_applied(&self, count: i64) {
        let outcome = eventually(WAIT, || async {
            Ok((self.applied().await == count).then_some(()))
        })
        .await;
        assert!(
            outcome.is_ok(),
            "{count} events not applied; {} are",
            self.applied().await
        );
    }

    async fn dead_letters(&self) -> u32 {
        self.bus.queue_depth("test.consumer.dlq").await.unwrap()
    }

    /// The database refuses new connections and drops the ones it has, as in an outage.
    async fn database_down(&self, down: bool) {
        let name = &self.database.name;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {}",
            !down
        )))
        .execute(&self.admin)
        .await
        .unwrap();
        if down {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(name)
            .execute(&self.admin)
            .await
            .unwrap();
        }
    }
}

#[tokio::test]
async fn a_database_outage_pauses_the_consumer_and_nothing_is_dead_lettered() {
    let harness = setup().await;
    let consumer = harness.consume("8").await;
    for _ in 0..5 {
        harness.publish(7).await;
    }
    harness.wait_applied(5).await;

    harness.database_down(true).await;
    for _ in 0..10 {
        harness.publish(7).await;
    }
    eventually(WAIT, || async {
        Ok(consumer.health.is_paused().then_some(()))
    })
    .await
    .unwrap();
    assert!(
        consumer
            .health
            .problem()
            .unwrap_or_default()
            .contains("database unavailable")
    );
    // Far longer than the whole retry schedule of the test settings (100 ms, 200 ms).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(harness.dead_letters().await, 0);
    assert_eq!(
        harness
            .bus
            .queue_depth("test.consumer.retry.100ms")
            .await
            .unwrap()
            + harness
                .bus
                .queue_depth("test.consumer.retry.200ms")
                .await
                .unwrap(),
        0,
        "an outage uses none of the retry schedule"
    );

    harness.database_down(false).await;
    harness.wait_applied(15).await;
    eventually(WAIT, || async {
        Ok((!consumer.health.is_paused()).then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(harness.dead_letters().await, 0);
    consumer.stop().await;
}

#[tokio::test]
async fn one_bad_event_in_a_batch_does_not_take_the_others_with_it() {
    let harness = setup().await;
    // Published before anyone consumes, so that they arrive together, in batches.
    let mut poison = String::new();
    for n in 0..40 {
        let id = harness.publish(if n == 17 { 0 } else { 7 }).await;
        if n == 17 {
            poison = id;
        }
    }
    let consumer = harness.consume("16").await;
    harness.wait_applied(39).await;
    eventually(WAIT, || async {
        Ok((harness.dead_letters().await == 1).then_some(()))
    })
    .await
    .unwrap();
    let (events, distinct, transactions): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT event_id), count(DISTINCT tx) FROM applied",
    )
    .fetch_one(&harness.pool)
    .await
    .unwrap();
    assert_eq!((events, distinct), (39, 39), "each good event once");
    assert!(
        transactions < 39,
        "events shared transactions ({transactions} for 39)"
    );
    let poisoned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM applied WHERE event_id = $1::uuid")
            .bind(&poison)
            .fetch_one(&harness.pool)
            .await
            .unwrap();
    assert_eq!(poisoned, 0);
    consumer.stop().await;
}

#[tokio::test]
async fn a_retry_queue_that_disappeared_is_declared_again() {
    let harness = setup().await;
    let consumer = harness.consume("1").await;
    // Gone, as when the broker expired an idle queue.
    let connection =
        lapin::Connection::connect(&harness.bus.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_delete(
            format!("{}test.consumer.retry.100ms", harness.bus.queue_prefix)
                .as_str()
                .into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
    connection.close(200, "done".into()).await.unwrap();

    harness.publish(1).await; // fails once, then applies
    harness.wait_applied(1).await;
    assert_eq!(harness.dead_letters().await, 0);
    assert!(
        harness
            .bus
            .queue_depth("test.consumer.retry.100ms")
            .await
            .is_ok(),
        "the failed event went through its retry queue, declared again (not back to the head of the queue)"
    );
    consumer.stop().await;
}
