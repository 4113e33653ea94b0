//! "Scrivi alla sede": the motivo first; then the citizen's residence, found by name; then
//! only the fields the motivo needs; a preview that shows the destination office (router
//! decides it now) before sending; then the submission, made safe against a double click by
//! an idempotency key chosen at the preview. Every step is a plain form.

use axum::Form;
use axum::extract::{Multipart, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use combipat_domain::Topic;
use combipat_proto::common::v1::Motivo;
use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_proto::intake::v1::intake_server::Intake as _;
use combipat_web::shell::{self, Input};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Pages, labels, residence, upload};

const TITLE: &str = "Scrivi alla sede";
const HERE: &str = "/richieste/nuova";

/// What the operator has typed so far (the form's fields, by their API names).
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
pub struct Draft {
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    codice_fiscale: String,
    #[serde(default)]
    comune_residenza: String,
    /// The name searched for at the residence step.
    #[serde(default)]
    cerca: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    prestazione: String,
    #[serde(default)]
    pratica_protocol_number: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    /// Set at the preview: uploaded files and the key that makes sending once.
    #[serde(default)]
    attachment_ids: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    confirm_duplicate: String,
}

impl Draft {
    fn motivo(&self) -> Option<Motivo> {
        Motivo::from_str_name(&self.motivo).filter(|motivo| *motivo != Motivo::Unspecified)
    }

    fn request(&self) -> SubmitRequestRequest {
        SubmitRequestRequest {
            motivo: self.motivo().map_or(0, |motivo| motivo as i32),
            codice_fiscale: self.codice_fiscale.clone(),
            comune_residenza: self.comune_residenza.clone(),
            topic: self.topic.clone(),
            prestazione: self.prestazione.clone(),
            pratica_protocol_number: self.pratica_protocol_number.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
            attachment_ids: self
                .attachment_ids
                .split(',')
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect(),
            idempotency_key: self.idempotency_key.clone(),
            confirm_duplicate: self.confirm_duplicate == "si",
        }
    }

    /// The typed fields (not the files, the key or the confirmation), for links and steps.
    fn typed(&self) -> Self {
        Self {
            attachment_ids: String::new(),
            idempotency_key: String::new(),
            confirm_duplicate: String::new(),
            ..self.clone()
        }
    }

    fn link(&self) -> String {
        format!(
            "{HERE}?{}",
            serde_urlencoded::to_string(self.typed()).unwrap_or_default()
        )
    }
}

pub async fn page(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Query(draft): Query<Draft>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let body = match draft.motivo() {
        None => choose_motivo(&draft),
        Some(_) if residence::describe(&pages.api.territory, &draft.comune_residenza).is_none() => {
            choose_residence(&pages, &draft)
        }
        Some(motivo) => fields(&pages, motivo, &draft, None),
    };
    pages.page(&session, TITLE, HERE, body)
}

fn choose_motivo(draft: &Draft) -> Markup {
    let options: Vec<(String, String)> = labels::MOTIVI
        .iter()
        .map(|(code, label)| ((*code).to_owned(), (*label).to_owned()))
        .collect();
    html! {
        p.lead { "Passo 1 di 3: il motivo." }
        form method="get" action=(HERE) {
            (shell::radios("motivo", "Per quale motivo scrivi alla sede?", &options, &draft.motivo, true))
            button.btn.btn-primary type="submit" { "Continua" }
        }
    }
}

/// Hidden copies of what was typed, but the fields named in `except`.
fn carried(draft: &Draft, except: &[&str]) -> Markup {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_str(&serde_urlencoded::to_string(draft.typed()).unwrap_or_default())
            .unwrap_or_default();
    html! {
        @for (name, value) in fields.iter().filter(|(name, value)| !value.is_empty() && !except.contains(&name.as_str())) {
            input type="hidden" name=(name) value=(value);
        }
    }
}

fn choose_residence(pages: &Pages, draft: &Draft) -> Markup {
    let (found, more) = residence::search(&pages.api.territory, &draft.cerca);
    let searched = !draft.cerca.trim().is_empty();
    let options: Vec<(String, String)> = found
        .iter()
        .map(|place| (place.code.clone(), place.label.clone()))
        .collect();
    html! {
        p.lead { "Passo 2 di 3: dove risiede il cittadino." }
        p { "Motivo: " strong { (labels::motivo_label(draft.motivo().map_or(0, |m| m as i32))) } " · " a href=(HERE) { "cambia" } }
        form method="get" action=(HERE) role="search" {
            (carried(draft, &["cerca", "comune_residenza"]))
            (Input::new("cerca", "Comune o Stato estero di residenza").kind("search").value(&draft.cerca).required()
                .hint("Scrivi il nome, o una sua parte (almeno 2 lettere), e premi «Cerca»: per esempio «Milano» o «Svizzera».").render())
            button.btn.btn-outline-primary type="submit" { "Cerca" }
        }
        @if searched {
            @if found.is_empty() {
                div.mt-4 { (shell::alert("warning", html! { "Nessun comune attivo o Stato estero si chiama così: prova con un'altra parte del nome." })) }
            } @else {
                form.mt-4 method="get" action=(HERE) {
                    (carried(draft, &["comune_residenza"]))
                    (shell::radios("comune_residenza", &format!("Risultati per «{}»: scegli la residenza", draft.cerca.trim()), &options, "", true))
                    @if more { p.small { "Ci sono altri risultati: scrivi una parte più lunga del nome per vederli." } }
                    button.btn.btn-primary type="submit" { "Continua" }
                }
            }
        }
    }
}

fn topic_select(name: &str, label: &str, selected: &str) -> Markup {
    let options: Vec<(String, String)> = Topic::ALL
        .iter()
        .map(|topic| (topic.code().to_owned(), topic.label().to_owned()))
        .collect();
    shell::select(name, label, &options, selected, Some("— scegli —"), true)
}

/// The fields of one motivo, filled with the draft, with the refusal above them if any.
fn fields(pages: &Pages, motivo: Motivo, draft: &Draft, refusal: Option<&tonic::Status>) -> Markup {
    let place = residence::describe(&pages.api.territory, &draft.comune_residenza);
    let change_residence = Draft {
        comune_residenza: String::new(),
        ..draft.typed()
    };
    html! {
        @if let Some(status) = refusal { (Pages::refusal(status)) }
        p.lead { "Passo 3 di 3: la richiesta." }
        dl.riepilogo {
            dt { "Motivo" } dd { (labels::motivo_label(motivo as i32)) " · " a href=(HERE) { "cambia" } }
            dt { "Residenza del cittadino" } dd {
                (place.unwrap_or_else(|| draft.comune_residenza.clone()))
                " · " a href=(change_residence.link()) { "cambia" }
            }
        }
        form method="post" action="/richieste/anteprima" enctype="multipart/form-data" {
            input type="hidden" name="motivo" value=(motivo.as_str_name());
            input type="hidden" name="comune_residenza" value=(draft.comune_residenza);
            input type="hidden" name="cerca" value=(draft.cerca);
            (Input::new("codice_fiscale", "Codice fiscale del cittadino").value(&draft.codice_fiscale).required().maxlength(16)
                .autocomplete("off").hint("16 caratteri, per esempio RSSMRA85T10A562S.").render())
            @match motivo {
                Motivo::SollecitoPratica => {
                    (topic_select("prestazione", "Prestazione", &draft.prestazione))
                    (Input::new("pratica_protocol_number", "Numero di protocollo della pratica").value(&draft.pratica_protocol_number).required().maxlength(40).render())
                }
                Motivo::InfoPagamenti => {
                    (topic_select("prestazione", "Prestazione", &draft.prestazione))
                }
                _ => {
                    (topic_select("topic", "Argomento", &draft.topic))
                }
            }
            (Input::new("subject", "Oggetto").value(&draft.subject).required().maxlength(150).render())
            (shell::textarea("body", "Testo", &draft.body, 4000, true, Some("Al massimo 4000 caratteri.")))
            (shell::files(upload::FILE_FIELD, "Allegati (facoltativi)", shell::FILES_HINT, true))
            button.btn.btn-primary type="submit" { "Verifica e mostra la sede di destinazione" }
        }
    }
}

pub async fn preview(
    State(pages): State<Pages>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let read = match upload::read(&pages, &session, multipart).await {
        Ok(read) => read,
        Err(status) => {
            let body = html! { (Pages::refusal(&status)) p { a href=(HERE) { "Ricomincia" } } };
            return pages.page(&session, TITLE, HERE, body);
        }
    };
    let mut draft: Draft = read.parse();
    let Some(motivo) = draft.motivo() else {
        return Redirect::to(HERE).into_response();
    };
    draft.attachment_ids = read.attachment_ids.join(",");
    draft.idempotency_key = uuid::Uuid::new_v4().to_string();
    let preview = pages
        .call(&session, draft.request(), |api, request| async move {
            api.preview_submission(request).await
        })
        .await;
    let body = match &preview {
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            fields(&pages, motivo, &draft, Some(status))
        }
        outcome => html! {
            div.card-wrapper.mb-4 { div.card.card-bg { div.card-body {
                @match outcome {
                    Ok(preview) => {
                        @let office = preview.office.clone().unwrap_or_default();
                        h2.h5.card-title { "Sede di destinazione" }
                        p #destinazione { "La richiesta andrà a: " strong { (office.name) " (" (office.code) ")" } }
                        p.small.mb-0 { (labels::router_explanation(&preview.explanation)) }
                    }
                    Err(status) => (shell::alert("warning", html! {
                        "La sede di destinazione non si può mostrare ora (" (shell::status_heading(status)) "); la richiesta sarà assegnata appena inviata."
                    }))
                }
            } } }
            (summary(&pages, &draft, read.attachment_ids.len()))
            form method="post" action="/richieste" {
                (hidden(&draft))
                button.btn.btn-primary type="submit" { "Invia alla sede" }
            }
            p.mt-3 { a href=(draft.link()) { "Modifica" } " (gli allegati vanno scelti di nuovo)" }
        },
    };
    pages.page(&session, "Scrivi alla sede: controlla e invia", HERE, body)
}

fn summary(pages: &Pages, draft: &Draft, files: usize) -> Markup {
    html! {
        dl.riepilogo {
            dt { "Motivo" } dd { (labels::motivo_label(draft.motivo().map_or(0, |m| m as i32))) }
            dt { "Cittadino" } dd { (draft.codice_fiscale.to_uppercase()) }
            dt { "Residenza" } dd {
                (residence::describe(&pages.api.territory, &draft.comune_residenza).unwrap_or_else(|| draft.comune_residenza.to_uppercase()))
            }
            @if !draft.prestazione.is_empty() { dt { "Prestazione" } dd { (labels::topic_label(&draft.prestazione)) } }
            @if !draft.pratica_protocol_number.is_empty() { dt { "Pratica" } dd { (draft.pratica_protocol_number) } }
            @if !draft.topic.is_empty() { dt { "Argomento" } dd { (labels::topic_label(&draft.topic)) } }
            dt { "Oggetto" } dd { (draft.subject) }
            dt { "Testo" } dd.testo { (draft.body) }
            dt { "Allegati" } dd { (files) }
        }
    }
}

fn hidden(draft: &Draft) -> Markup {
    let fields = [
        ("motivo", &draft.motivo),
        ("codice_fiscale", &draft.codice_fiscale),
        ("comune_residenza", &draft.comune_residenza),
        ("cerca", &draft.cerca),
        ("topic", &draft.topic),
        ("prestazione", &draft.prestazione),
        ("pratica_protocol_number", &draft.pratica_protocol_number),
        ("subject", &draft.subject),
        ("body", &draft.body),
        ("attachment_ids", &draft.attachment_ids),
        ("idempotency_key", &draft.idempotency_key),
    ];
    html! { @for (name, value) in fields { input type="hidden" name=(name) value=(value); } }
}

pub async fn submit(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(draft): Form<Draft>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let outcome = pages
        .call(&session, draft.request(), |api, request| async move {
            api.submit_request(request).await
        })
        .await;
    match outcome {
        Ok(submitted) => {
            Redirect::to(&format!("/richieste/{}", submitted.request_id)).into_response()
        }
        Err(status) => {
            let duplicate = status.code() == tonic::Code::FailedPrecondition;
            let body = html! {
                (Pages::refusal(&status))
                (summary(&pages, &draft, draft.request().attachment_ids.len()))
                @if duplicate {
                    form method="post" action="/richieste" {
                        (hidden(&draft))
                        input type="hidden" name="confirm_duplicate" value="si";
                        button.btn.btn-primary type="submit" { "Invia comunque" }
                    }
                }
                p.mt-3 { a href=(draft.link()) { "Torna al modulo" } }
            };
            pages.page(&session, TITLE, HERE, body)
        }
    }
}
