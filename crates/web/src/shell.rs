//! The frame of every page in Bootstrap Italia (skip link, slim header with the signed-in
//! person and "Esci", the brand, the navigation, the footer) and the kit's controls as the
//! pages use them: every label is tied to its field and always shown above it (the kit's
//! floating labels need its JavaScript, which the pages do without), errors are announced
//! (`role="alert"`), and no element carries an inline style or script (the
//! Content-Security-Policy refuses both).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::assets::{icon, url};
use crate::{Caller, SiteConfig};

/// An entry of the navigation bar.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: String,
    pub label: String,
    /// Read by screen readers after the label, e.g. "2 da leggere".
    pub badge: Option<String>,
}

impl NavItem {
    pub fn new(href: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            href: href.into(),
            label: label.into(),
            badge: None,
        }
    }

    pub fn badge(mut self, badge: Option<String>) -> Self {
        self.badge = badge;
        self
    }
}

/// What the frame needs of one page.
#[derive(Debug, Clone, Default)]
pub struct Page<'a> {
    pub title: &'a str,
    pub caller: Option<&'a Caller>,
    /// Shown beside the person's name, e.g. their office.
    pub who: Option<String>,
    pub nav: Vec<NavItem>,
    /// The address of the page, to mark its entry in the navigation.
    pub current: &'a str,
    /// Scripts (files under /static/) that add to the page; it works without them.
    pub scripts: Vec<&'static str>,
}

impl<'a> Page<'a> {
    pub fn new(title: &'a str) -> Self {
        Self {
            title,
            ..Self::default()
        }
    }

    pub fn caller(mut self, caller: &'a Caller, who: impl Into<String>) -> Self {
        self.caller = Some(caller);
        self.who = Some(who.into());
        self
    }

    pub fn nav(mut self, nav: Vec<NavItem>, current: &'a str) -> Self {
        self.nav = nav;
        self.current = current;
        self
    }

    pub fn script(mut self, path: &'static str) -> Self {
        self.scripts.push(path);
        self
    }
}

pub(crate) fn render(config: &SiteConfig, page: &Page<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) " – COMBIPAT · " (config.tagline) }
                link rel="stylesheet" href=(url("bootstrap-italia/bootstrap-italia.min.css"));
                link rel="stylesheet" href=(url("bootstrap-italia/fonts.css"));
                link rel="stylesheet" href=(url("site.css"));
                @for script in &page.scripts { script src=(url(script)) defer {} }
            }
            body {
                div.skiplinks { a.visually-hidden-focusable href="#contenuto" { "Vai al contenuto" } }
                header.it-header-wrapper {
                    div.it-header-slim-wrapper {
                        div.container { div.row { div.col-12 { div.it-header-slim-wrapper-content {
                            span.navbar-brand { "INPS · canale dei patronati" }
                            div.it-header-slim-right-zone {
                                @if let Some(caller) = page.caller {
                                    span.utente {
                                        svg.icon.icon-white.icon-sm aria-hidden="true" { use href=(icon("it-user")) {} }
                                        " " (caller.principal.subject)
                                        @if let Some(who) = &page.who { @if !who.is_empty() { " (" (who) ")" } }
                                    }
                                    form method="post" action="/esci" {
                                        button.btn.btn-esci type="submit" { "Esci" }
                                    }
                                }
                            }
                        } } } }
                    }
                    div.it-nav-wrapper {
                        div.it-header-center-wrapper {
                            div.container { div.row { div.col-12 { div.it-header-center-content-wrapper {
                                div.it-brand-wrapper {
                                    a href=(config.home) {
                                        div.it-brand-text {
                                            div.it-brand-title { "COMBIPAT" }
                                            div.it-brand-tagline.d-none.d-md-block { (config.tagline) }
                                        }
                                    }
                                }
                            } } } }
                        }
                        @if !page.nav.is_empty() {
                            div.it-header-navbar-wrapper {
                                div.container { div.row { div.col-12 {
                                    nav aria-label="Navigazione principale" {
                                        ul.nav {
                                            @for item in &page.nav {
                                                @let current = item.href == page.current;
                                                li.nav-item {
                                                    a.nav-link.active[current] href=(item.href) aria-current=[current.then_some("page")] {
                                                        (item.label)
                                                        @if let Some(badge) = &item.badge { " " span.badge.bg-light.text-dark { (badge) } }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                } } }
                            }
                        }
                    }
                }
                main #contenuto.container {
                    h1.h2.mb-4 { (page.title) }
                    (body)
                }
                footer.it-footer {
                    div.it-footer-main { div.container { div.row { div.col-12.py-4 {
                        p.mb-1 { strong { "COMBIPAT" } " · " (config.tagline) }
                        p.mb-0.small { "Istituto Nazionale della Previdenza Sociale e istituti di patronato (legge 152/2001)." }
                    } } } }
                }
            }
        }
    }
}

/// A short message above the page's content: `kind` is one of the kit's alert colours
/// (`success`, `info`, `warning`, `danger`).
pub fn alert(kind: &str, text: Markup) -> Markup {
    let role = if kind == "danger" { "alert" } else { "status" };
    html! { div class={ "alert alert-" (kind) } role=(role) { (text) } }
}

/// A text field (or `kind` such as `search`, `date`, `number`) with its label above it.
#[derive(Debug, Clone, Default)]
pub struct Input<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub kind: &'a str,
    pub required: bool,
    pub maxlength: Option<usize>,
    /// A line under the field (tied with `aria-describedby`).
    pub hint: Option<&'a str>,
    pub autocomplete: Option<&'a str>,
    /// Refused: shown in red under the field, and the field marked invalid.
    pub error: Option<&'a str>,
}

impl<'a> Input<'a> {
    pub fn new(id: &'a str, label: &'a str) -> Self {
        Self {
            id,
            name: id,
            label,
            kind: "text",
            ..Self::default()
        }
    }
    pub fn value(mut self, value: &'a str) -> Self {
        self.value = value;
        self
    }
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = name;
        self
    }
    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn maxlength(mut self, length: usize) -> Self {
        self.maxlength = Some(length);
        self
    }
    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }
    pub fn autocomplete(mut self, value: &'a str) -> Self {
        self.autocomplete = Some(value);
        self
    }
    pub fn error(mut self, error: Option<&'a str>) -> Self {
        self.error = error;
        self
    }

    pub fn render(&self) -> Markup {
        let described = described_by(self.id, self.hint.is_some(), self.error.is_some());
        html! {
            div.form-group.mb-4 {
                label.active for=(self.id) { (self.label) }
                input.form-control.is-invalid[self.error.is_some()] id=(self.id) name=(self.name) type=(self.kind)
                    value=(self.value) required[self.required] maxlength=[self.maxlength]
                    autocomplete=[self.autocomplete] aria-describedby=[described.as_deref()]
                    aria-invalid=[self.error.is_some().then_some("true")];
                (notes(self.id, self.hint, self.error))
            }
        }
    }
}

fn described_by(id: &str, hint: bool, error: bool) -> Option<String> {
    let parts: Vec<String> = [
        hint.then(|| format!("{id}-nota")),
        error.then(|| format!("{id}-errore")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn notes(id: &str, hint: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(hint) = hint { small.form-text id={ (id) "-nota" } { (hint) } }
        @if let Some(error) = error { div.invalid-feedback.d-block id={ (id) "-errore" } { (error) } }
    }
}

/// A multi-line text with its label above it.
pub fn textarea(
    id: &str,
    label: &str,
    value: &str,
    maxlength: usize,
    required: bool,
    hint: Option<&str>,
) -> Markup {
    let described = described_by(id, hint.is_some(), false);
    html! {
        div.form-group.mb-4 {
            label.active for=(id) { (label) }
            textarea.form-control id=(id) name=(id) rows="5" maxlength=(maxlength) required[required]
                aria-describedby=[described.as_deref()] { (value) }
            (notes(id, hint, None))
        }
    }
}

/// A choice from a list: `(value, label)` pairs; `empty` is the label of "no choice", if any.
pub fn select(
    id: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    empty: Option<&str>,
    required: bool,
) -> Markup {
    html! {
        div.select-wrapper.mb-4 {
            label for=(id) { (label) }
            select id=(id) name=(id) required[required] {
                @if let Some(empty) = empty { option value="" { (empty) } }
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
        }
    }
}

/// Radio buttons in a fieldset with its legend.
pub fn radios(
    name: &str,
    legend: &str,
    options: &[(String, String)],
    selected: &str,
    required: bool,
) -> Markup {
    html! {
        fieldset.mb-4 {
            legend.h6 { (legend) }
            @for (index, (value, text)) in options.iter().enumerate() {
                @let id = format!("{name}-{index}");
                div.form-check {
                    input #(id) type="radio" name=(name) value=(value) checked[value == selected] required[required];
                    label for=(id) { (text) }
                }
            }
        }
    }
}

/// A checkbox with its label.
pub fn checkbox(id: &str, name: &str, label: &str, checked: bool) -> Markup {
    html! {
        div.form-check.mb-3 {
            input #(id) type="checkbox" name=(name) value="si" checked[checked];
            label for=(id) { (label) }
        }
    }
}

/// A file input (several files when `multiple`).
pub fn files(id: &str, label: &str, hint: &str, multiple: bool) -> Markup {
    html! {
        div.mb-4 {
            label.form-label.fw-semibold for=(id) { (label) }
            input.form-control #(id) type="file" name=(id) multiple[multiple]
                accept=".pdf,.png,.jpg,.jpeg,.p7m" aria-describedby={ (id) "-nota" };
            small.form-text #{ (id) "-nota" } { (hint) }
        }
    }
}

/// The line every file input carries.
pub const FILES_HINT: &str = "PDF, PNG, JPEG o P7M firmati; al massimo 5 file da 5 MB.";

/// A time in Italian time, dd/mm/yyyy hh:mm (empty when unset).
pub fn rome(timestamp: Option<&prost_types::Timestamp>) -> String {
    combipat_platform::time::from_timestamp(timestamp)
        .map(|at| {
            at.with_timezone(&chrono_tz::Europe::Rome)
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A time in Italian time, as a form's date or datetime-local field gives it, as a timestamp;
/// `None` for an hour the clocks skip.
pub fn from_rome(local: chrono::NaiveDateTime) -> Option<prost_types::Timestamp> {
    use chrono::TimeZone as _;
    chrono_tz::Europe::Rome
        .from_local_datetime(&local)
        .earliest()
        .map(|at| combipat_platform::time::to_timestamp(at.with_timezone(&chrono::Utc)))
}

/// What kind of refusal an API status is, in Italian, before its own reasons.
pub fn status_heading(status: &tonic::Status) -> &'static str {
    use tonic::Code;
    match status.code() {
        Code::InvalidArgument => "Alcuni dati non vanno bene:",
        Code::NotFound => "Non trovato: non esiste o non è visibile con il tuo profilo.",
        Code::PermissionDenied => "Operazione non consentita con il tuo profilo.",
        Code::Unauthenticated => "La sessione non è valida: accedi di nuovo.",
        Code::FailedPrecondition => "Operazione non possibile in questo momento.",
        Code::AlreadyExists => "Già fatto in precedenza.",
        Code::Aborted => {
            "Qualcun altro ha modificato questa pratica dopo che hai aperto la pagina: \
             la tua modifica non è stata salvata. Rileggi la pagina aggiornata e riprova."
        }
        Code::ResourceExhausted => "Troppe operazioni in poco tempo: riprova tra un minuto.",
        Code::Unavailable | Code::DeadlineExceeded => {
            "Il servizio non risponde in questo momento: riprova tra poco."
        }
        _ => "Si è verificato un errore imprevisto.",
    }
}

/// An API refusal in words: what kind of refusal, then the message or each field's reason
/// (with `field_label` naming the field as the page does), in Italian.
pub fn refusal(status: &tonic::Status, field_label: impl Fn(&str) -> String) -> Markup {
    use tonic_types::StatusExt as _;
    // The pages call the API in process, past the gRPC layer that answers in Italian.
    let status = &combipat_platform::italian::status(status);
    let violations = status
        .get_details_bad_request()
        .map(|bad| bad.field_violations)
        .unwrap_or_default();
    html! {
        div.alert.alert-danger role="alert" {
            p.mb-1 { strong { (status_heading(status)) } }
            @if violations.is_empty() {
                @if !status.message().is_empty() && status.code() != tonic::Code::Aborted {
                    p.mb-0.small { (status.message()) }
                }
            } @else {
                ul.mb-0 { @for violation in &violations {
                    li { strong { (field_label(&violation.field)) } ": " (violation.description) }
                } }
            }
        }
    }
}

/// A link styled as a button (a GET, for actions that change nothing).
pub fn button_link(href: &str, text: &str) -> Markup {
    html! { a.btn.btn-outline-primary.btn-sm href=(href) { (text) } }
}

/// Text that is already safe HTML (e.g. produced by maud).
pub fn raw(text: &str) -> Markup {
    PreEscaped(text.to_owned())
}
