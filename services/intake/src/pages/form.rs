//! "Scrivi alla sede": the motivo first, then only the fields it needs; a preview that shows
//! the destination office (router decides it now) before sending; then the submission, made
//! safe against a double click by an idempotency key chosen at the preview.

use axum::Form;
use axum::extract::{Multipart, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use combipat_domain::Topic;
use combipat_proto::common::v1::Motivo;
use combipat_proto::common::v1::UploadAttachmentRequest;
use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_proto::intake::v1::intake_server::Intake as _;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Pages, Session, layout};

/// What the operator has typed so far (the form's fields, by their API names).
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
pub struct Draft {
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    codice_fiscale: String,
    #[serde(default)]
    comune_residenza: String,
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
        None => choose_motivo(),
        Some(motivo) => fields(motivo, &draft, None),
    };
    layout::page("Scrivi alla sede", Some(&session), body).into_response()
}

fn choose_motivo() -> Markup {
    html! {
        form method="get" action="/richieste/nuova" {
            fieldset {
                legend { "Per quale motivo scrivi alla sede?" }
                @for (code, label) in layout::MOTIVI {
                    label style="font-weight:normal" {
                        input type="radio" name="motivo" value=(code) required style="width:auto";
                        " " (label)
                    }
                }
            }
            button type="submit" { "Continua" }
        }
    }
}

fn topic_select(name: &str, label: &str, selected: &str) -> Markup {
    html! {
        label for=(name) { (label) }
        select id=(name) name=(name) required {
            option value="" { "— scegli —" }
            @for topic in Topic::ALL {
                option value=(topic.code()) selected[selected == topic.code()] { (topic.label()) }
            }
        }
    }
}

/// The fields of one motivo, filled with the draft, with the refusal above them if any.
fn fields(motivo: Motivo, draft: &Draft, refusal: Option<&tonic::Status>) -> Markup {
    html! {
        @if let Some(status) = refusal { (layout::refusal(status)) }
        p { "Motivo: " strong { (layout::motivo_label(motivo as i32)) } " · " a href="/richieste/nuova" { "cambia" } }
        form method="post" action="/richieste/anteprima" enctype="multipart/form-data" {
            input type="hidden" name="motivo" value=(motivo.as_str_name());
            label for="codice_fiscale" { "Codice fiscale del cittadino" }
            input id="codice_fiscale" name="codice_fiscale" required maxlength="16" value=(draft.codice_fiscale);
            label for="comune_residenza" { "Comune di residenza (codice catastale, es. F205 per Milano; Z… per uno Stato estero)" }
            input id="comune_residenza" name="comune_residenza" required maxlength="4" value=(draft.comune_residenza);
            @match motivo {
                Motivo::SollecitoPratica => {
                    (topic_select("prestazione", "Prestazione", &draft.prestazione))
                    label for="pratica_protocol_number" { "Numero di protocollo della pratica" }
                    input id="pratica_protocol_number" name="pratica_protocol_number" required value=(draft.pratica_protocol_number);
                }
                Motivo::InfoPagamenti => {
                    (topic_select("prestazione", "Prestazione", &draft.prestazione))
                }
                _ => {
                    (topic_select("topic", "Argomento", &draft.topic))
                }
            }
            label for="subject" { "Oggetto" }
            input id="subject" name="subject" required maxlength="150" value=(draft.subject);
            label for="body" { "Testo" }
            textarea id="body" name="body" required rows="8" maxlength="4000" { (draft.body) }
            label for="allegati" { "Allegati (PDF, PNG, JPEG o P7M firmati; al massimo 5 da 5 MB)" }
            input id="allegati" type="file" name="allegati" multiple accept=".pdf,.png,.jpg,.jpeg,.p7m";
            button type="submit" { "Verifica e mostra la sede di destinazione" }
        }
    }
}

/// Reads the multipart form: the text fields, and each file uploaded as the operator.
async fn read_form(
    pages: &Pages,
    session: &Session,
    mut multipart: Multipart,
) -> Result<(Draft, Vec<String>), tonic::Status> {
    let mut fields = Vec::new();
    let mut attachment_ids = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|error| {
        tonic::Status::invalid_argument(format!("the form is malformed: {error}"))
    })? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "allegati" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content = field.bytes().await.map_err(|error| {
                tonic::Status::invalid_argument(format!("a file did not arrive whole: {error}"))
            })?;
            if file_name.is_empty() && content.is_empty() {
                continue; // the file input left empty
            }
            let stored = pages
                .call(
                    session,
                    UploadAttachmentRequest {
                        file_name,
                        media_type: String::new(),
                        content: content.to_vec(),
                    },
                    |api, request| async move { api.upload_attachment(request).await },
                )
                .await?;
            attachment_ids.push(stored.id);
        } else {
            let value = field.text().await.unwrap_or_default();
            fields.push((name, value));
        }
    }
    let draft: Draft =
        serde_urlencoded::from_str(&serde_urlencoded::to_string(&fields).unwrap_or_default())
            .unwrap_or_default();
    Ok((draft, attachment_ids))
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
    let (mut draft, attachment_ids) = match read_form(&pages, &session, multipart).await {
        Ok(read) => read,
        Err(status) => {
            let body = html! { (layout::refusal(&status)) p { a href="/richieste/nuova" { "Ricomincia" } } };
            return layout::page("Scrivi alla sede", Some(&session), body).into_response();
        }
    };
    let Some(motivo) = draft.motivo() else {
        return Redirect::to("/richieste/nuova").into_response();
    };
    draft.attachment_ids = attachment_ids.join(",");
    draft.idempotency_key = uuid::Uuid::new_v4().to_string();
    let preview = pages
        .call(&session, draft.request(), |api, request| async move {
            api.preview_submission(request).await
        })
        .await;
    let body = match &preview {
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            fields(motivo, &draft, Some(status))
        }
        outcome => html! {
            div.riquadro {
                @match outcome {
                    Ok(preview) => {
                        @let office = preview.office.clone().unwrap_or_default();
                        p { "La richiesta andrà a: " strong { (office.name) " (" (office.code) ")" } }
                        p { small { (preview.explanation) } }
                    }
                    Err(status) => p.avviso { "La sede di destinazione non si può mostrare ora (" (status.message()) "); la richiesta sarà assegnata appena inviata." }
                }
            }
            (summary(&draft, attachment_ids.len()))
            form method="post" action="/richieste" {
                (hidden(&draft))
                button type="submit" { "Invia alla sede" }
            }
            p { a href=(edit_link(&draft)) { "Modifica" } }
        },
    };
    layout::page("Scrivi alla sede: controlla e invia", Some(&session), body).into_response()
}

/// Back to the form with what was typed (files must be chosen again).
fn edit_link(draft: &Draft) -> String {
    let typed = Draft {
        attachment_ids: String::new(),
        idempotency_key: String::new(),
        confirm_duplicate: String::new(),
        ..draft.clone()
    };
    format!(
        "/richieste/nuova?{}",
        serde_urlencoded::to_string(&typed).unwrap_or_default()
    )
}

fn summary(draft: &Draft, files: usize) -> Markup {
    html! {
        dl {
            dt { "Motivo" } dd { (layout::motivo_label(draft.motivo().map_or(0, |m| m as i32))) }
            dt { "Cittadino" } dd { (draft.codice_fiscale.to_uppercase()) }
            dt { "Comune di residenza" } dd { (draft.comune_residenza.to_uppercase()) }
            @if !draft.prestazione.is_empty() { dt { "Prestazione" } dd { (draft.prestazione) } }
            @if !draft.pratica_protocol_number.is_empty() { dt { "Pratica" } dd { (draft.pratica_protocol_number) } }
            @if !draft.topic.is_empty() { dt { "Argomento" } dd { (draft.topic) } }
            dt { "Oggetto" } dd { (draft.subject) }
            dt { "Testo" } dd style="white-space:pre-wrap" { (draft.body) }
            dt { "Allegati" } dd { (files) }
        }
    }
}

fn hidden(draft: &Draft) -> Markup {
    let fields = [
        ("motivo", &draft.motivo),
        ("codice_fiscale", &draft.codice_fiscale),
        ("comune_residenza", &draft.comune_residenza),
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
                (layout::refusal(&status))
                (summary(&draft, draft.request().attachment_ids.len()))
                @if duplicate {
                    form method="post" action="/richieste" {
                        (hidden(&draft))
                        input type="hidden" name="confirm_duplicate" value="si";
                        button type="submit" { "Invia comunque" }
                    }
                }
                p { a href=(edit_link(&draft)) { "Torna al modulo" } }
            };
            layout::page("Scrivi alla sede", Some(&session), body).into_response()
        }
    }
}
