//! The one way of doing pages in COMBIPAT: the operator's pages (intake) and the office
//! console (office-queue) stand on it, and so will any later set of pages.
//!
//! - [`Site`]: a service's pages as a whole: who signs in and how ([`Site::caller`]: the
//!   identity provider's bearer token, or the development sign-in's cookie when
//!   `pages.dev_sign_in` is on, and only then), the routes every site has (`/accedi`,
//!   `/esci`, `/static/...`: [`Site::routes`]), the security layer ([`Site::secure`]:
//!   CSRF check and headers, [`security`]), and calls to the service's own API in process
//!   through the same token check as gRPC ([`Site::call`]).
//! - [`shell`]: the page frame in Bootstrap Italia (header, navigation, footer), and the
//!   kit's form controls, alerts and refusals in Italian.
//! - [`assets`]: the kit's files and ours, embedded and served with long cache headers.

pub mod assets;
pub mod multipart;
pub mod security;
pub mod shell;
mod signin;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use combipat_platform::auth::{AuthInterceptor, Principal, Role};
use serde::Deserialize;
use tonic::service::Interceptor as _;

pub use shell::{NavItem, Page};

/// The `[pages]` section of a service with pages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSettings {
    /// Offer the development sign-in (a choice of demo people) and accept its cookie. Never
    /// in production, where the identity provider in front of the service sends the token.
    pub dev_sign_in: bool,
    /// The private key the development sign-in signs with.
    pub dev_signing_key_path: String,
}

/// A demo person of the development sign-in.
#[derive(Debug, Clone, Copy)]
pub struct DemoPerson {
    pub subject: &'static str,
    pub role: Role,
    pub patronato: Option<&'static str>,
    pub patronato_office: Option<&'static str>,
    pub inps_office: Option<&'static str>,
    /// In Italian, e.g. "operatore INCA, sede di Milano".
    pub description: &'static str,
}

/// What makes one service's pages theirs.
#[derive(Debug, Clone, Copy)]
pub struct SiteConfig {
    /// Under the brand in the header, e.g. "Scrivi alla sede INPS".
    pub tagline: &'static str,
    /// Where `/` and a sign-in lead.
    pub home: &'static str,
    /// The development session's cookie: one name per site, since cookies do not tell
    /// ports apart and two sites may run on one host.
    pub cookie: &'static str,
    /// Who the development sign-in offers.
    pub people: &'static [DemoPerson],
    /// What production users are told when no token came.
    pub sign_in_hint: &'static str,
}

/// A service's pages: settings, token check, configuration.
#[derive(Clone)]
pub struct Site {
    inner: Arc<Inner>,
}

struct Inner {
    config: SiteConfig,
    settings: PageSettings,
    auth: AuthInterceptor,
}

/// The signed-in caller of a page: their token (passed on to every call) and who they are.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: String,
    pub principal: Principal,
}

const SESSION_HOURS: i64 = 8;

impl Site {
    pub fn new(config: SiteConfig, settings: PageSettings, auth: AuthInterceptor) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                settings,
                auth,
            }),
        }
    }

    pub fn config(&self) -> &SiteConfig {
        &self.inner.config
    }

    pub fn settings(&self) -> &PageSettings {
        &self.inner.settings
    }

    /// The routes every site has: `/` (to the home page), `/accedi` and `/esci` (the
    /// development sign-in; 404 when it is off, but `/esci`), `/static/{*path}`. Merge them
    /// with the service's own pages and pass the whole to [`Site::secure`].
    pub fn routes(&self) -> Router {
        let home = self.inner.config.home;
        Router::new()
            .route("/", get(move || async move { Redirect::to(home) }))
            .route("/accedi", get(signin::page).post(signin::sign_in))
            .route("/esci", post(signin::sign_out))
            .with_state(self.clone())
            .route("/static/{*path}", get(assets::serve))
    }

    /// The security layer over a site's routes (see [`security`]).
    pub fn secure(router: Router) -> Router {
        router.layer(axum::middleware::from_fn(security::protect))
    }

    /// The caller, from the identity provider's `Authorization: Bearer` header or, only
    /// while the development sign-in is on, its cookie. Anyone else is sent to sign in.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, Box<Response>> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::to_owned);
        let token = bearer.or_else(|| {
            self.inner
                .settings
                .dev_sign_in
                .then(|| cookie(headers, self.inner.config.cookie))
                .flatten()
        });
        let Some(token) = token else {
            return Err(Box::new(self.sign_in_first()));
        };
        match self.verify(&token) {
            Ok(principal) => Ok(Caller { token, principal }),
            Err(_) => Err(Box::new(self.sign_in_first())),
        }
    }

    fn verify(&self, token: &str) -> Result<Principal, tonic::Status> {
        let checked = self.authorised_parts(token)?;
        checked
            .1
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| tonic::Status::unauthenticated("no principal"))
    }

    fn authorised_parts(
        &self,
        token: &str,
    ) -> Result<(tonic::metadata::MetadataMap, tonic::Extensions), tonic::Status> {
        let mut metadata = tonic::metadata::MetadataMap::new();
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::unauthenticated("the session token is not valid"))?;
        metadata.insert("authorization", value);
        metadata.insert(
            "accept-language",
            tonic::metadata::MetadataValue::from_static("it"),
        );
        let mut auth = self.inner.auth.clone();
        let (metadata, extensions, ()) = auth
            .call(tonic::Request::from_parts(metadata, Default::default(), ()))?
            .into_parts();
        Ok((metadata, extensions))
    }

    /// A request to the service's own API as the caller, through the same token check as
    /// gRPC (its metadata carries the caller's token, for calls made on their behalf).
    pub fn request<T>(
        &self,
        caller: &Caller,
        message: T,
    ) -> Result<tonic::Request<T>, tonic::Status> {
        let (metadata, extensions) = self.authorised_parts(&caller.token)?;
        Ok(tonic::Request::from_parts(metadata, extensions, message))
    }

    /// Calls a method of the service's own API (`api`) as the caller.
    pub async fn call<Api, Req, Resp, F, Fut>(
        &self,
        api: &Arc<Api>,
        caller: &Caller,
        message: Req,
        method: F,
    ) -> Result<Resp, tonic::Status>
    where
        F: FnOnce(Arc<Api>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let request = self.request(caller, message)?;
        method(Arc::clone(api), request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// To the development sign-in, or (without it) 401 with the site's hint.
    pub fn sign_in_first(&self) -> Response {
        if self.inner.settings.dev_sign_in {
            Redirect::to("/accedi").into_response()
        } else {
            let body = maud::html! { p { (self.inner.config.sign_in_hint) } };
            (
                StatusCode::UNAUTHORIZED,
                self.page(Page::new("Accesso richiesto"), body),
            )
                .into_response()
        }
    }

    /// A whole page in the site's frame.
    pub fn page(&self, page: Page<'_>, body: maud::Markup) -> maud::Markup {
        shell::render(&self.inner.config, &page, body)
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}
