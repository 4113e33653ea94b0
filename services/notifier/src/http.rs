//! Notifier's calls as JSON over HTTP (port 8084), beside gRPC: the same handlers and token
//! check through the platform's `json_api`, an OpenAPI document per service
//! (`/openapi.json` for the inbox, `/openapi/endpoints.json` for the endpoints), and the
//! unsubscribe link of the e-mails (no token: the link's own token says who).

use std::sync::Arc;

use axum::http::Method;
use combipat_platform::auth::AuthInterceptor;
use combipat_platform::grpc_method;
use combipat_platform::json_api::JsonApi;
use combipat_proto::notifier::v1::endpoints_server::Endpoints as _;
use combipat_proto::notifier::v1::notifier_server::Notifier as _;

use crate::api::NotifierApi;
use crate::endpoints_api::EndpointsApi;

pub fn routes(
    notifier: Arc<NotifierApi>,
    endpoints: Arc<EndpointsApi>,
    auth: AuthInterceptor,
    unsubscribe: axum::Router,
) -> anyhow::Result<axum::Router> {
    let api = notifier;
    let inbox = JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.notifier.v1.Notifier",
        auth.clone(),
    )?
    .route(
        Method::GET,
        "/v1/notifications",
        "ListNotifications",
        grpc_method!(api, list_notifications),
    )?
    .route(
        Method::GET,
        "/v1/notifications/unread-count",
        "CountUnread",
        grpc_method!(api, count_unread),
    )?
    .route(
        Method::POST,
        "/v1/notifications/{notification_id}/read",
        "MarkRead",
        grpc_method!(api, mark_read),
    )?
    .route(
        Method::POST,
        "/v1/notifications/read-all",
        "MarkAllRead",
        grpc_method!(api, mark_all_read),
    )?
    .route(
        Method::GET,
        "/v1/preferences",
        "GetPreferences",
        grpc_method!(api, get_preferences),
    )?
    .route(
        Method::PUT,
        "/v1/preferences",
        "SetPreferences",
        grpc_method!(api, set_preferences),
    )?
    .route(
        Method::POST,
        "/v1/suppressions",
        "RecordSuppression",
        grpc_method!(api, record_suppression),
    )?
    .route(
        Method::DELETE,
        "/v1/suppressions/{email}",
        "RemoveSuppression",
        grpc_method!(api, remove_suppression),
    )?
    .into_router("COMBIPAT notifier");
    let api = endpoints;
    let endpoint = "/v1/endpoints/{endpoint_id}";
    let delivery = "/v1/deliveries/{delivery_id}";
    let webhooks = JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.notifier.v1.Endpoints",
        auth,
    )?
    .route(
        Method::POST,
        "/v1/endpoints",
        "RegisterEndpoint",
        grpc_method!(api, register_endpoint),
    )?
    .route(
        Method::GET,
        "/v1/endpoints",
        "ListEndpoints",
        grpc_method!(api, list_endpoints),
    )?
    .route(
        Method::POST,
        &format!("{endpoint}/test"),
        "SendTestEvent",
        grpc_method!(api, send_test_event),
    )?
    .route(
        Method::POST,
        &format!("{endpoint}/rotate"),
        "RotateSecret",
        grpc_method!(api, rotate_secret),
    )?
    .route(
        Method::POST,
        &format!("{endpoint}/disable"),
        "DisableEndpoint",
        grpc_method!(api, disable_endpoint),
    )?
    .route(
        Method::POST,
        &format!("{endpoint}/enable"),
        "EnableEndpoint",
        grpc_method!(api, enable_endpoint),
    )?
    .route(
        Method::GET,
        &format!("{endpoint}/deliveries"),
        "ListDeliveries",
        grpc_method!(api, list_deliveries),
    )?
    .route(
        Method::POST,
        &format!("{endpoint}/replay"),
        "ReplaySince",
        grpc_method!(api, replay_since),
    )?
    .route(
        Method::GET,
        delivery,
        "GetDelivery",
        grpc_method!(api, get_delivery),
    )?
    .route(
        Method::POST,
        &format!("{delivery}/replay"),
        "ReplayDelivery",
        grpc_method!(api, replay_delivery),
    )?
    .into_router_at("COMBIPAT notifier endpoints", "/openapi/endpoints.json");
    Ok(inbox.merge(webhooks).merge(unsubscribe))
}
