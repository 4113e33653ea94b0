//! The intake operations as JSON over HTTP (port 8081 by default), with the OpenAPI
//! documents at `/openapi.json` (Intake) and `/openapi/mandates.json` (the mandate
//! registry): the same handlers and token check as gRPC.

use std::sync::Arc;

use axum::http::Method;
use combipat_platform::auth::AuthInterceptor;
use combipat_platform::grpc_method;
use combipat_platform::json_api::JsonApi;
use combipat_proto::intake::v1::intake_server::Intake as _;
use combipat_proto::intake::v1::mandates_server::Mandates as _;

use crate::api::IntakeApi;
use crate::mandate_api::MandatesApi;

pub fn routes(
    api: Arc<IntakeApi>,
    mandates: Arc<MandatesApi>,
    auth: AuthInterceptor,
) -> anyhow::Result<axum::Router> {
    let requests = "/v1/requests/{request_id}";
    let intake = JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.intake.v1.Intake",
        auth.clone(),
    )?
    .header_field("idempotency-key", "idempotency_key")
    .route(
        Method::POST,
        "/v1/requests",
        "SubmitRequest",
        grpc_method!(api, submit_request),
    )?
    .route(
        Method::POST,
        "/v1/requests:preview",
        "PreviewSubmission",
        grpc_method!(api, preview_submission),
    )?
    .route(
        Method::GET,
        "/v1/requests",
        "ListRequests",
        grpc_method!(api, list_requests),
    )?
    .route(
        Method::GET,
        requests,
        "GetRequest",
        grpc_method!(api, get_request),
    )?
    .route(
        Method::POST,
        &format!("{requests}/reminders"),
        "SendReminder",
        grpc_method!(api, send_reminder),
    )?
    .route(
        Method::POST,
        &format!("{requests}/info-replies"),
        "ProvideInfo",
        grpc_method!(api, provide_info),
    )?
    .route(
        Method::POST,
        &format!("{requests}/ratings"),
        "RateAnswer",
        grpc_method!(api, rate_answer),
    )?
    .route(
        Method::POST,
        "/v1/attachments",
        "UploadAttachment",
        grpc_method!(api, upload_attachment),
    )?
    .route(
        Method::GET,
        "/v1/attachments/{attachment_id}",
        "GetAttachment",
        grpc_method!(api, get_attachment),
    )?
    .into_router("COMBIPAT intake");
    let registry = JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.intake.v1.Mandates",
        auth,
    )?
    .route(
        Method::POST,
        "/v1/mandates",
        "PutMandates",
        grpc_method!(mandates, put_mandates),
    )?
    .route(
        Method::POST,
        "/v1/mandates:revoke",
        "RevokeMandate",
        grpc_method!(mandates, revoke_mandate),
    )?
    .route(
        Method::GET,
        "/v1/mandates",
        "ListMandates",
        grpc_method!(mandates, list_mandates),
    )?
    .into_router_at(
        "COMBIPAT intake: mandate registry",
        "/openapi/mandates.json",
    );
    Ok(intake.merge(registry))
}
