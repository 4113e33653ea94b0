//! The frame of every page (this service's own: intake's frame is for operators), the
//! period chooser, and the data version line.

use combipat_proto::reporting::v1::{DataVersion, Period};
use maud::{DOCTYPE, Markup, html};

use super::{Session, urlencoding};

pub fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – COMBIPAT, cifre per i tavoli tecnici" }
                link rel="stylesheet" href="/stile.css";
                link rel="stylesheet" href="/stampa.css" media="print";
            }
            body {
                header {
                    p { strong { "COMBIPAT" } " · Cifre per i tavoli tecnici regionali" }
                    @if let Some(session) = session {
                        nav aria-label="Sezioni" {
                            a href="/" { "Inizio" }
                            a href="/rapporti" { "Rapporti mensili" }
                            span { (session.principal.subject) " (" (session.principal.role.as_str()) ")" }
                            form method="post" action="/esci" style="display:inline" {
                                button type="submit" { "Esci" }
                            }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// Links to the periods around `period`, and a field to type another.
pub fn period_chooser(
    path: &str,
    extra: &str,
    period: &Period,
    previous: Option<&Period>,
) -> Markup {
    let next_code = next_code(period);
    html! {
        form.periodo method="get" action=(path) {
            @if let Some(previous) = previous {
                a href={ (path) "?periodo=" (urlencoding(&previous.code)) (extra) } rel="prev" { "← " (previous.label) }
            }
            label for="periodo" { "Periodo" }
            input id="periodo" name="periodo" value=(period.code) title="2026-11 (mese), 2026-W47 (settimana), 2026-11-15 (giorno), 2026 (anno)";
            button type="submit" { "Mostra" }
            @if let Some(next) = next_code {
                a href={ (path) "?periodo=" (urlencoding(&next)) (extra) } rel="next" { "successivo →" }
            }
            span.nota { "mese (2026-11), settimana (2026-W47), giorno (2026-11-15), anno (2026)" }
        }
    }
}

fn next_code(period: &Period) -> Option<String> {
    let parsed = crate::model::period::Period::parse(&period.code).ok()?;
    Some(parsed.next().code())
}

pub fn data_version(version: Option<&DataVersion>) -> Markup {
    html! {
        @if let Some(version) = version {
            p.nota {
                "Dati: versione " (version.label) " (generazione " (version.generation)
                ", posizione " (version.stream_offset) " nello storico degli eventi)"
                @if let Some(newest) = &version.newest_event_at {
                    ", evento più recente letto: " (rome(newest))
                }
                ". Provenienza di tutte le richieste: Patronato."
            }
        }
    }
}

pub fn rome(timestamp: &prost_types::Timestamp) -> String {
    combipat_platform::time::from_timestamp(Some(timestamp))
        .map(|at| {
            at.with_timezone(&chrono_tz::Europe::Rome)
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}
