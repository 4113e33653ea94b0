//! The HTTP port's routes beside health and metrics: the API as JSON (with its OpenAPI
//! document at `/openapi.json`), the CSV exports and the pages.

use std::sync::Arc;

use axum::http::Method;
use axum::routing::get;
use combipat_platform::auth::AuthInterceptor;
use combipat_platform::grpc_method;
use combipat_platform::json_api::JsonApi;
use combipat_proto::reporting::v1::reporting_server::Reporting as _;

use crate::api::ReportingApi;
use crate::csv_export;
use crate::pages::{PageSettings, Pages};

pub fn routes(
    api: Arc<ReportingApi>,
    auth: AuthInterceptor,
    pages: PageSettings,
) -> anyhow::Result<axum::Router> {
    let json = JsonApi::new(
        combipat_proto::FILE_DESCRIPTOR_SET,
        "combipat.reporting.v1.Reporting",
        auth.clone(),
    )?
    .route(
        Method::GET,
        "/v1/summary",
        "GetSummary",
        grpc_method!(api, get_summary),
    )?
    .route(
        Method::GET,
        "/v1/regions/{region_code}/summary",
        "GetSummary",
        grpc_method!(api, get_summary),
    )?
    .route(
        Method::GET,
        "/v1/tables/{dimension}",
        "GetTable",
        grpc_method!(api, get_table),
    )?
    .route(
        Method::GET,
        "/v1/series",
        "GetSeries",
        grpc_method!(api, get_series),
    )?
    .route(
        Method::GET,
        "/v1/reports",
        "ListReports",
        grpc_method!(api, list_reports),
    )?
    .route(
        Method::GET,
        "/v1/reports/{month}/{region_code}",
        "GetReport",
        grpc_method!(api, get_report),
    )?
    .route(
        Method::GET,
        "/v1/status",
        "GetStatus",
        grpc_method!(api, get_status),
    )?
    .into_router("COMBIPAT reporting");
    let pages = Pages::new(api, auth, pages);
    let exports = axum::Router::new()
        .route("/v1/export/summary", get(csv_export::summary))
        .route("/v1/export/tables/{dimension}", get(csv_export::table))
        .route("/v1/export/series", get(csv_export::series))
        .route("/v1/export/days/{dimension}", get(csv_export::days))
        .route(
            "/v1/export/reports/{month}/{region_code}/{dimension}",
            get(csv_export::report),
        )
        .with_state(pages.clone());
    Ok(json.merge(exports).merge(pages.routes()))
}
