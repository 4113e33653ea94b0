//! "Le mie richieste": the office's requests (the patronato's, for a supervisore, who can
//! narrow them to one of its offices), newest first, with filters and a page at a time.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use combipat_platform::auth::Role;
use combipat_proto::intake::v1::ListRequestsRequest;
use combipat_proto::intake::v1::intake_server::Intake as _;
use combipat_web::shell::{self, Input};
use maud::html;
use serde::{Deserialize, Serialize};

use super::{Pages, labels};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    stato: String,
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    codice_fiscale: String,
    /// A supervisore's choice of one office of the patronato.
    #[serde(default)]
    sede: String,
    #[serde(default)]
    pagina: String,
}

const STATI: [&str; 6] = [
    "SUBMITTED",
    "ROUTED",
    "UNROUTABLE",
    "INFO_REQUESTED",
    "ANSWERED",
    "CLOSED",
];

pub async fn page(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let supervisore = session.caller.principal.role == Role::Supervisore;
    let motivo = combipat_proto::common::v1::Motivo::from_str_name(&filters.motivo);
    let request = ListRequestsRequest {
        page_size: 25,
        page_token: filters.pagina.clone(),
        status: if filters.stato.is_empty() {
            Vec::new()
        } else {
            vec![filters.stato.clone()]
        },
        motivo: motivo.map(|motivo| vec![motivo as i32]).unwrap_or_default(),
        codice_fiscale: filters.codice_fiscale.trim().to_owned(),
        patronato_office: if supervisore {
            filters.sede.trim().to_uppercase()
        } else {
            String::new()
        },
        ..ListRequestsRequest::default()
    };
    let outcome = pages
        .call(&session, request, |api, request| async move {
            api.list_requests(request).await
        })
        .await;
    let stati: Vec<(String, String)> = STATI
        .iter()
        .map(|stato| ((*stato).to_owned(), labels::status_label(stato).to_owned()))
        .collect();
    let motivi: Vec<(String, String)> = labels::MOTIVI
        .iter()
        .map(|(code, label)| ((*code).to_owned(), (*label).to_owned()))
        .collect();
    let next = |token: &str| {
        let next = Filters {
            pagina: token.to_owned(),
            ..filters.clone()
        };
        format!(
            "/richieste?{}",
            serde_urlencoded::to_string(next).unwrap_or_default()
        )
    };
    let body = html! {
        form.filtri method="get" action="/richieste" aria-label="Filtri" {
            div.row {
                div.col-md-3 { (shell::select("stato", "Stato", &stati, &filters.stato, Some("Tutti"), false)) }
                div.col-md-4 { (shell::select("motivo", "Motivo", &motivi, &filters.motivo, Some("Tutti"), false)) }
                div.col-md-3 { (Input::new("codice_fiscale", "Codice fiscale").value(&filters.codice_fiscale).maxlength(16).render()) }
                @if supervisore {
                    div.col-md-2 { (Input::new("sede", "Sede del patronato").value(&filters.sede).maxlength(40)
                        .hint("Per esempio INCA-MI-01; vuoto: tutte.").render()) }
                }
            }
            button.btn.btn-primary.mb-3 type="submit" { "Filtra" }
        }
        @match &outcome {
            Err(status) => (Pages::refusal(status)),
            Ok(page) if page.requests.is_empty() => p { "Nessuna richiesta." },
            Ok(page) => {
                div.table-responsive { table.table.table-hover {
                    caption.visually-hidden { "Le richieste, dalla più recente" }
                    thead { tr {
                        th scope="col" { "Protocollo" } th scope="col" { "Inviata" } th scope="col" { "Motivo" }
                        th scope="col" { "Cittadino" } th scope="col" { "Oggetto" } th scope="col" { "Stato" }
                        @if supervisore { th scope="col" { "Sede del patronato" } }
                        th scope="col" { "Sede INPS" }
                    } }
                    tbody {
                        @for entry in &page.requests {
                            tr {
                                td { a href={ "/richieste/" (entry.request_id) } { (entry.protocol_number) } }
                                td { (shell::rome(entry.submitted_at.as_ref())) }
                                td { (labels::motivo_label(entry.motivo)) }
                                td { (entry.codice_fiscale) }
                                td { (entry.subject) }
                                td { (labels::status_label(&entry.status)) }
                                @if supervisore { td { (entry.patronato_office) } }
                                td { (entry.office_code) }
                            }
                        }
                    }
                } }
                @if !page.next_page_token.is_empty() {
                    p { a href=(next(&page.next_page_token)) { "Pagina successiva →" } }
                }
            }
        }
    };
    pages.page(&session, "Le mie richieste", "/richieste", body)
}
