//! Calls to router: a transfer is validated and recorded there, on behalf of the official
//! who asked (their token travels with the call, and so does the trace).

use combipat_platform::grpc_client::{ClientSettings, lazy_channel, on_behalf};
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::OfficeRef;
use combipat_proto::router::v1::RecordTransferRequest;
use combipat_proto::router::v1::router_client::RouterClient;
use tonic::Code;
use tonic::transport::Channel;

#[derive(Clone)]
pub struct Router {
    client: RouterClient<Channel>,
}

impl Router {
    /// Connects lazily: office-queue starts and serves even while router is away.
    pub fn new(settings: &ClientSettings) -> anyhow::Result<Self> {
        Ok(Self {
            client: RouterClient::new(lazy_channel("router", settings)?),
        })
    }

    pub async fn record_transfer(
        &self,
        authorization: &str,
        call: RecordTransferRequest,
    ) -> Result<OfficeRef, ApiError> {
        let request = on_behalf(call, authorization)?;
        let response = self
            .client
            .clone()
            .record_transfer(request)
            .await
            .map_err(from_router)?;
        response.into_inner().office.ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "router answered a transfer without the office"
            ))
        })
    }
}

/// Router's refusals are the caller's refusals; its absence is ours to report.
fn from_router(status: tonic::Status) -> ApiError {
    let message = status.message().to_owned();
    match status.code() {
        Code::InvalidArgument => {
            ApiError::InvalidArgument(vec![Violation::new("to_office_code", message)])
        }
        Code::PermissionDenied => ApiError::PermissionDenied(message),
        Code::Unauthenticated => ApiError::Unauthenticated(message),
        Code::NotFound => ApiError::NotFound(message),
        Code::FailedPrecondition => ApiError::FailedPrecondition(message),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ApiError::Unavailable(
            format!("router cannot be reached to record the transfer: {message}"),
        ),
        _ => ApiError::Internal(anyhow::anyhow!("router failed a transfer: {status:?}")),
    }
}
