//! `combipat.router.v1.Router` over gRPC.

use std::sync::Arc;

use combipat_domain::{province_name, region_name};
use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::error::request_id;
use combipat_platform::time::to_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::{OfficeRef, RequestSummary};
use combipat_proto::router::v1::router_server::Router;
use combipat_proto::router::v1::{
    ActivateDirectoryRequest, ActivateDirectoryResponse, ExplainRequest, ExplainResponse,
    GetOfficeRequest, ListOfficesRequest, ListOfficesResponse, LoadDirectoryRequest,
    LoadDirectoryResponse, Office as OfficeMessage, PreviewRouteRequest, PreviewRouteResponse,
    RoutingDecision,
};
use prost::Message as _;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::decisions;
use crate::directory::{Office, RoutingIndex, Unroutable};
use crate::ruleset::{RulesetError, Rulesets};

pub struct RouterApi {
    pub pool: PgPool,
    pub rulesets: Arc<Rulesets>,
}

impl From<RulesetError> for ApiError {
    fn from(error: RulesetError) -> Self {
        match error {
            RulesetError::Invalid(problems) => ApiError::InvalidArgument(
                problems
                    .into_iter()
                    .map(|problem| Violation::new("yaml", problem))
                    .collect(),
            ),
            RulesetError::Conflict(message) => ApiError::Conflict(message),
            RulesetError::NotFound(version) => {
                ApiError::NotFound(format!("no ruleset version `{version}`"))
            }
            RulesetError::Database(error) => ApiError::from(error),
        }
    }
}

impl RouterApi {
    fn index(&self) -> Result<Arc<RoutingIndex>, ApiError> {
        self.rulesets.current().ok_or_else(|| {
            ApiError::Unavailable(
                "no ruleset is active yet; load and activate an office directory".to_owned(),
            )
        })
    }
}

fn require_admin(caller: &Principal) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "only an admin may load or activate office directories".to_owned(),
        ))
    }
}

fn office_message(office: &Office) -> OfficeMessage {
    OfficeMessage {
        code: office.code.clone(),
        name: office.name.clone(),
        kind: office.kind.as_str().to_owned(),
        region_code: office.region.clone(),
        region_name: region_name(&office.region).unwrap_or_default().to_owned(),
        province_code: office.province.clone().unwrap_or_default(),
        province_name: office
            .province
            .as_deref()
            .and_then(province_name)
            .unwrap_or_default()
            .to_owned(),
        parent_code: office.parent.clone().unwrap_or_default(),
        patron_day: office.patron_day.clone().unwrap_or_default(),
        direzione_code: office.direzione.clone().unwrap_or_default(),
    }
}

/// An explanation of a request is for the officials of the offices it went through, of their
/// direzioni regionali, and admins: nobody else, whatever their role.
fn may_explain(caller: &Principal, offices: &[&str], index: Option<&RoutingIndex>) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Funzionario | Role::Responsabile => {
            caller.inps_office.as_deref().is_some_and(|own| {
                offices.iter().any(|office| {
                    *office == own
                        || index
                            .and_then(|index| index.office(office))
                            .and_then(|office| office.direzione.as_deref())
                            == Some(own)
                })
            })
        }
        _ => false,
    }
}

#[tonic::async_trait]
impl Router for RouterApi {
    async fn preview_route(
        &self,
        request: Request<PreviewRouteRequest>,
    ) -> Result<Response<PreviewRouteResponse>, Status> {
        principal(&request)?;
        let request = request.into_inner();
        let index = self.index()?;
        match index.decide(&request.comune_residenza, &request.topic, request.motivo) {
            Ok(decision) => Ok(Response::new(PreviewRouteResponse {
                office: Some(decision.office.to_ref()),
                ruleset_version: index.version.clone(),
                rule: decision.rule,
                explanation: decision.explanation,
            })),
            Err(Unroutable::Residence(reason)) => {
                Err(ApiError::InvalidArgument(vec![Violation::new(
                    "comune_residenza",
                    reason.to_string(),
                )])
                .into())
            }
            Err(reason @ Unroutable::NoRule { .. }) => {
                Err(ApiError::NotFound(reason.to_string()).into())
            }
        }
    }

    async fn list_offices(
        &self,
        request: Request<ListOfficesRequest>,
    ) -> Result<Response<ListOfficesResponse>, Status> {
        principal(&request)?;
        let filter = request.into_inner();
        let index = self.index()?;
        let offices = index
            .offices
            .values()
            .filter(|office| filter.region_code.is_empty() || office.region == filter.region_code)
            .filter(|office| filter.kind.is_empty() || office.kind.as_str() == filter.kind)
            .map(office_message)
            .collect();
        Ok(Response::new(ListOfficesResponse {
            offices,
            ruleset_version: index.version.clone(),
        }))
    }

    async fn get_office(
        &self,
        request: Request<GetOfficeRequest>,
    ) -> Result<Response<OfficeMessage>, Status> {
        principal(&request)?;
        let code = request.into_inner().code;
        let index = self.index()?;
        let office = index.office(&code).ok_or_else(|| {
            ApiError::NotFound(format!("no office {code} in ruleset {}", index.version))
        })?;
        Ok(Response::new(office_message(office)))
    }

    async fn explain(
        &self,
        request: Request<ExplainRequest>,
    ) -> Result<Response<ExplainResponse>, Status> {
        let caller = principal(&request)?.clone();
        let id = request_id(&request.get_ref().request_id)?;
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let history = decisions::history(&mut connection, id)
            .await
            .map_err(ApiError::from)?;
        // Someone else's request is as unknown as a missing one.
        let unknown = || ApiError::NotFound(format!("no routing decision for request {id}"));
        let offices: Vec<&str> = history
            .iter()
            .map(|decision| decision.office_code.as_str())
            .collect();
        if !may_explain(&caller, &offices, self.rulesets.current().as_deref()) {
            return Err(unknown().into());
        }
        let first = history.first().ok_or_else(unknown)?;
        let summary = RequestSummary::decode(first.request.as_slice()).unwrap_or_default();
        // The request's routing history is a read of the citizen's request.
        combipat_platform::audit::record(
            &mut *connection,
            &caller,
            "combipat.router.v1.Router/Explain",
            &[combipat_platform::audit::Shown {
                request_id: id,
                codice_fiscale: &summary.codice_fiscale,
                detail: "",
            }],
        )
        .await?;
        let protocol_number = summary.protocol_number;
        let decisions = history
            .into_iter()
            .map(|decision| RoutingDecision {
                kind: decision.kind,
                office: Some(OfficeRef {
                    code: decision.office_code,
                    name: decision.office_name,
                    ..OfficeRef::default()
                }),
                ruleset_version: decision.ruleset_version,
                rule: decision.rule,
                explanation: decision.explanation,
                routed: decision.routed,
                decided_by: decision.decided_by,
                decided_at: Some(to_timestamp(decision.decided_at)),
            })
            .collect();
        Ok(Response::new(ExplainResponse {
            request_id: id.to_string(),
            protocol_number,
            decisions,
        }))
    }

    async fn load_directory(
        &self,
        request: Request<LoadDirectoryRequest>,
    ) -> Result<Response<LoadDirectoryResponse>, Status> {
        let caller = principal(&request)?.clone();
        require_admin(&caller)?;
        let request = request.into_inner();
        let loaded = self
            .rulesets
            .load(&request.yaml, &caller.subject)
            .await
            .map_err(ApiError::from)?;
        if request.activate {
            self.rulesets
                .activate(&loaded.version, &caller.subject)
                .await
                .map_err(ApiError::from)?;
        }
        Ok(Response::new(LoadDirectoryResponse {
            version: loaded.version,
            offices: loaded.offices,
            poli: loaded.poli,
            activated: request.activate,
            already_loaded: loaded.already_loaded,
        }))
    }

    async fn activate_directory(
        &self,
        request: Request<ActivateDirectoryRequest>,
    ) -> Result<Response<ActivateDirectoryResponse>, Status> {
        let caller = principal(&request)?.clone();
        require_admin(&caller)?;
        let version = request.into_inner().version;
        self.rulesets
            .activate(&version, &caller.subject)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(ActivateDirectoryResponse { version }))
    }
}
