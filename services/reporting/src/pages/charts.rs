//! Charts drawn as SVG on the server (no scripts): trend lines of a scope against the nation,
//! and bars of a scope against the nation. Each carries a title and a text description, and
//! every point its value, for those who do not see the drawing.

use maud::{Markup, html};

use crate::format::number;

pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub values: Vec<Option<f64>>,
}

pub const SCOPE_COLOUR: &str = "#0066cc";
pub const NATION_COLOUR: &str = "#d9822b";

const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 34.0;

/// A round upper bound for an axis.
fn ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn describe(labels: &[String], series: &[Series], decimals: usize, unit: &str) -> String {
    series
        .iter()
        .map(|line| {
            let points: Vec<String> = labels
                .iter()
                .zip(&line.values)
                .map(|(label, value)| {
                    format!(
                        "{label}: {}",
                        value.map_or_else(
                            || "n.d.".to_owned(),
                            |value| format!("{}{unit}", number(value, decimals))
                        )
                    )
                })
                .collect();
            format!("{}: {}", line.name, points.join("; "))
        })
        .collect::<Vec<_>>()
        .join(". ")
}

/// Lines over periods (`labels`), one per series, on an axis from 0.
pub fn lines(
    title: &str,
    labels: &[String],
    series: &[Series],
    decimals: usize,
    unit: &str,
) -> Markup {
    let max = series
        .iter()
        .flat_map(|line| line.values.iter().flatten())
        .copied()
        .fold(0.0, f64::max);
    let top = ceiling(max);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    #[allow(clippy::cast_precision_loss, reason = "a handful of periods")]
    let step = if labels.len() > 1 {
        plot_width / (labels.len() - 1) as f64
    } else {
        0.0
    };
    #[allow(clippy::cast_precision_loss, reason = "a handful of periods")]
    let x = |index: usize| LEFT + step * index as f64;
    let y = |value: f64| TOP + plot_height * (1.0 - value / top);
    let every = labels.len().div_ceil(8).max(1);
    html! {
        figure {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 18.0) } role="img" aria-label=(title) {
                title { (title) }
                desc { (describe(labels, series, decimals, unit)) }
                @for tick in 0..=4 {
                    @let value = top * f64::from(tick) / 4.0;
                    line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(value)) y2=(y(value)) stroke="#ddd" {}
                    text x=(LEFT - 6.0) y=(y(value) + 4.0) text-anchor="end" font-size="10" { (number(value, if top < 10.0 { 1 } else { 0 })) }
                }
                @for (index, label) in labels.iter().enumerate() {
                    @if index % every == 0 || index + 1 == labels.len() {
                        text x=(x(index)) y=(HEIGHT - BOTTOM + 16.0) text-anchor="middle" font-size="10" { (label) }
                    }
                }
                @for line in series {
                    @let points: Vec<String> = line.values.iter().enumerate()
                        .filter_map(|(index, value)| value.map(|value| format!("{:.1},{:.1}", x(index), y(value))))
                        .collect();
                    polyline points=(points.join(" ")) fill="none" stroke=(line.colour) stroke-width="2" {}
                    @for (index, value) in line.values.iter().enumerate() {
                        @if let Some(value) = value {
                            circle cx=(format!("{:.1}", x(index))) cy=(format!("{:.1}", y(*value))) r="3" fill=(line.colour) {
                                title { (line.name) ", " (labels[index]) ": " (number(*value, decimals)) (unit) }
                            }
                        }
                    }
                }
                @for (index, line) in series.iter().enumerate() {
                    @let left = LEFT + 150.0 * f64::from(u32::try_from(index).unwrap_or(0));
                    rect x=(left) y=(HEIGHT + 4.0) width="12" height="4" fill=(line.colour) {}
                    text x=(left + 16.0) y=(HEIGHT + 10.0) font-size="11" { (line.name) }
                }
            }
        }
    }
}

/// Bars of the scope beside the nation, one pair per figure: (label, scope, nation).
pub fn bars(
    title: &str,
    scope: &str,
    items: &[(&str, Option<f64>, Option<f64>)],
    decimals: usize,
    unit: &str,
) -> Markup {
    let row = 40.0;
    let label_width = 170.0;
    let max = items
        .iter()
        .flat_map(|(_, a, b)| [*a, *b])
        .flatten()
        .fold(0.0, f64::max);
    let top = ceiling(max);
    #[allow(clippy::cast_precision_loss, reason = "a handful of items")]
    let height = row * items.len() as f64 + 24.0;
    let width = |value: f64| (WIDTH - label_width - 60.0) * value / top;
    let description: Vec<String> = items
        .iter()
        .map(|(label, a, b)| {
            let show = |value: &Option<f64>| {
                value.map_or_else(
                    || "n.d.".to_owned(),
                    |value| format!("{}{unit}", number(value, decimals)),
                )
            };
            format!("{label}: {scope} {}, Italia {}", show(a), show(b))
        })
        .collect();
    html! {
        figure {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(title) {
                title { (title) }
                desc { (description.join(". ")) }
                @for (index, (label, own, nation)) in items.iter().enumerate() {
                    @let top_y = row * f64::from(u32::try_from(index).unwrap_or(0));
                    text x="0" y=(top_y + 16.0) font-size="11" { (label) }
                    @for (offset, value, colour) in [(4.0, own, SCOPE_COLOUR), (20.0, nation, NATION_COLOUR)] {
                        @if let Some(value) = value {
                            rect x=(label_width) y=(top_y + offset) width=(format!("{:.1}", width(*value))) height="13" fill=(colour) {}
                            text x=(format!("{:.1}", label_width + width(*value) + 4.0)) y=(top_y + offset + 11.0) font-size="10" { (number(*value, decimals)) (unit) }
                        }
                    }
                }
                rect x=(label_width) y=(height - 14.0) width="12" height="4" fill=(SCOPE_COLOUR) {}
                text x=(label_width + 16.0) y=(height - 8.0) font-size="11" { (scope) }
                rect x=(label_width + 150.0) y=(height - 14.0) width="12" height="4" fill=(NATION_COLOUR) {}
                text x=(label_width + 166.0) y=(height - 8.0) font-size="11" { "Italia" }
            }
        }
    }
}
