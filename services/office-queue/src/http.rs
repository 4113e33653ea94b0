//! The office-queue operations as JSON over HTTP (port 8083 by default), beside gRPC: the
//! same handlers, the same token check, an OpenAPI document at `/openapi.json`. WatchQueue
//! streams and stays gRPC only.

use std::sync::Arc;

use axum::http::Method;
use combipat_platform::auth::AuthInterceptor;
use combipat_platform::grpc_method;
use combipat_platform::json_api::JsonApi;
use combipat_proto::officequeue::v1::office_queue_server::OfficeQueue as _;

use crate::api::OfficeQueueApi;

pub fn routes(api: Arc<OfficeQueueApi>, auth: AuthInterceptor) -> anyhow::Result<axum::Router> {
    let items = "/v1/items/{request_id}";
    Ok(JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.officequeue.v1.OfficeQueue",
        auth,
    )?
    .route(
        Method::GET,
        "/v1/offices/{office_code}/items",
        "ListItems",
        grpc_method!(api, list_items),
    )?
    .route(
        Method::GET,
        "/v1/offices/{office_code}/workload",
        "GetWorkload",
        grpc_method!(api, get_workload),
    )?
    .route(Method::GET, items, "GetItem", grpc_method!(api, get_item))?
    .route(
        Method::POST,
        &format!("{items}/claim"),
        "Claim",
        grpc_method!(api, claim),
    )?
    .route(
        Method::POST,
        &format!("{items}/release"),
        "Release",
        grpc_method!(api, release),
    )?
    .route(
        Method::POST,
        &format!("{items}/reassign"),
        "Reassign",
        grpc_method!(api, reassign),
    )?
    .route(
        Method::POST,
        &format!("{items}/answer"),
        "Answer",
        grpc_method!(api, answer),
    )?
    .route(
        Method::POST,
        &format!("{items}/request-info"),
        "RequestInfo",
        grpc_method!(api, request_info),
    )?
    .route(
        Method::POST,
        &format!("{items}/notes"),
        "AddNote",
        grpc_method!(api, add_note),
    )?
    .route(
        Method::POST,
        &format!("{items}/close"),
        "Close",
        grpc_method!(api, close),
    )?
    .route(
        Method::POST,
        &format!("{items}/transfer"),
        "Transfer",
        grpc_method!(api, transfer),
    )?
    .into_router("COMBIPAT office-queue"))
}
