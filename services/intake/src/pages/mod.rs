//! The operator's pages, in Italian, in the public administration's design (Bootstrap
//! Italia, served by intake itself) and usable without JavaScript, on the shared web crate
//! (`combipat_web`: frame, sign-in, CSRF and security headers): "Scrivi alla sede" (the
//! form, the comune chosen by name), "Le mie richieste" (the list), each request's page,
//! "Notifiche" and "Avvisi" (what INPS publishes for the patronati, from notifier). Every page works through the same API methods (and token check) as gRPC and
//! JSON, so a page can do nothing the API would refuse.

mod avvisi;
mod detail;
mod form;
mod labels;
mod list;
mod notices;
mod residence;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use combipat_platform::auth::{AuthInterceptor, Role};
use combipat_web::{Caller, DemoPerson, NavItem, Page, PageSettings, Site, SiteConfig};

use crate::api::IntakeApi;

const PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        subject: "mario.rossi",
        role: Role::Operatore,
        patronato: Some("INCA"),
        patronato_office: Some("INCA-MI-01"),
        inps_office: None,
        description: "operatore INCA, sede di Milano",
    },
    DemoPerson {
        subject: "giulia.bianchi",
        role: Role::Operatore,
        patronato: Some("INCA"),
        patronato_office: Some("INCA-TO-02"),
        inps_office: None,
        description: "operatrice INCA, sede di Torino",
    },
    DemoPerson {
        subject: "luca.verdi",
        role: Role::Operatore,
        patronato: Some("ACLI"),
        patronato_office: Some("ACLI-RM-1"),
        inps_office: None,
        description: "operatore ACLI, sede di Roma",
    },
    DemoPerson {
        subject: "anna.neri",
        role: Role::Supervisore,
        patronato: Some("INCA"),
        patronato_office: None,
        inps_office: None,
        description: "supervisore INCA, tutte le sedi",
    },
];

const SITE: SiteConfig = SiteConfig {
    tagline: "Scrivi alla sede INPS",
    home: "/richieste",
    cookie: "combipat_sessione",
    people: PEOPLE,
    sign_in_hint: "Accedi attraverso il sistema di identità del tuo patronato.",
};

#[derive(Clone)]
pub struct Pages {
    api: Arc<IntakeApi>,
    site: Site,
    notifier: crate::notifier_client::Notifier,
}

/// The signed-in caller of a page, with their unread notices (`None` when notifier did not
/// answer: the pages work without it).
pub struct Session {
    caller: Caller,
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
            site: Site::new(SITE, settings, auth),
            notifier,
        }
    }

    pub fn routes(self) -> Router {
        let pages = Router::new()
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
            .route("/avvisi", get(avvisi::page))
            .route("/avvisi/{id}", get(avvisi::one))
            .route("/avvisi/{id}/file/{file_id}", get(avvisi::file))
            .layer(axum::extract::DefaultBodyLimit::max(
                combipat_platform::files::MAX_PER_MESSAGE * crate::attachments::MAX_BYTES
                    + 1024 * 1024,
            ))
            .with_state(self.clone());
        Site::secure(pages.merge(self.site.routes()))
    }

    /// The caller, with their unread notices; anyone else is sent to sign in.
    async fn session(&self, headers: &HeaderMap) -> Result<Session, Box<Response>> {
        let caller = self.site.caller(headers)?;
        let unread = self.notifier.unread(&caller.token).await;
        Ok(Session { caller, unread })
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
        self.site
            .call(&self.api, &session.caller, message, method)
            .await
    }

    /// A page in the frame, with the navigation and the caller's unread count.
    fn page(&self, session: &Session, title: &str, current: &str, body: maud::Markup) -> Response {
        use axum::response::IntoResponse as _;
        let principal = &session.caller.principal;
        let notices = match session.unread.filter(|unread| *unread > 0) {
            Some(unread) => format!("Notifiche ({unread})"),
            None => "Notifiche".to_owned(),
        };
        let mut nav = Vec::new();
        if principal.role == Role::Operatore {
            nav.push(NavItem::new("/richieste/nuova", "Scrivi alla sede"));
        }
        nav.push(NavItem::new("/richieste", "Le mie richieste"));
        nav.push(NavItem::new("/notifiche", notices));
        nav.push(NavItem::new("/avvisi", "Avvisi"));
        let who = principal
            .patronato_office
            .clone()
            .or_else(|| principal.patronato.clone())
            .unwrap_or_default();
        self.site
            .page(
                Page::new(title)
                    .caller(&session.caller, who)
                    .nav(nav, current),
                body,
            )
            .into_response()
    }

    fn refusal(status: &tonic::Status) -> maud::Markup {
        combipat_web::shell::refusal(status, |field| labels::field_label(field).to_owned())
    }
}
