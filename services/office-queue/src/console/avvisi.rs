//! "Avvisi": a responsabile (or an admin) publishes what the patronati should know, within
//! the office's territory (notifier checks it: a direzione regionale its region or some of its
//! provinces, a sede its province), and sees what the office published with how many offices
//! of each patronato have read it.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Redirect, Response};
use chrono::NaiveDateTime;
use combipat_domain::Topic;
use combipat_platform::auth::Role;
use combipat_proto::notifier::v1::{
    AudienceScope, Avviso, AvvisoAudience, AvvisoPriority, AvvisoStatus, PublishAvvisoRequest,
    ReadCountsResponse,
};
use combipat_web::{Caller, shell};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, office};

const HERE: &str = "/avvisi";

/// The publishing form as sent (and shown again, filled, when refused).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Draft {
    #[serde(default)]
    titolo: String,
    #[serde(default)]
    testo: String,
    #[serde(default)]
    argomento: String,
    #[serde(default)]
    priorita: String,
    /// nazione, regione or province.
    #[serde(default)]
    ambito: String,
    #[serde(default)]
    regione: String,
    /// Siglas, separated by commas or spaces.
    #[serde(default)]
    province: String,
    /// Names, separated by commas; empty: every patronato.
    #[serde(default)]
    patronati: String,
    /// Italian time, yyyy-mm-ddThh:mm (the browser's datetime-local); empty: now.
    #[serde(default)]
    pubblica_il: String,
    #[serde(default)]
    scade_il: String,
    /// Idempotency key: sending the form twice publishes once.
    #[serde(default)]
    chiave: String,
}

fn list(text: &str) -> Vec<String> {
    text.split([',', ' ', ';'])
        .map(|part| part.trim().to_uppercase())
        .filter(|part| !part.is_empty())
        .collect()
}

/// A datetime-local value in Rome's time; an Italian reason when it is not one.
fn rome_time(value: &str) -> Result<Option<prost_types::Timestamp>, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let local = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .map_err(|_| "non è una data e ora (gg/mm/aaaa hh:mm)")?;
    shell::from_rome(local)
        .map(Some)
        .ok_or("quest'ora non esiste nel fuso italiano")
}

impl Draft {
    /// The call to notifier, or the fields that are wrong (their label and reason).
    fn request(&self) -> Result<PublishAvvisoRequest, Vec<(&'static str, &'static str)>> {
        let mut errors = Vec::new();
        let mut time = |label, value: &str| {
            rome_time(value).unwrap_or_else(|reason| {
                errors.push((label, reason));
                None
            })
        };
        let publish_at = time("Pubblicazione", &self.pubblica_il);
        let expires_at = time("Scadenza", &self.scade_il);
        let scope = match self.ambito.as_str() {
            "nazione" => AudienceScope::Nation,
            "regione" => AudienceScope::Region,
            "province" => AudienceScope::Provinces,
            _ => {
                errors.push(("Destinatari", "scegli il territorio"));
                AudienceScope::Unspecified
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PublishAvvisoRequest {
            title: self.titolo.clone(),
            text: self.testo.clone(),
            topic: self.argomento.clone(),
            priority: if self.priorita == "importante" {
                AvvisoPriority::Importante
            } else {
                AvvisoPriority::Informativo
            } as i32,
            audience: Some(AvvisoAudience {
                patronati: list(&self.patronati),
                scope: scope as i32,
                region_code: if scope == AudienceScope::Region {
                    self.regione.clone()
                } else {
                    String::new()
                },
                province_codes: if scope == AudienceScope::Provinces {
                    list(&self.province)
                } else {
                    Vec::new()
                },
            }),
            publish_at,
            expires_at,
            idempotency_key: self.chiave.clone(),
            ..PublishAvvisoRequest::default()
        })
    }
}

/// Who publishes from the console: an office's responsabile, or an admin.
fn publishes(caller: &Caller) -> bool {
    matches!(caller.principal.role, Role::Responsabile | Role::Admin)
}

#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    /// The avviso just published.
    #[serde(default)]
    pubblicato: String,
    #[serde(default)]
    pagina: String,
}

pub async fn page(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(shown): Query<Shown>,
) -> Response {
    let caller = match console.caller(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let draft = console.fresh_draft(&caller).await;
    let notice = (!shown.pubblicato.is_empty()).then(|| {
        shell::alert(
            "success",
            html! { "Avviso pubblicato: lo trovi qui sotto, con le letture dei patronati." },
        )
    });
    let body = html! {
        @if let Some(notice) = notice { (notice) }
        (console.published(&caller, &shown.pagina).await)
        @if publishes(&caller) { (form(&draft, None)) }
    };
    console.page(&caller, "Avvisi", HERE, body)
}

pub async fn publish(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(draft): Form<Draft>,
) -> Response {
    let caller = match console.caller(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let refusal = match draft.request() {
        Err(errors) => html! {
            div.alert.alert-danger role="alert" {
                p.mb-1 { strong { "Alcuni dati non vanno bene:" } }
                ul.mb-0 { @for (field, reason) in &errors { li { strong { (field) } ": " (reason) } } }
            }
        },
        Ok(call) => match console.notifier.publish(&caller.token, call).await {
            Ok(avviso) => {
                return Redirect::to(&format!("{HERE}?pubblicato={}", avviso.id)).into_response();
            }
            Err(status) => {
                combipat_web::shell::refusal(&status, |field| field_label(field).to_owned())
            }
        },
    };
    console.page(&caller, "Avvisi", HERE, form(&draft, Some(refusal)))
}

fn field_label(field: &str) -> &str {
    match field {
        "title" => "Titolo",
        "text" => "Testo",
        "topic" => "Argomento",
        "priority" => "Priorità",
        "audience" | "audience.scope" => "Destinatari",
        "audience.region_code" => "Regione",
        "audience.province_codes" => "Province",
        "audience.patronati" => "Patronati",
        "publish_at" => "Pubblicazione",
        "expires_at" => "Scadenza",
        "attachment_ids" => "Allegati",
        other => other,
    }
}

impl Console {
    /// An empty form for the caller's territory: a direzione its region, a sede its province
    /// (from router's directory), an admin the nation.
    async fn fresh_draft(&self, caller: &Caller) -> Draft {
        let mut draft = Draft {
            ambito: "nazione".into(),
            priorita: "informativo".into(),
            chiave: uuid::Uuid::now_v7().to_string(),
            ..Draft::default()
        };
        let Some(code) = office(caller) else {
            return draft;
        };
        let offices = self
            .directory
            .offices(&caller.token)
            .await
            .unwrap_or_default();
        if let Some(own) = offices.into_iter().find(|known| known.code == code) {
            draft.regione = own.region_code;
            if own.kind == "sede_provinciale" {
                draft.ambito = "province".into();
                draft.province = own.province_code;
            } else {
                draft.ambito = "regione".into();
            }
        }
        draft
    }

    /// The office's avvisi, each with its read counts per patronato.
    async fn published(&self, caller: &Caller, page_token: &str) -> Markup {
        let list = match self.notifier.published(&caller.token, page_token).await {
            Ok(list) => list,
            Err(status) => {
                return html! {
                    h2.h4 { "Avvisi pubblicati dall'ufficio" }
                    (shell::alert("danger", html! { "Gli avvisi non sono disponibili in questo momento: riprova tra poco." }))
                    p.small { (shell::status_heading(&status)) }
                };
            }
        };
        let mut cards = Vec::new();
        for avviso in &list.avvisi {
            let counts = self.notifier.read_counts(&caller.token, &avviso.id).await;
            cards.push(published_card(avviso, counts.ok().as_ref()));
        }
        html! {
            h2.h4 { "Avvisi pubblicati dall'ufficio" }
            @if cards.is_empty() { p { "L'ufficio non ha ancora pubblicato avvisi." } }
            @for card in cards { (card) }
            @if !list.next_page_token.is_empty() {
                p { a href={ (HERE) "?pagina=" (list.next_page_token) } { "Pagina successiva →" } }
            }
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

fn published_card(avviso: &Avviso, counts: Option<&ReadCountsResponse>) -> Markup {
    html! {
        div.card.card-bg.mb-3.riquadro { div.card-body {
            h3.h5.card-title {
                (avviso.title)
                " " span.badge.bg-secondary { (status_label(avviso.status)) }
                @if avviso.priority == AvvisoPriority::Importante as i32 { " " span.badge.bg-danger { "importante" } }
            }
            p.small { (shell::rome(avviso.publish_at.as_ref())) " · " (avviso.published_by) }
            @match counts {
                None => p.small { "Letture non disponibili." },
                Some(counts) => {
                    p.letture {
                        "Sedi di patronato che l'hanno letto: " (counts.offices_read) " di " (counts.offices_reached)
                        " raggiunte · persone: " (counts.readers)
                    }
                    @if !counts.patronati.is_empty() {
                        div.table-responsive { table.table.table-sm {
                            caption { "Letture per patronato: " (avviso.title) }
                            thead { tr {
                                th scope="col" { "Patronato" } th scope="col" { "Sedi raggiunte" }
                                th scope="col" { "Sedi che l'hanno letto" } th scope="col" { "Persone" }
                            } }
                            tbody { @for count in &counts.patronati {
                                tr { td { (count.patronato) } td { (count.offices_reached) } td { (count.offices_read) } td { (count.readers) } }
                            } }
                        } }
                    }
                }
            }
        } }
    }
}

fn form(draft: &Draft, refusal: Option<Markup>) -> Markup {
    let topics: Vec<(String, String)> = Topic::ALL
        .iter()
        .map(|topic| (topic.code().to_owned(), topic.label().to_owned()))
        .collect();
    let priorities = [
        ("informativo".to_owned(), "Informativo".to_owned()),
        (
            "importante".to_owned(),
            "Importante (non si può silenziare)".to_owned(),
        ),
    ];
    let scopes = [
        ("nazione".to_owned(), "Tutta Italia".to_owned()),
        ("regione".to_owned(), "Una regione".to_owned()),
        ("province".to_owned(), "Alcune province".to_owned()),
    ];
    let regions: Vec<(String, String)> = (1..=20)
        .map(|code| format!("{code:02}"))
        .filter_map(|code| {
            combipat_domain::region_name(&code).map(|name| (code.clone(), name.to_owned()))
        })
        .collect();
    html! {
        h2.h4.mt-5 id="pubblica" { "Pubblica un avviso" }
        @if let Some(refusal) = refusal { (refusal) }
        form method="post" action=(HERE) aria-labelledby="pubblica" {
            input type="hidden" name="chiave" value=(draft.chiave);
            (shell::Input::new("titolo", "Titolo").value(&draft.titolo).maxlength(200).required().render())
            (shell::textarea("testo", "Testo", &draft.testo, 20_000, true, None))
            (shell::select("argomento", "Argomento", &topics, &draft.argomento, Some("Tutti gli argomenti"), false))
            (shell::radios("priorita", "Priorità", &priorities, &draft.priorita, true))
            (shell::radios("ambito", "Destinatari: il territorio", &scopes, &draft.ambito, true))
            div.row {
                div.col-md-6 { (shell::select("regione", "Regione", &regions, &draft.regione, Some("—"), false)) }
                div.col-md-6 { (shell::Input::new("province", "Province").value(&draft.province).maxlength(200)
                    .hint("Se alcune province: sigle separate da virgole, per esempio MI, BG.").render()) }
            }
            (shell::Input::new("patronati", "Patronati").value(&draft.patronati).maxlength(400)
                .hint("Nomi separati da virgole, per esempio INCA, ACLI; vuoto: tutti i patronati.").render())
            div.row {
                div.col-md-6 { (shell::Input::new("pubblica_il", "Pubblicazione").kind("datetime-local").value(&draft.pubblica_il)
                    .hint("Ora italiana; vuoto: subito.").render()) }
                div.col-md-6 { (shell::Input::new("scade_il", "Scadenza").kind("datetime-local").value(&draft.scade_il)
                    .hint("Vuoto: non scade.").render()) }
            }
            button.btn.btn-primary type="submit" { "Pubblica" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_call_and_bad_times_are_named() {
        let draft = Draft {
            titolo: "Chiusura".into(),
            ambito: "province".into(),
            regione: "03".into(),
            province: "mi, BG".into(),
            patronati: "INCA".into(),
            priorita: "importante".into(),
            pubblica_il: "2026-12-24T08:30".into(),
            ..Draft::default()
        };
        let call = draft.request().unwrap();
        let audience = call.audience.unwrap();
        assert_eq!(audience.province_codes, vec!["MI", "BG"]);
        assert!(audience.region_code.is_empty());
        assert_eq!(audience.patronati, vec!["INCA"]);
        assert_eq!(call.priority, AvvisoPriority::Importante as i32);
        // 08:30 in Rome in winter is 07:30 UTC.
        assert_eq!(
            call.publish_at.unwrap().seconds % 86_400,
            7 * 3600 + 30 * 60
        );
        let wrong = Draft {
            scade_il: "domani".into(),
            ..Draft::default()
        };
        let errors = wrong.request().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, vec!["Scadenza", "Destinatari"]);
    }
}
