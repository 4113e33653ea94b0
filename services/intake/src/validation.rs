//! Everything a submitted request must satisfy, checked at once so the operator sees every
//! problem in one answer. Nothing is stored until all of it holds.

use combipat_domain::{CodiceFiscale, Territory, Topic};
use combipat_platform::Violation;
use combipat_proto::common::v1::Motivo;
use combipat_proto::intake::v1::SubmitRequestRequest;

pub const SUBJECT_MAX_CHARS: usize = 150;
pub const BODY_MAX_CHARS: usize = 4000;

/// A request that passed validation, with its text normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest {
    pub motivo: Motivo,
    pub codice_fiscale: CodiceFiscale,
    pub comune_residenza: String,
    pub topic: Topic,
    pub subject: String,
    pub body: String,
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
    let topic = request
        .topic
        .trim()
        .parse::<Topic>()
        .map_err(|error| violations.push(Violation::new("topic", error)))
        .ok();
    let subject = clean_text(
        "subject",
        &request.subject,
        SUBJECT_MAX_CHARS,
        false,
        &mut violations,
    );
    let body = clean_text("body", &request.body, BODY_MAX_CHARS, true, &mut violations);

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
            subject,
            body,
        }),
        _ => Err(violations),
    }
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
        }
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
