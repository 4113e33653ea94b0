//! The offices' SLA state by region, as a gauge for the dashboards:
//! `combipat_items_open{region,sla_state=on_time|due_soon|overdue|paused}`, counted from the
//! open items every `GAUGE_INTERVAL` (each replica counts the same; dashboards take the max).

use std::collections::BTreeSet;
use std::time::Duration;

use combipat_platform::clock::Clock;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

const METRIC: &str = "combipat_items_open";
const GAUGE_INTERVAL: Duration = Duration::from_secs(30);
const STATES: [&str; 4] = ["on_time", "due_soon", "overdue", "paused"];

pub async fn run(pool: PgPool, clock: Clock, stop: CancellationToken) {
    // Every region starts at zero and each one counted once stays in the gauge: a region whose
    // last open item closed falls to zero instead of keeping its last count.
    let mut regions: BTreeSet<String> = combipat_domain::REGION_CODES
        .iter()
        .map(|code| (*code).to_owned())
        .collect();
    loop {
        if let Err(error) = count(&pool, &clock, &mut regions).await {
            tracing::debug!(error = %error, "cannot count the open items");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(GAUGE_INTERVAL) => {}
        }
    }
}

async fn count(pool: &PgPool, clock: &Clock, regions: &mut BTreeSet<String>) -> sqlx::Result<()> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT office_region,
                CASE WHEN status = 'INFO_REQUESTED' THEN 'paused'
                     WHEN sla_due_at <= $1 THEN 'overdue'
                     WHEN sla_warn_at <= $1 THEN 'due_soon'
                     ELSE 'on_time' END AS state,
                count(*)
         FROM items WHERE status IN ('NEW', 'INFO_REQUESTED')
         GROUP BY 1, 2",
    )
    .bind(clock.now())
    .fetch_all(pool)
    .await?;
    regions.extend(rows.iter().map(|(region, _, _)| region.clone()));
    for region in regions.iter() {
        for state in STATES {
            let count = rows
                .iter()
                .find(|(r, s, _)| r == region && s == state)
                .map_or(0, |(_, _, count)| *count);
            #[allow(clippy::cast_precision_loss, reason = "a count shown as a gauge")]
            metrics::gauge!(METRIC, "region" => region.clone(), "sla_state" => state)
                .set(count as f64);
        }
    }
    Ok(())
}
