//! The tavoli tecnici's pages, in Italian, server-rendered (maud), usable without JavaScript
//! and printable: the nation, each region, each patronato, the figures behind any row, and
//! the frozen monthly reports. Every page reads through the API's own methods (and its token
//! check), so a page can show nothing the API would refuse; styles and charts (SVG drawn
//! here) come from this service, no other host.
//!
//! The bearer token comes from the identity provider in front of the service (the
//! Authorization header) or, locally, from the development sign-in (a cookie).

mod charts;
mod layout;
mod member;
mod nation;
mod patronato;
mod region;
mod reports;
mod signin;
mod style;
mod table;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use combipat_platform::auth::{AuthInterceptor, Principal};
use combipat_proto::reporting::v1::Dimension;
use maud::html;
use serde::Deserialize;
use tonic::service::Interceptor as _;

use crate::access::Reach;
use crate::api::ReportingApi;

const SESSION_COOKIE: &str = "combipat_reporting_sessione";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSettings {
    /// Offer the development sign-in (demo analysts and officials). Never in production.
    pub dev_sign_in: bool,
    /// The private key the development sign-in signs with.
    pub dev_signing_key_path: String,
}

#[derive(Clone)]
pub struct Pages {
    api: Arc<ReportingApi>,
    auth: AuthInterceptor,
    settings: Arc<PageSettings>,
}

/// The signed-in caller of a page.
pub struct Session {
    pub principal: Principal,
    metadata: tonic::metadata::MetadataMap,
    extensions: tonic::Extensions,
}

/// The query string every page of figures takes.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// 2026-11, 2026-W47, 2026-11-15, 2026.
    #[serde(default)]
    pub periodo: String,
    /// The table's dimension in words (regione, provincia, ufficio, patronato, motivo, argomento).
    #[serde(default)]
    pub per: String,
    /// A member within a region (a topic, a motivo or a patronato of the region).
    #[serde(default)]
    pub regione: String,
}

/// A dimension's word in the pages' addresses.
pub fn dimension_word(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Region => "regione",
        Dimension::Province => "provincia",
        Dimension::Office => "ufficio",
        Dimension::Patronato => "patronato",
        Dimension::Motivo => "motivo",
        Dimension::Topic => "argomento",
        Dimension::Nation | Dimension::Unspecified => "italia",
    }
}

pub fn dimension_from_word(word: &str) -> Option<Dimension> {
    Some(match word {
        "regione" => Dimension::Region,
        "provincia" => Dimension::Province,
        "ufficio" => Dimension::Office,
        "patronato" => Dimension::Patronato,
        "motivo" => Dimension::Motivo,
        "argomento" => Dimension::Topic,
        _ => return None,
    })
}

impl Pages {
    pub fn new(api: Arc<ReportingApi>, auth: AuthInterceptor, settings: PageSettings) -> Self {
        Self {
            api,
            auth,
            settings: Arc::new(settings),
        }
    }

    pub fn routes(self) -> Router {
        Router::new()
            .route("/", get(home))
            .route("/accedi", get(signin::page).post(signin::sign_in))
            .route("/esci", post(signin::sign_out))
            .route("/italia", get(nation::page))
            .route("/regioni/{code}", get(region::page))
            .route("/patronati/{code}", get(patronato::page))
            .route("/cifre/{dimension}/{key}", get(member::page))
            .route("/rapporti", get(reports::list))
            .route("/rapporti/{month}/{region}", get(reports::show))
            .route("/stile.css", get(|| async { style::css(style::SCREEN) }))
            .route("/stampa.css", get(|| async { style::css(style::PRINT) }))
            .with_state(self)
    }

    pub fn api(&self) -> &ReportingApi {
        &self.api
    }

    /// The caller, from the identity provider's header or the sign-in cookie; without one,
    /// the sign-in (or a page saying how to sign in).
    pub fn session(&self, headers: &HeaderMap) -> Result<Session, Box<Response>> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::to_owned)
            .or_else(|| cookie(headers, SESSION_COOKIE));
        let Some(token) = token else {
            return Err(Box::new(self.sign_in_first()));
        };
        let mut metadata = tonic::metadata::MetadataMap::new();
        if let Ok(value) = format!("Bearer {token}").parse() {
            metadata.insert("authorization", value);
        }
        let mut auth = self.auth.clone();
        let checked = auth
            .call(tonic::Request::from_parts(
                metadata,
                tonic::Extensions::default(),
                (),
            ))
            .map_err(|_| Box::new(self.sign_in_first()))?;
        let (metadata, extensions, ()) = checked.into_parts();
        let principal = extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Box::new(self.sign_in_first()))?;
        Ok(Session {
            principal,
            metadata,
            extensions,
        })
    }

    fn sign_in_first(&self) -> Response {
        if self.settings.dev_sign_in {
            Redirect::to("/accedi").into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                layout::page(
                    "Accesso richiesto",
                    None,
                    html! {
                        p { "Accedi attraverso il sistema di identità dell'Istituto." }
                    },
                ),
            )
                .into_response()
        }
    }

    /// A request to an API method as the signed-in caller.
    pub fn request<T>(&self, session: &Session, message: T) -> tonic::Request<T> {
        tonic::Request::from_parts(
            session.metadata.clone(),
            session.extensions.clone(),
            message,
        )
    }

    pub async fn reach(&self, session: &Session) -> Result<Reach, Box<Response>> {
        self.api
            .reach_of(&session.principal)
            .await
            .map_err(|error| Box::new(refusal(&tonic::Status::from(error), Some(session))))
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// An API refusal as a page: the HTTP status of its code, and the reason in words.
pub fn refusal(status: &tonic::Status, session: Option<&Session>) -> Response {
    use tonic_types::StatusExt as _;
    let http = combipat_platform::json_api::http_status(status.code());
    let violations = status
        .get_details_bad_request()
        .map(|bad| bad.field_violations)
        .unwrap_or_default();
    let title = match status.code() {
        tonic::Code::PermissionDenied => "Non consentito",
        tonic::Code::NotFound => "Non trovato",
        tonic::Code::InvalidArgument => "Richiesta non valida",
        tonic::Code::Unavailable => "Servizio momentaneamente non disponibile",
        _ => "Errore",
    };
    let body = html! {
        div.errore role="alert" {
            @if violations.is_empty() {
                p { (status.message()) }
            } @else {
                ul { @for violation in &violations { li { strong { (violation.field) } ": " (violation.description) } } }
            }
        }
        p { a href="/" { "Torna alla pagina iniziale" } }
    };
    (http, layout::page(title, session, body)).into_response()
}

/// Where a caller starts: the nation, their region, or their patronato.
async fn home(
    axum::extract::State(pages): axum::extract::State<Pages>,
    headers: HeaderMap,
) -> Response {
    let session = match pages.session(&headers) {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match pages.reach(&session).await {
        Ok(Reach::Nation) => Redirect::to("/italia").into_response(),
        Ok(Reach::Region(region)) => Redirect::to(&format!("/regioni/{region}")).into_response(),
        Ok(Reach::Patronato(patronato)) => {
            Redirect::to(&format!("/patronati/{}", urlencoding(&patronato))).into_response()
        }
        Err(response) => *response,
    }
}

/// Percent-encodes a path segment or a query value.
pub fn urlencoding(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(char::from(byte))
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}
