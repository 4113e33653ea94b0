//! Figures as people read them, in Italian (a decimal comma), the same on the pages and in
//! the CSV, so that a table and its export show the same numbers; a hidden small cell is
//! "< 5", a figure with nothing to rest on (no answers yet) is empty ("—" on a page).

use combipat_proto::reporting::v1::Figures;

/// The columns of every table of figures: (field, heading).
pub const COLUMNS: [(&str, &str); 16] = [
    ("received", "Richieste ricevute"),
    ("answered", "Prime risposte"),
    ("backlog", "Aperte a fine periodo"),
    (
        "first_answer_days_p50",
        "Giorni alla prima risposta (mediana)",
    ),
    (
        "first_answer_days_p90",
        "Giorni alla prima risposta (90° percentile)",
    ),
    (
        "first_answer_business_days_p50",
        "Giorni lavorativi (mediana)",
    ),
    (
        "first_answer_business_days_p90",
        "Giorni lavorativi (90° percentile)",
    ),
    ("share_within_15_days", "Risposte entro 15 giorni (%)"),
    (
        "share_within_deadline",
        "Risposte entro la scadenza della sede (%)",
    ),
    ("solleciti_per_100", "Solleciti ogni 100 richieste"),
    ("transfers", "Trasferimenti"),
    ("info_requests", "Richieste di informazioni"),
    ("unroutable", "Non instradabili"),
    ("satisfaction", "Soddisfazione (1-5)"),
    ("ratings", "Valutazioni"),
    ("provenance", "Provenienza"),
];

/// A number with `decimals` digits after a decimal comma, and thousands with a dot.
pub fn number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let (sign, digits) = whole
        .strip_prefix('-')
        .map_or(("", whole), |digits| ("-", digits));
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped},{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

pub fn count(value: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    number(value as f64, 0)
}

/// What a table cell shows for `field` of `figures`; `threshold` is the small-cell limit.
pub fn cell(figures: &Figures, field: &str, threshold: u32) -> String {
    if figures.hidden.iter().any(|hidden| hidden == field) {
        return format!("< {threshold}");
    }
    let optional = |value: Option<f64>, decimals: usize, scale: f64| {
        value
            .map(|value| number(value * scale, decimals))
            .unwrap_or_default()
    };
    match field {
        "received" => count(figures.received),
        "answered" => count(figures.answered),
        "backlog" => count(figures.backlog),
        "first_answer_days_p50" => optional(figures.first_answer_days_p50, 1, 1.0),
        "first_answer_days_p90" => optional(figures.first_answer_days_p90, 1, 1.0),
        "first_answer_business_days_p50" => {
            optional(figures.first_answer_business_days_p50, 0, 1.0)
        }
        "first_answer_business_days_p90" => {
            optional(figures.first_answer_business_days_p90, 0, 1.0)
        }
        "share_within_15_days" => optional(figures.share_within_15_days, 1, 100.0),
        "share_within_deadline" => optional(figures.share_within_deadline, 1, 100.0),
        "solleciti_per_100" => optional(figures.solleciti_per_100, 1, 1.0),
        "transfers" => count(figures.transfers),
        "info_requests" => count(figures.info_requests),
        "unroutable" => count(figures.unroutable),
        "satisfaction" => optional(figures.satisfaction, 2, 1.0),
        "ratings" => count(figures.ratings),
        "provenance" => "Patronato".to_owned(),
        _ => String::new(),
    }
}

/// A figure as a number for charts (None when hidden or missing).
pub fn value(figures: &Figures, field: &str) -> Option<f64> {
    if figures.hidden.iter().any(|hidden| hidden == field) {
        return None;
    }
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    match field {
        "received" => Some(figures.received as f64),
        "answered" => Some(figures.answered as f64),
        "backlog" => Some(figures.backlog as f64),
        "first_answer_days_p50" => figures.first_answer_days_p50,
        "first_answer_days_p90" => figures.first_answer_days_p90,
        "first_answer_business_days_p50" => figures.first_answer_business_days_p50,
        "share_within_15_days" => figures.share_within_15_days.map(|share| share * 100.0),
        "share_within_deadline" => figures.share_within_deadline.map(|share| share * 100.0),
        "solleciti_per_100" => figures.solleciti_per_100,
        "satisfaction" => figures.satisfaction,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_the_italian_way() {
        assert_eq!(number(1_234_567.0, 0), "1.234.567");
        assert_eq!(number(4.426, 2), "4,43");
        assert_eq!(number(0.5, 1), "0,5");
        assert_eq!(number(-1234.5, 1), "-1.234,5");
        let figures = Figures {
            received: 3,
            hidden: vec!["received".into()],
            ..Figures::default()
        };
        assert_eq!(cell(&figures, "received", 5), "< 5");
        assert_eq!(cell(&figures, "satisfaction", 5), "");
    }
}
