//! The Avvisi calls as JSON over HTTP, beside gRPC (the same handlers and token check through
//! the platform's `json_api`), with their OpenAPI document at `/openapi/avvisi.json`.

use std::sync::Arc;

use axum::http::Method;
use combipat_platform::auth::AuthInterceptor;
use combipat_platform::grpc_method;
use combipat_platform::json_api::JsonApi;
use combipat_proto::notifier::v1::avvisi_server::Avvisi as _;

use super::api::AvvisiApi;

pub fn routes(api: Arc<AvvisiApi>, auth: AuthInterceptor) -> anyhow::Result<axum::Router> {
    let one = "/v1/avvisi/{avviso_id}";
    Ok(JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.notifier.v1.Avvisi",
        auth,
    )?
    .header_field("Idempotency-Key", "idempotency_key")
    .route(
        Method::POST,
        "/v1/avvisi/files",
        "UploadAvvisoFile",
        grpc_method!(api, upload_avviso_file),
    )?
    .route(
        Method::POST,
        "/v1/avvisi",
        "PublishAvviso",
        grpc_method!(api, publish_avviso),
    )?
    .route(
        Method::GET,
        "/v1/avvisi",
        "ListAvvisi",
        grpc_method!(api, list_avvisi),
    )?
    .route(Method::GET, one, "GetAvviso", grpc_method!(api, get_avviso))?
    .route(
        Method::POST,
        &format!("{one}/corrections"),
        "CorrectAvviso",
        grpc_method!(api, correct_avviso),
    )?
    .route(
        Method::POST,
        &format!("{one}/withdraw"),
        "WithdrawAvviso",
        grpc_method!(api, withdraw_avviso),
    )?
    .route(
        Method::POST,
        &format!("{one}/read"),
        "MarkAvvisoRead",
        grpc_method!(api, mark_avviso_read),
    )?
    .route(
        Method::GET,
        &format!("{one}/read-counts"),
        "ReadCounts",
        grpc_method!(api, read_counts),
    )?
    .route(
        Method::GET,
        &format!("{one}/files/{{file_id}}"),
        "GetAvvisoFile",
        grpc_method!(api, get_avviso_file),
    )?
    .route(
        Method::POST,
        "/v1/patronato-offices/import",
        "ImportPatronatoOffices",
        grpc_method!(api, import_patronato_offices),
    )?
    .route(
        Method::GET,
        "/v1/patronato-offices",
        "ListPatronatoOffices",
        grpc_method!(api, list_patronato_offices),
    )?
    .into_router_at("COMBIPAT notifier avvisi", "/openapi/avvisi.json"))
}
