//! A responsabile's view of the office: the items by status and by SLA state, and the leases
//! each official holds now (`GetWorkload`); reassignment is on each item's page.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use combipat_proto::officequeue::v1::GetWorkloadRequest;
use combipat_proto::officequeue::v1::office_queue_server::OfficeQueue as _;
use combipat_web::shell;
use maud::html;

use super::{Console, labels, office};

pub async fn page(State(console): State<Console>, headers: HeaderMap) -> Response {
    let caller = match console.caller(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let office_code = office(&caller).unwrap_or_default();
    let outcome = console
        .call(
            &caller,
            GetWorkloadRequest {
                office_code: office_code.clone(),
            },
            |api, request| async move { api.get_workload(request).await },
        )
        .await;
    let body = match outcome {
        Err(status) => Console::refusal(&status),
        Ok(workload) => html! {
            div.row {
                div.col-md-4 {
                    table.table {
                        caption { "Pratiche per stato" }
                        thead { tr { th scope="col" { "Stato" } th scope="col" { "Pratiche" } } }
                        tbody { @for count in &workload.by_status {
                            tr { td { a href={ "/coda?stato=" (count.status) } { (labels::status_label(&count.status)) } } td { (count.items) } }
                        } }
                    }
                }
                div.col-md-4 {
                    table.table {
                        caption { "Pratiche per scadenza" }
                        thead { tr { th scope="col" { "Scadenza" } th scope="col" { "Pratiche" } } }
                        tbody { @for count in &workload.by_sla_state {
                            @let code = labels::SLA.iter().find(|(state, _, _)| *state as i32 == count.sla_state).map(|(_, code, _)| *code).unwrap_or_default();
                            tr { td { a href={ "/coda?sla=" (code) } { (labels::sla_label(count.sla_state)) } } td { (count.items) } }
                        } }
                    }
                }
                div.col-md-4 {
                    table.table {
                        caption { "Pratiche in carico per funzionario" }
                        thead { tr { th scope="col" { "Funzionario" } th scope="col" { "In carico ora" } } }
                        tbody {
                            @if workload.by_official.is_empty() { tr { td colspan="2" { "Nessuna pratica in carico." } } }
                            @for load in &workload.by_official { tr { td { (load.official) } td { (load.claimed) } } }
                        }
                    }
                }
            }
            p.small { "Per assegnare una pratica a un funzionario, aprila dalla coda: il modulo «Assegna» è in fondo alla pagina." }
            (shell::button_link("/coda", "Apri la coda"))
        },
    };
    console.page(
        &caller,
        &format!("Carico di lavoro dell'ufficio {office_code}"),
        "/carico",
        body,
    )
}
