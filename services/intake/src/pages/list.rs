//! "Le mie richieste": the office's requests (the patronato's, for a supervisore), newest
//! first, with filters and a page at a time.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use combipat_proto::intake::v1::ListRequestsRequest;
use combipat_proto::intake::v1::intake_server::Intake as _;
use maud::html;
use serde::Deserialize;

use super::{Pages, layout};

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    stato: String,
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    codice_fiscale: String,
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
        ..ListRequestsRequest::default()
    };
    let outcome = pages
        .call(&session, request, |api, request| async move {
            api.list_requests(request).await
        })
        .await;
    let body = html! {
        form method="get" action="/richieste" class="riquadro" {
            label for="stato" { "Stato" }
            select id="stato" name="stato" {
                option value="" { "Tutti" }
                @for stato in STATI {
                    option value=(stato) selected[filters.stato == stato] { (layout::status_label(stato)) }
                }
            }
            label for="motivo" { "Motivo" }
            select id="motivo" name="motivo" {
                option value="" { "Tutti" }
                @for (code, label) in layout::MOTIVI {
                    option value=(code) selected[filters.motivo == code] { (label) }
                }
            }
            label for="codice_fiscale" { "Codice fiscale" }
            input id="codice_fiscale" name="codice_fiscale" value=(filters.codice_fiscale);
            button type="submit" { "Filtra" }
        }
        @match &outcome {
            Err(status) => (layout::refusal(status)),
            Ok(page) if page.requests.is_empty() => p { "Nessuna richiesta." },
            Ok(page) => {
                table {
                    thead { tr { th { "Protocollo" } th { "Inviata" } th { "Motivo" } th { "Cittadino" } th { "Oggetto" } th { "Stato" } th { "Sede" } } }
                    tbody {
                        @for entry in &page.requests {
                            tr {
                                td { a href={ "/richieste/" (entry.request_id) } { (entry.protocol_number) } }
                                td { (layout::rome(entry.submitted_at.as_ref())) }
                                td { (layout::motivo_label(entry.motivo)) }
                                td { (entry.codice_fiscale) }
                                td { (entry.subject) }
                                td { (layout::status_label(&entry.status)) }
                                td { (entry.office_code) }
                            }
                        }
                    }
                }
                @if !page.next_page_token.is_empty() {
                    p { a href={ "/richieste?stato=" (filters.stato) "&motivo=" (filters.motivo)
                        "&codice_fiscale=" (filters.codice_fiscale) "&pagina=" (page.next_page_token) } { "Pagina successiva →" } }
                }
            }
        }
    };
    layout::page("Le mie richieste", Some(&session), body).into_response()
}
