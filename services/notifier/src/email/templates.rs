//! The e-mails' words: Italian, plain text and HTML (escaped by maud), with the link to the
//! request and the unsubscribe link that List-Unsubscribe also carries.

use maud::html;

use crate::notice::{Notice, rome};

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One notice; `link` opens its request (or its avviso).
pub fn notice(notice: &Notice, link: Option<&str>) -> Rendered {
    let action = notice.kind.action_needed();
    let when = rome(notice.occurred_at);
    let mut text = format!("{}\n\n{}\n", notice.title, notice.text);
    if action {
        text.push_str("\nQuesta comunicazione richiede una tua azione.\n");
    }
    let open = if notice.avviso_id.is_some() && notice.request_id.is_none() {
        "Leggi l'avviso"
    } else {
        "Apri la richiesta"
    };
    if let Some(link) = link {
        text.push_str(&format!("\n{open}: {link}\n"));
    }
    text.push_str(&format!(
        "\n{when} – COMBIPAT, il canale tra patronati e sedi INPS.\n{FOOTER_TEXT}\n"
    ));
    let html = html! {
        (maud::DOCTYPE)
        html lang="it" {
            head { meta charset="utf-8"; title { (notice.title) } }
            body style="font-family:sans-serif;color:#1b1b1b" {
                h1 style="font-size:1.2rem;color:#0066cc" { (notice.title) }
                p { (notice.text) }
                @if action { p { strong { "Questa comunicazione richiede una tua azione." } } }
                @if let Some(link) = link { p { a href=(link) { (open) } } }
                p style="color:#555;font-size:.85rem" { (when) " – COMBIPAT, il canale tra patronati e sedi INPS." br; (FOOTER_TEXT) }
            }
        }
    };
    Rendered {
        subject: format!("[COMBIPAT] {}", notice.title),
        text,
        html: html.into_string(),
    }
}

/// One line of a digest.
pub struct DigestLine {
    pub title: String,
    pub text: String,
    pub at: String,
}

pub fn digest(office: &str, day: &str, lines: &[DigestLine]) -> Rendered {
    let subject = format!(
        "[COMBIPAT] Riepilogo del {day} per {office}: {} notifiche",
        lines.len()
    );
    let mut text = format!("Le notifiche del {day} per {office}:\n\n");
    for line in lines {
        text.push_str(&format!(
            "- {} ({})\n  {}\n",
            line.title, line.at, line.text
        ));
    }
    text.push_str(&format!(
        "\nCOMBIPAT, il canale tra patronati e sedi INPS.\n{FOOTER_TEXT}\n"
    ));
    let html = html! {
        (maud::DOCTYPE)
        html lang="it" {
            head { meta charset="utf-8"; title { (subject) } }
            body style="font-family:sans-serif;color:#1b1b1b" {
                h1 style="font-size:1.2rem;color:#0066cc" { "Le notifiche del " (day) " per " (office) }
                ul { @for line in lines { li { strong { (line.title) } " (" (line.at) ")" br; (line.text) } } }
                p style="color:#555;font-size:.85rem" { (FOOTER_TEXT) }
            }
        }
    };
    Rendered {
        subject,
        text,
        html: html.into_string(),
    }
}

const FOOTER_TEXT: &str = "Ricevi questa e-mail per le preferenze di notifica del tuo ufficio o tue; per non riceverne più usa il link di disiscrizione.";

/// The unsubscribe line added to both bodies when the message is sent.
pub fn with_unsubscribe(rendered: &Rendered, link: &str) -> (String, String) {
    let text = format!("{}Disiscriviti: {link}\n", rendered.text);
    let anchor =
        html! { p style="font-size:.85rem" { a href=(link) { "Disiscriviti" } } }.into_string();
    let html = rendered
        .html
        .replacen("</body>", &format!("{anchor}</body>"), 1);
    (text, html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::{Audience, Kind};

    #[test]
    fn the_html_escapes_what_the_office_wrote() {
        let notice = Notice {
            event_id: uuid::Uuid::now_v7(),
            kind: Kind::InfoRequested,
            request_id: None,
            avviso_id: None,
            protocol_number: "CP-1".into(),
            title: "La sede chiede informazioni sulla richiesta CP-1".into(),
            text: "Serve il modulo <b>AP70</b> & la delega".into(),
            occurred_at: chrono::Utc::now(),
            audience: Audience::InpsOffice("SEDE-MI".into()),
            webhook_data: None,
        };
        let rendered = super::notice(&notice, Some("http://x/richieste/1"));
        assert!(
            rendered
                .html
                .contains("&lt;b&gt;AP70&lt;/b&gt; &amp; la delega")
        );
        assert!(rendered.text.contains("richiede una tua azione"));
        let (text, html) = with_unsubscribe(&rendered, "http://n/unsubscribe/t");
        assert!(text.ends_with("Disiscriviti: http://n/unsubscribe/t\n"));
        assert!(html.contains("href=\"http://n/unsubscribe/t\""));
    }
}
