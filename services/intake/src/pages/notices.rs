//! "Notifiche": the operator's notices from notifier (newest first, a page at a time), each
//! marked read with a button, or all at once. Without notifier the page says so.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use combipat_web::shell;
use maud::html;
use serde::Deserialize;

use super::Pages;

#[derive(Debug, Default, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pagina: String,
}

pub async fn page(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let outcome = pages
        .notifier
        .list(&session.caller.token, &paging.pagina)
        .await;
    let body = html! {
        @match &outcome {
            Err(status) => {
                (shell::alert("danger", html! { "Le notifiche non sono disponibili in questo momento: riprova tra poco." }))
                p.small { (shell::status_heading(status)) }
            }
            Ok(list) if list.notifications.is_empty() => p { "Nessuna notifica." },
            Ok(list) => {
                form.mb-4 method="post" action="/notifiche/lette" {
                    button.btn.btn-outline-primary type="submit" { "Segna tutte come lette" }
                }
                @for notice in &list.notifications {
                    div.card.card-bg.mb-3.riquadro.border-warning[notice.action_needed] { div.card-body {
                        h2.h5.card-title {
                            (notice.title)
                            @if !notice.read { " " span.badge.bg-primary { "da leggere" } }
                            @if notice.action_needed { " " span.badge.bg-warning.text-dark { "richiede un'azione" } }
                        }
                        p.card-text { (notice.text) }
                        p.small {
                            (shell::rome(notice.created_at.as_ref()))
                            @if !notice.request_id.is_empty() {
                                " · " a href={ "/richieste/" (notice.request_id) } { "Apri la richiesta " (notice.protocol_number) }
                            }
                        }
                        @if !notice.read {
                            form method="post" action={ "/notifiche/" (notice.id) "/letta" } {
                                button.btn.btn-sm.btn-outline-primary type="submit" aria-label={ "Segna come letta: " (notice.title) } { "Segna come letta" }
                            }
                        }
                    } }
                }
                @if !list.next_page_token.is_empty() {
                    p { a href={ "/notifiche?pagina=" (list.next_page_token) } { "Pagina successiva →" } }
                }
            }
        }
    };
    pages.page(&session, "Notifiche", "/notifiche", body)
}

pub async fn mark_one(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match pages.notifier.mark_read(&session.caller.token, &id).await {
        Ok(()) => Redirect::to("/notifiche").into_response(),
        Err(status) => pages.page(&session, "Notifiche", "/notifiche", Pages::refusal(&status)),
    }
}

pub async fn mark_all(State(pages): State<Pages>, headers: HeaderMap) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match pages.notifier.mark_all_read(&session.caller.token).await {
        Ok(()) => Redirect::to("/notifiche").into_response(),
        Err(status) => pages.page(&session, "Notifiche", "/notifiche", Pages::refusal(&status)),
    }
}
