//! The scheduler's calls as JSON over HTTP (port 8085 by default), beside gRPC: the same
//! handlers, the same token check, an OpenAPI document at `/openapi.json`.

use std::sync::Arc;

use axum::http::Method;
use combipat_platform::auth::AuthInterceptor;
use combipat_platform::grpc_method;
use combipat_platform::json_api::JsonApi;
use combipat_proto::reminderscheduler::v1::reminder_scheduler_server::ReminderScheduler as _;

use crate::api::SchedulerApi;

pub fn routes(api: Arc<SchedulerApi>, auth: AuthInterceptor) -> anyhow::Result<axum::Router> {
    Ok(JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.reminderscheduler.v1.ReminderScheduler",
        auth,
    )?
    .route(
        Method::GET,
        "/v1/requests/{request_id}/timers",
        "ListTimers",
        grpc_method!(api, list_timers),
    )?
    .route(
        Method::GET,
        "/v1/offices/{office_code}/due",
        "ListDue",
        grpc_method!(api, list_due),
    )?
    .into_router("COMBIPAT reminder-scheduler"))
}
