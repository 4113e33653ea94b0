//! `combipat.intake.v1.Intake` over gRPC.

use std::sync::Arc;

use combipat_domain::Territory;
use combipat_platform::ApiError;
use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::error::request_id;
use combipat_platform::outbox::OutboxWaker;
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{Filer, OfficeRef, RequestSummary};
use combipat_proto::intake::v1::intake_server::Intake;
use combipat_proto::intake::v1::{
    GetRequestRequest, GetRequestResponse, ListRequestsRequest, ListRequestsResponse,
    ProvideInfoRequest, ProvideInfoResponse, SendReminderRequest, SendReminderResponse,
    StatusChange, SubmitRequestRequest, SubmitRequestResponse,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::status;
use crate::store::{self, Operator};
use crate::validation::validate;

pub struct IntakeApi {
    pub pool: PgPool,
    pub territory: Arc<Territory>,
    pub outbox: OutboxWaker,
}

fn operator(caller: &Principal) -> Result<Operator, ApiError> {
    if caller.role != Role::Operatore {
        return Err(ApiError::PermissionDenied(format!(
            "only a patronato operator may file requests, not the role {}",
            caller.role.as_str()
        )));
    }
    Operator::from_principal(caller).ok_or_else(|| {
        ApiError::PermissionDenied("the token names no patronato and patronato office".to_owned())
    })
}

fn office_ref(code: String, name: Option<String>) -> OfficeRef {
    OfficeRef {
        code,
        name: name.unwrap_or_default(),
        ..OfficeRef::default()
    }
}

#[tonic::async_trait]
impl Intake for IntakeApi {
    async fn submit_request(
        &self,
        request: Request<SubmitRequestRequest>,
    ) -> Result<Response<SubmitRequestResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        let valid =
            validate(request.get_ref(), &self.territory).map_err(ApiError::InvalidArgument)?;
        let submitted = store::submit(&self.pool, &operator, &valid)
            .await
            .map_err(ApiError::Internal)?;
        self.outbox.wake();
        tracing::info!(request.id = %submitted.request_id, protocol_number = %submitted.protocol_number, "request submitted");
        Ok(Response::new(SubmitRequestResponse {
            request_id: submitted.request_id.to_string(),
            protocol_number: submitted.protocol_number,
            submitted_at: Some(to_timestamp(submitted.submitted_at)),
        }))
    }

    async fn get_request(
        &self,
        request: Request<GetRequestRequest>,
    ) -> Result<Response<GetRequestResponse>, Status> {
        let caller = principal(&request)?.clone();
        let request_id = request_id(&request.get_ref().request_id)?;
        let not_found = || ApiError::NotFound(format!("no request {request_id}"));
        let stored = store::find(&self.pool, request_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        // Another office's request is reported as missing, so its existence does not leak.
        let allowed = caller.role == Role::Admin
            || (caller.role == Role::Operatore
                && caller.patronato_office.as_deref() == Some(stored.patronato_office.as_str()));
        if !allowed {
            return Err(not_found().into());
        }
        let history = status::history(&self.pool, request_id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|change| StatusChange {
                at: Some(to_timestamp(change.at)),
                status: change.status,
                office: change
                    .office_code
                    .map(|code| office_ref(code, change.office_name)),
                detail: change.detail,
            })
            .collect();
        let office = stored
            .office_code
            .map(|code| office_ref(code, stored.office_name));
        Ok(Response::new(GetRequestResponse {
            request: Some(RequestSummary {
                request_id: stored.id.to_string(),
                protocol_number: stored.protocol_number,
                motivo: stored.motivo,
                codice_fiscale: stored.codice_fiscale,
                comune_residenza: stored.comune_residenza,
                topic: stored.topic,
                subject: stored.subject,
                filer: Some(Filer {
                    patronato: stored.patronato,
                    patronato_office: stored.patronato_office,
                    operator_id: stored.operator_id,
                }),
                submitted_at: Some(to_timestamp(stored.submitted_at)),
                attachments: Vec::new(),
            }),
            body: stored.body,
            status: stored.status,
            office,
            history,
        }))
    }

    async fn provide_info(
        &self,
        request: Request<ProvideInfoRequest>,
    ) -> Result<Response<ProvideInfoResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        let call = request.into_inner();
        let request_id = request_id(&call.request_id)?;
        let status =
            crate::reply::provide_info(&self.pool, &operator, request_id, &call.reply).await?;
        self.outbox.wake();
        Ok(Response::new(ProvideInfoResponse {
            status: status.to_owned(),
        }))
    }

    async fn send_reminder(
        &self,
        request: Request<SendReminderRequest>,
    ) -> Result<Response<SendReminderResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        let request_id = request_id(&request.get_ref().request_id)?;
        let (solleciti, next) = crate::reminder::send(&self.pool, &operator, request_id).await?;
        self.outbox.wake();
        Ok(Response::new(SendReminderResponse {
            solleciti,
            next_possible_from: Some(to_timestamp(next)),
        }))
    }

    async fn list_requests(
        &self,
        request: Request<ListRequestsRequest>,
    ) -> Result<Response<ListRequestsResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        let page =
            crate::list::page(&self.pool, &operator.patronato_office, request.get_ref()).await?;
        Ok(Response::new(page))
    }
}
