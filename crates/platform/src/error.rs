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
            Self::Unavailable(_) => Code::Unavailable,
            Self::ResourceExhausted { .. } => Code::ResourceExhausted,
            Self::Internal(_) => Code::Internal,
        }
    }

    pub fn http_status(&self) -> http::StatusCode {
        crate::json_api::http_status(self.grpc_code())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        let code = error.grpc_code();
        match error {
            ApiError::InvalidArgument(violations) => {
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
            other => tonic::Status::new(code, other.to_string()),
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
    fn internal_errors_hide_their_cause() {
        let status: tonic::Status = ApiError::Internal(anyhow::anyhow!("password=secret")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
