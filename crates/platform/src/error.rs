//! One error type for API handlers, mapped in one place to gRPC status codes (with
//! `google.rpc.BadRequest` field violations) and to HTTP status codes.

use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt as _};

/// One refused field: its path in the request and the reason, in words an operator reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    pub field: String,
    pub reason: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Parses the `request_id` field of an API call, refusing it as a field violation.
pub fn request_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| {
        ApiError::InvalidArgument(vec![Violation::new(
            "request_id",
            "is not a request id (UUID)",
        )])
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has {} invalid field(s)", .0.len())]
    InvalidArgument(Vec<Violation>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Conflict(String),
    /// Someone changed the resource since the caller read it (optimistic concurrency).
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unavailable(String),
    /// This replica cannot take the call now (its database does not answer in time, it is
    /// overloaded): gRPC `UNAVAILABLE` with `RetryInfo`, HTTP 503 with `Retry-After`.
    #[error("{message}")]
    RetryLater {
        message: String,
        retry_after: std::time::Duration,
    },
    /// Over a rate limit: try again after `retry_after`.
    #[error("{message}")]
    ResourceExhausted {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn grpc_code(&self) -> Code {
        match self {
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::Conflict(_) => Code::AlreadyExists,
            Self::Aborted(_) => Code::Aborted,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Unavailable(_) | Self::RetryLater { .. } => Code::Unavailable,
            Self::ResourceExhausted { .. } => Code::ResourceExhausted,
            Self::Internal(_) => Code::Internal,
        }
    }

    pub fn http_status(&self) -> http::StatusCode {
        crate::json_api::http_status(self.grpc_code())
    }
}

/// How long a caller should wait before retrying a call the database could not take.
const DATABASE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A database that cannot take the call (no connection in time, a server going down) is the
/// caller's cue to retry: `RetryLater`. Anything else is this service's fault: `Internal`.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&error) {
            tracing::warn!(error = %error, "the database cannot take the call; the caller is told to retry");
            Self::RetryLater {
                message: "the service is busy or its database is unavailable; retry shortly"
                    .to_owned(),
                retry_after: DATABASE_RETRY_AFTER,
            }
        } else {
            Self::Internal(error.into())
        }
    }
}

const MAX_VIOLATIONS: usize = 20;
const MAX_FIELD_CHARS: usize = 100;
const MAX_REASON_CHARS: usize = 300;
const MAX_MESSAGE_CHARS: usize = 1000;

/// `text` cut to `max` characters, marked with an ellipsis when cut.
fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        let code = error.grpc_code();
        match error {
            ApiError::InvalidArgument(violations) => {
                // Reasons may quote the input: bounded, so that a huge field cannot make the
                // status (sent as HTTP/2 headers) larger than a peer accepts.
                let violations: Vec<Violation> = violations
                    .into_iter()
                    .take(MAX_VIOLATIONS)
                    .map(|violation| Violation {
                        field: bounded(&violation.field, MAX_FIELD_CHARS),
                        reason: bounded(&violation.reason, MAX_REASON_CHARS),
                    })
                    .collect();
                let message = violations
                    .iter()
                    .map(|violation| format!("{}: {}", violation.field, violation.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|violation| FieldViolation::new(violation.field, violation.reason))
                        .collect::<Vec<_>>(),
                );
                tonic::Status::with_error_details(code, message, details)
            }
            ApiError::ResourceExhausted {
                message,
                retry_after,
            }
            | ApiError::RetryLater {
                message,
                retry_after,
            } => tonic::Status::with_error_details(
                code,
                message,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            ApiError::Internal(cause) => {
                // Logged once, here at the boundary; the caller gets no internals.
                tracing::error!(error = format!("{cause:#}"), "request failed");
                tonic::Status::internal("internal error")
            }
            other => tonic::Status::new(code, bounded(&other.to_string(), MAX_MESSAGE_CHARS)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_travel_as_bad_request_details() {
        let status: tonic::Status = ApiError::InvalidArgument(vec![
            Violation::new("codice_fiscale", "the check character should be X"),
            Violation::new("subject", "must not be empty"),
        ])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad_request = status.get_details_bad_request().unwrap();
        assert_eq!(bad_request.field_violations.len(), 2);
        assert_eq!(bad_request.field_violations[0].field, "codice_fiscale");
        assert!(status.message().contains("subject: must not be empty"));
    }

    #[test]
    fn a_huge_quoted_input_does_not_make_a_huge_status() {
        let status: tonic::Status = ApiError::InvalidArgument(
            (0..50)
                .map(|n| {
                    Violation::new(
                        format!("field{n}"),
                        format!("`{}` is wrong", "x".repeat(10_000)),
                    )
                })
                .collect(),
        )
        .into();
        let bad_request = status.get_details_bad_request().unwrap();
        assert_eq!(bad_request.field_violations.len(), MAX_VIOLATIONS);
        assert!(bad_request.field_violations[0].description.chars().count() <= MAX_REASON_CHARS);
        assert!(status.message().len() < 10_000);
    }

    #[test]
    fn a_database_that_cannot_take_the_call_says_retry_later() {
        let status: tonic::Status = ApiError::from(sqlx::Error::PoolTimedOut).into();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status
                .get_details_retry_info()
                .and_then(|retry| retry.retry_delay),
            Some(DATABASE_RETRY_AFTER)
        );
        let other: tonic::Status = ApiError::from(sqlx::Error::RowNotFound).into();
        assert_eq!(other.code(), Code::Internal);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status: tonic::Status = ApiError::Internal(anyhow::anyhow!("password=secret")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
