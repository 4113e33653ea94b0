//! The development sign-in: pick a demo person, get a token signed with the development key
//! in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` unless the page came over plain
//! HTTP to this machine). Off unless `pages.dev_sign_in`: then `/accedi` is 404 and the
//! cookie is ignored, since production sits behind the identity provider, which sends the
//! bearer token itself.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use combipat_platform::auth::{Claims, sign};
use maud::html;
use serde::Deserialize;

use crate::security::plain_http_on_loopback;
use crate::{Page, SESSION_HOURS, Site};

pub async fn page(State(site): State<Site>) -> Response {
    if !site.settings().dev_sign_in {
        return StatusCode::NOT_FOUND.into_response();
    }
    let body = html! {
        div.alert.alert-warning role="note" {
            "Solo per l'uso locale: scegli una persona dimostrativa. In produzione si accede con il sistema di identità."
        }
        form method="post" action="/accedi" {
            @for (index, person) in site.config().people.iter().enumerate() {
                button.btn.btn-outline-primary.scelta-persona type="submit" name="persona" value=(index) {
                    strong { (person.subject) } " — " (person.description)
                }
            }
        }
    };
    site.page(Page::new("Accesso di sviluppo"), body)
        .into_response()
}

#[derive(Deserialize)]
pub struct Choice {
    persona: usize,
}

fn session_cookie(name: &str, value: &str, max_age: i64, headers: &HeaderMap) -> String {
    let secure = if plain_http_on_loopback(headers) {
        ""
    } else {
        "; Secure"
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

pub async fn sign_in(
    State(site): State<Site>,
    headers: HeaderMap,
    Form(choice): Form<Choice>,
) -> Response {
    if !site.settings().dev_sign_in {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(person) = site.config().people.get(choice.persona) else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let signed = std::fs::read(&site.settings().dev_signing_key_path)
        .map_err(anyhow::Error::from)
        .and_then(|key| {
            sign(
                &Claims {
                    sub: person.subject.to_owned(),
                    role: person.role,
                    patronato: person.patronato.map(str::to_owned),
                    patronato_office: person.patronato_office.map(str::to_owned),
                    inps_office: person.inps_office.map(str::to_owned),
                    exp: chrono::Utc::now().timestamp() + SESSION_HOURS * 3600,
                    nbf: None,
                    iss: None,
                    aud: None,
                },
                &key,
            )
        });
    match signed {
        Ok(token) => {
            let mut response = Redirect::to(site.config().home).into_response();
            let cookie =
                session_cookie(site.config().cookie, &token, SESSION_HOURS * 3600, &headers);
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "development sign-in cannot sign"
            );
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub async fn sign_out(State(site): State<Site>, headers: HeaderMap) -> Response {
    let mut response = if site.settings().dev_sign_in {
        Redirect::to("/accedi").into_response()
    } else {
        site.page(
            Page::new("Sei uscito"),
            html! { p { "Per chiudere la sessione del sistema di identità, chiudi il browser." } },
        )
        .into_response()
    };
    if let Ok(cookie) =
        HeaderValue::from_str(&session_cookie(site.config().cookie, "", 0, &headers))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
