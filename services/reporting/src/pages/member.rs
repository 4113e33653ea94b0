//! The figures behind a row: one member (an office, a province, a topic within a region ...)
//! against the nation and its previous period, its trend, and its figures period by period.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use combipat_proto::reporting::v1::GetSummaryRequest;
use maud::{Markup, html};

use super::region::{comparison_bars, overview, trend_charts};
use super::{PageQuery, Pages, Session, dimension_from_word, layout, refusal, table, urlencoding};

async fn member_page(
    pages: &Pages,
    session: &Session,
    word: &str,
    key: &str,
    query: &PageQuery,
) -> Result<(String, Markup), tonic::Status> {
    let dimension = dimension_from_word(word).ok_or_else(|| {
        tonic::Status::not_found(format!(
            "`{word}` non è regione, provincia, ufficio, patronato, motivo o argomento"
        ))
    })?;
    let (summary, series) = overview(
        pages,
        session,
        GetSummaryRequest {
            period: query.periodo.clone(),
            dimension: dimension as i32,
            key: key.to_owned(),
            within_region: query.regione.clone(),
            ..Default::default()
        },
    )
    .await?;
    let period = summary.period.clone().unwrap_or_default();
    let within = if query.regione.is_empty() {
        String::new()
    } else {
        format!("&regione={}", urlencoding(&query.regione))
    };
    let path = format!("/cifre/{word}/{}", urlencoding(key));
    let csv = format!(
        "/v1/export/series?dimension={}&key={}&within_region={}&granularity={}&until={}&count=12",
        dimension.as_str_name(),
        urlencoding(key),
        urlencoding(&query.regione),
        period.kind,
        urlencoding(&period.code)
    );
    let name = summary.label.clone();
    Ok((
        name.clone(),
        html! {
            (layout::period_chooser(&path, &within, &period, summary.previous_period.as_ref()))
            h2 { "Riepilogo" }
            (table::summary(&summary))
            h2 { "Andamento" }
            (trend_charts(&series, &name, true))
            (comparison_bars(&summary))
            h2 { "Periodo per periodo" }
            (table::series(&series, &csv))
            (layout::data_version(summary.data_version.as_ref()))
        },
    ))
}

pub async fn page(
    State(pages): State<Pages>,
    Path((word, key)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match pages.session(&headers) {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match member_page(&pages, &session, &word, &key, &query).await {
        Ok((name, body)) => layout::page(&name, Some(&session), body).into_response(),
        Err(status) => refusal(&status, Some(&session)),
    }
}
