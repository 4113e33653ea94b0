//! Tables of figures: a summary (a scope against the nation and its own previous period) and
//! a dimension's table (one row per member, the nation first), with the CSV beside each.

use combipat_proto::reporting::v1::{Figures, GetSummaryResponse, GetTableResponse, Row};
use maud::{Markup, html};

use crate::format::{COLUMNS, cell, value};

/// Whether a higher value of `field` is better (None: neither, e.g. a count).
fn higher_is_better(field: &str) -> Option<bool> {
    match field {
        "share_within_15_days" | "share_within_deadline" | "satisfaction" => Some(true),
        "first_answer_days_p50"
        | "first_answer_days_p90"
        | "first_answer_business_days_p50"
        | "first_answer_business_days_p90"
        | "solleciti_per_100"
        | "backlog" => Some(false),
        _ => None,
    }
}

fn trend(now: &Figures, before: &Figures, field: &str) -> Markup {
    let (Some(now), Some(before)) = (value(now, field), value(before, field)) else {
        return html! { "" };
    };
    let (arrow, better) = if (now - before).abs() < 1e-9 {
        ("=", None)
    } else if now > before {
        ("↑", higher_is_better(field))
    } else {
        ("↓", higher_is_better(field).map(|higher| !higher))
    };
    let class = match better {
        Some(true) => "meglio",
        Some(false) => "peggio",
        None => "",
    };
    html! { span class=(class) { (arrow) } }
}

/// The figures of a scope, down the page: the scope, the nation, the scope's previous period.
pub fn summary(summary: &GetSummaryResponse) -> Markup {
    let empty = Figures::default();
    let figures = summary.figures.as_ref().unwrap_or(&empty);
    let nation = summary.nation.as_ref().unwrap_or(&empty);
    let previous = summary.previous.as_ref().unwrap_or(&empty);
    let threshold = summary.small_cell_threshold;
    let period = summary
        .period
        .as_ref()
        .map(|period| period.label.clone())
        .unwrap_or_default();
    let before = summary
        .previous_period
        .as_ref()
        .map(|period| period.label.clone())
        .unwrap_or_default();
    // The nation's own summary has no national column beside it.
    let beside_nation = summary.scope.as_ref().is_some_and(|scope| {
        scope.dimension != combipat_proto::reporting::v1::Dimension::Nation as i32
    });
    html! {
        div.scorri {
            table.riepilogo {
                caption { "Riepilogo: " (summary.label) " e Italia, " (period) }
                thead { tr {
                    th scope="col" { "Indicatore" }
                    th scope="col" { (summary.label) }
                    @if beside_nation { th scope="col" { "Italia" } }
                    th scope="col" { (summary.label) ", " (before) }
                    th scope="col" { "Tendenza" }
                } }
                tbody {
                    @for (field, heading) in COLUMNS {
                        tr data-field=(field) {
                            th scope="row" { (heading) }
                            td.ambito { (cell(figures, field, threshold)) }
                            @if beside_nation { td.italia { (cell(nation, field, threshold)) } }
                            td.precedente { (cell(previous, field, threshold)) }
                            td { (trend(figures, previous, field)) }
                        }
                    }
                }
            }
        }
    }
}

fn figures_row(label: Markup, key: &str, figures: &Figures, threshold: u32) -> Markup {
    html! {
        tr data-key=(key) {
            th scope="row" { (label) }
            @for (field, _) in COLUMNS {
                td data-field=(field) { (cell(figures, field, threshold)) }
            }
        }
    }
}

/// A dimension's table: the nation first, then what the rows are within, then the rows;
/// `link` gives each row's page of figures.
pub fn members(
    title: &str,
    table: &GetTableResponse,
    link: impl Fn(&Row) -> Option<String>,
    csv: &str,
) -> Markup {
    let empty = Figures::default();
    let threshold = table.small_cell_threshold;
    html! {
        div.scorri {
            table.cifre {
                caption {
                    (title)
                    " " a.esporta href=(csv) { "(CSV)" }
                }
                thead { tr {
                    th scope="col" { "" }
                    @for (_, heading) in COLUMNS { th scope="col" { (heading) } }
                } }
                tbody {
                    (figures_row(html! { "Italia" }, "IT", table.nation.as_ref().unwrap_or(&empty), threshold))
                    @if let Some(within) = &table.within {
                        (figures_row(html! { (within.label) }, &format!("within:{}", within.key), within.figures.as_ref().unwrap_or(&empty), threshold))
                    }
                    @for row in &table.rows {
                        @let label = match link(row) {
                            Some(href) => html! { a href=(href) { (row.label) } },
                            None => html! { (row.label) },
                        };
                        (figures_row(label, &row.key, row.figures.as_ref().unwrap_or(&empty), threshold))
                    }
                }
            }
        }
        @if table.rows.is_empty() {
            p.nota { "Nessuna richiesta nel periodo." }
        }
    }
}

/// The rows with the longest time to the first answer (90th percentile), worst first;
/// hidden small cells and rows without answers left out.
pub fn worst(table: &GetTableResponse, count: usize) -> Vec<&Row> {
    let mut rows: Vec<(&Row, f64)> = table
        .rows
        .iter()
        .filter_map(|row| Some((row, value(row.figures.as_ref()?, "first_answer_days_p90")?)))
        .collect();
    rows.sort_by(|left, right| {
        right
            .1
            .total_cmp(&left.1)
            .then_with(|| left.0.key.cmp(&right.0.key))
    });
    rows.into_iter().take(count).map(|(row, _)| row).collect()
}

/// A series, one row per period (the scope's figures), newest last.
pub fn series(series: &combipat_proto::reporting::v1::GetSeriesResponse, csv: &str) -> Markup {
    let empty = Figures::default();
    let threshold = series.small_cell_threshold;
    html! {
        div.scorri {
            table.cifre {
                caption { (series.label) ", periodo per periodo " a.esporta href=(csv) { "(CSV)" } }
                thead { tr {
                    th scope="col" { "Periodo" }
                    @for (_, heading) in COLUMNS { th scope="col" { (heading) } }
                } }
                tbody {
                    @for point in &series.points {
                        @let period = point.period.as_ref().map(|period| period.label.clone()).unwrap_or_default();
                        @let key = point.period.as_ref().map(|period| period.code.clone()).unwrap_or_default();
                        (figures_row(html! { (period) }, &key, point.figures.as_ref().unwrap_or(&empty), threshold))
                    }
                }
            }
        }
    }
}
