//! `combipat.router.v1.Router` over gRPC.

use std::sync::Arc;

use combipat_domain::Territory;
use combipat_platform::ApiError;
use combipat_platform::Violation;
use combipat_proto::router::v1::router_server::Router;
use combipat_proto::router::v1::{PreviewRouteRequest, PreviewRouteResponse};
use tonic::{Request, Response, Status};

use crate::decision::{RULESET_VERSION, Unroutable, decide};

pub struct RouterApi {
    pub territory: Arc<Territory>,
}

#[tonic::async_trait]
impl Router for RouterApi {
    async fn preview_route(
        &self,
        request: Request<PreviewRouteRequest>,
    ) -> Result<Response<PreviewRouteResponse>, Status> {
        combipat_platform::auth::principal(&request)?;
        let request = request.into_inner();
        match decide(&self.territory, &request.comune_residenza) {
            Ok(decision) => Ok(Response::new(PreviewRouteResponse {
                office: Some(decision.office),
                ruleset_version: RULESET_VERSION.to_owned(),
                rule: decision.rule,
            })),
            Err(Unroutable::Residence(reason)) => {
                Err(ApiError::InvalidArgument(vec![Violation::new(
                    "comune_residenza",
                    reason.to_string(),
                )])
                .into())
            }
            Err(reason @ Unroutable::Abroad { .. }) => {
                Err(ApiError::NotFound(reason.to_string()).into())
            }
        }
    }
}
