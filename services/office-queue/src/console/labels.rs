//! The Italian words for office-queue's codes, and its English texts (priority reasons,
//! history, refusals) in Italian: the API keeps its own text, the console translates the
//! shapes it knows and shows the others as they are.

use combipat_proto::officequeue::v1::SlaState;

pub const STATI: [(&str, &str); 4] = [
    ("NEW", "Da lavorare"),
    ("INFO_REQUESTED", "In attesa del patronato"),
    ("ANSWERED", "Risposta inviata"),
    ("CLOSED", "Chiusa"),
];

pub fn status_label(status: &str) -> &str {
    STATI
        .iter()
        .find(|(code, _)| *code == status)
        .map_or(status, |(_, label)| label)
}

pub const SLA: [(SlaState, &str, &str); 5] = [
    (SlaState::Overdue, "OVERDUE", "Scaduta"),
    (SlaState::DueSoon, "DUE_SOON", "In scadenza"),
    (SlaState::OnTrack, "ON_TRACK", "Nei tempi"),
    (SlaState::Paused, "PAUSED", "Sospesa"),
    (SlaState::Done, "DONE", "Conclusa"),
];

pub fn sla_label(state: i32) -> &'static str {
    SLA.iter()
        .find(|(sla, _, _)| *sla as i32 == state)
        .map_or("Senza termine", |(_, _, label)| label)
}

/// The kit's badge colour for an SLA state.
pub fn sla_badge(state: i32) -> &'static str {
    match SlaState::try_from(state) {
        Ok(SlaState::Overdue) => "badge bg-danger",
        Ok(SlaState::DueSoon) => "badge bg-warning text-dark",
        Ok(SlaState::OnTrack) => "badge bg-success",
        _ => "badge bg-secondary",
    }
}

/// A topic code in words.
pub fn topic(code: &str) -> String {
    combipat_domain::Topic::ALL
        .iter()
        .find(|topic| topic.code() == code)
        .map_or_else(|| code.to_owned(), |topic| topic.label().to_owned())
}

pub fn motivo_label(code: i32) -> &'static str {
    use combipat_proto::common::v1::Motivo;
    match Motivo::try_from(code) {
        Ok(Motivo::SollecitoPratica) => "Sollecito su pratica presentata",
        Ok(Motivo::InfoPagamenti) => "Informazioni sui pagamenti di una prestazione",
        Ok(Motivo::RichiestaGenerica) => "Richiesta generica alla sede",
        _ => "—",
    }
}

pub fn field_label(field: &str) -> &str {
    match field.split(['[', '.']).next().unwrap_or(field) {
        "text" => "Testo",
        "question" => "Domanda",
        "reason" => "Motivo del trasferimento",
        "to_office_code" => "Ufficio di destinazione",
        "to_official" => "Funzionario",
        "attachment_ids" | "content" | "file_name" | "media_type" => "Allegati",
        "lease_seconds" => "Durata della presa in carico",
        "expected_version" => "Versione",
        other => other,
    }
}

/// 2027-01-22 reads 22/01/2027; anything else stays as it is.
fn italian_date(text: &str) -> String {
    let parts: Vec<&str> = text.trim().splitn(3, '-').collect();
    match parts.as_slice() {
        [year, month, day] if year.len() == 4 && month.len() == 2 && day.len() == 2 => {
            format!("{day}/{month}/{year}")
        }
        _ => text.to_owned(),
    }
}

/// One of the priority's reasons in Italian.
pub fn reason(text: &str) -> String {
    let after = |prefix: &str| text.strip_prefix(prefix);
    if let Some(day) = after("overdue: it was due by ") {
        return format!("scaduta: andava evasa entro il {}", italian_date(day));
    }
    if let Some(day) = after("due soon: by ") {
        return format!("in scadenza: entro il {}", italian_date(day));
    }
    if let Some(day) = after("on track: due by ") {
        return format!("nei tempi: scade il {}", italian_date(day));
    }
    if let Some(rest) = after("clock stopped while the patronato is asked for information (") {
        let days = rest.split(' ').next().unwrap_or_default();
        return format!(
            "termine sospeso in attesa delle informazioni del patronato ({days} giorni lavorativi residui)"
        );
    }
    if let Some(status) = text.strip_suffix(": nothing is due") {
        return format!("{}: nessuna scadenza", status_label(&status.to_uppercase()));
    }
    if let Some(rest) = after("the office was warned on ") {
        let when = rest.split(' ').next().unwrap_or_default();
        return format!(
            "l'ufficio è stato avvisato il {} che la scadenza è vicina",
            italian_date(when)
        );
    }
    if let Some(rest) = after("overdue since ") {
        let when = rest.split(':').next().unwrap_or_default();
        return format!(
            "scaduta dal {}: il responsabile è stato avvisato",
            italian_date(when)
        );
    }
    if let Some((when, direzione)) =
        after("escalated on ").and_then(|rest| rest.split_once(" to the direzione regionale "))
    {
        return format!(
            "segnalata il {} alla direzione regionale {direzione}",
            italian_date(when)
        );
    }
    if text == "1 sollecito received" {
        return "1 sollecito ricevuto".to_owned();
    }
    if let Some(count) = text.strip_suffix(" solleciti received") {
        return format!("{count} solleciti ricevuti");
    }
    if let Some(day) = after("submitted ")
        .and_then(|rest| rest.strip_suffix(": among equal scores the oldest comes first"))
    {
        return format!(
            "inviata il {}: a parità di punteggio viene prima la più vecchia",
            italian_date(day)
        );
    }
    text.to_owned()
}

pub fn action_label(action: &str) -> &str {
    match action {
        "filed" => "Arrivata in coda",
        "claimed" => "Presa in carico",
        "released" => "Rilasciata",
        "reassigned" => "Assegnata",
        "answered" => "Risposta al patronato",
        "info_requested" => "Informazioni chieste al patronato",
        "info_provided" => "Informazioni dal patronato",
        "sollecito" => "Sollecito del patronato",
        "transferred" => "Trasferita",
        "note" => "Nota interna",
        "closed" => "Chiusa",
        "moved" => "Spostata",
        other => other,
    }
}

/// A history entry's text in Italian, where office-queue wrote it itself.
pub fn history_text(action: &str, text: &str) -> String {
    match action {
        "filed" => text
            .strip_prefix("at ")
            .map_or_else(|| text.to_owned(), |rest| format!("in {rest}")),
        "claimed" => text
            .strip_prefix("lease of ")
            .and_then(|rest| rest.strip_suffix(" s"))
            .and_then(|seconds| seconds.parse::<u64>().ok())
            .map_or_else(
                || text.to_owned(),
                |seconds| format!("per {} minuti", seconds.div_ceil(60)),
            ),
        "reassigned" => text
            .strip_prefix("from ")
            .and_then(|rest| rest.split_once(" to "))
            .map_or_else(
                || text.to_owned(),
                |(from, rest)| {
                    let to = rest.split(',').next().unwrap_or(rest);
                    let from = if from == "nobody" { "nessuno" } else { from };
                    format!("da {from} a {to}")
                },
            ),
        "transferred" => text
            .strip_prefix("from ")
            .and_then(|rest| rest.split_once(" to "))
            .map_or_else(
                || text.to_owned(),
                |(from, rest)| format!("da {from} a {rest}"),
            ),
        _ => text.to_owned(),
    }
}

/// A refusal's message in Italian where its shape is known (the code stays).
pub fn status_in_italian(status: &tonic::Status) -> tonic::Status {
    let message = status.message();
    let italian = if message == "the item is closed" {
        Some("la pratica è chiusa: non si può più lavorare".to_owned())
    } else if message == "claim the item before writing to the patronato" {
        Some("prendi in carico la pratica prima di scrivere al patronato".to_owned())
    } else if let Some((holder, _)) =
        message.split_once(" holds the item; they or a responsabile release it first")
    {
        Some(format!(
            "la pratica è in carico a {holder}: deve rilasciarla lui o un responsabile"
        ))
    } else if let Some((holder, until)) = message.split_once(" holds the item until ") {
        let until = chrono::DateTime::parse_from_rfc3339(until)
            .map(|at| {
                at.with_timezone(&chrono_tz::Europe::Rome)
                    .format("%H:%M del %d/%m/%Y")
                    .to_string()
            })
            .unwrap_or_else(|_| until.to_owned());
        Some(format!(
            "la pratica è in carico a {holder} fino alle {until}"
        ))
    } else {
        message
            .strip_prefix("the request is already at ")
            .map(|office| format!("la pratica è già all'ufficio {office}"))
    };
    match italian {
        Some(text) => {
            tonic::Status::with_details(status.code(), text, status.details().to_vec().into())
        }
        None => status.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_history_read_in_italian() {
        assert_eq!(
            reason("overdue: it was due by 2027-01-22"),
            "scaduta: andava evasa entro il 22/01/2027"
        );
        assert_eq!(reason("2 solleciti received"), "2 solleciti ricevuti");
        assert_eq!(
            reason("submitted 2026-12-07: among equal scores the oldest comes first"),
            "inviata il 07/12/2026: a parità di punteggio viene prima la più vecchia"
        );
        assert_eq!(
            reason(
                "clock stopped while the patronato is asked for information (12 business days left)"
            ),
            "termine sospeso in attesa delle informazioni del patronato (12 giorni lavorativi residui)"
        );
        assert_eq!(
            reason("answered: nothing is due"),
            "Risposta inviata: nessuna scadenza"
        );
        assert_eq!(history_text("claimed", "lease of 900 s"), "per 15 minuti");
        assert_eq!(
            history_text("reassigned", "from nobody to bruno, lease of 900 s"),
            "da nessuno a bruno"
        );
        assert_eq!(
            history_text("transferred", "from SEDE-MI to SEDE-TO: competenza"),
            "da SEDE-MI a SEDE-TO: competenza"
        );
        let refused = status_in_italian(&tonic::Status::failed_precondition(
            "anna holds the item; they or a responsabile release it first",
        ));
        assert_eq!(
            refused.message(),
            "la pratica è in carico a anna: deve rilasciarla lui o un responsabile"
        );
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    }
}
