//! A region's page, for its tavolo tecnico: the summary against the nation and the previous
//! period, the trend lines and bars, the offices and topics slowest to answer (each a link
//! to its figures), and the tables of its provinces, offices, topics, patronati and motivi.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use combipat_proto::reporting::v1::reporting_server::Reporting as _;
use combipat_proto::reporting::v1::{
    Dimension, GetSeriesRequest, GetSeriesResponse, GetSummaryRequest, GetSummaryResponse,
    GetTableRequest, GetTableResponse, Row,
};
use maud::{Markup, html};

use super::{
    PageQuery, Pages, Session, charts, dimension_word, layout, refusal, table, urlencoding,
};
use crate::format::{number, value};

/// The tables of a region's page: (dimension, title).
const TABLES: [(Dimension, &str); 5] = [
    (Dimension::Province, "Province"),
    (Dimension::Office, "Uffici"),
    (Dimension::Topic, "Argomenti"),
    (Dimension::Patronato, "Patronati"),
    (Dimension::Motivo, "Motivi"),
];

/// Where a row of a region's table leads: the figures behind it.
pub fn row_link(dimension: Dimension, region: Option<&str>, period: &str, row: &Row) -> String {
    let within = match (dimension, region) {
        (Dimension::Topic | Dimension::Patronato | Dimension::Motivo, Some(region)) => {
            format!("&regione={region}")
        }
        _ => String::new(),
    };
    format!(
        "/cifre/{}/{}?periodo={}{within}",
        dimension_word(dimension),
        urlencoding(&row.key),
        urlencoding(period)
    )
}

pub fn csv_link(dimension: Dimension, region: Option<&str>, period: &str) -> String {
    let region = region
        .map(|region| format!("&region_code={region}"))
        .unwrap_or_default();
    format!(
        "/v1/export/tables/{}?period={}{region}",
        dimension.as_str_name(),
        urlencoding(period)
    )
}

/// The trend charts of a scope against the nation.
pub fn trend_charts(series: &GetSeriesResponse, name: &str, beside_nation: bool) -> Markup {
    let labels: Vec<String> = series
        .points
        .iter()
        .map(|point| {
            point
                .period
                .as_ref()
                .and_then(|period| crate::model::period::Period::parse(&period.code).ok())
                .map(|period| period.short_label())
                .unwrap_or_default()
        })
        .collect();
    let line = |field: &str, of_nation: bool| -> Vec<Option<f64>> {
        series
            .points
            .iter()
            .map(|point| {
                let figures = if of_nation {
                    point.nation.as_ref()
                } else {
                    point.figures.as_ref()
                };
                figures.and_then(|figures| value(figures, field))
            })
            .collect()
    };
    let pair = |field: &str| {
        let mut lines = vec![charts::Series {
            name: name.to_owned(),
            colour: charts::SCOPE_COLOUR,
            values: line(field, false),
        }];
        if beside_nation {
            lines.push(charts::Series {
                name: "Italia".to_owned(),
                colour: charts::NATION_COLOUR,
                values: line(field, true),
            });
        }
        lines
    };
    html! {
        div.grafici {
            (charts::lines("Giorni alla prima risposta (mediana)", &labels, &pair("first_answer_days_p50"), 1, " gg"))
            (charts::lines("Risposte entro 15 giorni (%)", &labels, &pair("share_within_15_days"), 1, "%"))
            (charts::lines("Soddisfazione (1-5)", &labels, &pair("satisfaction"), 2, ""))
            (charts::lines(&format!("Richieste ricevute: {name}"), &labels,
                &[charts::Series { name: name.to_owned(), colour: charts::SCOPE_COLOUR, values: line("received", false) }], 0, ""))
        }
    }
}

/// Bars of the scope against the nation for the period.
pub fn comparison_bars(summary: &GetSummaryResponse) -> Markup {
    let empty = Default::default();
    let own = summary.figures.as_ref().unwrap_or(&empty);
    let nation = summary.nation.as_ref().unwrap_or(&empty);
    let both = |field: &str| (value(own, field), value(nation, field));
    let (within_15, within_15_nation) = both("share_within_15_days");
    let (deadline, deadline_nation) = both("share_within_deadline");
    let (satisfaction, satisfaction_nation) = both("satisfaction");
    let (solleciti, solleciti_nation) = both("solleciti_per_100");
    html! {
        div.grafici {
            (charts::bars("Quote di risposte nel periodo (%)", &summary.label, &[
                ("Entro 15 giorni", within_15, within_15_nation),
                ("Entro la scadenza della sede", deadline, deadline_nation),
            ], 1, "%"))
            (charts::bars("Soddisfazione e solleciti", &summary.label, &[
                ("Soddisfazione (1-5)", satisfaction, satisfaction_nation),
                ("Solleciti ogni 100 richieste", solleciti, solleciti_nation),
            ], 2, ""))
        }
    }
}

fn worst_list(
    title: &str,
    table: &GetTableResponse,
    dimension: Dimension,
    region: &str,
    period: &str,
) -> Markup {
    let worst = table::worst(table, 5);
    html! {
        h2 { (title) }
        @if worst.is_empty() {
            p.nota { "Nessun dato sufficiente nel periodo." }
        } @else {
            ol {
                @for row in worst {
                    @let p90 = row.figures.as_ref().and_then(|figures| value(figures, "first_answer_days_p90"));
                    @let p50 = row.figures.as_ref().and_then(|figures| value(figures, "first_answer_days_p50"));
                    li {
                        a href=(row_link(dimension, Some(region), period, row)) { (row.label) }
                        ": 90% delle prime risposte entro " (p90.map(|v| number(v, 1)).unwrap_or_default()) " giorni"
                        " (mediana " (p50.map(|v| number(v, 1)).unwrap_or_default()) ")"
                    }
                }
            }
        }
    }
}

/// A scope's summary and its trend over the twelve periods up to the summary's.
pub async fn overview(
    pages: &Pages,
    session: &Session,
    request: GetSummaryRequest,
) -> Result<(GetSummaryResponse, GetSeriesResponse), tonic::Status> {
    let api = pages.api();
    let summary = api
        .get_summary(pages.request(session, request))
        .await?
        .into_inner();
    let period = summary.period.clone().unwrap_or_default();
    let scope = summary.scope.clone().unwrap_or_default();
    let series = api
        .get_series(pages.request(
            session,
            GetSeriesRequest {
                dimension: scope.dimension,
                key: scope.key,
                within_region: scope.region_code,
                granularity: period.kind,
                until: period.code,
                count: 12,
            },
        ))
        .await?
        .into_inner();
    Ok((summary, series))
}

async fn region_page(
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
            region_code: code.to_owned(),
            period: query.periodo.clone(),
            ..Default::default()
        },
    )
    .await?;
    let period = summary.period.clone().unwrap_or_default();
    let mut tables = Vec::new();
    for (dimension, title) in TABLES {
        let table = api
            .get_table(pages.request(
                session,
                GetTableRequest {
                    dimension: dimension as i32,
                    period: period.code.clone(),
                    region_code: code.to_owned(),
                    patronato: String::new(),
                },
            ))
            .await?
            .into_inner();
        tables.push((dimension, title, table));
    }
    let name = summary.label.clone();
    let path = format!("/regioni/{code}");
    Ok(html! {
        (layout::period_chooser(&path, "", &period, summary.previous_period.as_ref()))
        p.nota { "Tavolo tecnico regionale: " (name) " a confronto con l'Italia, " (period.label)
            ". Le cifre di un ufficio o di un patronato che riguardano meno di " (summary.small_cell_threshold)
            " richieste, risposte o valutazioni non sono mostrate (\"< " (summary.small_cell_threshold) "\")." }
        h2 { "Riepilogo" }
        (table::summary(&summary))
        p.esporta { a href={ "/v1/export/summary?region_code=" (code) "&period=" (urlencoding(&period.code)) } { "Scarica il riepilogo (CSV)" } }
        h2 { "Andamento" }
        (trend_charts(&series, &name, true))
        (comparison_bars(&summary))
        @for (dimension, _, table) in &tables {
            @if *dimension == Dimension::Office {
                (worst_list("Uffici con i tempi di risposta più lunghi", table, *dimension, code, &period.code))
            }
            @if *dimension == Dimension::Topic {
                (worst_list("Argomenti con i tempi di risposta più lunghi", table, *dimension, code, &period.code))
            }
        }
        @for (dimension, title, table) in &tables {
            h2 { (title) }
            (table::members(&format!("{title}: {name}, {}", period.label), table,
                |row| Some(row_link(*dimension, Some(code), &period.code, row)),
                &csv_link(*dimension, Some(code), &period.code)))
        }
        h2 { "Rapporti mensili" }
        p { a href={ "/rapporti?regione=" (code) } { "I rapporti mensili congelati di " (name) } }
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
    match region_page(&pages, &session, &code, &query).await {
        Ok(body) => layout::page(
            &format!("Tavolo tecnico: {}", crate::labels::region(&code)),
            Some(&session),
            body,
        )
        .into_response(),
        Err(status) => refusal(&status, Some(&session)),
    }
}
