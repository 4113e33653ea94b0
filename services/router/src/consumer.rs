//! `request.submitted` -> a decision -> `request.routed` (or `request.unroutable`), all in
//! one transaction with the inbox, so a redelivered event decides nothing twice.

use std::sync::Arc;

use anyhow::Context as _;
use combipat_domain::Territory;
use combipat_platform::inbox;
use combipat_platform::messaging::{EventHandler, HandleError, QueueSpec, new_envelope};
use combipat_platform::outbox::{self, OutboxWaker};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{Envelope, RequestRouted, RequestUnroutable};
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::decision::{RULESET_VERSION, decide};

pub const QUEUE: QueueSpec = QueueSpec {
    name: "router.requests",
    bindings: &["request.submitted"],
};

/// Keeps `request.unroutable` events (the regional fallback queue of issue "Router"); also
/// makes the event routable, so the outbox never holds it back.
pub const UNROUTABLE_QUEUE: QueueSpec = QueueSpec {
    name: "router.unroutable",
    bindings: &["request.unroutable"],
};

const METRIC_DECISIONS: &str = "combipat_routing_decisions_total";

pub struct SubmittedHandler {
    pub pool: PgPool,
    pub territory: Arc<Territory>,
    pub outbox: OutboxWaker,
}

impl EventHandler for SubmittedHandler {
    async fn handle(&self, envelope: Envelope) -> Result<(), HandleError> {
        let Some(Payload::RequestSubmitted(submitted)) = envelope.payload else {
            return Err(HandleError::Permanent(anyhow::anyhow!(
                "expected request.submitted, got {}",
                envelope.event_type
            )));
        };
        let request = submitted.request.ok_or_else(|| {
            HandleError::Permanent(anyhow::anyhow!("request.submitted without its request"))
        })?;
        let event_id = Uuid::parse_str(&envelope.event_id)
            .map_err(|error| HandleError::Permanent(anyhow::anyhow!("event id: {error}")))?;
        let request_id = Uuid::parse_str(&request.request_id)
            .map_err(|error| HandleError::Permanent(anyhow::anyhow!("request id: {error}")))?;

        let decision = decide(&self.territory, &request.comune_residenza);
        let (office_code, rule, payload) = match decision {
            Ok(decision) => {
                tracing::info!(request.id = %request_id, office.code = %decision.office.code, rule = %decision.rule, "routed");
                (
                    Some(decision.office.code.clone()),
                    decision.rule.clone(),
                    Payload::RequestRouted(RequestRouted {
                        request: Some(request.clone()),
                        office: Some(decision.office),
                        ruleset_version: RULESET_VERSION.to_owned(),
                        rule: decision.rule,
                    }),
                )
            }
            Err(reason) => {
                tracing::warn!(request.id = %request_id, reason = %reason, "no rule covers the request");
                (
                    None,
                    "none".to_owned(),
                    Payload::RequestUnroutable(RequestUnroutable {
                        request: Some(request.clone()),
                        reason: reason.to_string(),
                    }),
                )
            }
        };

        let stored = async {
            let mut transaction = self.pool.begin().await?;
            if !inbox::first_delivery(&mut transaction, SERVICE_NAME, event_id).await? {
                return Ok::<_, anyhow::Error>(false);
            }
            sqlx::query(
                "INSERT INTO routing_decisions
                 (request_id, protocol_number, comune_residenza, topic, motivo, office_code, ruleset_version, rule)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(request_id)
            .bind(&request.protocol_number)
            .bind(&request.comune_residenza)
            .bind(&request.topic)
            .bind(request.motivo)
            .bind(&office_code)
            .bind(RULESET_VERSION)
            .bind(&rule)
            .execute(&mut *transaction)
            .await
            .context("cannot store the routing decision")?;
            let routed = new_envelope(SERVICE_NAME, &request.request_id, payload);
            outbox::enqueue(&mut transaction, &routed).await?;
            transaction.commit().await?;
            Ok(true)
        }
        .await
        .map_err(HandleError::Transient)?;

        if stored {
            let outcome = if office_code.is_some() {
                "routed"
            } else {
                "unroutable"
            };
            metrics::counter!(METRIC_DECISIONS, "outcome" => outcome).increment(1);
            self.outbox.wake();
        }
        Ok(())
    }
}
