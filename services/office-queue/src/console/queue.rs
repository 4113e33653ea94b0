//! The office's queue: by priority (the SLA state and the reasons of each rank) or in arrival
//! order, with filters and a cursor; and its changes as server-sent events
//! (`/coda/eventi`, from `WatchQueue`), which `live.js` turns into a reload when scripts
//! run. Without scripts the page has its plain "Aggiorna" link.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use combipat_proto::common::v1::{Motivo, Provenance};
use combipat_proto::officequeue::v1::office_queue_server::OfficeQueue as _;
use combipat_proto::officequeue::v1::{
    ClaimFilter, Item, ListItemsRequest, ListOrder, WatchQueueRequest,
};
use combipat_web::shell;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::{Console, labels, office};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    stato: String,
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    argomento: String,
    #[serde(default)]
    sla: String,
    /// "si": only items with at least one sollecito.
    #[serde(default)]
    solleciti: String,
    /// "si": only the items the caller holds.
    #[serde(default)]
    miei: String,
    /// "PATRONATO": only this channel's items.
    #[serde(default)]
    provenienza: String,
    /// "arrivo" for the arrival order; otherwise by priority.
    #[serde(default)]
    ordine: String,
    #[serde(default)]
    pagina: String,
}

impl Filters {
    fn request(&self, office: &str, page_token: &str) -> ListItemsRequest {
        let sla = labels::SLA
            .iter()
            .find(|(_, code, _)| *code == self.sla)
            .map(|(state, _, _)| *state as i32);
        ListItemsRequest {
            office_code: office.to_owned(),
            page_size: 25,
            page_token: page_token.to_owned(),
            status: if self.stato.is_empty() {
                Vec::new()
            } else {
                vec![self.stato.clone()]
            },
            motivo: Motivo::from_str_name(&self.motivo)
                .map(|m| vec![m as i32])
                .unwrap_or_default(),
            topic: self.argomento.clone(),
            provenance: if self.provenienza == "PATRONATO" {
                Provenance::Patronato as i32
            } else {
                0
            },
            claimed: if self.miei == "si" {
                ClaimFilter::Claimed as i32
            } else {
                0
            },
            min_solleciti: u32::from(self.solleciti == "si"),
            sla_state: sla.into_iter().collect(),
            order: if self.ordine == "arrivo" {
                ListOrder::Arrival as i32
            } else {
                ListOrder::Priority as i32
            },
            ..ListItemsRequest::default()
        }
    }

    fn link(&self, page_token: &str) -> String {
        let next = Self {
            pagina: page_token.to_owned(),
            ..self.clone()
        };
        format!(
            "/coda?{}",
            serde_urlencoded::to_string(next).unwrap_or_default()
        )
    }
}

/// At most this many pages are read to find the caller's own items (ListItems filters
/// claimed items, not whose): leases are few, so this covers any office.
const MINE_PAGES: usize = 20;

pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Response {
    let caller = match console.caller(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let Some(office) = office(&caller) else {
        let body = shell::alert(
            "warning",
            html! { "Il tuo profilo non è legato a un ufficio INPS: non c'è una coda da mostrare." },
        );
        return console.page(&caller, "Coda dell'ufficio", "/coda", body);
    };
    let mine = filters.miei == "si";
    let outcome: Result<(Vec<Item>, String), tonic::Status> = async {
        if !mine {
            let page = console
                .call(
                    &caller,
                    filters.request(&office, &filters.pagina),
                    |api, request| async move { api.list_items(request).await },
                )
                .await?;
            return Ok((page.items, page.next_page_token));
        }
        let mut items = Vec::new();
        let mut token = String::new();
        for _ in 0..MINE_PAGES {
            let mut request = filters.request(&office, &token);
            request.page_size = 200;
            let page = console
                .call(&caller, request, |api, request| async move {
                    api.list_items(request).await
                })
                .await?;
            items.extend(
                page.items
                    .into_iter()
                    .filter(|item| item.claimed_by == caller.principal.subject),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        Ok((items, String::new()))
    }
    .await;
    let body = html! {
        div data-live-url="/coda/eventi" {
            p.live-stato {
                span data-live-status aria-live="polite" { "La coda non si aggiorna da sola senza JavaScript." }
                " " a href=(filters.link(&filters.pagina)) { "Aggiorna" }
            }
        }
        (filter_form(&filters))
        @match &outcome {
            Err(status) => (Console::refusal(status)),
            Ok((items, _)) if items.is_empty() => p { "Nessuna pratica con questi filtri." },
            Ok((items, next)) => {
                (table(items, filters.ordine == "arrivo"))
                @if !next.is_empty() { p { a href=(filters.link(next)) { "Pagina successiva →" } } }
            }
        }
    };
    console.page_with(
        &caller,
        &format!("Coda dell'ufficio {office}"),
        "/coda",
        Some("live.js"),
        body,
    )
}

fn filter_form(filters: &Filters) -> Markup {
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(code, label)| ((*code).to_owned(), (*label).to_owned()))
            .collect()
    };
    let motivi = [
        (
            "MOTIVO_SOLLECITO_PRATICA",
            "Sollecito su pratica presentata",
        ),
        ("MOTIVO_INFO_PAGAMENTI", "Informazioni sui pagamenti"),
        ("MOTIVO_RICHIESTA_GENERICA", "Richiesta generica"),
    ];
    let sla: Vec<(String, String)> = labels::SLA
        .iter()
        .map(|(_, code, label)| ((*code).to_owned(), (*label).to_owned()))
        .collect();
    let topics: Vec<(String, String)> = combipat_domain::Topic::ALL
        .iter()
        .map(|topic| (topic.code().to_owned(), topic.label().to_owned()))
        .collect();
    let orders = pairs(&[
        ("priorita", "Per priorità"),
        ("arrivo", "In ordine di arrivo"),
    ]);
    html! {
        form.filtri method="get" action="/coda" aria-label="Filtri della coda" {
            div.row {
                div.col-md-3 { (shell::select("ordine", "Ordine", &orders, &filters.ordine, None, false)) }
                div.col-md-3 { (shell::select("stato", "Stato", &pairs(&labels::STATI), &filters.stato, Some("Tutti"), false)) }
                div.col-md-3 { (shell::select("sla", "Scadenza", &sla, &filters.sla, Some("Tutte"), false)) }
                div.col-md-3 { (shell::select("motivo", "Motivo", &pairs(&motivi), &filters.motivo, Some("Tutti"), false)) }
                div.col-md-3 { (shell::select("argomento", "Argomento", &topics, &filters.argomento, Some("Tutti"), false)) }
                div.col-md-3 { (shell::select("provenienza", "Provenienza", &pairs(&[("PATRONATO", "Patronato")]), &filters.provenienza, Some("Tutte"), false)) }
                div.col-md-3.pt-md-4 {
                    (shell::checkbox("filtro-solleciti", "solleciti", "Solo con solleciti", filters.solleciti == "si"))
                    (shell::checkbox("filtro-miei", "miei", "Solo in carico a me", filters.miei == "si"))
                }
            }
            button.btn.btn-primary.mb-3 type="submit" { "Filtra" }
            " " a.mb-3.d-inline-block href="/coda" { "Togli i filtri" }
        }
    }
}

fn table(items: &[Item], arrival: bool) -> Markup {
    html! {
        div.table-responsive { table.table.coda {
            caption.visually-hidden { @if arrival { "Le pratiche in ordine di arrivo" } @else { "Le pratiche per priorità, la più urgente per prima" } }
            thead { tr {
                th scope="col" { "Protocollo" } th scope="col" { "Priorità" } th scope="col" { "Perché" }
                th scope="col" { "Oggetto" } th scope="col" { "Patronato" } th scope="col" { "Stato" } th scope="col" { "In carico a" }
            } }
            tbody { @for item in items {
                @let priority = item.priority.clone().unwrap_or_default();
                tr {
                    td { a href={ "/coda/" (item.request_id) } { (item.protocol_number) } br; span.small { (shell::rome(item.submitted_at.as_ref())) } }
                    td { span class=(labels::sla_badge(priority.sla_state)) { (labels::sla_label(priority.sla_state)) } br; span.small { "punti " (priority.score) } }
                    td.small { ul.list-unstyled.mb-0 { @for reason in &priority.reasons { li { (labels::reason(reason)) } } } }
                    td { (item.subject) br; span.small { (labels::topic(&item.topic)) } }
                    td { (item.patronato) @if !item.patronato_office.is_empty() { br; span.small { (item.patronato_office) } } }
                    td { (labels::status_label(&item.status)) @if item.solleciti > 0 { br; span.small { "solleciti: " (item.solleciti) } } }
                    td { @if item.claimed_by.is_empty() { "—" } @else { (item.claimed_by) } }
                }
            } }
        } }
    }
}

/// `GET /coda/eventi`: the office's changes as server-sent events named `change` (the data
/// is the request id), from `WatchQueue`; the stream ends with the token, or when the
/// watcher falls behind (the page then reloads the queue by itself).
pub async fn events(State(console): State<Console>, headers: HeaderMap) -> Response {
    use futures::StreamExt as _;
    let caller = match console.caller(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let Some(office) = office(&caller) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let request = match console.site.request(
        &caller,
        WatchQueueRequest {
            office_code: office,
        },
    ) {
        Ok(request) => request,
        Err(_) => return console.site.sign_in_first(),
    };
    match console.api.watch_queue(request).await {
        Ok(stream) => {
            let events = stream.into_inner().map(|change| match change {
                Ok(change) => Ok::<_, std::convert::Infallible>(
                    Event::default().event("change").data(change.request_id),
                ),
                Err(status) => Ok(Event::default()
                    .event("change")
                    .data(format!("fine: {}", status.code()))),
            });
            Sse::new(events)
                .keep_alive(KeepAlive::default())
                .into_response()
        }
        Err(status) => (
            axum::http::StatusCode::FORBIDDEN,
            status.message().to_owned(),
        )
            .into_response(),
    }
}
