//! Router's consumer, on the platform's transactional handler (inbox, effects and outgoing
//! events in one transaction, so a redelivered event decides nothing twice):
//! - `request.submitted` -> a decision -> `request.routed` (or `request.unroutable` with the
//!   fallback queue);
//! - `request.transferred` (office-queue decided a transfer) -> a `transfer` row in the
//!   request's decisions, so that `Explain` tells the whole story. Nothing is announced:
//!   office-queue's event already did.

use std::sync::Arc;

use combipat_platform::handler::{Effects, Event, TransactionalHandler};
use combipat_platform::messaging::HandleError;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{RequestSubmitted, RequestTransferred};
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::decisions::{self, AUTOMATIC, NewDecision, TRANSFER};
use crate::directory::{Unroutable, fallback_office};
use crate::ruleset::Rulesets;

pub use combipat_platform::messaging::catalogue::ROUTER_REQUESTS as QUEUE;

/// Counter {outcome=routed|unroutable, rule=polo|agenzia|province|region|none}.
const METRIC_DECISIONS: &str = "combipat_routing_decisions_total";
/// The kinds of rule a decision that routes names (the part of `rule` before the `:`); one
/// that does not route names `none`.
const ROUTING_RULE_KINDS: [&str; 5] = ["polo", "agenzia", "province", "region", "transfer"];

/// The decisions' series, at zero until the first decision (dashboards and alerts read them).
pub fn show_metrics_from_zero() {
    for kind in ROUTING_RULE_KINDS {
        metrics::counter!(METRIC_DECISIONS, "outcome" => "routed", "rule" => kind).increment(0);
    }
    metrics::counter!(METRIC_DECISIONS, "outcome" => "unroutable", "rule" => "none").increment(0);
}
/// Residences the territory does not know (intake validates them, so this is rare).
const UNKNOWN_RESIDENCE_QUEUE: &str = "FALLBACK-IT";

pub struct RequestsHandler {
    pub rulesets: Arc<Rulesets>,
}

impl TransactionalHandler for RequestsHandler {
    const CONSUMER: &'static str = SERVICE_NAME;

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        match &event.payload {
            Payload::RequestSubmitted(submitted) => self.decide(effects, submitted).await,
            Payload::RequestTransferred(transfer) => {
                self.record_transfer(effects, event.request_id()?, transfer)
                    .await
            }
            _ => Err(event.unexpected()),
        }
    }
}

impl RequestsHandler {
    async fn decide(
        &self,
        effects: &mut Effects<'_>,
        submitted: &RequestSubmitted,
    ) -> Result<(), HandleError> {
        let request = submitted
            .request
            .as_ref()
            .ok_or_else(|| HandleError::permanent("request.submitted without its request"))?;
        let request_id = Uuid::parse_str(&request.request_id)
            .map_err(|error| HandleError::permanent(format!("request id: {error}")))?;
        // No active ruleset yet: retry later rather than guess.
        let index = self
            .rulesets
            .current()
            .ok_or_else(|| HandleError::transient(anyhow::anyhow!("no active ruleset")))?;

        let decision = match index.decide(&request.comune_residenza, &request.topic, request.motivo)
        {
            Ok(decision) => NewDecision {
                request,
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
                    request,
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

        let sequence = decisions::record(effects.db(), request_id, &decision).await?;
        effects.emit(decisions::announcement(request_id, decision, sequence));
        metrics::counter!(METRIC_DECISIONS, "outcome" => outcome, "rule" => rule_kind).increment(1);
        tracing::info!(request.id = %request_id, office.code = %office, outcome, "routing decided");
        Ok(())
    }

    /// Office-queue moved the request: its decision history gets the transfer.
    async fn record_transfer(
        &self,
        effects: &mut Effects<'_>,
        request_id: Uuid,
        transfer: &RequestTransferred,
    ) -> Result<(), HandleError> {
        let (Some(from), Some(to)) = (&transfer.from_office, &transfer.to_office) else {
            return Err(HandleError::permanent(
                "request.transferred without its offices",
            ));
        };
        let Some(current) = decisions::latest_for_update(effects.db(), request_id).await? else {
            // Office-queue files only what router decided, so the decision is here: missing,
            // it is a foreign or corrupt event.
            return Err(HandleError::permanent(format!(
                "a transfer of request {request_id}, which router never routed"
            )));
        };
        let summary = decisions::summary(&current).map_err(|error| {
            HandleError::permanent(format!("the stored request does not decode: {error}"))
        })?;
        let ruleset_version = self
            .rulesets
            .current()
            .map(|index| index.version.clone())
            .unwrap_or(current.ruleset_version);
        decisions::record(
            effects.db(),
            request_id,
            &NewDecision {
                request: &summary,
                kind: TRANSFER,
                office: to.clone(),
                routed: true,
                ruleset_version: &ruleset_version,
                rule: format!("transfer:{}", from.code),
                explanation: format!(
                    "transferred from {} by {}: {}",
                    from.code, transfer.transferred_by, transfer.reason
                ),
                decided_by: &transfer.transferred_by,
            },
        )
        .await?;
        tracing::info!(request.id = %request_id, from = %from.code, to = %to.code, "transfer recorded");
        Ok(())
    }
}
