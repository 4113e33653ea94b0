//! A patronato's page, for its supervisore: the patronato against all patronati (the
//! nation), its trend, and its figures region by region.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use combipat_proto::reporting::v1::reporting_server::Reporting as _;
use combipat_proto::reporting::v1::{Dimension, GetSummaryRequest, GetTableRequest};
use maud::{Markup, html};

use super::region::{comparison_bars, overview, trend_charts};
use super::{PageQuery, Pages, Session, layout, refusal, table, urlencoding};

async fn patronato_page(
    pages: &Pages,
    session: &Session,
    code: &str,
    query: &PageQuery,
) -> Result<Markup, tonic::Status> {
    let api = pages.api();
    let (summary, series) = overview(
        pages,
        session,
        GetSummaryRequest {
            period: query.periodo.clone(),
            dimension: Dimension::Patronato as i32,
            key: code.to_owned(),
            ..Default::default()
        },
    )
    .await?;
    let period = summary.period.clone().unwrap_or_default();
    let regions = api
        .get_table(pages.request(
            session,
            GetTableRequest {
                dimension: Dimension::Region as i32,
                period: period.code.clone(),
                patronato: code.to_owned(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    let path = format!("/patronati/{}", urlencoding(code));
    let csv = format!(
        "/v1/export/tables/DIMENSION_REGION?period={}&patronato={}",
        urlencoding(&period.code),
        urlencoding(code)
    );
    Ok(html! {
        (layout::period_chooser(&path, "", &period, summary.previous_period.as_ref()))
        p.nota { "Il patronato " (code) " a confronto con tutti i patronati (Italia), " (period.label) "." }
        h2 { "Riepilogo" }
        (table::summary(&summary))
        h2 { "Andamento" }
        (trend_charts(&series, code, true))
        (comparison_bars(&summary))
        h2 { "Per regione" }
        (table::members(&format!("{code} per regione, {}", period.label), &regions,
            |row| Some(format!("/cifre/patronato/{}?regione={}&periodo={}", urlencoding(code), row.key, urlencoding(&period.code))),
            &csv))
        (layout::data_version(summary.data_version.as_ref()))
    })
}

pub async fn page(
    State(pages): State<Pages>,
    Path(code): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match pages.session(&headers) {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match patronato_page(&pages, &session, &code, &query).await {
        Ok(body) => {
            layout::page(&format!("Patronato {code}"), Some(&session), body).into_response()
        }
        Err(status) => refusal(&status, Some(&session)),
    }
}
