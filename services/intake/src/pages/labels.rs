//! The Italian words for the API's codes, and the history's details in Italian: the API and
//! the events keep their own (English) text, the pages translate the ones they know.

pub const MOTIVI: [(&str, &str); 3] = [
    (
        "MOTIVO_SOLLECITO_PRATICA",
        "Sollecito su pratica presentata",
    ),
    (
        "MOTIVO_INFO_PAGAMENTI",
        "Informazioni sui pagamenti di una prestazione",
    ),
    ("MOTIVO_RICHIESTA_GENERICA", "Richiesta generica alla sede"),
];

pub fn motivo_label(code: i32) -> &'static str {
    use combipat_proto::common::v1::Motivo;
    match Motivo::try_from(code) {
        Ok(Motivo::SollecitoPratica) => MOTIVI[0].1,
        Ok(Motivo::InfoPagamenti) => MOTIVI[1].1,
        Ok(Motivo::RichiestaGenerica) => MOTIVI[2].1,
        _ => "—",
    }
}

pub fn status_label(status: &str) -> &str {
    match status {
        "SUBMITTED" => "Inviata",
        "ROUTED" => "Assegnata alla sede",
        "UNROUTABLE" => "In attesa di assegnazione",
        "INFO_REQUESTED" => "La sede chiede informazioni",
        "INFO_PROVIDED" => "Informazioni inviate",
        "ANSWERED" => "Risposta ricevuta",
        "CLOSED" => "Chiusa",
        "SOLLECITO" => "Sollecito inviato",
        "TRANSFERRED" => "Trasferita ad altra sede",
        other => other,
    }
}

pub fn field_label(field: &str) -> &str {
    match field.split(['[', '.']).next().unwrap_or(field) {
        "motivo" => "Motivo",
        "codice_fiscale" => "Codice fiscale del cittadino",
        "comune_residenza" => "Comune o Stato estero di residenza",
        "topic" => "Argomento",
        "prestazione" => "Prestazione",
        "pratica_protocol_number" => "Numero di protocollo della pratica",
        "subject" => "Oggetto",
        "body" => "Testo",
        "attachment_ids" | "content" | "file_name" | "media_type" => "Allegati",
        "reply" => "Risposta",
        "rating" => "Valutazione",
        "comment" => "Commento",
        "patronato_office" => "Sede del patronato",
        other => other,
    }
}

/// A topic (prestazione) code in words.
pub fn topic_label(code: &str) -> String {
    combipat_domain::Topic::ALL
        .iter()
        .find(|topic| topic.code() == code)
        .map_or_else(|| code.to_owned(), |topic| topic.label().to_owned())
}

/// A history entry's detail in Italian. The entries intake, router and office-queue write
/// have a few fixed shapes; the office's own texts (answers, questions) and the operator's
/// replies are shown as they were written.
pub fn history_detail(status: &str, detail: &str) -> String {
    let split = |text: &str, separator: &str| {
        text.split_once(separator)
            .map(|(left, right)| (left.to_owned(), right.to_owned()))
    };
    match status {
        "SUBMITTED" => detail
            .strip_prefix("submitted by ")
            .and_then(|rest| split(rest, " for "))
            .map_or_else(
                || detail.to_owned(),
                |(who, office)| format!("inviata da {who} per {office}"),
            ),
        "ROUTED" => detail
            .strip_prefix("routed by rule ")
            .and_then(|rest| split(rest, " of ruleset "))
            .map_or_else(
                || detail.to_owned(),
                |(rule, ruleset)| {
                    format!(
                        "assegnata dalla regola {} del regolamento {ruleset}",
                        rule_label(&rule)
                    )
                },
            ),
        "UNROUTABLE" => format!(
            "nessuna regola indica la sede: la richiesta attende nella coda regionale di ricaduta ({})",
            router_explanation(detail)
        ),
        "CLOSED" => detail
            .strip_prefix("closed by ")
            .map_or_else(|| detail.to_owned(), |who| format!("chiusa da {who}")),
        "SOLLECITO" => detail
            .strip_prefix("sollecito n. ")
            .and_then(|rest| split(rest, " by "))
            .map_or_else(
                || detail.to_owned(),
                |(count, who)| format!("sollecito n. {count} inviato da {who}"),
            ),
        "TRANSFERRED" => detail
            .strip_prefix("sent on to ")
            .map_or_else(|| detail.to_owned(), |rest| format!("inoltrata a {rest}")),
        _ => detail.to_owned(),
    }
}

/// A routing rule (`province:MI`, `polo:estero-svizzera`, `agenzia:...`, `region:03`) in words.
fn rule_label(rule: &str) -> String {
    match rule.split_once(':') {
        Some(("province", code)) => format!("della provincia {code}"),
        Some(("region", code)) => format!("della regione {code}"),
        Some(("agenzia", code)) => format!("dell'agenzia {code}"),
        Some(("polo", code)) => format!("del polo {code}"),
        Some(("transfer", code)) => format!("di trasferimento da {code}"),
        _ => rule.to_owned(),
    }
}

/// Router's explanation of a destination, in Italian where its phrases are known.
pub fn router_explanation(text: &str) -> String {
    const PHRASES: [(&str, &str); 13] = [
        (
            "no polo, agenzia or sede applies; the direzione regionale",
            "nessun polo, agenzia o sede competente: la direzione regionale",
        ),
        (
            "no polo or agenzia applies; the sede of the province",
            "nessun polo o agenzia competente: la sede della provincia",
        ),
        (
            "no polo applies; the agenzia covering the comune",
            "nessun polo competente: l'agenzia del comune",
        ),
        (
            "takes this topic for this area",
            "tratta questo argomento per quest'area",
        ),
        ("resident abroad in", "residente all'estero in"),
        ("resident in", "residente a"),
        (", province of ", ", provincia di "),
        ("topic ", "argomento "),
        ("the polo", "il polo"),
        ("no rule covers", "nessuna regola copre"),
        ("fallback queue", "coda di ricaduta"),
        ("the request", "la richiesta"),
        (" of ", " di "),
    ];
    PHRASES
        .iter()
        .fold(text.to_owned(), |text, (english, italian)| {
            text.replace(english, italian)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_reads_in_italian() {
        assert_eq!(
            history_detail("SUBMITTED", "submitted by mario.rossi for INCA-MI-01"),
            "inviata da mario.rossi per INCA-MI-01"
        );
        assert_eq!(
            history_detail("ROUTED", "routed by rule province:MI of ruleset demo-2026"),
            "assegnata dalla regola della provincia MI del regolamento demo-2026"
        );
        assert_eq!(
            history_detail("CLOSED", "closed by paolo"),
            "chiusa da paolo"
        );
        assert_eq!(
            history_detail("SOLLECITO", "sollecito n. 2 by mario.rossi"),
            "sollecito n. 2 inviato da mario.rossi"
        );
        assert_eq!(
            history_detail(
                "TRANSFERRED",
                "sent on to SEDE-TO Sede di Torino: competenza"
            ),
            "inoltrata a SEDE-TO Sede di Torino: competenza"
        );
        assert_eq!(
            router_explanation(
                "resident in MILANO (F205, province of Milano (MI), Lombardia), topic pensioni: no polo or agenzia applies; the sede of the province"
            ),
            "residente a MILANO (F205, provincia di Milano (MI), Lombardia), argomento pensioni: nessun polo o agenzia competente: la sede della provincia"
        );
        // The office's own words stay as they are.
        assert_eq!(
            history_detail("ANSWERED", "La pratica è in pagamento."),
            "La pratica è in pagamento."
        );
    }
}
