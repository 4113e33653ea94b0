//! From an event to what it tells of its request (a fact that knows that one thing), to be
//! merged into what is known. An event that cannot be read the same way every time (no
//! time, no sequence where a step needs one, a rating outside 1-5) is refused for good: the
//! stream reader records it and goes past it.

use combipat_platform::handler::Event;
use combipat_platform::messaging::HandleError;
use combipat_platform::time::from_timestamp;
use combipat_proto::common::v1::{OfficeRef, RequestSummary};
use combipat_proto::events::v1::SlaClock;
use combipat_proto::events::v1::envelope::Payload;

use crate::model::facts::{Fact, FirstAnswer, OfficeAt, Rating, Summary};
use crate::places::Places;

fn summary(
    request: Option<&RequestSummary>,
    event: &Event,
    places: &Places,
) -> Result<Summary, HandleError> {
    let request = request.ok_or_else(|| {
        HandleError::permanent(format!("{} without its request summary", event.event_type))
    })?;
    let submitted_at = from_timestamp(request.submitted_at.as_ref()).ok_or_else(|| {
        HandleError::permanent(format!(
            "{}: request.submitted_at is missing or invalid",
            event.event_type
        ))
    })?;
    let (region, province) = places.of(&request.comune_residenza);
    Ok(Summary {
        submitted_at,
        region,
        province,
        patronato: request
            .filer
            .as_ref()
            .map(|filer| filer.patronato.clone())
            .unwrap_or_default(),
        motivo: i16::try_from(request.motivo).unwrap_or_default(),
        topic: request.topic.clone(),
    })
}

fn office_at(
    office: Option<&OfficeRef>,
    event: &Event,
    field: &str,
) -> Result<OfficeAt, HandleError> {
    let office = office
        .filter(|office| !office.code.is_empty())
        .ok_or_else(|| {
            HandleError::permanent(format!("{}: {field} is missing", event.event_type))
        })?;
    Ok(OfficeAt {
        seq: event.sequence,
        code: office.code.clone(),
        patron_day: office.patron_day.clone(),
    })
}

/// A step of the request's life must say where it stands in it.
fn sequence(event: &Event) -> Result<u64, HandleError> {
    if event.sequence == 0 {
        return Err(HandleError::permanent(format!(
            "{} without a sequence",
            event.event_type
        )));
    }
    Ok(event.sequence)
}

/// What `event` tells of its request; None for the events reporting does not count.
pub fn patch(event: &Event, places: &Places) -> Result<Option<Fact>, HandleError> {
    let mut fact = Fact::default();
    match &event.payload {
        Payload::RequestSubmitted(submitted) => {
            fact.summary = Some(summary(submitted.request.as_ref(), event, places)?);
        }
        Payload::RequestRouted(routed) => {
            fact.summary = Some(summary(routed.request.as_ref(), event, places)?);
            fact.office = Some(office_at(routed.office.as_ref(), event, "office")?);
        }
        Payload::RequestUnroutable(unroutable) => {
            fact.summary = Some(summary(unroutable.request.as_ref(), event, places)?);
            fact.office = Some(office_at(
                unroutable.fallback_office.as_ref(),
                event,
                "fallback_office",
            )?);
            fact.unroutable = true;
        }
        Payload::RequestTransferred(transferred) => {
            let seq = sequence(event)?;
            fact.office = Some(office_at(
                transferred.to_office.as_ref(),
                event,
                "to_office",
            )?);
            fact.detail.transfers.insert(seq);
        }
        Payload::RequestAnswered(answered) => {
            let at = from_timestamp(answered.answered_at.as_ref()).ok_or_else(|| {
                HandleError::permanent("request.answered: answered_at is missing or invalid")
            })?;
            fact.first_answer = Some(FirstAnswer {
                at,
                seq: sequence(event)?,
                office: answered
                    .office
                    .as_ref()
                    .map(|office| office.code.clone())
                    .unwrap_or_default(),
            });
        }
        Payload::RequestClosed(_) => fact.closed_at = Some(event.occurred_at),
        Payload::RequestInfoRequested(_) => {
            fact.detail.info_requests.insert(sequence(event)?);
        }
        Payload::RequestSollecito(sollecito) => fact.solleciti = sollecito.count,
        Payload::RequestSlaChanged(changed) => {
            let seq = sequence(event)?;
            // The clock's office is the request's office at that step (with its calendar).
            fact.office = Some(office_at(changed.office.as_ref(), event, "office")?);
            if changed.clock == SlaClock::Running as i32 {
                let due = from_timestamp(changed.due_at.as_ref()).ok_or_else(|| {
                    HandleError::permanent("request.sla_changed: a running clock without due_at")
                })?;
                fact.detail.deadlines.insert(seq, due);
            }
        }
        Payload::RequestRated(rated) => {
            let value = u8::try_from(rated.rating)
                .ok()
                .filter(|value| (1..=5).contains(value))
                .ok_or_else(|| {
                    HandleError::permanent(format!(
                        "request.rated: rating {} is not 1 to 5",
                        rated.rating
                    ))
                })?;
            fact.detail.ratings.insert(
                rated.answer_number,
                Rating {
                    at: event.occurred_at,
                    value,
                    office: rated
                        .office
                        .as_ref()
                        .map(|office| office.code.clone())
                        .unwrap_or_default(),
                },
            );
        }
        Payload::RequestInfoProvided(_) | Payload::ReminderDue(_) | Payload::CalendarChanged(_) => {
            return Ok(None);
        }
    }
    if event.request_id.is_none() {
        return Err(HandleError::permanent(format!(
            "{} without a request id",
            event.event_type
        )));
    }
    Ok(Some(fact))
}

/// The offices an event describes in full (name, kind, region), for the tables' labels.
pub fn described_offices(payload: &Payload) -> Vec<&OfficeRef> {
    let offices: Vec<Option<&OfficeRef>> = match payload {
        Payload::RequestRouted(routed) => vec![routed.office.as_ref()],
        Payload::RequestUnroutable(unroutable) => vec![unroutable.fallback_office.as_ref()],
        Payload::RequestTransferred(transferred) => vec![transferred.to_office.as_ref()],
        Payload::RequestSlaChanged(changed) => vec![changed.office.as_ref()],
        _ => Vec::new(),
    };
    offices
        .into_iter()
        .flatten()
        .filter(|office| !office.code.is_empty() && !office.name.is_empty())
        .collect()
}
