//! One request's page: where it stands, its whole history (answers and questions
//! included), its files, the sollecito button (disabled, with its date, until it is
//! allowed), the reply to a question of the office, and the rating of the answer.

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use combipat_proto::common::v1::{GetAttachmentRequest, GetAttachmentResponse};
use combipat_proto::intake::v1::intake_server::Intake as _;
use combipat_proto::intake::v1::{
    GetRequestRequest, GetRequestResponse, ProvideInfoRequest, RateAnswerRequest,
    SendReminderRequest,
};
use combipat_web::shell;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Pages, Session, labels, upload};

async fn read(
    pages: &Pages,
    session: &Session,
    id: &str,
) -> Result<GetRequestResponse, tonic::Status> {
    pages
        .call(
            session,
            GetRequestRequest {
                request_id: id.to_owned(),
            },
            |api, request| async move { api.get_request(request).await },
        )
        .await
}

pub async fn page(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    render(&pages, &session, &id, None).await
}

async fn render(pages: &Pages, session: &Session, id: &str, notice: Option<Markup>) -> Response {
    let (title, body) = match read(pages, session, id).await {
        Err(status) => ("Richiesta".to_owned(), Pages::refusal(&status)),
        Ok(request) => (
            format!(
                "Richiesta {}",
                request
                    .request
                    .as_ref()
                    .map(|summary| summary.protocol_number.as_str())
                    .unwrap_or_default()
            ),
            html! {
                @if let Some(notice) = notice { (notice) }
                (request_page(&request))
            },
        ),
    };
    pages.page(session, &title, "/richieste", body)
}

fn request_page(read: &GetRequestResponse) -> Markup {
    let summary = read.request.clone().unwrap_or_default();
    let office = read.office.clone().unwrap_or_default();
    let sollecito = read.sollecito.clone().unwrap_or_default();
    let answers = read
        .history
        .iter()
        .filter(|change| change.status == "ANSWERED")
        .count();
    let rated = read
        .ratings
        .iter()
        .any(|rating| rating.answer_number as usize == answers);
    html! {
        dl.riepilogo {
            dt { "Protocollo" } dd #protocollo { strong { (summary.protocol_number) } }
            dt { "Stato" } dd { span.badge.bg-primary { (labels::status_label(&read.status)) } }
            dt { "Sede" } dd { @if office.code.is_empty() { "in assegnazione" } @else { (office.name) " (" (office.code) ")" } }
            dt { "Motivo" } dd { (labels::motivo_label(summary.motivo)) }
            dt { "Cittadino" } dd { (summary.codice_fiscale) }
            dt { "Oggetto" } dd { (summary.subject) }
            @if !summary.pratica_protocol_number.is_empty() { dt { "Pratica" } dd { (summary.pratica_protocol_number) } }
            dt { "Testo" } dd.testo { (read.body) }
        }
        @if !summary.attachments.is_empty() {
            h2.h4 { "Allegati" }
            ul { @for file in &summary.attachments {
                li { a href={ "/allegati/" (file.id) } { (file.file_name) } " (" (file.size_bytes / 1024 + 1) " KB)" }
            } }
        }
        h2.h4.mt-4 { "Storia" }
        div.table-responsive { table.table {
            caption.visually-hidden { "Storia della richiesta, dalla più vecchia" }
            thead { tr { th scope="col" { "Quando" } th scope="col" { "Cosa" } th scope="col" { "Sede" } th scope="col" { "Dettaglio" } } }
            tbody { @for change in &read.history {
                tr {
                    td { (shell::rome(change.at.as_ref())) }
                    td { (labels::status_label(&change.status)) }
                    td { (change.office.as_ref().map(|office| office.code.as_str()).unwrap_or_default()) }
                    td.testo { (labels::history_detail(&change.status, &change.detail)) }
                }
            } }
        } }
        @if read.status == "INFO_REQUESTED" {
            h2.h4.mt-4 #rispondi { "Rispondi alla sede" }
            form method="post" action={ "/richieste/" (summary.request_id) "/risposta" } enctype="multipart/form-data" {
                (shell::textarea("reply", "Le informazioni richieste", "", 4000, true, None))
                (shell::files(upload::FILE_FIELD, "Allegati della risposta (facoltativi)", shell::FILES_HINT, true))
                button.btn.btn-primary type="submit" { "Invia la risposta" }
            }
        }
        h2.h4.mt-4 { "Sollecito" }
        form method="post" action={ "/richieste/" (summary.request_id) "/sollecito" } {
            @if sollecito.allowed {
                button.btn.btn-outline-primary type="submit" { "Invia un sollecito" }
            } @else {
                button.btn.btn-outline-primary type="submit" disabled aria-describedby="sollecito-nota" { "Invia un sollecito" }
                p.small #sollecito-nota {
                    @if sollecito.possible_from.is_some() {
                        "Possibile dal " (shell::rome(sollecito.possible_from.as_ref())) "."
                    } @else {
                        "La sede ha già risposto: non c'è nulla da sollecitare."
                    }
                }
            }
            @if sollecito.sent > 0 { p.small { "Solleciti inviati: " (sollecito.sent) } }
        }
        @if answers > 0 {
            h2.h4.mt-4 { "Valuta la risposta" }
            @if rated {
                @for rating in &read.ratings { p.valutazione { "Risposta n. " (rating.answer_number) ": " (rating.rating) " su 5. " (rating.comment) } }
            } @else {
                @let scores: Vec<(String, String)> = (1..=5).map(|score| (score.to_string(), score.to_string())).collect();
                form method="post" action={ "/richieste/" (summary.request_id) "/valutazione" } {
                    (shell::radios("valutazione", "Quanto è stata utile la risposta? (1 = per nulla, 5 = del tutto)", &scores, "", true))
                    (shell::textarea("commento", "Commento (facoltativo)", "", 500, false, None))
                    button.btn.btn-primary type="submit" { "Invia la valutazione" }
                }
            }
        }
    }
}

/// After an action: back to the page (303), or the page with the refusal above it.
async fn after(
    pages: &Pages,
    session: &Session,
    id: &str,
    outcome: Result<(), tonic::Status>,
) -> Response {
    match outcome {
        Ok(()) => Redirect::to(&format!("/richieste/{id}")).into_response(),
        Err(status) => render(pages, session, id, Some(Pages::refusal(&status))).await,
    }
}

/// An action of the request page: the call as the signed-in caller, then back to the page
/// (or the page with the refusal above it).
async fn act<Req, Resp, F, Fut>(
    pages: &Pages,
    headers: &HeaderMap,
    id: &str,
    call: Req,
    method: F,
) -> Response
where
    F: FnOnce(std::sync::Arc<crate::api::IntakeApi>, tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
{
    let session = match pages.session(headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let outcome = pages.call(&session, call, method).await.map(|_| ());
    after(pages, &session, id, outcome).await
}

pub async fn sollecito(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let call = SendReminderRequest {
        request_id: id.clone(),
    };
    act(&pages, &headers, &id, call, |api, request| async move {
        api.send_reminder(request).await
    })
    .await
}

#[derive(Deserialize)]
pub struct RatingForm {
    valutazione: u32,
    #[serde(default)]
    commento: String,
}

pub async fn rate(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<RatingForm>,
) -> Response {
    let call = RateAnswerRequest {
        request_id: id.clone(),
        rating: form.valutazione,
        comment: form.commento,
    };
    act(&pages, &headers, &id, call, |api, request| async move {
        api.rate_answer(request).await
    })
    .await
}

#[derive(Default, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    reply: String,
}

/// The reply to the office's question, with its files (uploaded first, then sent with it).
pub async fn reply(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let outcome = match upload::read(&pages, &session, multipart).await {
        Ok(read) => {
            let form: ReplyForm = read.parse();
            let call = ProvideInfoRequest {
                request_id: id.clone(),
                reply: form.reply,
                attachment_ids: read.attachment_ids,
            };
            pages
                .call(&session, call, |api, request| async move {
                    api.provide_info(request).await
                })
                .await
                .map(|_| ())
        }
        Err(status) => Err(status),
    };
    after(&pages, &session, &id, outcome).await
}

pub async fn attachment(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let outcome = pages
        .call(
            &session,
            GetAttachmentRequest { attachment_id: id },
            |api, request| async move { api.get_attachment(request).await },
        )
        .await;
    match outcome {
        Ok(found) => download(found),
        Err(status) => pages.page(&session, "Allegato", "/richieste", Pages::refusal(&status)),
    }
}

/// A file as a download: its media type, and its name in ASCII.
pub(super) fn download(found: GetAttachmentResponse) -> Response {
    let file = found.attachment.unwrap_or_default();
    let mut response = found.content.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&file.media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let ascii_name: String = file
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
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
