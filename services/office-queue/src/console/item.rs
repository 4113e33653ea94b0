//! One item: the request as the patronato wrote it, where it stands (status, SLA and its
//! reasons, who holds it and for how long), its files, its history with the internal notes,
//! and the forms for what the caller may do now. Every form carries the version the page
//! showed, so a change someone made meanwhile is refused (`ABORTED`), never overwritten.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use combipat_platform::auth::Role;
use combipat_proto::common::v1::{AttachmentRef, GetAttachmentRequest};
use combipat_proto::officequeue::v1::office_queue_server::OfficeQueue as _;
use combipat_proto::officequeue::v1::{GetItemRequest, GetItemResponse};
use combipat_web::Caller;
use combipat_web::shell::{self, Input};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, labels};

#[derive(Debug, Default, Deserialize)]
pub struct Outcome {
    /// What was just done, for the confirmation above the page.
    #[serde(default)]
    fatto: String,
}

fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "presa" => "Hai preso in carico la pratica.",
        "rilasciata" => "Hai rilasciato la pratica.",
        "risposta" => "Risposta inviata al patronato.",
        "domanda" => "Richiesta di informazioni inviata al patronato.",
        "nota" => "Nota interna aggiunta.",
        "chiusa" => "Pratica chiusa.",
        "assegnata" => "Pratica assegnata.",
        _ => return None,
    })
}

pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(outcome): Query<Outcome>,
) -> Response {
    let caller = match console.caller(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let notice = done_message(&outcome.fatto).map(|text| shell::alert("success", html! { (text) }));
    render(&console, &caller, &id, notice).await
}

pub async fn render(
    console: &Console,
    caller: &Caller,
    id: &str,
    notice: Option<Markup>,
) -> Response {
    let read = console
        .call(
            caller,
            GetItemRequest {
                request_id: id.to_owned(),
            },
            |api, request| async move { api.get_item(request).await },
        )
        .await;
    match read {
        Err(status) => console.page(caller, "Pratica", "/coda", Console::refusal(&status)),
        Ok(read) => {
            let offices = console.directory.offices(&caller.token).await;
            let title = format!(
                "Pratica {}",
                read.item
                    .as_ref()
                    .map(|item| item.protocol_number.as_str())
                    .unwrap_or_default()
            );
            let body = html! {
                @if let Some(notice) = notice { (notice) }
                (item_page(caller, &read, offices))
            };
            console.page(caller, &title, "/coda", body)
        }
    }
}

fn files(title: &str, list: &[AttachmentRef]) -> Markup {
    html! {
        h3.h6 { (title) }
        @if list.is_empty() { p.small { "Nessuno." } } @else {
            ul { @for file in list {
                li { a href={ "/allegati/" (file.id) } { (file.file_name) } " (" (file.size_bytes / 1024 + 1) " KB)" }
            } }
        }
    }
}

fn lease_line(caller: &Caller, holder: &str, until: Option<&prost_types::Timestamp>) -> Markup {
    let left = combipat_platform::time::from_timestamp(until)
        .map(|until| (until - chrono::Utc::now()).num_minutes().max(0))
        .unwrap_or_default();
    html! {
        p #presa-in-carico {
            @if holder.is_empty() { "Nessuno ha in carico la pratica." }
            @else {
                "In carico a " strong { @if holder == caller.principal.subject { "te" } @else { (holder) } }
                " fino alle " (shell::rome(until)) " (ancora " (left) " minuti)."
            }
        }
    }
}

fn item_page(
    caller: &Caller,
    read: &GetItemResponse,
    offices: Result<Vec<combipat_proto::router::v1::Office>, tonic::Status>,
) -> Markup {
    let item = read.item.clone().unwrap_or_default();
    let priority = item.priority.clone().unwrap_or_default();
    let me = caller.principal.subject.as_str();
    let mine = item.claimed_by == me;
    let free = item.claimed_by.is_empty();
    let open = item.status != "CLOSED";
    let responsabile = caller.principal.role == Role::Responsabile;
    let base = format!("/coda/{}", item.request_id);
    let version = item.version.to_string();
    let office_choices: Vec<(String, String)> = offices
        .as_ref()
        .map(|list| {
            list.iter()
                .filter(|office| office.code != item.office_code)
                .map(|office| {
                    (
                        office.code.clone(),
                        format!("{} ({})", office.name, office.code),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    html! {
        div.row {
            div.col-lg-8 {
                h2.h4 { "La richiesta" }
                dl.riepilogo {
                    dt { "Oggetto" } dd #oggetto { (item.subject) }
                    dt { "Testo del patronato" } dd.testo #testo { (read.body) }
                    dt { "Motivo" } dd { (labels::motivo_label(item.motivo)) }
                    dt { "Argomento" } dd { (labels::topic(&item.topic)) }
                    @if !item.pratica_protocol_number.is_empty() { dt { "Pratica" } dd { (item.pratica_protocol_number) } }
                    dt { "Cittadino" } dd { (item.codice_fiscale) @if !item.comune_residenza.is_empty() { " · residenza " (item.comune_residenza) } }
                    dt { "Patronato" } dd { (item.patronato) @if !item.patronato_office.is_empty() { ", sede " (item.patronato_office) } " · provenienza: Patronato" }
                    dt { "Inviata" } dd { (shell::rome(item.submitted_at.as_ref())) }
                }
                h2.h4.mt-4 { "Allegati" }
                (files("Del patronato", &read.request_attachments))
                (files("Dell'ufficio", &read.office_attachments))
                h2.h4.mt-4 { "Storia e note interne" }
                div.table-responsive { table.table.storia {
                    caption.visually-hidden { "Storia della pratica, dalla più vecchia" }
                    thead { tr { th scope="col" { "Quando" } th scope="col" { "Chi" } th scope="col" { "Cosa" } th scope="col" { "Dettaglio" } } }
                    tbody { @for entry in &read.history {
                        tr.nota-interna[entry.internal] {
                            td { (shell::rome(entry.at.as_ref())) }
                            td { (entry.actor) }
                            td { (labels::action_label(&entry.action)) @if entry.internal { " " span.badge.bg-secondary { "interna" } } }
                            td.testo { (labels::history_text(&entry.action, &entry.text)) }
                        }
                    } }
                } }
            }
            div.col-lg-4 {
                div.card.card-bg.mb-4 { div.card-body {
                    h2.h5.card-title { "Stato" }
                    p { span.badge.bg-primary #stato { (labels::status_label(&item.status)) } " "
                        span class=(labels::sla_badge(priority.sla_state)) { (labels::sla_label(priority.sla_state)) } }
                    ul.small { @for reason in &priority.reasons { li { (labels::reason(reason)) } } }
                    (lease_line(caller, &item.claimed_by, item.lease_until.as_ref()))
                    p.small.mb-0 { "Versione " (item.version) ": se qualcun altro la cambia mentre lavori, la tua modifica viene rifiutata e la pagina te lo dice." }
                } }
                @if open {
                    div.azioni.mb-4 {
                        @if free || mine {
                            form method="post" action={ (base) "/prendi" } {
                                input type="hidden" name="versione" value=(version);
                                button.btn.btn-primary type="submit" { @if mine { "Rinnova la presa in carico" } @else { "Prendi in carico" } }
                            }
                        }
                        @if mine || (responsabile && !free) {
                            form method="post" action={ (base) "/rilascia" } {
                                input type="hidden" name="versione" value=(version);
                                button.btn.btn-outline-primary type="submit" { "Rilascia" }
                            }
                        }
                        form method="post" action={ (base) "/chiudi" } {
                            input type="hidden" name="versione" value=(version);
                            button.btn.btn-outline-danger type="submit" { "Chiudi la pratica" }
                        }
                    }
                }
            }
        }
        @if open {
            @if mine {
                div.row.mt-2 {
                    div.col-lg-6 {
                        h2.h4 #rispondi { "Rispondi al patronato" }
                        form method="post" action={ (base) "/rispondi" } enctype="multipart/form-data" {
                            input type="hidden" name="versione" value=(version);
                            (shell::textarea("risposta", "Risposta", "", 4000, true, None))
                            (shell::files("allegati-risposta", "Allegati della risposta (facoltativi)", shell::FILES_HINT, true))
                            button.btn.btn-primary type="submit" { "Invia la risposta" }
                        }
                    }
                    div.col-lg-6 {
                        h2.h4 #chiedi { "Chiedi informazioni al patronato" }
                        form method="post" action={ (base) "/chiedi" } enctype="multipart/form-data" {
                            input type="hidden" name="versione" value=(version);
                            (shell::textarea("domanda", "Che cosa serve", "", 4000, true, Some("Il termine si sospende finché il patronato risponde.")))
                            (shell::files("allegati-domanda", "Allegati della richiesta (facoltativi)", shell::FILES_HINT, true))
                            button.btn.btn-primary type="submit" { "Chiedi informazioni" }
                        }
                    }
                }
            } @else if free {
                p.mt-2 { "Prendi in carico la pratica per rispondere o chiedere informazioni al patronato." }
            }
            div.row.mt-4 {
                div.col-lg-6 {
                    h2.h4 { "Trasferisci a un altro ufficio" }
                    @match &offices {
                        Err(status) => (shell::alert("warning", html! { "L'elenco degli uffici non è disponibile ora: " (shell::status_heading(status)) })),
                        Ok(_) => {
                            form method="post" action={ (base) "/trasferisci" } {
                                input type="hidden" name="versione" value=(version);
                                (shell::select("ufficio", "Ufficio di destinazione", &office_choices, "", Some("— scegli —"), true))
                                (Input::new("motivo", "Motivo del trasferimento").required().maxlength(500).hint("Una riga: il patronato la leggerà.").render())
                                button.btn.btn-outline-primary type="submit" { "Trasferisci" }
                            }
                        }
                    }
                }
                div.col-lg-6 {
                    h2.h4 { "Nota interna" }
                    form method="post" action={ (base) "/nota" } {
                        (shell::textarea("nota", "Nota (non arriva al patronato)", "", 4000, true, None))
                        button.btn.btn-outline-primary type="submit" { "Aggiungi la nota" }
                    }
                    @if responsabile {
                        h2.h4.mt-4 { "Assegna a un funzionario" }
                        form method="post" action={ (base) "/assegna" } {
                            input type="hidden" name="versione" value=(version);
                            (Input::new("funzionario", "Funzionario (identificativo)").required().maxlength(200).hint("Per esempio paolo.esposito.").render())
                            button.btn.btn-outline-primary type="submit" { "Assegna" }
                        }
                    }
                }
            }
        }
        p.mt-4 { a href="/coda" { "← Torna alla coda" } }
    }
}

pub async fn attachment(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match console.caller(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let outcome = console
        .call(
            &caller,
            GetAttachmentRequest { attachment_id: id },
            |api, request| async move { api.get_attachment(request).await },
        )
        .await;
    match outcome {
        Ok(found) => {
            let file = found.attachment.unwrap_or_default();
            let mut response = found.content.into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&file.media_type) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            let ascii: String = file
                .file_name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(status) => console.page(&caller, "Allegato", "/coda", Console::refusal(&status)),
    }
}
