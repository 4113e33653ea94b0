//! The load run's report for people: a short Markdown page and a histogram of the
//! submit -> filed latencies as an SVG picture (log-scaled buckets), so the shape of the
//! distribution shows at a glance.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Bucket upper bounds in milliseconds: roughly logarithmic, as latencies are.
const BUCKETS_MS: [f64; 16] = [
    2.0,
    3.0,
    5.0,
    7.5,
    10.0,
    15.0,
    20.0,
    30.0,
    50.0,
    75.0,
    100.0,
    150.0,
    250.0,
    500.0,
    1000.0,
    f64::INFINITY,
];

pub fn svg_histogram(title: &str, latencies_us: &Histogram<u64>) -> String {
    let mut counts = [0u64; BUCKETS_MS.len()];
    for value in latencies_us.iter_recorded() {
        let ms = value.value_iterated_to() as f64 / 1000.0;
        let bucket = BUCKETS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(BUCKETS_MS.len() - 1);
        counts[bucket] += value.count_since_last_iteration();
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let (width, height, left, bottom, bar) = (760.0, 320.0, 50.0, 60.0, 40.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{left}" y="18" font-size="14">{title}</text>"#
    );
    let plot = height - bottom - 30.0;
    for (index, count) in counts.iter().enumerate() {
        let x = left + index as f64 * (bar + 6.0);
        let h = plot * (*count as f64) / max;
        let y = 30.0 + plot - h;
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{y:.1}" width="{bar}" height="{h:.1}" fill="#0066cc"/>"##
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{count}</text>"#,
            x + bar / 2.0,
            y - 3.0
        );
        let label = if BUCKETS_MS[index].is_finite() {
            format!("≤{}", BUCKETS_MS[index])
        } else {
            ">1000".to_owned()
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            x + bar / 2.0,
            height - bottom + 15.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">milliseconds from submit to filed in the office queue (requests per bucket)</text></svg>"#,
        width / 2.0,
        height - 20.0
    );
    svg
}
