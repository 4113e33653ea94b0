//! Sending one delivery, as a durable job (`webhook.deliver`, one per delivery): `perform`
//! makes the HTTP call outside any transaction (an endpoint has 15 s to answer); `complete`
//! records the attempt, the delivery's next step and the endpoint's health in one transaction,
//! and reschedules the job itself (`Next::RetryAt`) on the webhook schedule. A replica killed
//! between the two sends the same delivery again, with the same `webhook-id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use combipat_platform::clock::Clock;
use combipat_platform::handler::Effects;
use combipat_platform::jobs::{Job, JobHandler, Next};
use combipat_platform::messaging::HandleError;
use combipat_platform::rate_limit::RateLimiter;
use sqlx::PgPool;
use uuid::Uuid;

use super::deliveries::{self, AttemptRecord, DeliveryRow, JOB_KIND};
use super::egress::{self, Egress};
use super::endpoints::{self, EndpointRow};
use super::outcome::{self, Answer, Health, Rules, Step};
use super::signature;
use crate::fanout::Fanout;
use crate::metrics::{WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS};
use crate::notice::{Audience, Kind, Notice};

pub struct Deliverer {
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub limiter: Arc<RateLimiter>,
    pub egress: Egress,
    pub rules: Rules,
    pub clock: Clock,
    pub excerpt_bytes: usize,
    pub fanout: Fanout,
}

/// What `perform` found out.
#[derive(Debug)]
pub enum Performed {
    /// Nothing to send: the delivery is gone or not pending.
    Nothing,
    EndpointDisabled,
    /// Not tried now (circuit open, over the endpoint's rate): again at `until`, no attempt used.
    Wait {
        until: DateTime<Utc>,
        why: String,
    },
    /// The target may not be called (egress rules).
    Refused {
        at: DateTime<Utc>,
        error: String,
    },
    Sent(Sent),
}

#[derive(Debug)]
pub struct Sent {
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub latency: Duration,
    pub excerpt: String,
    pub error: String,
    pub retry_after: Option<Duration>,
}

/// The HTTP client every delivery uses: the egress-checking resolver, no proxy, no redirects.
pub fn client(egress: Egress, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(egress::SafeResolver(egress)))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("COMBIPAT-Notifier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| anyhow::anyhow!("cannot build the webhook client: {error}"))
}

impl Deliverer {
    async fn load(&self, id: Uuid) -> sqlx::Result<Option<(DeliveryRow, EndpointRow)>> {
        let mut connection = self.pool.acquire().await?;
        let Some(delivery) = deliveries::find(&mut connection, id).await? else {
            return Ok(None);
        };
        let endpoint = endpoints::find(&mut connection, delivery.endpoint_id).await?;
        Ok(endpoint.map(|endpoint| (delivery, endpoint)))
    }

    async fn attempt(&self, delivery: &DeliveryRow, endpoint: &EndpointRow) -> Performed {
        let now = self.clock.now();
        if !endpoint.is_active() {
            return Performed::EndpointDisabled;
        }
        if let Some(until) = endpoint.circuit_open_until.filter(|until| *until > now) {
            return Performed::Wait {
                until,
                why: "the endpoint's circuit is open".to_owned(),
            };
        }
        if let Err(combipat_platform::ApiError::ResourceExhausted { retry_after, .. }) = self
            .limiter
            .check("webhook", &endpoint.id.to_string())
            .await
        {
            let until = now
                + chrono::Duration::from_std(retry_after).unwrap_or(chrono::Duration::seconds(1));
            return Performed::Wait {
                until,
                why: "over the endpoint's rate limit".to_owned(),
            };
        }
        if let Err(reason) = egress::check_url(&self.egress, &endpoint.url) {
            return Performed::Refused {
                at: now,
                error: format!("the endpoint URL {reason}"),
            };
        }
        let id = delivery.id.to_string();
        let timestamp = now.timestamp();
        let body = delivery.payload.as_bytes();
        let signature = match signature::header(&endpoint.secrets_at(now), &id, timestamp, body) {
            Ok(signature) => signature,
            Err(error) => {
                return Performed::Refused {
                    at: now,
                    error: format!("cannot sign: {error:#}"),
                };
            }
        };
        let started = Instant::now();
        let response = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| outcome::parse_retry_after(value, now));
                let excerpt = first_bytes(response, self.excerpt_bytes).await;
                Performed::Sent(Sent {
                    at: now,
                    status: Some(status),
                    latency: started.elapsed(),
                    excerpt,
                    error: String::new(),
                    retry_after,
                })
            }
            Err(error) if is_egress_refusal(&error) => Performed::Refused {
                at: now,
                error: chain(&error),
            },
            Err(error) => Performed::Sent(Sent {
                at: now,
                status: None,
                latency: started.elapsed(),
                excerpt: String::new(),
                error: if error.is_timeout() {
                    format!("no answer in time: {}", chain(&error))
                } else {
                    chain(&error)
                },
                retry_after: None,
            }),
        }
    }

    /// The endpoint was disabled: its patronato is told in the inbox and by e-mail.
    async fn tell_disabled(
        &self,
        effects: &mut Effects<'_>,
        endpoint: &EndpointRow,
        reason: &str,
    ) -> Result<(), HandleError> {
        let notice = Notice {
            event_id: Uuid::now_v7(),
            kind: Kind::EndpointDisabled,
            request_id: None,
            avviso_id: None,
            protocol_number: String::new(),
            title: "Endpoint webhook disattivato".to_owned(),
            text: format!(
                "L'endpoint {} è stato disattivato: {reason}. Le notifiche non consegnate si possono inviare di nuovo dopo averlo riattivato.",
                endpoint.url
            ),
            occurred_at: self.clock.now(),
            audience: Audience::Patronato(endpoint.patronato.clone()),
            webhook_data: None,
        };
        self.fanout
            .send_with(effects, &notice, Some(&endpoint.contact_email))
            .await
    }
}

async fn first_bytes(mut response: reqwest::Response, limit: usize) -> String {
    let mut kept: Vec<u8> = Vec::new();
    while kept.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                kept.extend_from_slice(&chunk[..chunk.len().min(limit - kept.len())])
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_egress_refusal(error: &reqwest::Error) -> bool {
    chain(error).contains(egress::REFUSED)
}

fn count(endpoint: Uuid, outcome: &'static str) {
    metrics::counter!(WEBHOOK_DELIVERIES, "endpoint" => endpoint.to_string(), "outcome" => outcome)
        .increment(1);
}

impl JobHandler for Deliverer {
    const KINDS: &'static [&'static str] = &[JOB_KIND];
    type Output = Performed;

    async fn perform(&self, job: &Job) -> Performed {
        let Ok(id) = Uuid::parse_str(&job.subject) else {
            return Performed::Nothing;
        };
        match self.load(id).await {
            Ok(Some((delivery, endpoint))) if delivery.status == "pending" => {
                self.attempt(&delivery, &endpoint).await
            }
            Ok(_) => Performed::Nothing,
            Err(error) => Performed::Wait {
                until: self.clock.now() + chrono::Duration::seconds(1),
                why: format!("cannot read the delivery: {error}"),
            },
        }
    }

    async fn complete(
        &self,
        effects: &mut Effects<'_>,
        job: &Job,
        performed: &Performed,
    ) -> Result<Next, HandleError> {
        let id = Uuid::parse_str(&job.subject).map_err(|_| {
            HandleError::permanent(format!(
                "webhook job subject {} is not a delivery id",
                job.subject
            ))
        })?;
        let Some(delivery) = deliveries::lock(effects.db(), id).await? else {
            return Ok(Next::Done);
        };
        if delivery.status != "pending" {
            return Ok(Next::Done);
        }
        let Some(endpoint) = endpoints::lock(effects.db(), delivery.endpoint_id).await? else {
            return Ok(Next::Done);
        };
        match performed {
            Performed::Nothing => Ok(Next::Done),
            Performed::EndpointDisabled => {
                deliveries::update(
                    effects.db(),
                    id,
                    "disabled",
                    delivery.attempts,
                    None,
                    "the endpoint is disabled",
                    None,
                )
                .await?;
                count(endpoint.id, "failed");
                Ok(Next::Done)
            }
            Performed::Wait { until, why } => {
                deliveries::update(
                    effects.db(),
                    id,
                    "pending",
                    delivery.attempts,
                    Some(*until),
                    why,
                    None,
                )
                .await?;
                Ok(Next::RetryAt {
                    at: *until,
                    error: why.clone(),
                })
            }
            Performed::Refused { at, error } => {
                let attempt = AttemptRecord {
                    at: *at,
                    status_code: 0,
                    latency_ms: 0,
                    excerpt: "",
                    error,
                };
                deliveries::record_attempt(effects.db(), id, &attempt).await?;
                deliveries::update(
                    effects.db(),
                    id,
                    "failed",
                    delivery.attempts + 1,
                    None,
                    error,
                    None,
                )
                .await?;
                count(endpoint.id, "failed");
                Ok(Next::Done)
            }
            Performed::Sent(sent) => self.record(effects, &delivery, &endpoint, sent).await,
        }
    }
}

impl Deliverer {
    async fn record(
        &self,
        effects: &mut Effects<'_>,
        delivery: &DeliveryRow,
        endpoint: &EndpointRow,
        sent: &Sent,
    ) -> Result<Next, HandleError> {
        // The schedule counts from the moment the endpoint answered, not from when this
        // record is written: a busy machine's delay before the commit is not the endpoint's.
        let answered_at = sent.at + chrono::Duration::from_std(sent.latency).unwrap_or_default();
        let latency_ms = u64::try_from(sent.latency.as_millis()).unwrap_or(u64::MAX);
        let error = match sent.status {
            Some(status) if !(200..300).contains(&status) => {
                format!("the endpoint answered {status}")
            }
            Some(_) => String::new(),
            None => sent.error.clone(),
        };
        deliveries::record_attempt(
            effects.db(),
            delivery.id,
            &AttemptRecord {
                at: sent.at,
                status_code: sent.status.unwrap_or_default(),
                latency_ms,
                excerpt: &sent.excerpt,
                error: &error,
            },
        )
        .await?;
        metrics::histogram!(WEBHOOK_DELIVERY_SECONDS, "endpoint" => endpoint.id.to_string())
            .record(sent.latency.as_secs_f64());
        let attempt = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
        let health = Health {
            consecutive_failures: u32::try_from(endpoint.consecutive_failures).unwrap_or_default(),
            failing_since: endpoint.failing_since,
        };
        let answer = Answer {
            status: sent.status,
            retry_after: sent.retry_after,
        };
        let decision = outcome::decide(
            &self.rules,
            health,
            answer,
            attempt,
            answered_at,
            fastrand_unit(),
        );
        endpoints::record_health(
            effects.db(),
            endpoint.id,
            i32::try_from(decision.health.consecutive_failures).unwrap_or(i32::MAX),
            decision.health.failing_since,
            decision.circuit_open_until,
        )
        .await?;
        let attempts = delivery.attempts + 1;
        let next = match &decision.step {
            Step::Delivered => {
                deliveries::update(
                    effects.db(),
                    delivery.id,
                    "delivered",
                    attempts,
                    None,
                    "",
                    Some(answered_at),
                )
                .await?;
                count(endpoint.id, "delivered");
                Next::Done
            }
            Step::RetryAt(at) => {
                deliveries::update(
                    effects.db(),
                    delivery.id,
                    "pending",
                    attempts,
                    Some(*at),
                    &error,
                    None,
                )
                .await?;
                count(endpoint.id, "retried");
                Next::RetryAt { at: *at, error }
            }
            Step::Dead => {
                deliveries::update(
                    effects.db(),
                    delivery.id,
                    "dead",
                    attempts,
                    None,
                    &error,
                    None,
                )
                .await?;
                count(endpoint.id, "dead");
                tracing::error!(delivery.id = %delivery.id, endpoint.id = %endpoint.id, error = %error, "webhook delivery dead: every attempt failed");
                Next::Done
            }
            Step::Failed => {
                deliveries::update(
                    effects.db(),
                    delivery.id,
                    "failed",
                    attempts,
                    None,
                    &error,
                    None,
                )
                .await?;
                count(endpoint.id, "failed");
                Next::Done
            }
        };
        if let Some(reason) = &decision.disable {
            endpoints::set_active(effects.db(), endpoint.id, false, reason).await?;
            tracing::warn!(endpoint.id = %endpoint.id, reason = %reason, "webhook endpoint disabled");
            self.tell_disabled(effects, endpoint, reason).await?;
        }
        Ok(next)
    }
}

/// A number in [0, 1) for the jitter (not secret).
fn fastrand_unit() -> f64 {
    rand::random::<f64>()
}
