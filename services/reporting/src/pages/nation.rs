//! The nation's page, for analysts: the national summary and trend, and a table by any
//! dimension (regions by default), each row leading to its figures.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use combipat_proto::reporting::v1::reporting_server::Reporting as _;
use combipat_proto::reporting::v1::{Dimension, GetSummaryRequest, GetTableRequest};
use maud::{Markup, html};

use super::region::{comparison_bars, csv_link, overview, row_link, trend_charts};
use super::{
    PageQuery, Pages, Session, dimension_from_word, dimension_word, layout, refusal, table,
    urlencoding,
};

const CHOICES: [(Dimension, &str); 6] = [
    (Dimension::Region, "Regioni"),
    (Dimension::Province, "Province"),
    (Dimension::Office, "Uffici"),
    (Dimension::Patronato, "Patronati"),
    (Dimension::Motivo, "Motivi"),
    (Dimension::Topic, "Argomenti"),
];

async fn nation_page(
    pages: &Pages,
    session: &Session,
    query: &PageQuery,
) -> Result<Markup, tonic::Status> {
    let api = pages.api();
    let dimension = if query.per.is_empty() {
        Dimension::Region
    } else {
        dimension_from_word(&query.per).ok_or_else(|| {
            tonic::Status::invalid_argument(format!(
                "per: `{}` non è regione, provincia, ufficio, patronato, motivo o argomento",
                query.per
            ))
        })?
    };
    let (summary, series) = overview(
        pages,
        session,
        GetSummaryRequest {
            period: query.periodo.clone(),
            ..Default::default()
        },
    )
    .await?;
    let period = summary.period.clone().unwrap_or_default();
    let table = api
        .get_table(pages.request(
            session,
            GetTableRequest {
                dimension: dimension as i32,
                period: period.code.clone(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    let title = CHOICES
        .iter()
        .find(|(choice, _)| *choice == dimension)
        .map_or("", |(_, title)| title);
    let extra = format!("&per={}", dimension_word(dimension));
    Ok(html! {
        (layout::period_chooser("/italia", &extra, &period, summary.previous_period.as_ref()))
        h2 { "Riepilogo nazionale" }
        (table::summary(&summary))
        h2 { "Andamento" }
        (trend_charts(&series, "Italia", false))
        (comparison_bars(&summary))
        h2 { (title) }
        nav.non-stampare aria-label="Tabella per" {
            @for (choice, label) in CHOICES {
                a href={ "/italia?periodo=" (urlencoding(&period.code)) "&per=" (dimension_word(choice)) } { (label) } " "
            }
        }
        (table::members(&format!("{title}, {}", period.label), &table,
            |row| Some(if dimension == Dimension::Region && crate::labels::REGIONS.contains(&row.key.as_str()) {
                format!("/regioni/{}?periodo={}", row.key, urlencoding(&period.code))
            } else {
                row_link(dimension, None, &period.code, row)
            }),
            &csv_link(dimension, None, &period.code)))
        (layout::data_version(summary.data_version.as_ref()))
    })
}

pub async fn page(
    State(pages): State<Pages>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match pages.session(&headers) {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match nation_page(&pages, &session, &query).await {
        Ok(body) => layout::page("Italia", Some(&session), body).into_response(),
        Err(status) => refusal(&status, Some(&session)),
    }
}
