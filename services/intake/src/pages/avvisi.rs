//! "Avvisi": what INPS published for the operator's patronato and territory (notifier decides
//! which), newest first, the unread marked, with filters by topic and period and a search of
//! the words (PostgreSQL's Italian text search: "pensione" finds "pensioni"). An avviso's page
//! shows its text, priority, versions and files (downloaded through intake with the caller's
//! token); opening it marks it read.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Duration, NaiveDate};
use combipat_domain::Topic;
use combipat_proto::notifier::v1::{
    AudienceScope, Avviso, AvvisoAudience, AvvisoDetail, AvvisoPriority, AvvisoStatus,
    ListAvvisiRequest,
};
use combipat_web::shell::{self, Input};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::{Pages, Session, detail, labels};

const HERE: &str = "/avvisi";

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    argomento: String,
    /// The period, as dates (yyyy-mm-dd) in Italian time, both days included.
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    cerca: String,
    #[serde(default)]
    pagina: String,
}

/// Midnight in Rome of `date` (yyyy-mm-dd), `days` later; an error in Italian otherwise.
fn day(value: &str, days: i64) -> Result<Option<prost_types::Timestamp>, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let date =
        NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| "non è una data (gg/mm/aaaa)")?;
    (date + Duration::days(days))
        .and_hms_opt(0, 0, 0)
        .and_then(shell::from_rome)
        .map(Some)
        .ok_or("non è una data valida")
}

impl Filters {
    /// The list call, or the fields that are wrong (their label and reason).
    fn request(&self) -> Result<ListAvvisiRequest, Vec<(&'static str, &'static str)>> {
        let mut errors = Vec::new();
        let from = day(&self.dal, 0).unwrap_or_else(|reason| {
            errors.push(("Dal", reason));
            None
        });
        let to = day(&self.al, 1).unwrap_or_else(|reason| {
            errors.push(("Al", reason));
            None
        });
        if let (Some(from), Some(to)) = (&from, &to)
            && to.seconds <= from.seconds
        {
            errors.push(("Al", "deve essere lo stesso giorno di «Dal» o dopo"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ListAvvisiRequest {
            page_size: 20,
            page_token: self.pagina.clone(),
            topic: self.argomento.clone(),
            published_from: from,
            published_to: to,
            query: self.cerca.trim().to_owned(),
            ..ListAvvisiRequest::default()
        })
    }

    fn link(&self, page_token: &str) -> String {
        let next = Self {
            pagina: page_token.to_owned(),
            ..self.clone()
        };
        format!(
            "{HERE}?{}",
            serde_urlencoded::to_string(next).unwrap_or_default()
        )
    }
}

pub async fn page(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let outcome = match filters.request() {
        Ok(call) => Some(pages.notifier.avvisi(&session.caller.token, call).await),
        Err(_) => None,
    };
    let errors = filters.request().err().unwrap_or_default();
    let topics: Vec<(String, String)> = Topic::ALL
        .iter()
        .map(|topic| (topic.code().to_owned(), topic.label().to_owned()))
        .collect();
    let body = html! {
        form.filtri method="get" action=(HERE) aria-label="Filtri degli avvisi" {
            div.row {
                div.col-md-4 { (Input::new("cerca", "Cerca nel testo").kind("search").value(&filters.cerca).maxlength(200)
                    .hint("Parole del titolo o del testo; trova anche le altre forme (pensione, pensioni).").render()) }
                div.col-md-4 { (shell::select("argomento", "Argomento", &topics, &filters.argomento, Some("Tutti"), false)) }
                div.col-md-2 { (Input::new("dal", "Dal").kind("date").value(&filters.dal)
                    .error(errors.iter().find(|(field, _)| *field == "Dal").map(|(_, reason)| *reason)).render()) }
                div.col-md-2 { (Input::new("al", "Al").kind("date").value(&filters.al)
                    .error(errors.iter().find(|(field, _)| *field == "Al").map(|(_, reason)| *reason)).render()) }
            }
            button.btn.btn-primary.mb-3 type="submit" { "Filtra" }
        }
        @match &outcome {
            None => (shell::alert("danger", html! { "Il periodo non va bene: correggi le date evidenziate." })),
            Some(Err(status)) => (Pages::refusal(status)),
            Some(Ok(list)) if list.avvisi.is_empty() => p { "Nessun avviso." },
            Some(Ok(list)) => {
                @for avviso in &list.avvisi { (card(avviso)) }
                @if !list.next_page_token.is_empty() {
                    p { a href=(filters.link(&list.next_page_token)) { "Pagina successiva →" } }
                }
            }
        }
    };
    pages.page(&session, "Avvisi", HERE, body)
}

fn card(avviso: &Avviso) -> Markup {
    html! {
        div.card.card-bg.mb-3.riquadro.border-danger[importante(avviso)] { div.card-body {
            h2.h5.card-title {
                a href={ "/avvisi/" (avviso.id) } { (avviso.title) }
                @if !avviso.read { " " span.badge.bg-primary { "da leggere" } }
                (badges(avviso))
            }
            p.small.mb-1 {
                (shell::rome(avviso.publish_at.as_ref())) " · " (avviso.publisher_name)
                @if !avviso.topic.is_empty() { " · " (labels::topic_label(&avviso.topic)) }
                @if avviso.file_count > 0 { " · allegati: " (avviso.file_count) }
            }
        } }
    }
}

fn importante(avviso: &Avviso) -> bool {
    avviso.priority == AvvisoPriority::Importante as i32
}

fn badges(avviso: &Avviso) -> Markup {
    html! {
        @if importante(avviso) { " " span.badge.bg-danger { "importante" } }
        @if avviso.version > 1 { " " span.badge.bg-secondary { "rettifica" } }
        @if avviso.status != AvvisoStatus::Published as i32 {
            " " span.badge.bg-secondary { (status_label(avviso.status)) }
        }
    }
}

fn status_label(status: i32) -> &'static str {
    match AvvisoStatus::try_from(status).unwrap_or_default() {
        AvvisoStatus::Scheduled => "programmato",
        AvvisoStatus::Published => "pubblicato",
        AvvisoStatus::Expired => "scaduto",
        AvvisoStatus::Superseded => "sostituito da una rettifica",
        AvvisoStatus::Withdrawn => "ritirato",
        AvvisoStatus::Unspecified => "",
    }
}

fn audience(audience: Option<&AvvisoAudience>) -> String {
    let Some(audience) = audience else {
        return String::new();
    };
    let place = match AudienceScope::try_from(audience.scope).unwrap_or_default() {
        AudienceScope::Region => format!(
            "regione {}",
            combipat_domain::region_name(&audience.region_code).unwrap_or(&audience.region_code)
        ),
        AudienceScope::Provinces => format!("province {}", audience.province_codes.join(", ")),
        AudienceScope::Nation | AudienceScope::Unspecified => "tutta Italia".to_owned(),
    };
    if audience.patronati.is_empty() {
        format!("tutti i patronati, {place}")
    } else {
        format!("{}, {place}", audience.patronati.join(", "))
    }
}

/// Opening an avviso marks it read (a failed mark is logged: the page still shows it).
pub async fn one(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let token = &session.caller.token;
    match pages.notifier.avviso(token, &id).await {
        Ok(found) => {
            if let Err(status) = pages.notifier.mark_avviso_read(token, &id).await {
                tracing::warn!(avviso.id = %id, code = ?status.code(), error = %status.message(), "the avviso was not marked read");
            }
            let title = found
                .avviso
                .as_ref()
                .map(|avviso| avviso.title.clone())
                .unwrap_or_default();
            pages.page(&session, &title, HERE, shown(&found))
        }
        Err(status) => refused(&pages, &session, &status),
    }
}

fn refused(pages: &Pages, session: &Session, status: &tonic::Status) -> Response {
    pages.page(session, "Avviso", HERE, Pages::refusal(status))
}

fn shown(found: &AvvisoDetail) -> Markup {
    let avviso = found.avviso.clone().unwrap_or_default();
    html! {
        p { (badges(&avviso)) }
        @if !avviso.supersedes_id.is_empty() {
            (shell::alert("info", html! {
                "Questa è una rettifica: corregge la "
                a href={ "/avvisi/" (avviso.supersedes_id) } { "versione precedente" } "."
                @if !avviso.correction_note.is_empty() { " Cosa cambia: " (avviso.correction_note) }
            }))
        }
        @if !avviso.superseded_by_id.is_empty() {
            (shell::alert("warning", html! {
                "Questa versione è stata corretta: leggi la "
                a href={ "/avvisi/" (avviso.superseded_by_id) } { "versione in vigore" } "."
            }))
        }
        dl.riepilogo {
            dt { "Pubblicato" } dd { (shell::rome(avviso.publish_at.as_ref())) " da " (avviso.publisher_name) }
            dt { "Priorità" } dd { @if importante(&avviso) { "Importante" } @else { "Informativo" } }
            @if !avviso.topic.is_empty() { dt { "Argomento" } dd { (labels::topic_label(&avviso.topic)) } }
            dt { "Destinatari" } dd { (audience(avviso.audience.as_ref())) }
            @if avviso.expires_at.is_some() { dt { "Scade" } dd { (shell::rome(avviso.expires_at.as_ref())) } }
            @if avviso.withdrawn_at.is_some() {
                dt { "Ritirato" } dd { (shell::rome(avviso.withdrawn_at.as_ref())) " · " (avviso.withdrawn_reason) }
            }
        }
        div.testo-avviso.mb-4 { @for line in avviso.text.lines() { p { (line) } } }
        @if !found.files.is_empty() {
            h2.h5 { "Allegati" }
            ul { @for file in &found.files {
                li { a href={ "/avvisi/" (avviso.id) "/file/" (file.id) } { (file.file_name) } }
            } }
        }
        @if found.versions.len() > 1 {
            h2.h5 { "Versioni" }
            ol { @for version in &found.versions {
                li {
                    @if version.id == avviso.id { strong { "Versione " (version.version) " (questa)" } }
                    @else { a href={ "/avvisi/" (version.id) } { "Versione " (version.version) } }
                    " · " (shell::rome(version.publish_at.as_ref())) " · " (status_label(version.status))
                    @if !version.correction_note.is_empty() { " · " (version.correction_note) }
                }
            } }
        }
        p { a href=(HERE) { "← Tutti gli avvisi" } }
    }
}

pub async fn file(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path((id, file_id)): Path<(String, String)>,
) -> Response {
    let session = match pages.session(&headers).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    match pages
        .notifier
        .avviso_file(&session.caller.token, &id, &file_id)
        .await
    {
        Ok(found) => detail::download(found),
        Err(status) => refused(&pages, &session, &status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_whole_days_in_rome_and_bad_dates_are_named() {
        let filters = Filters {
            dal: "2026-12-01".into(),
            al: "2026-12-01".into(),
            ..Filters::default()
        };
        let call = filters.request().unwrap();
        let (from, to) = (call.published_from.unwrap(), call.published_to.unwrap());
        assert_eq!(to.seconds - from.seconds, 24 * 3600);
        assert_eq!(from.seconds % 3600, 0);
        let wrong = Filters {
            dal: "1 dicembre".into(),
            al: "2026-11-01".into(),
            ..Filters::default()
        };
        assert_eq!(wrong.request().unwrap_err()[0].0, "Dal");
        let backwards = Filters {
            dal: "2026-12-02".into(),
            al: "2026-12-01".into(),
            ..Filters::default()
        };
        assert_eq!(backwards.request().unwrap_err()[0].0, "Al");
    }
}
