//! The operator's pages, in Italian and usable without JavaScript, served by intake beside
//! its API: "Scrivi alla sede" (the form), "Le mie richieste" (the list) and each request's
//! page. Every page works through the same API methods (and token check) as gRPC and JSON,
//! so a page can do nothing the API would refuse.
//!
//! The bearer token comes from the identity provider in front of intake (the Authorization
//! header) or, for local use, from the development sign-in, which signs a token for a demo
//! operator with the development key and keeps it in a cookie.

mod detail;
mod form;
mod layout;
mod list;
mod notices;
mod signin;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use combipat_platform::auth::{AuthInterceptor, Principal};
use serde::Deserialize;
use tonic::service::Interceptor as _;

use crate::api::IntakeApi;

const SESSION_COOKIE: &str = "combipat_sessione";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSettings {
    /// Offer the development sign-in (a choice of demo operators). Never in production.
    pub dev_sign_in: bool,
    /// The private key the development sign-in signs with.
    pub dev_signing_key_path: String,
}

#[derive(Clone)]
pub struct Pages {
    api: Arc<IntakeApi>,
    auth: AuthInterceptor,
    settings: Arc<PageSettings>,
    notifier: crate::notifier_client::Notifier,
}

/// The signed-in caller of a page.
pub struct Session {
    token: String,
    principal: Principal,
    /// The unread notices, shown on every page; `None` when notifier did not answer.
    unread: Option<u32>,
}

impl Pages {
    pub fn new(
        api: Arc<IntakeApi>,
        auth: AuthInterceptor,
        settings: PageSettings,
        notifier: crate::notifier_client::Notifier,
    ) -> Self {
        Self {
            api,
            auth,
            settings: Arc::new(settings),
            notifier,
        }
    }

    pub fn routes(self) -> Router {
        Router::new()
            .route("/", get(|| async { Redirect::to("/richieste") }))
            .route("/accedi", get(signin::page).post(signin::sign_in))
            .route("/esci", post(signin::sign_out))
            .route("/richieste", get(list::page).post(form::submit))
            .route("/richieste/nuova", get(form::page))
            .route("/richieste/anteprima", post(form::preview))
            .route("/richieste/{id}", get(detail::page))
            .route("/richieste/{id}/sollecito", post(detail::sollecito))
            .route("/richieste/{id}/valutazione", post(detail::rate))
            .route("/richieste/{id}/risposta", post(detail::reply))
            .route("/allegati/{id}", get(detail::attachment))
            .route("/notifiche", get(notices::page))
            .route("/notifiche/lette", post(notices::mark_all))
            .route("/notifiche/{id}/letta", post(notices::mark_one))
            .layer(axum::extract::DefaultBodyLimit::max(
                combipat_platform::files::MAX_PER_MESSAGE * crate::attachments::MAX_BYTES
                    + 1024 * 1024,
            ))
            .with_state(self)
    }

    /// The caller, from the identity provider's header or the sign-in cookie, with their
    /// unread notices; a page that needs one sends the others to sign in.
    async fn session(&self, headers: &HeaderMap) -> Result<Session, Box<Response>> {
        let mut session = self.verified(headers)?;
        session.unread = self.notifier.unread(&session.token).await;
        Ok(session)
    }

    fn verified(&self, headers: &HeaderMap) -> Result<Session, Box<Response>> {
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
        match auth.call(tonic::Request::from_parts(metadata, Default::default(), ())) {
            Ok(checked) => match checked.extensions().get::<Principal>() {
                Some(principal) => Ok(Session {
                    token,
                    principal: principal.clone(),
                    unread: None,
                }),
                None => Err(Box::new(self.sign_in_first())),
            },
            Err(_) => Err(Box::new(self.sign_in_first())),
        }
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
                    maud::html! { p { "Accedi attraverso il sistema di identità del tuo patronato." } },
                ),
            )
                .into_response()
        }
    }

    /// Calls an API method as the signed-in caller, through the same token check as gRPC.
    async fn call<Req, Resp, F, Fut>(
        &self,
        session: &Session,
        message: Req,
        method: F,
    ) -> Result<Resp, tonic::Status>
    where
        F: FnOnce(Arc<IntakeApi>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let mut metadata = tonic::metadata::MetadataMap::new();
        let value = format!("Bearer {}", session.token)
            .parse()
            .map_err(|_| tonic::Status::unauthenticated("the session token is not valid"))?;
        metadata.insert("authorization", value);
        let mut auth = self.auth.clone();
        let (metadata, extensions, ()) = auth
            .call(tonic::Request::from_parts(metadata, Default::default(), ()))?
            .into_parts();
        method(
            Arc::clone(&self.api),
            tonic::Request::from_parts(metadata, extensions, message),
        )
        .await
        .map(tonic::Response::into_inner)
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
