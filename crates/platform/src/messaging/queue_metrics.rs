//! The depth and consumer count of each of this service's queues (main, retry, dead-letter),
//! as gauges, so that dashboards and alerts (a queue growing, a queue nobody consumes, any
//! dead letter) need nothing but the services' own `/metrics`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Broker;
use super::catalogue::queues_of;
use super::topology::declare_queue_counted;
use crate::metrics as m;

/// Reads the depth of every queue `broker`'s service consumes, every
/// `amqp.queue_metrics_interval_ms`, until `stop`. Each replica reports the same values;
/// dashboards take the maximum per queue.
pub async fn report_queue_depths(broker: Broker, stop: CancellationToken) {
    let interval = Duration::from_millis(broker.settings().queue_metrics_interval_ms.max(100));
    if queues_of(broker.service_name()).next().is_none() {
        return;
    }
    loop {
        if let Err(error) = report_once(&broker).await {
            tracing::debug!(error = format!("{error:#}"), "cannot read the queue depths");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

async fn report_once(broker: &Broker) -> anyhow::Result<()> {
    let connection = broker.connect("queue-metrics").await?;
    let channel = connection.create_channel().await?;
    for spec in queues_of(broker.service_name()) {
        // A declaration (idempotent, the same the consumer makes) answers the counts, and
        // unlike a passive one it does not fail while the queue does not exist yet.
        let (_, counts) = declare_queue_counted(&channel, broker, spec).await?;
        for count in counts {
            let name = broker.unprefixed(&count.queue).to_owned();
            metrics::gauge!(m::QUEUE_MESSAGES, "queue" => name.clone())
                .set(f64::from(count.messages));
            metrics::gauge!(m::QUEUE_CONSUMERS, "queue" => name).set(f64::from(count.consumers));
        }
    }
    let _closed = connection.close(200, "read".into()).await;
    Ok(())
}
