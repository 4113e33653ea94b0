//! The development sign-in: pick a demo operator, get a token signed with the development
//! key in a cookie. Off unless `pages.dev_sign_in`; production sits behind the identity
//! provider, which sends the bearer token itself.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use combipat_platform::auth::{Claims, Role, sign};
use maud::html;
use serde::Deserialize;

use super::{Pages, SESSION_COOKIE, layout};

/// (subject, role, patronato, patronato office, description)
const DEMO_OPERATORS: [(&str, Role, &str, &str, &str); 4] = [
    (
        "mario.rossi",
        Role::Operatore,
        "INCA",
        "INCA-MI-01",
        "operatore INCA, sede di Milano",
    ),
    (
        "giulia.bianchi",
        Role::Operatore,
        "INCA",
        "INCA-TO-02",
        "operatrice INCA, sede di Torino",
    ),
    (
        "luca.verdi",
        Role::Operatore,
        "ACLI",
        "ACLI-RM-1",
        "operatore ACLI, sede di Roma",
    ),
    (
        "anna.neri",
        Role::Supervisore,
        "INCA",
        "",
        "supervisore INCA, tutte le sedi",
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
            p.avviso { "Solo per l'uso locale: scegli un operatore dimostrativo." }
            form method="post" action="/accedi" {
                @for (index, (subject, _, _, _, description)) in DEMO_OPERATORS.iter().enumerate() {
                    button type="submit" name="operatore" value=(index) style="display:block" {
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
    operatore: usize,
}

pub async fn sign_in(State(pages): State<Pages>, Form(choice): Form<Choice>) -> Response {
    if !pages.settings.dev_sign_in {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some((subject, role, patronato, office, _)) = DEMO_OPERATORS.get(choice.operatore) else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let signed = std::fs::read(&pages.settings.dev_signing_key_path)
        .map_err(anyhow::Error::from)
        .and_then(|key| {
            sign(
                &Claims {
                    sub: (*subject).to_owned(),
                    role: *role,
                    patronato: Some((*patronato).to_owned()),
                    patronato_office: (!office.is_empty()).then(|| (*office).to_owned()),
                    inps_office: None,
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
            let mut response = Redirect::to("/richieste").into_response();
            if let Ok(cookie) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                SESSION_HOURS * 3600
            )) {
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

pub async fn sign_out() -> Response {
    let mut response = Redirect::to("/accedi").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "combipat_sessione=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}
