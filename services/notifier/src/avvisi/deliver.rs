//! Delivering an avviso: the durable job `avviso.deliver`, due at its publication time (now,
//! or when it was scheduled: the platform's jobs, on the movable clock). When it fires, in one
//! transaction: every patronato office of the audience that notifier knows of is recorded as
//! reached and gets a notice through notifier's channels (the inbox, the office's e-mail per
//! its preferences, which cannot mute an avviso importante), and each patronato reached (for a
//! national avviso, also each with an endpoint) gets one webhook. A withdrawal is delivered the
//! same way to those its publication reached.
//!
//! Each notice is keyed by the version's id (the withdrawal's own event id), the office and the
//! channel, so a job that runs twice tells nobody twice.

use chrono::{DateTime, Utc};
use combipat_platform::clock::Clock;
use combipat_platform::handler::Effects;
use combipat_platform::jobs::{self, Job, JobHandler, NewJob, Next};
use combipat_platform::messaging::HandleError;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::Territory;
use super::offices;
use super::store::{self, Row};
use crate::fanout::Fanout;
use crate::metrics::{AVVISI_DELIVERED, AVVISI_RECIPIENTS, NOTIFICATIONS};
use crate::notice::{Audience, Kind, Notice, excerpt};
use crate::webhooks;

pub const KIND: &str = "avviso.deliver";
/// Characters of the text in the inbox notice (and the e-mail); the whole is in the avviso.
const NOTICE_EXCERPT: usize = 300;
/// Characters of the text in the webhook's body (under its 20 KB whatever the characters).
const WEBHOOK_EXCERPT: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Published,
    Withdrawn,
}

impl What {
    fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Withdrawn => "withdrawn",
        }
    }
}

fn subject(id: Uuid, what: What) -> String {
    format!("avviso/{id}/{}", what.as_str())
}

/// Schedules the delivery of `what` for version `id` at `at`, in the caller's transaction.
pub async fn schedule(
    connection: &mut PgConnection,
    id: Uuid,
    what: What,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    jobs::schedule(
        connection,
        &NewJob {
            kind: KIND,
            subject: &subject(id, what),
            due_at: at,
            payload: json!({ "avviso_id": id, "what": what.as_str() }),
        },
    )
    .await
}

/// A scheduled publication that must not go (withdrawn before its time).
pub async fn cancel(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    jobs::cancel(connection, KIND, &subject(id, What::Published)).await
}

pub struct Deliverer {
    pub fanout: Fanout,
    pub clock: Clock,
    /// Where the patronato's people read an avviso (`email.avviso_url_base`).
    pub avviso_url_base: String,
}

impl JobHandler for Deliverer {
    const KINDS: &'static [&'static str] = &[KIND];
    type Output = ();

    async fn perform(&self, _job: &Job) {}

    async fn complete(
        &self,
        effects: &mut Effects<'_>,
        job: &Job,
        _output: &(),
    ) -> Result<Next, HandleError> {
        let field = |name: &str| {
            job.payload
                .get(name)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| HandleError::permanent(format!("{} without {name}", job.subject)))
        };
        let id = Uuid::parse_str(field("avviso_id")?)
            .map_err(|_| HandleError::permanent(format!("{}: not an avviso id", job.subject)))?;
        let what = match field("what")? {
            "published" => What::Published,
            "withdrawn" => What::Withdrawn,
            other => {
                return Err(HandleError::permanent(format!(
                    "{}: unknown delivery {other}",
                    job.subject
                )));
            }
        };
        let row = store::find(effects.db(), id, true)
            .await?
            .ok_or_else(|| HandleError::permanent(format!("no avviso {id}")))?;
        match what {
            What::Published => self.published(effects, &row).await?,
            What::Withdrawn => self.withdrawn(effects, &row).await?,
        }
        Ok(Next::Done)
    }
}

impl Deliverer {
    async fn published(&self, effects: &mut Effects<'_>, row: &Row) -> Result<(), HandleError> {
        // Withdrawn before its time, or delivered by an earlier run: nothing more to tell.
        if row.withdrawn_at.is_some() || row.delivered_at.is_some() {
            return Ok(());
        }
        let audience = row.audience();
        let offices = offices::in_audience(effects.db(), &audience).await?;
        let kind = row.priority().kind();
        let (title, text) = words(row, kind);
        for (office, patronato) in &offices {
            sqlx::query(
                "INSERT INTO avviso_recipients (avviso_id, office, patronato) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(row.id)
            .bind(office)
            .bind(patronato)
            .execute(effects.db())
            .await?;
            let notice = self.notice(row, row.id, kind, &title, &text, office, patronato);
            self.fanout.send(effects, &notice).await?;
        }
        let mut patronati: Vec<String> = offices
            .into_iter()
            .map(|(_, patronato)| patronato)
            .collect();
        if audience.territory == Territory::Nation {
            patronati.extend(with_endpoints(effects.db(), &audience.patronati).await?);
        }
        let action = if row.supersedes.is_some() {
            "corrected"
        } else {
            "published"
        };
        self.webhooks(effects, row, row.id, kind, action, patronati)
            .await?;
        let reached = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM avviso_recipients WHERE avviso_id = $1",
        )
        .bind(row.id)
        .fetch_one(effects.db())
        .await?;
        store::delivered(effects.db(), row.id, self.clock.now()).await?;
        metrics::counter!(AVVISI_DELIVERED, "what" => "published", "priority" => row.priority().as_str())
            .increment(1);
        metrics::counter!(AVVISI_RECIPIENTS, "what" => "published")
            .increment(u64::try_from(reached).unwrap_or_default());
        tracing::info!(avviso.id = %row.id, avviso.version = row.version, offices = reached, "avviso delivered");
        Ok(())
    }

    async fn withdrawn(&self, effects: &mut Effects<'_>, row: &Row) -> Result<(), HandleError> {
        let event_id = row.withdrawal_event_id.ok_or_else(|| {
            HandleError::permanent(format!("avviso {} has no withdrawal to tell", row.id))
        })?;
        let offices: Vec<(String, String)> = sqlx::query_as(
            "SELECT office, patronato FROM avviso_recipients WHERE avviso_id = $1 ORDER BY office",
        )
        .bind(row.id)
        .fetch_all(effects.db())
        .await?;
        let (title, text) = words(row, Kind::AvvisoWithdrawn);
        for (office, patronato) in &offices {
            let notice = self.notice(
                row,
                event_id,
                Kind::AvvisoWithdrawn,
                &title,
                &text,
                office,
                patronato,
            );
            self.fanout.send(effects, &notice).await?;
        }
        // The patronati whose systems heard of it hear of its withdrawal.
        let told: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT e.patronato FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.event_id = $1",
        )
        .bind(row.id)
        .fetch_all(effects.db())
        .await?;
        let patronati = offices
            .into_iter()
            .map(|(_, patronato)| patronato)
            .chain(told)
            .collect();
        self.webhooks(
            effects,
            row,
            event_id,
            Kind::AvvisoWithdrawn,
            "withdrawn",
            patronati,
        )
        .await?;
        metrics::counter!(AVVISI_DELIVERED, "what" => "withdrawn", "priority" => row.priority().as_str())
            .increment(1);
        Ok(())
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one notice's parts, named at the two call sites"
    )]
    fn notice(
        &self,
        row: &Row,
        event_id: Uuid,
        kind: Kind,
        title: &str,
        text: &str,
        office: &str,
        patronato: &str,
    ) -> Notice {
        Notice {
            event_id,
            kind,
            request_id: None,
            avviso_id: Some(row.id),
            protocol_number: String::new(),
            title: title.to_owned(),
            text: text.to_owned(),
            occurred_at: if kind == Kind::AvvisoWithdrawn {
                row.withdrawn_at.unwrap_or(row.publish_at)
            } else {
                row.publish_at
            },
            audience: Audience::PatronatoOffice {
                patronato: patronato.to_owned(),
                office: office.to_owned(),
                operator: String::new(),
            },
            webhook_data: None,
        }
    }

    /// One webhook per patronato (its active endpoints whose filter takes `kind`).
    async fn webhooks(
        &self,
        effects: &mut Effects<'_>,
        row: &Row,
        event_id: Uuid,
        kind: Kind,
        action: &str,
        mut patronati: Vec<String>,
    ) -> Result<(), HandleError> {
        patronati.sort();
        patronati.dedup();
        let (text, truncated) = match excerpt(&row.body, WEBHOOK_EXCERPT) {
            cut if cut.chars().count() < row.body.chars().count() => (cut, true),
            whole => (whole, false),
        };
        let files = super::files::of_version(effects.db(), row.id).await?;
        let data = json!({
            "event_id": event_id,
            "action": action,
            "avviso_id": row.id,
            "series_id": row.series_id,
            "version": row.version,
            "supersedes_id": row.supersedes,
            "title": row.title,
            "text": text,
            "text_truncated": truncated,
            "topic": row.topic,
            "priority": row.priority().as_str(),
            "audience": {
                "patronati": row.patronati,
                "scope": row.scope,
                "region_code": row.region_code,
                "province_codes": row.province_codes,
            },
            "publish_at": row.publish_at,
            "expires_at": row.expires_at,
            "publisher_office": row.publisher_office,
            "publisher_name": row.publisher_name,
            "withdrawn_reason": (action == "withdrawn").then_some(&row.withdrawn_reason),
            "files": files.iter().map(|file| json!({
                "id": file.id,
                "file_name": file.file_name,
                "media_type": file.media_type,
                "size_bytes": file.size_bytes,
                "sha256": file.sha256,
            })).collect::<Vec<_>>(),
            "link": format!("{}{}", self.avviso_url_base, row.id),
        });
        for patronato in &patronati {
            let notice = Notice {
                event_id,
                kind,
                request_id: None,
                avviso_id: Some(row.id),
                protocol_number: String::new(),
                title: row.title.clone(),
                text: String::new(),
                occurred_at: self.clock.now(),
                audience: Audience::Patronato(patronato.clone()),
                webhook_data: Some(data.clone()),
            };
            let queued = webhooks::queue::for_notice(
                effects.db(),
                &notice,
                patronato,
                &data,
                "",
                self.clock.now(),
            )
            .await?;
            metrics::counter!(NOTIFICATIONS, "channel" => "webhook", "outcome" => "queued")
                .increment(u64::try_from(queued).unwrap_or_default());
        }
        Ok(())
    }
}

/// The patronati (among `named`, or all when none is named) with an active endpoint.
async fn with_endpoints(
    connection: &mut PgConnection,
    named: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT patronato FROM webhook_endpoints
         WHERE status = 'active' AND (cardinality($1::text[]) = 0 OR patronato = ANY($1))",
    )
    .bind(named)
    .fetch_all(connection)
    .await
}

/// The notice's title and text, in Italian.
fn words(row: &Row, kind: Kind) -> (String, String) {
    let title = match kind {
        Kind::AvvisoWithdrawn => format!("Avviso ritirato: {}", row.title),
        _ if row.supersedes.is_some() => format!("Rettifica dell'avviso: {}", row.title),
        Kind::AvvisoImportante => format!("Avviso importante: {}", row.title),
        _ => format!("Avviso INPS: {}", row.title),
    };
    let text = match kind {
        Kind::AvvisoWithdrawn => format!(
            "{} ha ritirato l'avviso «{}»: {}",
            row.publisher_name, row.title, row.withdrawn_reason
        ),
        _ if row.supersedes.is_some() => format!(
            "{} ha corretto un avviso ({}). {}",
            row.publisher_name,
            row.correction_note,
            excerpt(&row.body, NOTICE_EXCERPT)
        ),
        _ => format!(
            "{}: {}",
            row.publisher_name,
            excerpt(&row.body, NOTICE_EXCERPT)
        ),
    };
    (title, text)
}
