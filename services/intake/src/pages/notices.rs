//! "Notifiche": the operator's notices from notifier (newest first, a page at a time), each
//! marked read with a button, or all at once. Without notifier the page says so.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::{Pages, layout};

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
    let outcome = pages.notifier.list(&session.token, &paging.pagina).await;
    let body = html! {
        @match &outcome {
            Err(status) => {
                div.errore role="alert" { p { "Le notifiche non sono disponibili in questo momento: riprova tra poco." } }
                p { small { (status.message()) } }
            }
            Ok(list) if list.notifications.is_empty() => p { "Nessuna notifica." },
            Ok(list) => {
                form method="post" action="/notifiche/lette" {
                    button type="submit" { "Segna tutte come lette" }
                }
                @for notice in &list.notifications {
                    div.riquadro.avviso[notice.action_needed] {
                        p {
                            strong { (notice.title) }
                            @if !notice.read { " · " em { "da leggere" } }
                            @if notice.action_needed { " · " strong { "richiede un'azione" } }
                        }
                        p { (notice.text) }
                        p {
                            small { (layout::rome(notice.created_at.as_ref())) }
                            @if !notice.request_id.is_empty() {
                                " · " a href={ "/richieste/" (notice.request_id) } { "Apri la richiesta " (notice.protocol_number) }
                            }
                        }
                        @if !notice.read {
                            form method="post" action={ "/notifiche/" (notice.id) "/letta" } {
                                button type="submit" aria-label={ "Segna come letta: " (notice.title) } { "Segna come letta" }
                            }
                        }
                    }
                }
                @if !list.next_page_token.is_empty() {
                    p { a href={ "/notifiche?pagina=" (list.next_page_token) } { "Pagina successiva →" } }
                }
            }
        }
    };
    layout::page("Notifiche", Some(&session), body).into_response()
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
    match pages.notifier.mark_read(&session.token, &id).await {
        Ok(()) => Redirect::to("/notifiche").into_response(),
        Err(status) => {
            layout::page("Notifiche", Some(&session), layout::refusal(&status)).into_response()
        }
    }
}

pub async fn mark_all(State(pages): State<Pages>, headers: HeaderMap) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match pages.notifier.mark_all_read(&session.token).await {
        Ok(()) => Redirect::to("/notifiche").into_response(),
        Err(status) => {
            layout::page("Notifiche", Some(&session), layout::refusal(&status)).into_response()
        }
    }
}
