//! The office console: the pages INPS officials work from, in Italian, in the public
//! administration's design and usable without JavaScript, on the shared web crate
//! (`combipat_web`: frame, sign-in, CSRF and security headers). Every page calls
//! office-queue's own API in process, through the same token check as gRPC, so a page can
//! do nothing the API would refuse.
//!
//! | page | |
//! |---|---|
//! | `/coda` | the office's queue (`queue.rs`), `/coda/eventi` its changes as server-sent events |
//! | `/coda/{id}` and its actions | one item (`item.rs`, `actions.rs`) |
//! | `/carico` | a responsabile's workload (`workload.rs`) |
//! | `/avvisi` | a responsabile publishes avvisi and reads their read counts (`avvisi.rs`, through notifier) |
//! | `/allegati/{id}` | a file of an item |

mod actions;
mod avvisi;
mod directory;
mod item;
mod labels;
mod notifier;
mod queue;
mod workload;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use combipat_platform::auth::{AuthInterceptor, Role};
use combipat_web::{Caller, DemoPerson, NavItem, Page, PageSettings, Site, SiteConfig};

use crate::api::OfficeQueueApi;

const PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        subject: "paolo.esposito",
        role: Role::Funzionario,
        patronato: None,
        patronato_office: None,
        inps_office: Some("SEDE-MI"),
        description: "funzionario, Direzione di coordinamento metropolitano di Milano",
    },
    DemoPerson {
        subject: "sara.greco",
        role: Role::Funzionario,
        patronato: None,
        patronato_office: None,
        inps_office: Some("SEDE-MI"),
        description: "funzionaria, Direzione di coordinamento metropolitano di Milano",
    },
    DemoPerson {
        subject: "franca.colombo",
        role: Role::Responsabile,
        patronato: None,
        patronato_office: None,
        inps_office: Some("SEDE-MI"),
        description: "responsabile, Direzione di coordinamento metropolitano di Milano",
    },
    DemoPerson {
        subject: "marco.ferri",
        role: Role::Funzionario,
        patronato: None,
        patronato_office: None,
        inps_office: Some("SEDE-TO"),
        description: "funzionario, sede di Torino",
    },
    DemoPerson {
        subject: "giovanna.brambilla",
        role: Role::Responsabile,
        patronato: None,
        patronato_office: None,
        inps_office: Some("DR-LOMBARDIA"),
        description: "responsabile, Direzione regionale Lombardia",
    },
];

const SITE: SiteConfig = SiteConfig {
    tagline: "Console degli uffici INPS",
    home: "/coda",
    cookie: "combipat_console_sessione",
    people: PEOPLE,
    sign_in_hint: "Accedi attraverso il sistema di identità dell'INPS.",
};

#[derive(Clone)]
pub struct Console {
    api: Arc<OfficeQueueApi>,
    site: Site,
    directory: directory::Directory,
    notifier: notifier::Notifier,
}

impl Console {
    pub fn new(
        api: Arc<OfficeQueueApi>,
        auth: AuthInterceptor,
        settings: PageSettings,
        router: &combipat_platform::grpc_client::ClientSettings,
        notifier: &combipat_platform::grpc_client::ClientSettings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            api,
            site: Site::new(SITE, settings, auth),
            directory: directory::Directory::new(router)?,
            notifier: notifier::Notifier::new(notifier)?,
        })
    }

    pub fn routes(self) -> Router {
        let pages = Router::new()
            .route("/coda", get(queue::page))
            .route("/coda/eventi", get(queue::events))
            .route("/coda/{id}", get(item::page))
            .route("/coda/{id}/prendi", post(actions::claim))
            .route("/coda/{id}/rilascia", post(actions::release))
            .route("/coda/{id}/rispondi", post(actions::answer))
            .route("/coda/{id}/chiedi", post(actions::request_info))
            .route("/coda/{id}/nota", post(actions::note))
            .route("/coda/{id}/trasferisci", post(actions::transfer))
            .route("/coda/{id}/chiudi", post(actions::close))
            .route("/coda/{id}/assegna", post(actions::reassign))
            .route("/carico", get(workload::page))
            .route("/avvisi", get(avvisi::page).post(avvisi::publish))
            .route("/allegati/{id}", get(item::attachment))
            .layer(axum::extract::DefaultBodyLimit::max(
                combipat_platform::files::MAX_PER_MESSAGE * combipat_domain::files::MAX_BYTES
                    + 1024 * 1024,
            ))
            .with_state(self.clone());
        Site::secure(pages.merge(self.site.routes()))
    }

    fn caller(&self, headers: &HeaderMap) -> Result<Caller, Box<Response>> {
        self.site.caller(headers)
    }

    async fn call<Req, Resp, F, Fut>(
        &self,
        caller: &Caller,
        message: Req,
        method: F,
    ) -> Result<Resp, tonic::Status>
    where
        F: FnOnce(Arc<OfficeQueueApi>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        self.site.call(&self.api, caller, message, method).await
    }

    /// A page in the frame, with the navigation for the caller's role.
    fn page(&self, caller: &Caller, title: &str, current: &str, body: maud::Markup) -> Response {
        self.page_with(caller, title, current, None, body)
    }

    /// The same, with a script (a file under /static/) that adds to the page.
    fn page_with(
        &self,
        caller: &Caller,
        title: &str,
        current: &str,
        script: Option<&'static str>,
        body: maud::Markup,
    ) -> Response {
        let mut nav = vec![NavItem::new("/coda", "Coda dell'ufficio")];
        if caller.principal.role == Role::Responsabile {
            nav.push(NavItem::new("/carico", "Carico di lavoro"));
        }
        if matches!(caller.principal.role, Role::Responsabile | Role::Admin) {
            nav.push(NavItem::new("/avvisi", "Avvisi"));
        }
        let who = office(caller).unwrap_or_default();
        let mut page = Page::new(title).caller(caller, who).nav(nav, current);
        if let Some(script) = script {
            page = page.script(script);
        }
        self.site.page(page, body).into_response()
    }

    fn refusal(status: &tonic::Status) -> maud::Markup {
        combipat_web::shell::refusal(&labels::status_in_italian(status), |field| {
            labels::field_label(field).to_owned()
        })
    }
}

/// The office the caller works for.
fn office(caller: &Caller) -> Option<String> {
    caller.principal.inps_office.clone()
}
