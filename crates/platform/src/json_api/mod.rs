//! A service's gRPC operations, the same ones, as JSON over HTTP, with an OpenAPI document.
//!
//! Each route names the gRPC method it stands for; the request and response messages are
//! converted with the canonical protobuf JSON mapping (prost-reflect, from the descriptors
//! the proto crate embeds), so the two APIs cannot drift apart: the HTTP handler calls the
//! very method the gRPC server calls, with the same token check, and the OpenAPI document
//! is generated from the same descriptors.
//!
//! - Fields come from the JSON body, the query string and the path (in that order of
//!   precedence, the path last), under their proto names (`request_id`) or JSON names
//!   (`requestId`). Responses use the proto names and show every field, defaults included.
//! - A header can stand for a field (`Idempotency-Key` for `idempotency_key`): see
//!   [`JsonApi::header_field`].
//! - Refusals are `application/problem+json` (RFC 9457) with the gRPC status mapped to its
//!   HTTP code; validation errors are 422 with the list of field violations.
//! - Server-streaming methods are not offered over HTTP.

mod convert;
pub mod openapi;
mod problem;

use std::future::Future;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor, ServiceDescriptor};
use tonic::service::Interceptor as _;

use crate::auth::AuthInterceptor;
use crate::{ApiError, Violation};
pub use problem::{Problem, http_status};

/// A handler that calls the gRPC method `$method` of a shared API (`Arc<Api>`), for
/// [`JsonApi::route`]: `grpc_method!(api, claim)`.
#[macro_export]
macro_rules! grpc_method {
    ($api:expr, $method:ident) => {{
        let api = ::std::sync::Arc::clone(&$api);
        move |request| {
            let api = ::std::sync::Arc::clone(&api);
            async move { api.$method(request).await }
        }
    }};
}

/// The largest JSON body an operation reads.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// One HTTP operation, kept for the OpenAPI document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    pub path: String,
    pub rpc: MethodDescriptor,
}

/// Builds the HTTP routes of one gRPC service: see the module documentation.
pub struct JsonApi {
    service: ServiceDescriptor,
    auth: AuthInterceptor,
    router: axum::Router,
    operations: Vec<Operation>,
    header_fields: Vec<(&'static str, &'static str)>,
}

#[derive(Clone)]
struct Endpoint {
    input: MessageDescriptor,
    output: MessageDescriptor,
    auth: AuthInterceptor,
    /// Headers that fill a field of this operation's request.
    header_fields: Vec<(&'static str, &'static str)>,
}

impl JsonApi {
    /// `descriptors`: an encoded `FileDescriptorSet` holding `service` (its full name).
    pub fn new(descriptors: &[u8], service: &str, auth: AuthInterceptor) -> anyhow::Result<Self> {
        let pool = DescriptorPool::decode(descriptors)?;
        let service = pool
            .get_service_by_name(service)
            .ok_or_else(|| anyhow::anyhow!("no service {service} in the descriptors"))?;
        Ok(Self {
            service,
            auth,
            router: axum::Router::new(),
            operations: Vec::new(),
            header_fields: Vec::new(),
        })
    }

    /// Routes added after this call fill `field` (when their request has it) from the
    /// `header`, as HTTP conventions expect (`Idempotency-Key`).
    #[must_use]
    pub fn header_field(mut self, header: &'static str, field: &'static str) -> Self {
        self.header_fields.push((header, field));
        self
    }

    /// Serves the gRPC method `rpc` at `method path` by calling `call`, which is the gRPC
    /// service's own method (`|request| async move { api.claim(request).await }`).
    /// Path parameters (`/v1/items/{request_id}`) must be fields of the request message.
    pub fn route<Req, Resp, F, Fut>(
        mut self,
        method: Method,
        path: &str,
        rpc: &str,
        call: F,
    ) -> anyhow::Result<Self>
    where
        Req: prost::Message + Default + Send + 'static,
        Resp: prost::Message + Send + 'static,
        F: Fn(tonic::Request<Req>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'static,
    {
        let descriptor = self
            .service
            .methods()
            .find(|candidate| candidate.name() == rpc)
            .ok_or_else(|| anyhow::anyhow!("{} has no method {rpc}", self.service.name()))?;
        if descriptor.is_server_streaming() || descriptor.is_client_streaming() {
            anyhow::bail!("{rpc} streams: it is not offered over HTTP");
        }
        for parameter in path_parameters(path) {
            if descriptor.input().get_field_by_name(parameter).is_none() {
                anyhow::bail!("{path}: {parameter} is not a field of {rpc}'s request");
            }
        }
        let endpoint = Endpoint {
            input: descriptor.input(),
            output: descriptor.output(),
            auth: self.auth.clone(),
            header_fields: self
                .header_fields
                .iter()
                .copied()
                .filter(|(_, field)| descriptor.input().get_field_by_name(field).is_some())
                .collect(),
        };
        let handler = move |path: Result<Path<Vec<(String, String)>>, PathRejection>,
                            RawQuery(query): RawQuery,
                            headers: HeaderMap,
                            body: axum::body::Body| {
            let endpoint = endpoint.clone();
            let call = call.clone();
            async move {
                // A path segment that is not UTF-8 (percent-encoded bytes) is refused as any
                // bad input is, as problem+json after the token check, not axum's plain text.
                let path = path
                    .map(|Path(parameters)| parameters)
                    .map_err(|rejection| rejection.body_text());
                endpoint
                    .handle(call, path, query.unwrap_or_default(), headers, body)
                    .await
            }
        };
        let filter = MethodFilter::try_from(method.clone())
            .map_err(|error| anyhow::anyhow!("{method}: {error}"))?;
        self.router = self.router.route(path, on(filter, handler));
        self.operations.push(Operation {
            method,
            path: path.to_owned(),
            rpc: descriptor,
        });
        Ok(self)
    }

    /// The routes, with the OpenAPI document at `/openapi.json`; each call gets a server
    /// span that continues the caller's trace (`traceparent`).
    pub fn into_router(self, title: &str) -> axum::Router {
        self.into_router_at(title, "/openapi.json")
    }

    /// [`Self::into_router`] with the document at `document_path` (for a second service on
    /// the same port).
    pub fn into_router_at(self, title: &str, document_path: &str) -> axum::Router {
        let document = openapi::document(title, &self.service, &self.operations);
        self.router
            .route(
                document_path,
                axum::routing::get(move || {
                    let document = document.clone();
                    async move { axum::Json(document) }
                }),
            )
            .layer(
                tower_http::trace::TraceLayer::new_for_http()
                    .make_span_with(HttpMakeSpan)
                    .on_response(HttpOnResponse),
            )
            // A 5 MB file travels as base64 in JSON: about 6.7 MB.
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
    }
}

/// A server span per HTTP call, with the HTTP semantic conventions and the route template.
#[derive(Debug, Clone, Copy)]
struct HttpMakeSpan;

impl<B> tower_http::trace::MakeSpan<B> for HttpMakeSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> tracing::Span {
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or_else(
                || request.uri().path().to_owned(),
                |path| path.as_str().to_owned(),
            );
        let span = tracing::info_span!(
            "http",
            otel.name = format!("{} {route}", request.method()),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.request.method = %request.method(),
            http.route = route,
            url.path = request.uri().path(),
            http.response.status_code = tracing::field::Empty,
        );
        crate::propagation::set_parent_from_carrier(
            &span,
            &crate::propagation::carrier_from_headers(request.headers()),
        );
        span
    }
}

#[derive(Debug, Clone, Copy)]
struct HttpOnResponse;

impl<B> tower_http::trace::OnResponse<B> for HttpOnResponse {
    fn on_response(
        self,
        response: &axum::http::Response<B>,
        latency: std::time::Duration,
        span: &tracing::Span,
    ) {
        let status = response.status().as_u16();
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
        tracing::debug!(parent: span, duration_ms = latency.as_millis(), status, "http call finished");
    }
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|segment| {
        segment
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
    })
}

impl Endpoint {
    async fn handle<Req, Resp, F, Fut>(
        &self,
        call: F,
        path: Result<Vec<(String, String)>, String>,
        query: String,
        headers: HeaderMap,
        body: axum::body::Body,
    ) -> Response
    where
        Req: prost::Message + Default,
        Resp: prost::Message,
        F: Fn(tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        // The same metadata a gRPC call carries (the token, the trace context), through the
        // same token check.
        let (mut fields, bad_path) = match path {
            Ok(fields) => (fields, None),
            Err(reason) => (Vec::new(), Some(reason)),
        };
        for (header, field) in &self.header_fields {
            if let Some(value) = headers.get(*header).and_then(|value| value.to_str().ok()) {
                fields.push(((*field).to_owned(), value.to_owned()));
            }
        }
        let italian = crate::italian::wants_italian(&headers);
        let refusal = |status: tonic::Status| {
            let status = if italian {
                crate::italian::status(&status)
            } else {
                status
            };
            Problem::from_status(&status).into_response()
        };
        let mut auth = self.auth.clone();
        let checked = match auth.call(tonic::Request::from_parts(
            tonic::metadata::MetadataMap::from_headers(headers),
            Default::default(),
            (),
        )) {
            Ok(checked) => checked,
            Err(status) => return refusal(status),
        };
        let (metadata, extensions, ()) = checked.into_parts();
        if let Some(reason) = bad_path {
            return refusal(ApiError::InvalidArgument(vec![Violation::new("path", reason)]).into());
        }
        // The body is read only for a caller whose token holds: nobody without one makes the
        // service read (and hold) megabytes.
        let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(_) => {
                return Problem::too_large(format!(
                    "the body is larger than {} MB, or was cut off",
                    MAX_BODY_BYTES / (1024 * 1024)
                ))
                .into_response();
            }
        };
        let message: Req = match convert::request(&self.input, &body, &query, &fields) {
            Ok(message) => message,
            Err(problem) => return (*problem).into_response(),
        };
        match call(tonic::Request::from_parts(metadata, extensions, message)).await {
            Ok(response) => match convert::response(&self.output, &response.into_inner()) {
                Ok(json) => axum::Json(json).into_response(),
                Err(problem) => (*problem).into_response(),
            },
            Err(status) => refusal(status),
        }
    }
}
