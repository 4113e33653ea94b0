//! The consumer of `notifier.events`, on the platform's transactional handler: each event
//! becomes its notices (one per audience), written to every channel in the transaction that
//! records the event in the inbox, so a redelivered event notifies nobody twice.
//!
//! Router's decisions teach notifier who filed each request; the office's events carry no
//! filer, so one for a request not known yet is transient: it comes back after the retry
//! delay, by when the decision has arrived. They also teach where the filing patronato office
//! is, for the avvisi (`avvisi/offices.rs`).

use combipat_platform::handler::{Effects, Event, TransactionalHandler};
use combipat_platform::messaging::HandleError;
use combipat_platform::time::from_timestamp;
use combipat_proto::common::v1::{AttachmentRef, OfficeRef, RequestSummary};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{ReminderDue, ReminderKind};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fanout::Fanout;
use crate::notice::{Audience, Kind, Notice, excerpt, rome};
use crate::requests::{self, KnownRequest};

pub use combipat_platform::messaging::catalogue::NOTIFIER_EVENTS as QUEUE;

/// Characters of an answer or a question shown in the inbox (the whole text is in intake).
const INBOX_EXCERPT: usize = 500;

pub struct EventHandler {
    pub fanout: Fanout,
}

impl TransactionalHandler for EventHandler {
    const CONSUMER: &'static str = crate::SERVICE_NAME;

    async fn apply(&self, effects: &mut Effects<'_>, event: &Event) -> Result<(), HandleError> {
        let notices = notices(effects, event).await?;
        for notice in &notices {
            self.fanout.send(effects, notice).await?;
        }
        Ok(())
    }

    /// The patronato offices whose sightings the batch counts (`avvisi/offices.rs`), locked
    /// at once and in one order: two batches counting the same offices in different orders
    /// would otherwise deadlock on their rows.
    async fn before_batch(
        &self,
        effects: &mut Effects<'_>,
        events: &[&Event],
    ) -> Result<(), HandleError> {
        let offices: Vec<(String, i64)> = events
            .iter()
            .filter_map(|event| {
                let summary = match &event.payload {
                    Payload::RequestRouted(routed) => routed.request.as_ref(),
                    Payload::RequestUnroutable(unroutable) => unroutable.request.as_ref(),
                    _ => None,
                }?;
                let office = summary.filer.as_ref()?.patronato_office.clone();
                Some((office, crate::avvisi::offices::SIGHTINGS_LOCK_SEED))
            })
            .collect();
        combipat_platform::db::advisory_locks(effects.db(), &offices).await?;
        Ok(())
    }
}

/// The notices `event` gives, one per audience.
async fn notices(effects: &mut Effects<'_>, event: &Event) -> Result<Vec<Notice>, HandleError> {
    let request_id = event.request_id()?;
    match &event.payload {
        Payload::RequestRouted(routed) => {
            let (summary, office) = decision(routed.request.as_ref(), routed.office.as_ref())?;
            let known = remember(effects, event, summary, office).await?;
            Ok(vec![patronato_notice(
                event,
                &known,
                Kind::Routed,
                format!("Richiesta {} assegnata alla sede", known.protocol_number),
                format!(
                    "La richiesta {} è stata assegnata a {} ({}).",
                    known.protocol_number, office.name, office.code
                ),
                json!({ "office": office_json(office) }),
            )])
        }
        Payload::RequestUnroutable(unroutable) => {
            let (summary, office) = decision(
                unroutable.request.as_ref(),
                unroutable.fallback_office.as_ref(),
            )?;
            let known = remember(effects, event, summary, office).await?;
            Ok(vec![patronato_notice(
                event,
                &known,
                Kind::Unroutable,
                format!(
                    "Richiesta {} in attesa di assegnazione",
                    known.protocol_number
                ),
                format!(
                    "Nessuna regola indica la sede competente: la richiesta {} è nella coda di {} ({}), che la assegnerà.",
                    known.protocol_number, office.name, office.code
                ),
                json!({ "fallback_office": office_json(office) }),
            )])
        }
        Payload::RequestInfoRequested(asked) => {
            let known = known(effects, request_id).await?;
            let office = office_name(asked.office.as_ref(), &known);
            Ok(vec![patronato_notice(
                event,
                &known,
                Kind::InfoRequested,
                format!(
                    "La sede chiede informazioni sulla richiesta {}",
                    known.protocol_number
                ),
                format!(
                    "{office} chiede: «{}». Rispondi dalla pagina della richiesta.",
                    excerpt(&asked.question, INBOX_EXCERPT)
                ),
                json!({
                    "office": asked.office.as_ref().map(office_json),
                    "question": asked.question,
                    "attachments": attachments(&asked.attachments),
                }),
            )])
        }
        Payload::RequestAnswered(answered) => {
            let known = known(effects, request_id).await?;
            let office = office_name(answered.office.as_ref(), &known);
            Ok(vec![patronato_notice(
                event,
                &known,
                Kind::Answered,
                format!(
                    "Risposta della sede alla richiesta {}",
                    known.protocol_number
                ),
                format!(
                    "{office} ha risposto: «{}»",
                    excerpt(&answered.answer, INBOX_EXCERPT)
                ),
                json!({
                    "office": answered.office.as_ref().map(office_json),
                    "answer": answered.answer,
                    "answered_at": from_timestamp(answered.answered_at.as_ref()),
                    "attachments": attachments(&answered.attachments),
                }),
            )])
        }
        Payload::RequestTransferred(transferred) => {
            let known = known(effects, request_id).await?;
            let to = transferred
                .to_office
                .as_ref()
                .ok_or_else(|| HandleError::permanent("request.transferred without to_office"))?;
            requests::move_to(effects.db(), request_id, &to.code).await?;
            let from = transferred
                .from_office
                .as_ref()
                .map_or(known.office_code.clone(), |office| office.code.clone());
            // The official's reason stays with the offices: the patronato reads where it went.
            Ok(vec![patronato_notice(
                event,
                &known,
                Kind::Transferred,
                format!(
                    "Richiesta {} trasferita ad altra sede",
                    known.protocol_number
                ),
                format!(
                    "La richiesta {} è passata da {from} a {} ({}).",
                    known.protocol_number, to.name, to.code
                ),
                json!({
                    "from_office": transferred.from_office.as_ref().map(office_json),
                    "to_office": office_json(to),
                }),
            )])
        }
        Payload::RequestClosed(closed) => {
            let known = known(effects, request_id).await?;
            let office = office_name(closed.office.as_ref(), &known);
            Ok(vec![patronato_notice(
                event,
                &known,
                Kind::Closed,
                format!("Richiesta {} chiusa", known.protocol_number),
                format!("{office} ha chiuso la richiesta {}.", known.protocol_number),
                json!({ "office": closed.office.as_ref().map(office_json) }),
            )])
        }
        Payload::ReminderDue(due) => reminder(effects, event, request_id, due).await,
        _ => Err(event.unexpected()),
    }
}

async fn reminder(
    effects: &mut Effects<'_>,
    event: &Event,
    request_id: Uuid,
    due: &ReminderDue,
) -> Result<Vec<Notice>, HandleError> {
    let kind = ReminderKind::try_from(due.kind).map_err(|_| {
        HandleError::permanent(format!("reminder.due with unknown kind {}", due.kind))
    })?;
    let office = due.office.as_ref();
    let office_code = office.map(|office| office.code.clone()).unwrap_or_default();
    let deadline = from_timestamp(due.deadline.as_ref())
        .map(rome)
        .unwrap_or_default();
    let protocol = &due.protocol_number;
    let inps = |kind: Kind, audience: Audience, title: String, text: String| Notice {
        event_id: event.id,
        kind,
        request_id: Some(request_id),
        avviso_id: None,
        protocol_number: protocol.clone(),
        title,
        text,
        occurred_at: event.occurred_at,
        audience,
        webhook_data: None,
    };
    let need_office = || {
        if office_code.is_empty() {
            Err(HandleError::permanent("an SLA reminder without its office"))
        } else {
            Ok(())
        }
    };
    match kind {
        ReminderKind::ReminderSollecitoPossible => {
            let known = match due
                .filer
                .as_ref()
                .filter(|filer| !filer.patronato_office.is_empty())
            {
                Some(filer) => KnownRequest {
                    request_id,
                    protocol_number: protocol.clone(),
                    patronato: filer.patronato.clone(),
                    patronato_office: filer.patronato_office.clone(),
                    operator_id: filer.operator_id.clone(),
                    office_code: office_code.clone(),
                },
                None => known(effects, request_id).await?,
            };
            Ok(vec![patronato_notice(
                event,
                &known,
                Kind::SollecitoPossible,
                format!(
                    "Sollecito possibile per la richiesta {}",
                    known.protocol_number
                ),
                format!(
                    "La sede non ha ancora risposto alla richiesta {}: puoi inviare un sollecito ({}).",
                    known.protocol_number, due.explanation
                ),
                json!({ "explanation": due.explanation, "due_at": from_timestamp(due.due_at.as_ref()) }),
            )])
        }
        ReminderKind::ReminderSlaWarning => {
            need_office()?;
            Ok(vec![inps(
                Kind::SlaWarning,
                Audience::InpsOffice(office_code.clone()),
                format!("Scadenza vicina: richiesta {protocol}"),
                format!("La risposta alla richiesta {protocol} è dovuta entro il {deadline}."),
            )])
        }
        ReminderKind::ReminderSlaOverdue => {
            need_office()?;
            Ok(vec![inps(
                Kind::SlaOverdue,
                Audience::InpsResponsabile(office_code.clone()),
                format!("Scadenza superata: richiesta {protocol}"),
                format!(
                    "La richiesta {protocol} presso {office_code} non ha risposta: era dovuta entro il {deadline}."
                ),
            )])
        }
        ReminderKind::ReminderSlaEscalation => {
            if due.escalate_to.is_empty() {
                return Err(HandleError::permanent("an escalation without escalate_to"));
            }
            Ok(vec![inps(
                Kind::SlaEscalation,
                Audience::InpsOffice(due.escalate_to.clone()),
                format!("Richiesta {protocol} in ritardo presso {office_code}"),
                format!(
                    "La richiesta {protocol} presso {office_code} è oltre la scadenza del {deadline}. {}",
                    due.explanation
                ),
            )])
        }
        ReminderKind::Unspecified => Err(HandleError::permanent("reminder.due without a kind")),
    }
}

fn decision<'a>(
    request: Option<&'a RequestSummary>,
    office: Option<&'a OfficeRef>,
) -> Result<(&'a RequestSummary, &'a OfficeRef), HandleError> {
    Ok((
        request.ok_or_else(|| HandleError::permanent("a routing decision without its request"))?,
        office.ok_or_else(|| HandleError::permanent("a routing decision without its office"))?,
    ))
}

async fn remember(
    effects: &mut Effects<'_>,
    event: &Event,
    summary: &RequestSummary,
    office: &OfficeRef,
) -> Result<KnownRequest, HandleError> {
    let filer = summary
        .filer
        .as_ref()
        .filter(|filer| !filer.patronato.is_empty() && !filer.patronato_office.is_empty())
        .ok_or_else(|| HandleError::permanent("a routing decision without the request's filer"))?;
    let known = KnownRequest {
        request_id: event.request_id()?,
        protocol_number: summary.protocol_number.clone(),
        patronato: filer.patronato.clone(),
        patronato_office: filer.patronato_office.clone(),
        operator_id: filer.operator_id.clone(),
        office_code: office.code.clone(),
    };
    if requests::remember(effects.db(), &known, event.occurred_at).await? {
        crate::avvisi::offices::learn(
            effects.db(),
            &known.patronato,
            &known.patronato_office,
            office,
            event.occurred_at,
        )
        .await?;
    }
    Ok(known)
}

async fn known(effects: &mut Effects<'_>, request_id: Uuid) -> Result<KnownRequest, HandleError> {
    requests::find(effects.db(), request_id)
        .await?
        .ok_or_else(|| {
            HandleError::transient(anyhow::anyhow!(
                "request {request_id} is not known yet (its routing decision has not arrived)"
            ))
        })
}

fn patronato_notice(
    event: &Event,
    known: &KnownRequest,
    kind: Kind,
    title: String,
    text: String,
    details: Value,
) -> Notice {
    let mut data = json!({
        "event_id": event.id,
        "request_id": known.request_id,
        "protocol_number": known.protocol_number,
        "patronato_office": known.patronato_office,
        "operator_id": known.operator_id,
        "occurred_at": event.occurred_at,
    });
    if let (Value::Object(data), Value::Object(details)) = (&mut data, details) {
        data.extend(details);
    }
    Notice {
        event_id: event.id,
        kind,
        request_id: Some(known.request_id),
        avviso_id: None,
        protocol_number: known.protocol_number.clone(),
        title,
        text,
        occurred_at: event.occurred_at,
        audience: Audience::PatronatoOffice {
            patronato: known.patronato.clone(),
            office: known.patronato_office.clone(),
            operator: known.operator_id.clone(),
        },
        webhook_data: Some(data),
    }
}

fn office_name(office: Option<&OfficeRef>, known: &KnownRequest) -> String {
    match office {
        Some(office) if !office.name.is_empty() => format!("La sede {}", office.name),
        Some(office) => format!("La sede {}", office.code),
        None => format!("La sede {}", known.office_code),
    }
}

fn office_json(office: &OfficeRef) -> Value {
    json!({ "code": office.code, "name": office.name })
}

/// The patronato sees which files came, by reference (never the store's keys).
fn attachments(files: &[AttachmentRef]) -> Value {
    files
        .iter()
        .map(|file| {
            json!({
                "id": file.id,
                "file_name": file.file_name,
                "media_type": file.media_type,
                "size_bytes": file.size_bytes,
                "sha256": file.sha256,
            })
        })
        .collect()
}
