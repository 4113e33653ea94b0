//! Everything a submitted request must satisfy, checked at once so the operator sees every
//! problem in one answer. Nothing is stored until all of it holds.

use combipat_domain::{CodiceFiscale, Territory, Topic};
use combipat_platform::Violation;
use combipat_proto::common::v1::Motivo;
use combipat_proto::intake::v1::SubmitRequestRequest;

pub const SUBJECT_MAX_CHARS: usize = 150;
pub const BODY_MAX_CHARS: usize = 4000;

const IDEMPOTENCY_KEY_MAX_CHARS: usize = 100;
const PRATICA_MIN_CHARS: usize = 6;
const PRATICA_MAX_CHARS: usize = 40;

/// A request that passed validation, with its text normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest {
    pub motivo: Motivo,
    pub codice_fiscale: CodiceFiscale,
    pub comune_residenza: String,
    /// What routes the request: the prestazione for the first two motivi, the topic for a
    /// generic request.
    pub topic: Topic,
    pub pratica_protocol_number: String,
    pub subject: String,
    pub body: String,
    pub attachment_ids: Vec<uuid::Uuid>,
    pub idempotency_key: Option<String>,
    pub confirm_duplicate: bool,
}

pub fn validate(
    request: &SubmitRequestRequest,
    territory: &Territory,
) -> Result<ValidRequest, Vec<Violation>> {
    let mut violations = Vec::new();

    let motivo = match Motivo::try_from(request.motivo) {
        Ok(Motivo::Unspecified) | Err(_) => {
            violations.push(Violation::new(
                "motivo",
                "choose one of MOTIVO_SOLLECITO_PRATICA, MOTIVO_INFO_PAGAMENTI, MOTIVO_RICHIESTA_GENERICA",
            ));
            None
        }
        Ok(motivo) => Some(motivo),
    };
    let codice_fiscale = CodiceFiscale::parse(&request.codice_fiscale)
        .map_err(|error| violations.push(Violation::new("codice_fiscale", error.to_string())))
        .ok();
    let comune_residenza = territory
        .residence(&request.comune_residenza)
        .map(|_| request.comune_residenza.trim().to_ascii_uppercase())
        .map_err(|error| violations.push(Violation::new("comune_residenza", error.to_string())))
        .ok();
    let (topic, pratica_protocol_number) = match motivo {
        Some(motivo) => motivo_fields(motivo, request, &mut violations),
        None => {
            // Without a motivo the required fields are unknown; still check those given.
            for (field, text) in [
                ("topic", &request.topic),
                ("prestazione", &request.prestazione),
            ] {
                if let Err(error) = text.trim().parse::<Topic>()
                    && !text.trim().is_empty()
                {
                    violations.push(Violation::new(field, error));
                }
            }
            (None, String::new())
        }
    };
    let subject = clean_text(
        "subject",
        &request.subject,
        SUBJECT_MAX_CHARS,
        false,
        &mut violations,
    );
    let body = clean_text("body", &request.body, BODY_MAX_CHARS, true, &mut violations);
    let attachment_ids = combipat_platform::files::attachment_ids(
        "attachment_ids",
        &request.attachment_ids,
        &mut violations,
    );
    let idempotency_key = idempotency_key(&request.idempotency_key, &mut violations);

    match (
        motivo,
        codice_fiscale,
        comune_residenza,
        topic,
        subject,
        body,
    ) {
        (
            Some(motivo),
            Some(codice_fiscale),
            Some(comune_residenza),
            Some(topic),
            Some(subject),
            Some(body),
        ) if violations.is_empty() => Ok(ValidRequest {
            motivo,
            codice_fiscale,
            comune_residenza,
            topic,
            pratica_protocol_number,
            subject,
            body,
            attachment_ids,
            idempotency_key,
            confirm_duplicate: request.confirm_duplicate,
        }),
        _ => Err(violations),
    }
}

/// Each motivo asks for its own fields, and only for them: the prestazione (and, to chase
/// an application, its protocol number) or, for a generic request, the topic.
fn motivo_fields(
    motivo: Motivo,
    request: &SubmitRequestRequest,
    violations: &mut Vec<Violation>,
) -> (Option<Topic>, String) {
    let parse_topic = |field: &str, text: &str, violations: &mut Vec<Violation>| {
        if text.trim().is_empty() {
            violations.push(Violation::new(
                field,
                format!("is required for {}", motivo.as_str_name()),
            ));
            return None;
        }
        text.trim()
            .parse::<Topic>()
            .map_err(|error| violations.push(Violation::new(field, error)))
            .ok()
    };
    let must_be_empty = |field: &str, text: &str, violations: &mut Vec<Violation>| {
        if !text.trim().is_empty() {
            violations.push(Violation::new(
                field,
                format!("is not used for {}", motivo.as_str_name()),
            ));
        }
    };
    match motivo {
        Motivo::SollecitoPratica => {
            must_be_empty("topic", &request.topic, violations);
            let topic = parse_topic("prestazione", &request.prestazione, violations);
            let pratica = pratica_protocol_number(&request.pratica_protocol_number, violations);
            (topic, pratica)
        }
        Motivo::InfoPagamenti => {
            must_be_empty("topic", &request.topic, violations);
            must_be_empty(
                "pratica_protocol_number",
                &request.pratica_protocol_number,
                violations,
            );
            (
                parse_topic("prestazione", &request.prestazione, violations),
                String::new(),
            )
        }
        Motivo::RichiestaGenerica | Motivo::Unspecified => {
            let topic = parse_topic("topic", &request.topic, violations);
            must_be_empty("prestazione", &request.prestazione, violations);
            must_be_empty(
                "pratica_protocol_number",
                &request.pratica_protocol_number,
                violations,
            );
            (topic, String::new())
        }
    }
}

/// An INPS application's protocol number as the operator reads it off the receipt: letters,
/// digits and the separators `. / -`, with at least one digit; upper-cased.
fn pratica_protocol_number(text: &str, violations: &mut Vec<Violation>) -> String {
    let field = "pratica_protocol_number";
    let trimmed = text.trim().to_ascii_uppercase();
    let length = trimmed.chars().count();
    if trimmed.is_empty() {
        violations.push(Violation::new(
            field,
            "is required to chase an application: the protocol number on its receipt",
        ));
    } else if !(PRATICA_MIN_CHARS..=PRATICA_MAX_CHARS).contains(&length) {
        violations.push(Violation::new(
            field,
            format!(
                "must have {PRATICA_MIN_CHARS} to {PRATICA_MAX_CHARS} characters, not {length}"
            ),
        ));
    } else if let Some(bad) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-')))
    {
        violations.push(Violation::new(
            field,
            format!("may hold letters, digits and . / - only, not `{bad}`"),
        ));
    } else if !trimmed.chars().any(|c| c.is_ascii_digit()) {
        violations.push(Violation::new(
            field,
            "must contain the application's number",
        ));
    }
    trimmed
}

fn idempotency_key(key: &str, violations: &mut Vec<Violation>) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    if key.chars().count() > IDEMPOTENCY_KEY_MAX_CHARS || !key.chars().all(|c| c.is_ascii_graphic())
    {
        violations.push(Violation::new(
            "idempotency_key",
            format!(
                "must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} visible ASCII characters (a UUID will do)"
            ),
        ));
        return None;
    }
    Some(key.to_owned())
}

fn clean_text(
    field: &str,
    text: &str,
    max_chars: usize,
    multiline: bool,
    violations: &mut Vec<Violation>,
) -> Option<String> {
    combipat_domain::text::clean(text, max_chars, multiline)
        .map_err(|reason| violations.push(Violation::new(field, reason)))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn territory() -> Territory {
        Territory::load_dir(&combipat_testkit::shared_data_dir()).unwrap()
    }

    fn good() -> SubmitRequestRequest {
        SubmitRequestRequest {
            motivo: Motivo::RichiestaGenerica as i32,
            codice_fiscale: "rssmra85t10a562s".into(),
            comune_residenza: "f205".into(),
            topic: "pensioni".into(),
            subject: "  Cafe\u{301} ".into(),
            body: "Riga uno\nRiga due".into(),
            ..SubmitRequestRequest::default()
        }
    }

    #[test]
    fn each_motivo_asks_for_its_own_fields_and_only_those() {
        let sollecito = SubmitRequestRequest {
            motivo: Motivo::SollecitoPratica as i32,
            topic: String::new(),
            prestazione: "pensioni".into(),
            pratica_protocol_number: " inps.5000.2026.0012345 ".into(),
            ..good()
        };
        let valid = validate(&sollecito, &territory()).unwrap();
        assert_eq!(valid.topic.code(), "pensioni");
        assert_eq!(valid.pratica_protocol_number, "INPS.5000.2026.0012345");

        let missing = SubmitRequestRequest {
            prestazione: String::new(),
            pratica_protocol_number: String::new(),
            topic: "pensioni".into(),
            ..sollecito.clone()
        };
        let fields: Vec<_> = validate(&missing, &territory())
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["topic", "prestazione", "pratica_protocol_number"]);

        let pagamenti = SubmitRequestRequest {
            motivo: Motivo::InfoPagamenti as i32,
            pratica_protocol_number: "INPS.1".into(),
            ..sollecito.clone()
        };
        let violations = validate(&pagamenti, &territory()).unwrap_err();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "pratica_protocol_number");
        assert!(violations[0].reason.contains("not used"));

        let generica = SubmitRequestRequest {
            prestazione: "pensioni".into(),
            topic: String::new(),
            ..good()
        };
        let fields: Vec<_> = validate(&generica, &territory())
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["topic", "prestazione"]);
    }

    #[test]
    fn protocol_numbers_attachments_and_keys_are_checked() {
        let with = |pratica: &str| SubmitRequestRequest {
            motivo: Motivo::SollecitoPratica as i32,
            topic: String::new(),
            prestazione: "pensioni".into(),
            pratica_protocol_number: pratica.into(),
            ..good()
        };
        for bad in ["12345", "INPS 0001 2026", "INPS.ABCDEF", &"9".repeat(41)] {
            assert!(validate(&with(bad), &territory()).is_err(), "{bad}");
        }
        let too_many = SubmitRequestRequest {
            attachment_ids: (0..6).map(|_| uuid::Uuid::new_v4().to_string()).collect(),
            idempotency_key: "spazio non ammesso".into(),
            ..good()
        };
        let fields: Vec<_> = validate(&too_many, &territory())
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["attachment_ids", "idempotency_key"]);
        let id = uuid::Uuid::new_v4().to_string();
        let repeated = SubmitRequestRequest {
            attachment_ids: vec![id.clone(), "x".into(), id],
            ..good()
        };
        let fields: Vec<_> = validate(&repeated, &territory())
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["attachment_ids[1]", "attachment_ids[2]"]);
    }

    #[test]
    fn a_good_request_is_normalised() {
        let valid = validate(&good(), &territory()).unwrap();
        assert_eq!(valid.codice_fiscale.as_str(), "RSSMRA85T10A562S");
        assert_eq!(valid.comune_residenza, "F205");
        assert_eq!(valid.subject, "Caf\u{e9}");
        assert_eq!(valid.body, "Riga uno\nRiga due");
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let request = SubmitRequestRequest {
            motivo: 0,
            codice_fiscale: "RSSMRA85T10A562X".into(),
            comune_residenza: "A003".into(),
            topic: "boh".into(),
            subject: "bad\u{7}".into(),
            body: "x".repeat(BODY_MAX_CHARS + 1),
            ..SubmitRequestRequest::default()
        };
        let violations = validate(&request, &territory()).unwrap_err();
        let fields: Vec<_> = violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "motivo",
                "codice_fiscale",
                "comune_residenza",
                "topic",
                "subject",
                "body"
            ]
        );
        assert!(
            violations[2].reason.contains("ceased"),
            "{}",
            violations[2].reason
        );
        assert!(violations[4].reason.contains("U+0007"));
    }
}
