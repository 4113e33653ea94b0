//! The development sign-in: pick a demo reader (an analyst, a direzione regionale's official,
//! a patronato's supervisore), get a token signed with the development key in a cookie. Off
//! unless `pages.dev_sign_in`; production sits behind the identity provider.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use combipat_platform::auth::{Claims, Role, sign};
use maud::html;
use serde::Deserialize;

use super::{Pages, SESSION_COOKIE, layout};

/// (subject, role, claim name, claim value, description)
const DEMO_READERS: [(&str, Role, &str, &str, &str); 4] = [
    (
        "paola.analisi",
        Role::Analista,
        "",
        "",
        "analista: l'Italia e tutte le regioni",
    ),
    (
        "dr.basilicata",
        Role::Responsabile,
        "inps_office",
        "DR-BASILICATA",
        "Direzione regionale Basilicata",
    ),
    (
        "dr.lombardia",
        Role::Funzionario,
        "inps_office",
        "DR-LOMBARDIA",
        "Direzione regionale Lombardia",
    ),
    (
        "anna.neri",
        Role::Supervisore,
        "patronato",
        "INCA",
        "supervisore INCA: il patronato e tutti i patronati",
    ),
];
const SESSION_HOURS: i64 = 8;

pub async fn page(State(pages): State<Pages>) -> Response {
    if !pages.settings.dev_sign_in {
        return StatusCode::NOT_FOUND.into_response();
    }
    layout::page(
        "Accesso di sviluppo",
        None,
        html! {
            p.riquadro { "Solo per l'uso locale: scegli chi legge le cifre." }
            form method="post" action="/accedi" {
                @for (index, (subject, _, _, _, description)) in DEMO_READERS.iter().enumerate() {
                    button type="submit" name="lettore" value=(index) style="display:block;margin:.4rem 0" {
                        (subject) " — " (description)
                    }
                }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct Choice {
    lettore: usize,
}

pub async fn sign_in(State(pages): State<Pages>, Form(choice): Form<Choice>) -> Response {
    if !pages.settings.dev_sign_in {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some((subject, role, claim, value, _)) = DEMO_READERS.get(choice.lettore) else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let given = |name: &str| (*claim == name).then(|| (*value).to_owned());
    let signed = std::fs::read(&pages.settings.dev_signing_key_path)
        .map_err(anyhow::Error::from)
        .and_then(|key| {
            sign(
                &Claims {
                    sub: (*subject).to_owned(),
                    role: *role,
                    patronato: given("patronato"),
                    patronato_office: None,
                    inps_office: given("inps_office"),
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
            let mut response = Redirect::to("/").into_response();
            if let Ok(cookie) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                SESSION_HOURS * 3600
            )) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), pages.dev_signing_key_path = %pages.settings.dev_signing_key_path, "the development sign-in cannot sign");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub async fn sign_out() -> Response {
    let mut response = Redirect::to("/accedi").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
