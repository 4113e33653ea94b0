//! The frozen monthly reports: the list a caller may read, and one report as it was frozen
//! (its summary and tables, with the data version and the moment it was frozen).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use combipat_proto::reporting::v1::reporting_server::Reporting as _;
use combipat_proto::reporting::v1::{
    Dimension, GetReportRequest, GetTableResponse, ListReportsRequest,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Pages, Session, layout, refusal, table};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    regione: String,
}

async fn list_page(
    pages: &Pages,
    session: &Session,
    query: &ListQuery,
) -> Result<Markup, tonic::Status> {
    let reports = pages
        .api()
        .list_reports(pages.request(
            session,
            ListReportsRequest {
                region_code: query.regione.clone(),
            },
        ))
        .await?
        .into_inner()
        .reports;
    Ok(html! {
        p.nota { "Ogni rapporto è congelato alla chiusura del mese, con la versione dei dati da cui è calcolato: le cifre non cambiano più." }
        @if reports.is_empty() {
            p { "Nessun rapporto congelato finora." }
        } @else {
            table {
                thead { tr { th { "Rapporto" } th { "Mese" } th { "Congelato il" } th { "Versione dei dati" } } }
                tbody {
                    @for report in &reports {
                        tr {
                            td { a href={ "/rapporti/" (report.month) "/" (report.region_code) } { (report.label) } }
                            td { (report.month) }
                            td { (report.frozen_at.as_ref().map(layout::rome).unwrap_or_default()) }
                            td { (report.data_version.as_ref().map(|version| version.label.clone()).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    })
}

pub async fn list(
    State(pages): State<Pages>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match pages.session(&headers) {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match list_page(&pages, &session, &query).await {
        Ok(body) => layout::page("Rapporti mensili", Some(&session), body).into_response(),
        Err(status) => refusal(&status, Some(&session)),
    }
}

async fn report_page(
    pages: &Pages,
    session: &Session,
    month: &str,
    region: &str,
) -> Result<(String, Markup), tonic::Status> {
    let report = pages
        .api()
        .get_report(pages.request(
            session,
            GetReportRequest {
                month: month.to_owned(),
                region_code: region.to_owned(),
            },
        ))
        .await?
        .into_inner();
    let summary = report.summary.clone().unwrap_or_default();
    Ok((
        report.label.clone(),
        html! {
            p.congelato {
                "Rapporto congelato il " (report.frozen_at.as_ref().map(layout::rome).unwrap_or_default())
                " dai dati della versione " (report.data_version.as_ref().map(|version| version.label.clone()).unwrap_or_default())
                ". Le cifre di un ufficio o di un patronato sotto " (report.small_cell_threshold) " non sono mostrate."
            }
            h2 { "Riepilogo" }
            (table::summary(&summary))
            @for part in &report.tables {
                @let as_table = GetTableResponse {
                    period: summary.period.clone(),
                    dimension: part.dimension,
                    rows: part.rows.clone(),
                    nation: summary.nation.clone(),
                    within: None,
                    data_version: report.data_version.clone(),
                    small_cell_threshold: report.small_cell_threshold,
                };
                h2 { (part.title) }
                (table::members(&part.title, &as_table, |_| None, &format!(
                    "/v1/export/reports/{month}/{region}/{}", Dimension::try_from(part.dimension).unwrap_or_default().as_str_name())))
            }
            (layout::data_version(report.data_version.as_ref()))
        },
    ))
}

pub async fn show(
    State(pages): State<Pages>,
    Path((month, region)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let session = match pages.session(&headers) {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match report_page(&pages, &session, &month, &region).await {
        Ok((title, body)) => layout::page(&title, Some(&session), body).into_response(),
        Err(status) => refusal(&status, Some(&session)),
    }
}
