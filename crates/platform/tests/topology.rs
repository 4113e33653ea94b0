//! The one topology definition against the real broker: declaring it creates every queue
//! family and the history stream, twice is harmless, and an event published to any routing
//! key of the catalogue reaches each queue bound to it and the stream.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a failed assumption in a test is a failed test"
)]

use combipat_platform::messaging::catalogue::{CATALOGUE, HISTORY};
use combipat_platform::messaging::{Broker, QueueNames, declare_all};
use combipat_testkit::TestBus;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

async fn depth(broker: &Broker, queue: &str) -> Option<u32> {
    let connection = broker.connect("test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .ok()?;
    Some(declared.message_count())
}

#[tokio::test]
async fn the_whole_topology_is_declared_and_every_binding_delivers() {
    let bus = TestBus::new();
    let broker = Broker::new("test", bus.amqp_settings());
    let connection = broker.connect("test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let started = std::time::Instant::now();
    declare_all(&channel, &broker).await.unwrap();
    println!("declared in {:?}", started.elapsed());
    declare_all(&channel, &broker).await.unwrap();

    for spec in CATALOGUE {
        let names = QueueNames::new(&broker, spec);
        for queue in names.all() {
            assert_eq!(depth(&broker, queue).await, Some(0), "{queue}");
        }
    }
    for (n, spec) in CATALOGUE.iter().enumerate() {
        for key in spec.bindings {
            bus.publish(key, &format!("probe-{n}-{key}"), b"probe")
                .await
                .unwrap();
        }
    }
    for spec in CATALOGUE {
        let expected: usize = CATALOGUE
            .iter()
            .flat_map(|other| other.bindings.iter())
            .filter(|key| spec.bindings.contains(key))
            .count();
        let main = broker.queue_name(spec.name);
        assert_eq!(
            depth(&broker, &main).await,
            Some(u32::try_from(expected).unwrap()),
            "{main}"
        );
    }
    let published: usize = CATALOGUE.iter().map(|spec| spec.bindings.len()).sum();
    let stream = broker.queue_name(HISTORY.name);
    assert_eq!(
        read_stream(&broker, &stream, published).await,
        published,
        "the history stream keeps every event"
    );
}

/// Reads `stream` from its first entry; returns how many arrived (stops at `expected`, or
/// when nothing more comes for a second).
async fn read_stream(broker: &Broker, stream: &str, expected: usize) -> usize {
    use futures::StreamExt as _;
    use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
    use lapin::types::AMQPValue;
    let connection = broker.connect("test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_qos(100, BasicQosOptions::default())
        .await
        .unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-stream-offset".into(),
        AMQPValue::LongString("first".into()),
    );
    let mut consumer = channel
        .basic_consume(
            stream.into(),
            "reader".into(),
            BasicConsumeOptions::default(),
            arguments,
        )
        .await
        .unwrap();
    let mut read = 0;
    while read < expected {
        let next = tokio::time::timeout(std::time::Duration::from_secs(1), consumer.next()).await;
        let Ok(Some(Ok(delivery))) = next else { break };
        delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        read += 1;
    }
    read
}
