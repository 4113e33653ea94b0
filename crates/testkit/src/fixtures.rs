//! Sample requests and events, as intake would announce them.

use combipat_platform::messaging::new_envelope;
use combipat_platform::time::timestamp_now;
use combipat_proto::common::v1::{Filer, Motivo, RequestSummary};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{Envelope, RequestSubmitted};

/// A request with a fresh id, filed by INCA's office INCA-MI-01 for a citizen resident in
/// `comune`, about `topic`.
pub fn request_summary(comune: &str, topic: &str, protocol_number: &str) -> RequestSummary {
    RequestSummary {
        request_id: uuid::Uuid::now_v7().to_string(),
        protocol_number: protocol_number.to_owned(),
        motivo: Motivo::RichiestaGenerica as i32,
        codice_fiscale: "RSSMRA85T10A562S".to_owned(),
        comune_residenza: comune.to_owned(),
        topic: topic.to_owned(),
        subject: "Richiesta di informazioni".to_owned(),
        filer: Some(Filer {
            patronato: "INCA".to_owned(),
            patronato_office: "INCA-MI-01".to_owned(),
            operator_id: "op-1".to_owned(),
        }),
        submitted_at: Some(timestamp_now()),
        attachments: Vec::new(),
        pratica_protocol_number: String::new(),
        body: "Il cittadino chiede lo stato della domanda.".to_owned(),
    }
}

/// `request.submitted` for `request`, as intake publishes it.
pub fn submitted_event(request: RequestSummary) -> Envelope {
    let request_id = request.request_id.clone();
    new_envelope(
        "intake",
        &request_id,
        Payload::RequestSubmitted(RequestSubmitted {
            request: Some(request),
        }),
    )
}
