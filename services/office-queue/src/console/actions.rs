//! What an official does from an item's page: each form is one API call as the caller, with
//! the version the page showed; then back to the item with a confirmation, or the item read
//! again with the refusal above it (for a stale version: someone changed the item since the
//! page loaded, nothing was overwritten).

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use combipat_proto::officequeue::v1::office_queue_server::OfficeQueue as _;
use combipat_proto::officequeue::v1::{
    AddNoteRequest, AnswerRequest, ClaimRequest, CloseRequest, ReassignRequest, ReleaseRequest,
    RequestInfoRequest, TransferRequest,
};
use combipat_web::Caller;
use serde::Deserialize;

use super::{Console, item};

#[derive(Debug, Default, Deserialize)]
pub struct Versioned {
    #[serde(default)]
    versione: u64,
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    ufficio: String,
    #[serde(default)]
    nota: String,
    #[serde(default)]
    funzionario: String,
}

/// Back to the item with `done` confirmed, or the item with the refusal.
async fn after(
    console: &Console,
    caller: &Caller,
    id: &str,
    done: &str,
    outcome: Result<(), tonic::Status>,
) -> Response {
    match outcome {
        Ok(()) => Redirect::to(&format!("/coda/{id}?fatto={done}")).into_response(),
        Err(status) => item::render(console, caller, id, Some(Console::refusal(&status))).await,
    }
}

macro_rules! caller_or_sign_in {
    ($console:expr, $headers:expr) => {
        match $console.caller(&$headers) {
            Ok(caller) => caller,
            Err(response) => return *response,
        }
    };
}

pub async fn claim(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Versioned>,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let call = ClaimRequest {
        request_id: id.clone(),
        expected_version: form.versione,
        lease_seconds: 0,
    };
    let outcome = console
        .call(&caller, call, |api, request| async move {
            api.claim(request).await
        })
        .await
        .map(|_| ());
    after(&console, &caller, &id, "presa", outcome).await
}

pub async fn release(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Versioned>,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let call = ReleaseRequest {
        request_id: id.clone(),
        expected_version: form.versione,
    };
    let outcome = console
        .call(&caller, call, |api, request| async move {
            api.release(request).await
        })
        .await
        .map(|_| ());
    after(&console, &caller, &id, "rilasciata", outcome).await
}

pub async fn close(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Versioned>,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let call = CloseRequest {
        request_id: id.clone(),
        expected_version: form.versione,
    };
    let outcome = console
        .call(&caller, call, |api, request| async move {
            api.close(request).await
        })
        .await
        .map(|_| ());
    after(&console, &caller, &id, "chiusa", outcome).await
}

pub async fn note(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Versioned>,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let call = AddNoteRequest {
        request_id: id.clone(),
        text: form.nota,
    };
    let outcome = console
        .call(&caller, call, |api, request| async move {
            api.add_note(request).await
        })
        .await
        .map(|_| ());
    after(&console, &caller, &id, "nota", outcome).await
}

pub async fn reassign(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Versioned>,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let call = ReassignRequest {
        request_id: id.clone(),
        expected_version: form.versione,
        to_official: form.funzionario.trim().to_owned(),
        lease_seconds: 0,
    };
    let outcome = console
        .call(&caller, call, |api, request| async move {
            api.reassign(request).await
        })
        .await
        .map(|_| ());
    after(&console, &caller, &id, "assegnata", outcome).await
}

pub async fn transfer(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Versioned>,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let call = TransferRequest {
        request_id: id.clone(),
        expected_version: form.versione,
        to_office_code: form.ufficio,
        reason: form.motivo,
    };
    match console
        .call(&caller, call, |api, request| async move {
            api.transfer(request).await
        })
        .await
    {
        // The item has left the caller's office: back to the queue, saying where it went.
        Ok(moved) => {
            let office = moved.to_office.unwrap_or_default();
            let body = combipat_web::shell::alert(
                "success",
                maud::html! { "Pratica trasferita a " strong { (office.name) " (" (office.code) ")" } ". " a href="/coda" { "Torna alla coda" } },
            );
            console.page(&caller, "Pratica trasferita", "/coda", body)
        }
        Err(status) => item::render(&console, &caller, &id, Some(Console::refusal(&status))).await,
    }
}

/// A multipart message form: its text fields, and each file uploaded as the official.
async fn read_message(
    console: &Console,
    caller: &Caller,
    multipart: Multipart,
) -> Result<(Vec<(String, String)>, Vec<String>), tonic::Status> {
    let form = combipat_web::multipart::read(
        multipart,
        |name| name.starts_with("allegati"),
        |upload| async move {
            console
                .call(caller, upload, |api, request| async move {
                    api.upload_attachment(request).await
                })
                .await
                .map(|stored| stored.id)
        },
    )
    .await?;
    Ok((form.fields, form.attachment_ids))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

pub async fn answer(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let outcome = match read_message(&console, &caller, multipart).await {
        Ok((fields, attachment_ids)) => {
            let call = AnswerRequest {
                request_id: id.clone(),
                expected_version: field(&fields, "versione").parse().unwrap_or_default(),
                text: field(&fields, "risposta").to_owned(),
                attachment_ids,
            };
            console
                .call(&caller, call, |api, request| async move {
                    api.answer(request).await
                })
                .await
                .map(|_| ())
        }
        Err(status) => Err(status),
    };
    after(&console, &caller, &id, "risposta", outcome).await
}

pub async fn request_info(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Response {
    let caller = caller_or_sign_in!(console, headers);
    let outcome = match read_message(&console, &caller, multipart).await {
        Ok((fields, attachment_ids)) => {
            let call = RequestInfoRequest {
                request_id: id.clone(),
                expected_version: field(&fields, "versione").parse().unwrap_or_default(),
                question: field(&fields, "domanda").to_owned(),
                attachment_ids,
            };
            console
                .call(&caller, call, |api, request| async move {
                    api.request_info(request).await
                })
                .await
                .map(|_| ())
        }
        Err(status) => Err(status),
    };
    after(&console, &caller, &id, "domanda", outcome).await
}
