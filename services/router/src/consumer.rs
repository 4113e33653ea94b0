//! `request.submitted` -> a decision -> `request.routed` (or `request.unroutable` with the
//! fallback queue), in one transaction with the inbox, so a redelivered event decides
//! nothing twice.

use std::sync::Arc;

use combipat_platform::inbox;
use combipat_platform::messaging::{EventHandler, HandleError, QueueSpec};
use combipat_platform::outbox::OutboxWaker;
use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::decisions::{self, AUTOMATIC, NewDecision};
use crate::directory::{Unroutable, fallback_office};
use crate::ruleset::Rulesets;

pub const QUEUE: QueueSpec = QueueSpec {
    name: "router.requests",
    bindings: &["request.submitted"],
};

/// Counter {outcome=routed|unroutable, rule=polo|agenzia|province|region|none}.
const METRIC_DECISIONS: &str = "combipat_routing_decisions_total";
/// Residences the territory does not know (intake validates them, so this is rare).
const UNKNOWN_RESIDENCE_QUEUE: &str = "FALLBACK-IT";

pub struct SubmittedHandler {
    pub pool: PgPool,
    pub rulesets: Arc<Rulesets>,
    pub outbox: OutboxWaker,
}

fn permanent(message: impl std::fmt::Display) -> HandleError {
    HandleError::Permanent(anyhow::anyhow!("{message}"))
}

impl EventHandler for SubmittedHandler {
    async fn handle(&self, envelope: Envelope) -> Result<(), HandleError> {
        let Some(Payload::RequestSubmitted(submitted)) = envelope.payload else {
            return Err(permanent(format!(
                "expected request.submitted, got {}",
                envelope.event_type
            )));
        };
        let request = submitted
            .request
            .ok_or_else(|| permanent("request.submitted without its request"))?;
        let event_id = Uuid::parse_str(&envelope.event_id)
            .map_err(|error| permanent(format!("event id: {error}")))?;
        let request_id = Uuid::parse_str(&request.request_id)
            .map_err(|error| permanent(format!("request id: {error}")))?;
        // No active ruleset yet: retry later rather than guess.
        let index = self
            .rulesets
            .current()
            .ok_or_else(|| HandleError::Transient(anyhow::anyhow!("no active ruleset")))?;

        let decision = match index.decide(&request.comune_residenza, &request.topic, request.motivo)
        {
            Ok(decision) => NewDecision {
                request: &request,
                kind: AUTOMATIC,
                office: decision.office.to_ref(),
                routed: true,
                ruleset_version: &index.version,
                rule: decision.rule,
                explanation: decision.explanation,
                decided_by: SERVICE_NAME,
            },
            Err(unroutable) => {
                let fallback = match &unroutable {
                    Unroutable::NoRule {
                        fallback_office, ..
                    } => fallback_office.as_str(),
                    Unroutable::Residence(_) => UNKNOWN_RESIDENCE_QUEUE,
                };
                tracing::warn!(request.id = %request_id, reason = %unroutable, fallback, "no rule covers the request");
                NewDecision {
                    request: &request,
                    kind: AUTOMATIC,
                    office: fallback_office(fallback),
                    routed: false,
                    ruleset_version: &index.version,
                    rule: "none".to_owned(),
                    explanation: unroutable.to_string(),
                    decided_by: SERVICE_NAME,
                }
            }
        };
        let outcome = if decision.routed {
            "routed"
        } else {
            "unroutable"
        };
        let rule_kind = decision.rule.split(':').next().unwrap_or("none").to_owned();
        let office = decision.office.code.clone();

        let recorded = async {
            let mut transaction = self.pool.begin().await?;
            if !inbox::first_delivery(&mut transaction, SERVICE_NAME, event_id).await? {
                return Ok::<_, anyhow::Error>(false);
            }
            decisions::record(&mut transaction, request_id, decision).await?;
            transaction.commit().await?;
            Ok(true)
        }
        .await
        .map_err(HandleError::Transient)?;

        if recorded {
            metrics::counter!(METRIC_DECISIONS, "outcome" => outcome, "rule" => rule_kind)
                .increment(1);
            tracing::info!(request.id = %request_id, office.code = %office, outcome, "routing decided");
            self.outbox.wake();
        }
        Ok(())
    }
}
