//! Router, asked where a request would go before it is sent (the form shows the office).

use combipat_platform::ApiError;
use combipat_platform::grpc_client::{ClientSettings, lazy_channel, on_behalf};
use combipat_proto::intake::v1::PreviewSubmissionResponse;
use combipat_proto::router::v1::PreviewRouteRequest;
use combipat_proto::router::v1::router_client::RouterClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::validation::ValidRequest;

#[derive(Clone)]
pub struct Router {
    client: RouterClient<Channel>,
}

impl Router {
    pub fn new(settings: &ClientSettings) -> anyhow::Result<Self> {
        Ok(Self {
            client: RouterClient::new(lazy_channel("router", settings)?),
        })
    }

    pub async fn preview(
        &self,
        authorization: &str,
        request: &ValidRequest,
    ) -> Result<PreviewSubmissionResponse, ApiError> {
        let call = on_behalf(
            PreviewRouteRequest {
                comune_residenza: request.comune_residenza.clone(),
                topic: request.topic.code().to_owned(),
                motivo: request.motivo as i32,
            },
            authorization,
        )?;
        let answer = self
            .client
            .clone()
            .preview_route(call)
            .await
            .map_err(|status| match status.code() {
                // No rule covers it: it would wait in its region's fallback queue.
                Code::NotFound => ApiError::NotFound(status.message().to_owned()),
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                    ApiError::Unavailable(format!(
                        "router cannot be reached to show the destination: {}",
                        status.message()
                    ))
                }
                _ => ApiError::Internal(anyhow::anyhow!("router failed a preview: {status:?}")),
            })?
            .into_inner();
        Ok(PreviewSubmissionResponse {
            office: answer.office,
            explanation: answer.explanation,
        })
    }
}
