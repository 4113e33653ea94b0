//! Sending e-mail as durable jobs: `email.send` (one per message: perform = the SMTP send,
//! complete = the record and the next attempt on `email.retry_schedule_ms`) and
//! `email.digest` (an office's day, gathered into one message when its hour comes).
//! A permanent refusal (5xx) is a bounce: the address goes on the suppression list.

use chrono::{DateTime, Utc};
use combipat_platform::clock::Clock;
use combipat_platform::handler::Effects;
use combipat_platform::jobs::{Job, JobHandler, Next};
use combipat_platform::messaging::HandleError;
use sqlx::PgPool;
use uuid::Uuid;

use super::smtp::{self, Outgoing, SendError, Transport};
use super::suppression::{self, Reason};
use super::{DIGEST_KIND, SEND_KIND, digest};
use crate::metrics::EMAILS_SENT;
use crate::settings::{EmailSettings, Schedule};

pub struct Mailer {
    pub pool: PgPool,
    pub transport: Transport,
    pub settings: EmailSettings,
    pub schedule: Schedule,
    pub clock: Clock,
}

#[derive(Debug)]
pub enum Outcome {
    /// Not a pending message (sent already, or gone); or a digest, done in `complete`.
    Nothing,
    Suppressed,
    Delivered,
    Failed(SendError),
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: Uuid,
    address: String,
    subject: String,
    text_body: String,
    html_body: String,
}

impl Mailer {
    async fn send_one(&self, id: Uuid) -> Result<Outcome, SendError> {
        let unavailable = |error: sqlx::Error| SendError {
            message: format!("the database: {error}"),
            permanent: false,
        };
        let mut connection = self.pool.acquire().await.map_err(unavailable)?;
        let pending: Option<Pending> = sqlx::query_as(
            "SELECT id, address, subject, text_body, html_body FROM emails WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(unavailable)?;
        let Some(pending) = pending else {
            return Ok(Outcome::Nothing);
        };
        if suppression::is_suppressed(&mut connection, &pending.address)
            .await
            .map_err(unavailable)?
        {
            return Ok(Outcome::Suppressed);
        }
        let token = suppression::token_for(&mut connection, &pending.address)
            .await
            .map_err(unavailable)?;
        drop(connection);
        let unsubscribe_url = format!(
            "{}/unsubscribe/{token}",
            self.settings.public_base_url.trim_end_matches('/')
        );
        let rendered = super::templates::Rendered {
            subject: pending.subject.clone(),
            text: pending.text_body,
            html: pending.html_body,
        };
        let (text, html) = super::templates::with_unsubscribe(&rendered, &unsubscribe_url);
        let message = smtp::message(&Outgoing {
            id: pending.id,
            from: &self.settings.from,
            to: &pending.address,
            subject: &pending.subject,
            text,
            html,
            unsubscribe_url: &unsubscribe_url,
        })?;
        smtp::send(&self.transport, message).await?;
        Ok(Outcome::Delivered)
    }

    async fn record(
        &self,
        effects: &mut Effects<'_>,
        id: Uuid,
        sent: &Outcome,
    ) -> Result<Next, HandleError> {
        let now = self.clock.now();
        let row: Option<(i32, String)> = sqlx::query_as(
            "SELECT attempts, address FROM emails WHERE id = $1 AND status = 'pending' FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(effects.db())
        .await?;
        let Some((attempts, address)) = row else {
            return Ok(Next::Done);
        };
        let attempts = attempts + 1;
        let (status, error, next, outcome) = match sent {
            Outcome::Nothing => return Ok(Next::Done),
            Outcome::Delivered => ("sent", None, Next::Done, "sent"),
            Outcome::Suppressed => ("suppressed", None, Next::Done, "suppressed"),
            Outcome::Failed(failure) if failure.permanent => {
                suppression::record(
                    effects.db(),
                    &address,
                    Reason::Bounce,
                    &failure.message,
                    now,
                )
                .await?;
                (
                    "failed",
                    Some(failure.message.clone()),
                    Next::Done,
                    "failed",
                )
            }
            Outcome::Failed(failure) => match self.retry_at(attempts, now) {
                Some(at) => (
                    "pending",
                    Some(failure.message.clone()),
                    Next::RetryAt {
                        at,
                        error: failure.message.clone(),
                    },
                    "retried",
                ),
                None => (
                    "failed",
                    Some(failure.message.clone()),
                    Next::Done,
                    "failed",
                ),
            },
        };
        sqlx::query(
            "UPDATE emails SET status = $2, attempts = $3, last_error = $4,
                    sent_at = CASE WHEN $2 = 'sent' THEN $5 ELSE sent_at END
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(attempts)
        .bind(&error)
        .bind(now)
        .execute(effects.db())
        .await?;
        metrics::counter!(EMAILS_SENT, "outcome" => outcome).increment(1);
        if let Some(error) = &error {
            tracing::warn!(email.id = %id, outcome, error = %error, "an e-mail was not sent");
        }
        Ok(next)
    }

    fn retry_at(&self, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = u32::try_from(attempts).ok()?.checked_add(1)?;
        let wait = self.schedule.wait_before(next, rand::random::<f64>())?;
        Some(now + chrono::Duration::from_std(wait).ok()?)
    }
}

impl JobHandler for Mailer {
    const KINDS: &'static [&'static str] = &[SEND_KIND, DIGEST_KIND];
    type Output = Outcome;

    async fn perform(&self, job: &Job) -> Outcome {
        if job.kind != SEND_KIND {
            return Outcome::Nothing;
        }
        let Ok(id) = Uuid::parse_str(&job.subject) else {
            return Outcome::Nothing;
        };
        self.send_one(id).await.unwrap_or_else(Outcome::Failed)
    }

    async fn complete(
        &self,
        effects: &mut Effects<'_>,
        job: &Job,
        sent: &Outcome,
    ) -> Result<Next, HandleError> {
        if job.kind == DIGEST_KIND {
            digest::gather(effects, job, self.clock.now()).await?;
            return Ok(Next::Done);
        }
        let id = Uuid::parse_str(&job.subject).map_err(|_| {
            HandleError::permanent(format!("e-mail job subject {} is not an id", job.subject))
        })?;
        self.record(effects, id, sent).await
    }
}
