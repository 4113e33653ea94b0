//! The disabled-endpoints gauge, read from the database (so every replica reports the truth,
//! whoever disabled the endpoint), and each endpoint's series shown from zero.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::metrics::{WEBHOOK_ENDPOINTS_DISABLED, show_endpoint_from_zero};
use crate::webhooks::endpoints;

pub async fn run(pool: PgPool, every: Duration, stop: CancellationToken) {
    loop {
        let counted = async {
            let mut connection = pool.acquire().await?;
            for endpoint in endpoints::all_ids(&mut connection).await? {
                show_endpoint_from_zero(endpoint);
            }
            endpoints::count_disabled(&mut connection).await
        };
        match counted.await {
            #[allow(clippy::cast_precision_loss, reason = "a count shown as a gauge")]
            Ok(count) => metrics::gauge!(WEBHOOK_ENDPOINTS_DISABLED).set(count as f64),
            Err(error) => tracing::warn!(error = %error, "cannot count the disabled endpoints"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
