use combipat_proto::events::v1::Envelope;
use combipat_proto::events::v1::envelope::Payload;

/// Version of the envelope schema this code writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A new envelope with a fresh time-ordered id, stamped now, changing no shared state
/// (sequence 0); see [`sequenced_envelope`] for the steps of a request's lifecycle.
pub fn new_envelope(producer: &str, request_id: &str, payload: Payload) -> Envelope {
    sequenced_envelope(producer, request_id, 0, payload)
}

/// A new envelope for a step of the request's lifecycle, at position `sequence` (see the
/// envelope's `sequence` field).
pub fn sequenced_envelope(
    producer: &str,
    request_id: &str,
    sequence: u64,
    payload: Payload,
) -> Envelope {
    Envelope {
        sequence,
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: payload.event_type().to_owned(),
        schema_version: SCHEMA_VERSION,
        occurred_at: Some(crate::time::timestamp_now()),
        request_id: request_id.to_owned(),
        producer: producer.to_owned(),
        payload: Some(payload),
    }
}

/// Every event type (routing key) the services publish.
pub const EVENT_TYPES: &[&str] = &[
    "request.submitted",
    "request.routed",
    "request.unroutable",
    "request.answered",
    "request.closed",
    "request.info_requested",
    "request.info_provided",
    "request.transferred",
    "request.sollecito",
    "request.sla_changed",
    "request.rated",
    "reminder.due",
    "calendar.changed",
];

/// Routing keys, one per payload variant: the catalogue in one place.
pub trait EnvelopeExt {
    fn event_type(&self) -> &'static str;
}

impl EnvelopeExt for Payload {
    fn event_type(&self) -> &'static str {
        match self {
            Payload::RequestSubmitted(_) => "request.submitted",
            Payload::RequestRouted(_) => "request.routed",
            Payload::RequestUnroutable(_) => "request.unroutable",
            Payload::RequestAnswered(_) => "request.answered",
            Payload::RequestClosed(_) => "request.closed",
            Payload::RequestInfoRequested(_) => "request.info_requested",
            Payload::RequestInfoProvided(_) => "request.info_provided",
            Payload::RequestTransferred(_) => "request.transferred",
            Payload::RequestSollecito(_) => "request.sollecito",
            Payload::RequestSlaChanged(_) => "request.sla_changed",
            Payload::RequestRated(_) => "request.rated",
            Payload::ReminderDue(_) => "reminder.due",
            Payload::CalendarChanged(_) => "calendar.changed",
        }
    }
}
