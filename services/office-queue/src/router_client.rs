//! Calls to router: a transfer is validated and recorded there, on behalf of the official
//! who asked (their token travels with the call, and so does the trace).

use std::time::Duration;

use anyhow::Context as _;
use combipat_platform::propagation::inject_into_metadata;
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::OfficeRef;
use combipat_proto::router::v1::RecordTransferRequest;
use combipat_proto::router::v1::router_client::RouterClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::settings::RouterClientSettings;

#[derive(Clone)]
pub struct Router {
    client: RouterClient<Channel>,
}

impl Router {
    /// Connects lazily: office-queue starts and serves even while router is away.
    pub fn new(settings: &RouterClientSettings) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(settings.endpoint.clone())
            .with_context(|| format!("router.endpoint `{}` is not a URI", settings.endpoint))?
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_lazy();
        Ok(Self {
            client: RouterClient::new(channel),
        })
    }

    pub async fn record_transfer(
        &self,
        authorization: &str,
        call: RecordTransferRequest,
    ) -> Result<OfficeRef, ApiError> {
        let mut request = tonic::Request::new(call);
        inject_into_metadata(request.metadata_mut());
        let token = authorization.parse().map_err(|_| {
            ApiError::Unauthenticated("the authorization header is not valid metadata".to_owned())
        })?;
        request.metadata_mut().insert("authorization", token);
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
