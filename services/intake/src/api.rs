//! `combipat.intake.v1.Intake` over gRPC (and, through the platform's JSON bridge, HTTP).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use combipat_domain::Territory;
use combipat_platform::ApiError;
use combipat_platform::audit;
use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::error::request_id;
use combipat_platform::grpc_client::authorization;
use combipat_platform::rate_limit::RateLimiter;
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{
    AttachmentRef, Filer, GetAttachmentRequest, GetAttachmentResponse, OfficeRef, RequestSummary,
    UploadAttachmentRequest,
};
use combipat_proto::intake::v1::intake_server::Intake;
use combipat_proto::intake::v1::{
    GetRequestRequest, GetRequestResponse, ListRequestsRequest, ListRequestsResponse,
    PreviewSubmissionResponse, ProvideInfoRequest, ProvideInfoResponse, RateAnswerRequest,
    RateAnswerResponse, SendReminderRequest, SendReminderResponse, SollecitoState, StatusChange,
    SubmitRequestRequest, SubmitRequestResponse,
};
use prost::Message as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::access::Scope;
use crate::attachments::Attachments;
use crate::status;
use crate::store::{self, Operator};
use crate::validation::validate;

/// Counter: requests accepted (an idempotent retry is not counted again).
const SUBMITTED: &str = "combipat_requests_submitted_total";

/// The intake's own series, at zero until the first request (dashboards and alerts read them).
pub fn show_metrics_from_zero() {
    metrics::counter!(SUBMITTED).increment(0);
    crate::rating::show_metrics_from_zero();
}

/// What the rate limit counts apart, per operator: submissions, previews, uploads, and the
/// other writes together.
pub const RATE_LIMIT_SCOPES: [&str; 4] = ["submit", "preview", "upload", "write"];

pub struct IntakeApi {
    pub pool: PgPool,
    pub desk: store::Desk,
    pub territory: Arc<Territory>,
    pub attachments: Attachments,
    pub limiter: Arc<RateLimiter>,
    pub router: crate::router_client::Router,
}

fn operator(caller: &Principal) -> Result<Operator, ApiError> {
    if caller.role != Role::Operatore {
        return Err(ApiError::PermissionDenied(format!(
            "only a patronato operator may do this, not the role {}",
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

/// What identifies a submission's content for its idempotency key: everything the operator
/// sent except the key itself and the duplicate confirmation.
fn content_hash(request: &SubmitRequestRequest) -> String {
    let content = SubmitRequestRequest {
        idempotency_key: String::new(),
        confirm_duplicate: false,
        ..request.clone()
    };
    hex::encode(Sha256::digest(content.encode_to_vec()))
}

fn sollecito_state(stored: &store::StoredRequest, now: DateTime<Utc>) -> SollecitoState {
    use combipat_domain::sollecito::{self, SollecitoRefusal};
    let answered = stored.status == status::ANSWERED || stored.status == status::CLOSED;
    let sent = u32::try_from(stored.solleciti).unwrap_or_default();
    match sollecito::check(stored.submitted_at, answered, stored.last_sollecito_at, now) {
        Ok(()) => SollecitoState {
            allowed: true,
            sent,
            ..SollecitoState::default()
        },
        Err(refusal @ SollecitoRefusal::Answered) => SollecitoState {
            reason: refusal.to_string(),
            sent,
            ..SollecitoState::default()
        },
        Err(refusal @ SollecitoRefusal::TooEarly { possible_from }) => SollecitoState {
            possible_from: Some(to_timestamp(possible_from)),
            reason: refusal.to_string(),
            sent,
            ..SollecitoState::default()
        },
    }
}

#[tonic::async_trait]
impl Intake for IntakeApi {
    async fn submit_request(
        &self,
        request: Request<SubmitRequestRequest>,
    ) -> Result<Response<SubmitRequestResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        self.limiter.check("submit", &operator.id).await?;
        let valid =
            validate(request.get_ref(), &self.territory).map_err(ApiError::InvalidArgument)?;
        let hash = content_hash(request.get_ref());
        let submitted = store::submit(&self.desk, &operator, &valid, &hash).await?;
        if submitted.replayed {
            tracing::info!(request.id = %submitted.request_id, "idempotent retry answered with the first result");
        } else {
            metrics::counter!(SUBMITTED).increment(1);
            tracing::info!(request.id = %submitted.request_id, protocol_number = %submitted.protocol_number, "request submitted");
        }
        Ok(Response::new(SubmitRequestResponse {
            request_id: submitted.request_id.to_string(),
            protocol_number: submitted.protocol_number,
            submitted_at: Some(to_timestamp(submitted.submitted_at)),
            replayed: submitted.replayed,
        }))
    }

    async fn preview_submission(
        &self,
        request: Request<SubmitRequestRequest>,
    ) -> Result<Response<PreviewSubmissionResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        self.limiter.check("preview", &operator.id).await?;
        let valid =
            validate(request.get_ref(), &self.territory).map_err(ApiError::InvalidArgument)?;
        let preview = self
            .router
            .preview(&authorization(&request), &valid)
            .await?;
        Ok(Response::new(preview))
    }

    async fn get_request(
        &self,
        request: Request<GetRequestRequest>,
    ) -> Result<Response<GetRequestResponse>, Status> {
        let caller = principal(&request)?;
        let scope = Scope::of(caller)?;
        let request_id = request_id(&request.get_ref().request_id)?;
        let not_found = || ApiError::NotFound(format!("no request {request_id}"));
        let stored = store::find(&self.pool, request_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        // Another office's request is reported as missing, so its existence does not leak.
        if !scope.allows(&stored.patronato, &stored.patronato_office) {
            return Err(not_found().into());
        }
        audit::record(
            &self.pool,
            caller,
            "combipat.intake.v1.Intake/GetRequest",
            &[audit::Shown {
                request_id,
                codice_fiscale: &stored.codice_fiscale,
                detail: "",
            }],
        )
        .await?;
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
        let attachments = crate::attachments::of_request(&self.pool, request_id)
            .await
            .map_err(ApiError::from)?;
        let ratings = crate::rating::of_request(&self.pool, request_id)
            .await
            .map_err(ApiError::from)?;
        let sollecito = sollecito_state(&stored, self.desk.clock.now());
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
                attachments,
                pratica_protocol_number: stored.pratica_protocol_number,
                body: stored.body.clone(),
            }),
            body: stored.body,
            status: stored.status,
            office,
            history,
            ratings,
            sollecito: Some(sollecito),
        }))
    }

    async fn provide_info(
        &self,
        request: Request<ProvideInfoRequest>,
    ) -> Result<Response<ProvideInfoResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        self.limiter.check("write", &operator.id).await?;
        let call = request.into_inner();
        let request_id = request_id(&call.request_id)?;
        let status = crate::reply::provide_info(
            &self.desk,
            &operator,
            request_id,
            &call.reply,
            &call.attachment_ids,
        )
        .await?;
        Ok(Response::new(ProvideInfoResponse {
            status: status.to_owned(),
        }))
    }

    async fn send_reminder(
        &self,
        request: Request<SendReminderRequest>,
    ) -> Result<Response<SendReminderResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        self.limiter.check("write", &operator.id).await?;
        let request_id = request_id(&request.get_ref().request_id)?;
        let (solleciti, next) = crate::reminder::send(&self.desk, &operator, request_id).await?;
        Ok(Response::new(SendReminderResponse {
            solleciti,
            next_possible_from: Some(to_timestamp(next)),
        }))
    }

    async fn list_requests(
        &self,
        request: Request<ListRequestsRequest>,
    ) -> Result<Response<ListRequestsResponse>, Status> {
        let caller = principal(&request)?;
        let scope = Scope::of(caller)?;
        let page = crate::list::page(&self.pool, &scope, request.get_ref()).await?;
        let ids: Vec<uuid::Uuid> = page
            .requests
            .iter()
            .filter_map(|entry| uuid::Uuid::parse_str(&entry.request_id).ok())
            .collect();
        let shown: Vec<audit::Shown<'_>> = page
            .requests
            .iter()
            .zip(&ids)
            .map(|(entry, request_id)| audit::Shown {
                request_id: *request_id,
                codice_fiscale: &entry.codice_fiscale,
                detail: "list",
            })
            .collect();
        audit::record(
            &self.pool,
            caller,
            "combipat.intake.v1.Intake/ListRequests",
            &shown,
        )
        .await?;
        Ok(Response::new(page))
    }

    async fn rate_answer(
        &self,
        request: Request<RateAnswerRequest>,
    ) -> Result<Response<RateAnswerResponse>, Status> {
        let operator = operator(principal(&request)?)?;
        self.limiter.check("write", &operator.id).await?;
        let call = request.into_inner();
        let request_id = request_id(&call.request_id)?;
        let rating = crate::rating::rate(
            &self.desk,
            &operator,
            request_id,
            call.rating,
            &call.comment,
        )
        .await?;
        Ok(Response::new(RateAnswerResponse {
            rating: Some(rating),
        }))
    }

    async fn upload_attachment(
        &self,
        request: Request<UploadAttachmentRequest>,
    ) -> Result<Response<AttachmentRef>, Status> {
        let operator = operator(principal(&request)?)?;
        self.limiter.check("upload", &operator.id).await?;
        let call = request.into_inner();
        let stored = self
            .attachments
            .upload(
                &operator,
                &call.file_name,
                &call.media_type,
                call.content.into(),
            )
            .await?;
        Ok(Response::new(stored))
    }

    async fn get_attachment(
        &self,
        request: Request<GetAttachmentRequest>,
    ) -> Result<Response<GetAttachmentResponse>, Status> {
        let caller = principal(&request)?.clone();
        let scope = Scope::of(&caller)?;
        let id = uuid::Uuid::parse_str(request.get_ref().attachment_id.trim()).map_err(|_| {
            ApiError::InvalidArgument(vec![combipat_platform::Violation::new(
                "attachment_id",
                "is not an attachment id",
            )])
        })?;
        let (attachment, content) = self.attachments.get(id, &caller, &scope).await?;
        Ok(Response::new(GetAttachmentResponse {
            attachment: Some(attachment),
            content: content.to_vec(),
        }))
    }
}
