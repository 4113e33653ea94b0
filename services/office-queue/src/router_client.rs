//! Calls to router: a transfer's target office is looked up in router's directory, on behalf
//! of the official who asked (their token travels with the call, and so does the trace).

use combipat_platform::grpc_client::{ClientSettings, lazy_channel, on_behalf};
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::OfficeRef;
use combipat_proto::router::v1::GetOfficeRequest;
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

    /// The office `code` of router's active directory, as events refer to it.
    pub async fn office(&self, authorization: &str, code: &str) -> Result<OfficeRef, ApiError> {
        if code.is_empty() {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "to_office_code",
                "must name the office to send the request to",
            )]));
        }
        let request = on_behalf(
            GetOfficeRequest {
                code: code.to_owned(),
            },
            authorization,
        )?;
        let office = self
            .client
            .clone()
            .get_office(request)
            .await
            .map_err(from_router)?
            .into_inner();
        Ok(OfficeRef {
            code: office.code,
            name: office.name,
            kind: office.kind,
            region_code: office.region_code,
            province_code: office.province_code,
            patron_day: office.patron_day,
            parent_code: office.direzione_code,
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
        // The directory has no such office: the caller named a wrong target.
        Code::NotFound => {
            ApiError::InvalidArgument(vec![Violation::new("to_office_code", message)])
        }
        Code::FailedPrecondition => ApiError::FailedPrecondition(message),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ApiError::Unavailable(
            format!("router cannot be reached to check the transfer's target: {message}"),
        ),
        _ => ApiError::Internal(anyhow::anyhow!(
            "router failed an office lookup: {status:?}"
        )),
    }
}
