//! `request.routed` -> an item in the office's queue, once, whatever the redeliveries.

use anyhow::Context as _;
use combipat_platform::inbox;
use combipat_platform::messaging::{EventHandler, HandleError, QueueSpec};
use combipat_platform::time::from_timestamp;
use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;

pub const QUEUE: QueueSpec = QueueSpec {
    name: "office-queue.routed",
    bindings: &["request.routed"],
};

const METRIC_FILED: &str = "combipat_items_filed_total";

pub struct RoutedHandler {
    pub pool: PgPool,
}

fn permanent(message: impl std::fmt::Display) -> HandleError {
    HandleError::Permanent(anyhow::anyhow!("{message}"))
}

impl EventHandler for RoutedHandler {
    async fn handle(&self, envelope: Envelope) -> Result<(), HandleError> {
        let Some(Payload::RequestRouted(routed)) = envelope.payload else {
            return Err(permanent(format!(
                "expected request.routed, got {}",
                envelope.event_type
            )));
        };
        let request = routed
            .request
            .ok_or_else(|| permanent("request.routed without its request"))?;
        let office = routed
            .office
            .ok_or_else(|| permanent("request.routed without its office"))?;
        let event_id = Uuid::parse_str(&envelope.event_id)
            .map_err(|error| permanent(format!("event id: {error}")))?;
        let request_id = Uuid::parse_str(&request.request_id)
            .map_err(|error| permanent(format!("request id: {error}")))?;
        let submitted_at = from_timestamp(request.submitted_at.as_ref())
            .ok_or_else(|| permanent("request.routed without a valid submitted_at"))?;
        let patronato = request
            .filer
            .as_ref()
            .map(|filer| filer.patronato.clone())
            .unwrap_or_default();

        let filed = async {
            let mut transaction = self.pool.begin().await?;
            if !inbox::first_delivery(&mut transaction, SERVICE_NAME, event_id).await? {
                return Ok::<_, anyhow::Error>(false);
            }
            // One writer per office at a time, so that an office's items take their `seq`
            // (the ListItems cursor) in commit order and a page never skips a late commit.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(&office.code)
                .execute(&mut *transaction)
                .await?;
            sqlx::query(
                "INSERT INTO items (request_id, protocol_number, office_code, motivo, topic, subject,
                                    patronato, submitted_at, ruleset_version, rule)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(request_id)
            .bind(&request.protocol_number)
            .bind(&office.code)
            .bind(request.motivo)
            .bind(&request.topic)
            .bind(&request.subject)
            .bind(&patronato)
            .bind(submitted_at)
            .bind(&routed.ruleset_version)
            .bind(&routed.rule)
            .execute(&mut *transaction)
            .await
            .context("cannot file the item")?;
            transaction.commit().await?;
            Ok(true)
        }
        .await
        .map_err(HandleError::Transient)?;

        if filed {
            metrics::counter!(METRIC_FILED).increment(1);
            tracing::info!(request.id = %request_id, office.code = %office.code, "filed in the office queue");
        }
        Ok(())
    }
}
