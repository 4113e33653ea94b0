//! Every table as CSV, for a spreadsheet in Italian: `;` between fields, a decimal comma, the
//! same text as the pages ("< 5" for a hidden small cell), UTF-8 with a byte-order mark. The
//! body is streamed as it is written; the cells of a dimension day by day come straight
//! from a database cursor, so no export has a row cap.
//!
//! Routes (a bearer token, or the pages' sign-in cookie):
//! - `GET /v1/export/summary`: GetSummary's query; a row per figure (scope, Italia, previous);
//! - `GET /v1/export/tables/{dimension}`: GetTable's query; the nation, then the rows;
//! - `GET /v1/export/series`: GetSeries's query; a row per period, the scope's and the nation's;
//! - `GET /v1/export/days/{dimension}`: every member of a table, every day of the period;
//! - `GET /v1/export/reports/{month}/{region_code}/{dimension}`: a frozen report's table.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use combipat_platform::ApiError;
use combipat_platform::json_api::Problem;
use combipat_proto::reporting::v1::reporting_server::Reporting as _;
use combipat_proto::reporting::v1::{
    Dimension, Figures, GetReportRequest, GetSeriesRequest, GetSummaryRequest, GetTableRequest,
};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::format::{COLUMNS, cell};
use crate::labels;
use crate::model::figures::Aggregate;
use crate::pages::Pages;
use crate::store::cells;

/// One CSV line.
fn line(fields: &[String]) -> Bytes {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    // Writing to memory cannot fail; a failure would only leave the line empty.
    let _ = writer.write_record(fields);
    Bytes::from(writer.into_inner().unwrap_or_default())
}

fn heading(first: &[&str]) -> Bytes {
    let mut fields: Vec<String> = first.iter().map(|field| (*field).to_owned()).collect();
    fields.extend(COLUMNS.iter().map(|(_, title)| (*title).to_owned()));
    line(&fields)
}

fn values(first: Vec<String>, figures: &Figures, threshold: u32) -> Bytes {
    let mut fields = first;
    fields.extend(
        COLUMNS
            .iter()
            .map(|(field, _)| cell(figures, field, threshold)),
    );
    line(&fields)
}

/// A streamed CSV response; `name` is the file's name.
fn streamed(name: &str) -> (mpsc::Sender<Result<Bytes, Infallible>>, Response) {
    let (sender, receiver) = mpsc::channel(64);
    let mut response = Body::from_stream(ReceiverStream::new(receiver)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    (sender, response)
}

/// The whole of a small table, sent as it is written.
fn send_all(name: &str, lines: Vec<Bytes>) -> Response {
    let (sender, response) = streamed(name);
    tokio::spawn(async move {
        let _ = sender.send(Ok(Bytes::from_static(b"\xEF\xBB\xBF"))).await;
        for line in lines {
            if sender.send(Ok(line)).await.is_err() {
                return;
            }
        }
    });
    response
}

fn problem(status: &tonic::Status) -> Response {
    Problem::from_status(status).into_response()
}

/// The query string as a request message (the same fields as the JSON API).
fn query<T: for<'de> Deserialize<'de> + Default>(raw: Option<&str>) -> Result<T, Box<Response>> {
    serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|error| {
        Box::new(
            Problem::bad_request(format!("the query string is malformed: {error}")).into_response(),
        )
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryQuery {
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    dimension: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    within_region: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    patronato: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    #[serde(default)]
    dimension: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    within_region: String,
    #[serde(default)]
    granularity: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    count: u32,
}

fn dimension(text: &str, field: &str) -> Result<Dimension, Box<Response>> {
    if text.is_empty() {
        return Ok(Dimension::Unspecified);
    }
    Dimension::from_str_name(text).ok_or_else(|| {
        Box::new(
            Problem::invalid(vec![combipat_platform::Violation::new(
                field,
                "unknown dimension: DIMENSION_REGION, DIMENSION_PROVINCE, ...",
            )])
            .into_response(),
        )
    })
}

macro_rules! try_response {
    ($expression:expr) => {
        match $expression {
            Ok(value) => value,
            Err(response) => return *response,
        }
    };
}

pub async fn summary(
    State(pages): State<Pages>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let session = try_response!(pages.session(&headers));
    let asked: SummaryQuery = try_response!(query(raw.as_deref()));
    let request = GetSummaryRequest {
        region_code: asked.region_code,
        period: asked.period,
        dimension: try_response!(dimension(&asked.dimension, "dimension")) as i32,
        key: asked.key,
        within_region: asked.within_region,
    };
    let summary = match pages
        .api()
        .get_summary(pages.request(&session, request))
        .await
    {
        Ok(summary) => summary.into_inner(),
        Err(status) => return problem(&status),
    };
    let empty = Figures::default();
    let threshold = summary.small_cell_threshold;
    let period = summary.period.clone().unwrap_or_default();
    let previous = summary.previous_period.clone().unwrap_or_default();
    let mut lines = vec![line(&[
        "Indicatore".to_owned(),
        summary.label.clone(),
        "Italia".to_owned(),
        format!("{}, {}", summary.label, previous.label),
    ])];
    for (field, title) in COLUMNS {
        lines.push(line(&[
            title.to_owned(),
            cell(summary.figures.as_ref().unwrap_or(&empty), field, threshold),
            cell(summary.nation.as_ref().unwrap_or(&empty), field, threshold),
            cell(
                summary.previous.as_ref().unwrap_or(&empty),
                field,
                threshold,
            ),
        ]));
    }
    send_all(&format!("riepilogo-{}", period.code), lines)
}

pub async fn table(
    State(pages): State<Pages>,
    Path(dimension_name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let session = try_response!(pages.session(&headers));
    let asked: TableQuery = try_response!(query(raw.as_deref()));
    let request = GetTableRequest {
        dimension: try_response!(dimension(&dimension_name, "dimension")) as i32,
        period: asked.period,
        region_code: asked.region_code,
        patronato: asked.patronato,
    };
    let table = match pages
        .api()
        .get_table(pages.request(&session, request))
        .await
    {
        Ok(table) => table.into_inner(),
        Err(status) => return problem(&status),
    };
    let threshold = table.small_cell_threshold;
    let period = table.period.clone().unwrap_or_default();
    let mut lines = vec![heading(&["Chiave", "Nome", "Periodo"])];
    lines.push(values(
        vec!["IT".into(), "Italia".into(), period.code.clone()],
        table.nation.as_ref().unwrap_or(&Figures::default()),
        threshold,
    ));
    if let Some(within) = &table.within {
        lines.push(values(
            vec![
                within.key.clone(),
                within.label.clone(),
                period.code.clone(),
            ],
            within.figures.as_ref().unwrap_or(&Figures::default()),
            threshold,
        ));
    }
    for row in &table.rows {
        lines.push(values(
            vec![row.key.clone(), row.label.clone(), period.code.clone()],
            row.figures.as_ref().unwrap_or(&Figures::default()),
            threshold,
        ));
    }
    send_all(
        &format!("{}-{}", dimension_name.to_lowercase(), period.code),
        lines,
    )
}

pub async fn series(
    State(pages): State<Pages>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let session = try_response!(pages.session(&headers));
    let asked: SeriesQuery = try_response!(query(raw.as_deref()));
    let request = GetSeriesRequest {
        dimension: try_response!(dimension(&asked.dimension, "dimension")) as i32,
        key: asked.key,
        within_region: asked.within_region,
        granularity: asked.granularity,
        until: asked.until,
        count: asked.count,
    };
    let series = match pages
        .api()
        .get_series(pages.request(&session, request))
        .await
    {
        Ok(series) => series.into_inner(),
        Err(status) => return problem(&status),
    };
    let threshold = series.small_cell_threshold;
    let empty = Figures::default();
    let mut lines = vec![heading(&["Periodo", "Ambito"])];
    for point in &series.points {
        let period = point
            .period
            .as_ref()
            .map(|period| period.code.clone())
            .unwrap_or_default();
        lines.push(values(
            vec![period.clone(), series.label.clone()],
            point.figures.as_ref().unwrap_or(&empty),
            threshold,
        ));
        lines.push(values(
            vec![period, "Italia".to_owned()],
            point.nation.as_ref().unwrap_or(&empty),
            threshold,
        ));
    }
    send_all("serie", lines)
}

pub async fn report(
    State(pages): State<Pages>,
    Path((month, region, dimension_name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let session = try_response!(pages.session(&headers));
    let wanted = try_response!(dimension(&dimension_name, "dimension"));
    let report = match pages
        .api()
        .get_report(pages.request(
            &session,
            GetReportRequest {
                month: month.clone(),
                region_code: region.clone(),
            },
        ))
        .await
    {
        Ok(report) => report.into_inner(),
        Err(status) => return problem(&status),
    };
    let Some(part) = report
        .tables
        .iter()
        .find(|part| part.dimension == wanted as i32)
    else {
        return problem(&tonic::Status::from(ApiError::NotFound(format!(
            "the report of {region} for {month} has no table {dimension_name}"
        ))));
    };
    let mut lines = vec![heading(&["Chiave", "Nome", "Mese"])];
    for row in &part.rows {
        lines.push(values(
            vec![row.key.clone(), row.label.clone(), month.clone()],
            row.figures.as_ref().unwrap_or(&Figures::default()),
            report.small_cell_threshold,
        ));
    }
    send_all(
        &format!(
            "rapporto-{region}-{month}-{}",
            dimension_name.to_lowercase()
        ),
        lines,
    )
}

/// Every member of a table, day by day, from a database cursor.
pub async fn days(
    State(pages): State<Pages>,
    Path(dimension_name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let session = try_response!(pages.session(&headers));
    let asked: TableQuery = try_response!(query(raw.as_deref()));
    let wanted = try_response!(dimension(&dimension_name, "dimension"));
    let api = pages.api();
    let reader = api.reader.clone();
    let region = (!asked.region_code.is_empty()).then_some(asked.region_code.as_str());
    let patronato = (!asked.patronato.is_empty()).then_some(asked.patronato.as_str());
    let prepared = async {
        let period = reader.period(&asked.period, "period")?;
        let of = crate::tables::table_of(&reader, wanted, region, patronato).await?;
        api.reach_of(&session.principal)
            .await?
            .check_table(of.dim, region, patronato)?;
        let generation = reader.active().await?;
        let offices = reader.offices().await?;
        let before = cells::backlogs(
            &reader.pool,
            generation.generation,
            of.dim,
            &of.members,
            period.first - chrono::Days::new(1),
        )
        .await
        .map_err(ApiError::from)?;
        Ok::<_, ApiError>((period, of, generation, offices, before))
    };
    let (period, of, generation, offices, before) = match prepared.await {
        Ok(prepared) => prepared,
        Err(error) => return problem(&tonic::Status::from(error)),
    };
    let (sender, response) = streamed(&format!(
        "{}-{}-giorni",
        dimension_name.to_lowercase(),
        period.code()
    ));
    tokio::spawn(async move {
        let _ = sender.send(Ok(Bytes::from_static(b"\xEF\xBB\xBF"))).await;
        let _ = sender
            .send(Ok(heading(&["Chiave", "Nome", "Giorno"])))
            .await;
        let opening: std::collections::HashMap<String, i64> = before.into_iter().collect();
        let (rows, mut received) = mpsc::channel(256);
        let producer = tokio::spawn(cells::for_each_day(
            reader.pool.clone(),
            generation.generation,
            of.dim,
            of.members.clone(),
            period.first,
            period.last(),
            rows,
        ));
        let mut current = String::new();
        let mut running = 0i64;
        while let Some((key, day, measures)) = received.recv().await {
            if key != current {
                running = opening.get(&key).copied().unwrap_or(0);
                current.clone_from(&key);
            }
            running += measures.received - measures.resolved;
            let figures = reader.figures(
                of.dim,
                &Aggregate {
                    measures,
                    backlog: running,
                },
            );
            let shown = (of.shown)(&key).to_owned();
            let label = labels::label(of.dim, &key, &offices);
            if sender
                .send(Ok(values(
                    vec![shown, label, day.to_string()],
                    &figures,
                    reader.threshold,
                )))
                .await
                .is_err()
            {
                break;
            }
        }
        drop(received);
        match producer.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %error, "a CSV export stopped half way: the database failed")
            }
            Err(error) => tracing::error!(error = %error, "a CSV export's reader failed"),
        }
    });
    response
}
