//! W3C trace context across process boundaries: gRPC metadata, HTTP headers, AMQP headers,
//! and the outbox row that sits between a transaction and its publication.
//!
//! The carrier is a plain map (`traceparent`, `tracestate`), which is what the outbox stores.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// A serialisable trace-context carrier.
pub type Carrier = BTreeMap<String, String>;

struct MapInjector<'a>(&'a mut Carrier);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a Carrier);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The trace context of the current `tracing` span.
pub fn current_carrier() -> Carrier {
    let context = tracing::Span::current().context();
    let mut carrier = Carrier::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MapInjector(&mut carrier));
    });
    carrier
}

/// Makes `span` a child of the context in `carrier` (no-op when the carrier is empty).
pub fn set_parent_from_carrier(span: &tracing::Span, carrier: &Carrier) {
    if carrier.is_empty() {
        return;
    }
    let context = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&MapExtractor(carrier))
    });
    // An error only means the span is disabled (no subscriber wants it): nothing to link.
    let _ignored = span.set_parent(context);
}

/// Reads the trace context from HTTP/2 headers (gRPC metadata travels as headers).
pub fn carrier_from_headers(headers: &http::HeaderMap) -> Carrier {
    ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|key| {
            let value = headers.get(key)?.to_str().ok()?;
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Writes the current trace context into outgoing gRPC metadata.
pub fn inject_into_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    for (key, value) in current_carrier() {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            metadata.insert(key, value);
        }
    }
}

/// A tonic client interceptor that carries the caller's trace into the called service.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_into_metadata(request.metadata_mut());
        Ok(request)
    }
}

/// AMQP headers -> carrier.
pub fn carrier_from_amqp(headers: Option<&lapin::types::FieldTable>) -> Carrier {
    let Some(headers) = headers else {
        return Carrier::new();
    };
    ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|key| {
            let value = headers.inner().get(key)?;
            let text = match value {
                lapin::types::AMQPValue::LongString(text) => text.to_string(),
                lapin::types::AMQPValue::ShortString(text) => text.to_string(),
                _ => return None,
            };
            Some((key.to_owned(), text))
        })
        .collect()
}

/// Carrier -> AMQP headers (merged into `headers`).
pub fn carrier_into_amqp(carrier: &Carrier, headers: &mut lapin::types::FieldTable) {
    for (key, value) in carrier {
        headers.insert(
            key.as_str().into(),
            lapin::types::AMQPValue::LongString(value.as_str().into()),
        );
    }
}
