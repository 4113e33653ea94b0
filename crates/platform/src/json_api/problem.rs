//! Refusals over HTTP: `application/problem+json` (RFC 9457), carrying what the gRPC status
//! carries: the message, and for invalid arguments the list of field violations.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::error::Violation;

/// The HTTP status of a gRPC status code: one mapping for every service.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument => StatusCode::UNPROCESSABLE_ENTITY,
        Code::OutOfRange | Code::Cancelled => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        // A state conflict: someone changed the item, it is held, it already exists.
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Internal | Code::Unknown | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The canonical name of a gRPC code, e.g. `FAILED_PRECONDITION`.
fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (index, letter) in format!("{code:?}").chars().enumerate() {
        if letter.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(letter.to_ascii_uppercase());
    }
    name
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    #[serde(rename = "status")]
    pub status_code: u16,
    pub detail: String,
    /// The gRPC status code name, for clients that speak both.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    #[serde(skip)]
    pub retry_after_seconds: Option<u64>,
}

impl Problem {
    fn new(code: Code, detail: String, violations: Vec<Violation>) -> Self {
        let status = http_status(code);
        Self {
            status,
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status_code: status.as_u16(),
            detail,
            code: code_name(code),
            violations,
            retry_after_seconds: None,
        }
    }

    pub fn bad_request(detail: String) -> Self {
        let mut problem = Self::new(Code::OutOfRange, detail, Vec::new());
        problem.code = code_name(Code::InvalidArgument);
        problem
    }

    /// 413: a body over the limit.
    pub fn too_large(detail: String) -> Self {
        let mut problem = Self::new(Code::OutOfRange, detail, Vec::new());
        problem.status = StatusCode::PAYLOAD_TOO_LARGE;
        problem.status_code = StatusCode::PAYLOAD_TOO_LARGE.as_u16();
        problem.title = "Payload Too Large".to_owned();
        problem.code = code_name(Code::InvalidArgument);
        problem
    }

    pub fn invalid(violations: Vec<Violation>) -> Self {
        let detail = violations
            .iter()
            .map(|violation| format!("{}: {}", violation.field, violation.reason))
            .collect::<Vec<_>>()
            .join("; ");
        Self::new(Code::InvalidArgument, detail, violations)
    }

    pub fn internal(detail: String) -> Self {
        tracing::error!(error = detail, "cannot convert a message to JSON");
        Self::new(Code::Internal, "internal error".to_owned(), Vec::new())
    }

    pub fn from_status(status: &tonic::Status) -> Self {
        let details = status.get_error_details();
        let violations = details
            .bad_request()
            .map(|bad_request| {
                bad_request
                    .field_violations
                    .iter()
                    .map(|violation| Violation::new(&violation.field, &violation.description))
                    .collect()
            })
            .unwrap_or_default();
        let mut problem = Self::new(status.code(), status.message().to_owned(), violations);
        problem.retry_after_seconds = details
            .retry_info()
            .and_then(|retry| retry.retry_delay)
            .map(|delay| delay.as_secs().max(1));
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry_after = self.retry_after_seconds;
        let mut response = (status, axum::Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
