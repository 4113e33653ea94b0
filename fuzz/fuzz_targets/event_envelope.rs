//! An AMQP delivery as a consumer receives it, up to the moment the platform hands it to a
//! handler: the message properties (headers: trace context, attempt count, first failure,
//! error, stream offset), the span's parent from `traceparent`, the body decoded as a
//! `combipat.events.v1.Envelope`, and `Event::parse` (ids, time, payload).
//!
//! Input: two bytes (big-endian) giving the length of the AMQP basic properties as on the
//! wire, those properties, then the body. Properties that do not parse are left empty, so
//! that the body is fuzzed either way.
//!
//! Properties: a decoded envelope re-encodes to bytes that decode to an equal message, and
//! encoding is then a fixpoint; an event the platform accepts keeps the envelope's id,
//! request id, sequence, producer and payload, its time is a valid protobuf Timestamp that
//! converts back to the one sent. (That its type is its payload's is not checked by the
//! platform: see the known gap at the end and in fuzz/README.md.)
#![no_main]

use std::sync::Once;

use combipat_platform::handler::Event;
use combipat_platform::messaging::{
    ATTEMPT_HEADER, ERROR_HEADER, EnvelopeExt as _, FIRST_FAILURE_HEADER, SOURCE_QUEUE_HEADER,
    header_text, header_u64, message_id,
};
use combipat_platform::propagation::{carrier_from_amqp, set_parent_from_carrier};
use combipat_platform::time::to_timestamp;
use combipat_proto::events::v1::Envelope;
use lapin::message::Delivery;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of google.protobuf.Timestamp.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

static SETUP: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    SETUP.call_once(|| {
        // As every service process does (telemetry.rs), so that `traceparent` is parsed.
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
    });
    let (properties, body) = match data {
        [high, low, rest @ ..] => {
            let length = usize::from(u16::from_be_bytes([*high, *low])).min(rest.len());
            rest.split_at(length)
        }
        _ => (&[][..], data),
    };
    let mut delivery = Delivery::mock(
        1,
        "combipat.events".into(),
        "request.submitted".into(),
        false,
        body.to_vec(),
    );
    if let Ok((_, parsed)) = lapin::protocol::basic::parse_properties(properties) {
        delivery.properties = parsed;
    }
    delivered(&delivery);
});

fn delivered(delivery: &Delivery) {
    // What the consumer reads before and around the handler.
    let _message_id = message_id(delivery);
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    for key in [ATTEMPT_HEADER, FIRST_FAILURE_HEADER, "x-stream-offset"] {
        let _number = header_u64(&headers, key);
    }
    for key in [ERROR_HEADER, SOURCE_QUEUE_HEADER] {
        let _text = header_text(&headers, key);
    }
    let carrier = carrier_from_amqp(delivery.properties.headers().as_ref());
    let span = tracing::info_span!("process");
    set_parent_from_carrier(&span, &carrier);

    let Ok(envelope) = Envelope::decode(delivery.data.as_slice()) else {
        return;
    };
    let encoded = envelope.encode_to_vec();
    assert_eq!(encoded.len(), envelope.encoded_len());
    let again = Envelope::decode(encoded.as_slice()).expect("a re-encoded envelope decodes");
    assert_eq!(again, envelope, "the envelope does not survive re-encoding");
    assert_eq!(again.encode_to_vec(), encoded, "encoding is not a fixpoint");

    let Ok(event) = Event::parse(&envelope) else {
        return;
    };
    assert_eq!(
        event.id.to_string(),
        uuid::Uuid::parse_str(&envelope.event_id)
            .map(|id| id.to_string())
            .unwrap_or_default()
    );
    assert_eq!(
        event.request_id.map(|id| id.to_string()),
        (!envelope.request_id.is_empty())
            .then(|| uuid::Uuid::parse_str(&envelope.request_id)
                .ok()
                .map(|id| id.to_string()))
            .flatten()
    );
    assert_eq!(event.sequence, envelope.sequence);
    assert_eq!(event.producer, envelope.producer);
    assert_eq!(Some(&event.payload), envelope.payload.as_ref());
    let sent = envelope.occurred_at.expect("an accepted event has a time");
    assert!(
        (0..1_000_000_000).contains(&sent.nanos)
            && (MIN_SECONDS..=MAX_SECONDS).contains(&sent.seconds),
        "accepted a time that is not a valid protobuf Timestamp: {sent:?}"
    );
    assert_eq!(to_timestamp(event.occurred_at), sent);
    // Not asserted, a known gap (fuzz/README.md): `Event::parse` does not compare the
    // envelope's type (the routing key) with its payload's, so `request.submitted` carrying
    // a RequestClosed is accepted. Our producers always agree (`sequenced_envelope`).
    let _agrees = event.event_type == event.payload.event_type();
}
