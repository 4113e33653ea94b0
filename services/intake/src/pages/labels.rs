//! The frame of every page, and the Italian words for the API's codes.

use maud::{DOCTYPE, Markup, html};

use super::Session;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1b1b1b}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:2px solid #0066cc;margin-bottom:1rem}
a{color:#0066cc}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;text-align:left}
label{display:block;margin-top:.8rem;font-weight:600}input,select,textarea{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem}.errore{color:#b00020}.avviso{background:#fff4e5;padding:.6rem}
.riquadro{border:1px solid #ccc;padding:.8rem;margin:.8rem 0}fieldset{margin-top:.8rem}";

pub fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – COMBIPAT" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    p { strong { "COMBIPAT" } " · Scrivi alla sede INPS" }
                    @if let Some(session) = session {
                        nav {
                            a href="/richieste/nuova" { "Scrivi alla sede" } " · "
                            a href="/richieste" { "Le mie richieste" } " · "
                            a href="/notifiche" {
                                "Notifiche"
                                @if let Some(unread) = session.unread.filter(|unread| *unread > 0) { " (" (unread) ")" }
                            } " · "
                            span { (session.principal.subject) " ("
                                (session.principal.patronato_office.as_deref()
                                    .or(session.principal.patronato.as_deref()).unwrap_or_default()) ")" }
                            form method="post" action="/esci" style="display:inline" {
                                button type="submit" style="margin:0 0 0 .5rem;padding:.1rem .5rem" { "Esci" }
                            }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

pub const MOTIVI: [(&str, &str); 3] = [
    (
        "MOTIVO_SOLLECITO_PRATICA",
        "Sollecito su pratica presentata",
    ),
    (
        "MOTIVO_INFO_PAGAMENTI",
        "Informazioni sui pagamenti di una prestazione",
    ),
    ("MOTIVO_RICHIESTA_GENERICA", "Richiesta generica alla sede"),
];

pub fn motivo_label(code: i32) -> &'static str {
    use combipat_proto::common::v1::Motivo;
    match Motivo::try_from(code) {
        Ok(Motivo::SollecitoPratica) => MOTIVI[0].1,
        Ok(Motivo::InfoPagamenti) => MOTIVI[1].1,
        Ok(Motivo::RichiestaGenerica) => MOTIVI[2].1,
        _ => "—",
    }
}

pub fn status_label(status: &str) -> &str {
    match status {
        "SUBMITTED" => "Inviata",
        "ROUTED" => "Assegnata alla sede",
        "UNROUTABLE" => "In attesa di assegnazione",
        "INFO_REQUESTED" => "La sede chiede informazioni",
        "INFO_PROVIDED" => "Informazioni inviate",
        "ANSWERED" => "Risposta ricevuta",
        "CLOSED" => "Chiusa",
        "SOLLECITO" => "Sollecito inviato",
        "TRANSFERRED" => "Trasferita ad altra sede",
        other => other,
    }
}

pub fn field_label(field: &str) -> &str {
    match field.split('[').next().unwrap_or(field) {
        "motivo" => "Motivo",
        "codice_fiscale" => "Codice fiscale del cittadino",
        "comune_residenza" => "Comune di residenza",
        "topic" => "Argomento",
        "prestazione" => "Prestazione",
        "pratica_protocol_number" => "Numero di protocollo della pratica",
        "subject" => "Oggetto",
        "body" => "Testo",
        "attachment_ids" | "content" | "file_name" | "media_type" => "Allegati",
        "reply" => "Risposta",
        "rating" => "Valutazione",
        "comment" => "Commento",
        other => other,
    }
}

pub fn rome(timestamp: Option<&prost_types::Timestamp>) -> String {
    combipat_platform::time::from_timestamp(timestamp)
        .map(|at| {
            at.with_timezone(&chrono_tz::Europe::Rome)
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// An API refusal in words: the message and each field's reason.
pub fn refusal(status: &tonic::Status) -> Markup {
    use tonic_types::StatusExt as _;
    let violations = status
        .get_details_bad_request()
        .map(|bad| bad.field_violations)
        .unwrap_or_default();
    html! {
        div.errore role="alert" {
            @if violations.is_empty() {
                p { (status.message()) }
            } @else {
                p { "La richiesta non può essere inviata:" }
                ul { @for violation in &violations {
                    li { strong { (field_label(&violation.field)) } ": " (violation.description) }
                } }
            }
        }
    }
}
