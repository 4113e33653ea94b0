//! What an avviso is, and the checks on what a publisher sends: every field at once, each
//! refusal naming its field, before anything is stored (pure, unit-tested).

use chrono::{DateTime, Duration, Utc};
use combipat_domain::{Topic, province_name, region_name};
use combipat_platform::time::from_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::notifier::v1::{
    AudienceScope, AvvisoAudience, AvvisoPriority, AvvisoStatus, CorrectAvvisoRequest,
    PublishAvvisoRequest,
};
use uuid::Uuid;

use crate::notice::Kind;

pub const TITLE_MAX_CHARS: usize = 200;
pub const TEXT_MAX_CHARS: usize = 20_000;
pub const NOTE_MAX_CHARS: usize = 500;
pub const QUERY_MAX_CHARS: usize = 200;
const PATRONATI_MAX: usize = 30;
const PATRONATO_MAX_CHARS: usize = 40;
const IDEMPOTENCY_KEY_MAX_CHARS: usize = 100;
/// A publication time a little in the past (a clock apart, a slow form) means now.
const PAST_GRACE: Duration = Duration::minutes(5);
/// How far ahead a publication may be scheduled.
const AHEAD_MAX: Duration = Duration::days(366);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Informativo,
    Importante,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Informativo => "informativo",
            Self::Importante => "importante",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Informativo, Self::Importante]
            .into_iter()
            .find(|priority| priority.as_str() == text)
    }

    pub fn from_proto(value: i32) -> Option<Self> {
        match AvvisoPriority::try_from(value) {
            Ok(AvvisoPriority::Informativo) => Some(Self::Informativo),
            Ok(AvvisoPriority::Importante) => Some(Self::Importante),
            _ => None,
        }
    }

    pub fn to_proto(self) -> AvvisoPriority {
        match self {
            Self::Informativo => AvvisoPriority::Informativo,
            Self::Importante => AvvisoPriority::Importante,
        }
    }

    /// The kind of the notice that announces an avviso of this priority.
    pub fn kind(self) -> Kind {
        match self {
            Self::Informativo => Kind::AvvisoInformativo,
            Self::Importante => Kind::AvvisoImportante,
        }
    }
}

/// Where an avviso is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Territory {
    Nation,
    /// An ISTAT region code.
    Region(String),
    /// Province siglas, without repeats.
    Provinces(Vec<String>),
}

impl Territory {
    pub fn scope(&self) -> &'static str {
        match self {
            Self::Nation => "nation",
            Self::Region(_) => "region",
            Self::Provinces(_) => "provinces",
        }
    }

    pub fn from_columns(scope: &str, region: &str, provinces: &[String]) -> Self {
        match scope {
            "region" => Self::Region(region.to_owned()),
            "provinces" => Self::Provinces(provinces.to_vec()),
            _ => Self::Nation,
        }
    }

    pub fn region_code(&self) -> &str {
        match self {
            Self::Region(region) => region,
            _ => "",
        }
    }

    pub fn province_codes(&self) -> &[String] {
        match self {
            Self::Provinces(provinces) => provinces,
            _ => &[],
        }
    }
}

/// Which patronati (empty: all of them), where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub patronati: Vec<String>,
    pub territory: Territory,
}

impl Audience {
    pub fn to_proto(&self) -> AvvisoAudience {
        AvvisoAudience {
            patronati: self.patronati.clone(),
            scope: match self.territory {
                Territory::Nation => AudienceScope::Nation,
                Territory::Region(_) => AudienceScope::Region,
                Territory::Provinces(_) => AudienceScope::Provinces,
            } as i32,
            region_code: self.territory.region_code().to_owned(),
            province_codes: self.territory.province_codes().to_vec(),
        }
    }
}

/// A publication, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub title: String,
    pub text: String,
    pub topic: String,
    pub priority: Priority,
    pub audience: Audience,
    pub publish_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub attachment_ids: Vec<Uuid>,
    pub idempotency_key: Option<String>,
}

/// A correction, checked (the audience and topic stay those of the corrected version).
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub title: String,
    pub text: String,
    pub priority: Priority,
    /// None: as the corrected version.
    pub expires_at: Option<DateTime<Utc>>,
    pub attachment_ids: Vec<Uuid>,
    pub note: String,
}

fn text(
    field: &str,
    value: &str,
    max: usize,
    multiline: bool,
    violations: &mut Vec<Violation>,
) -> String {
    combipat_domain::text::clean(value, max, multiline).unwrap_or_else(|reason| {
        violations.push(Violation::new(field, reason));
        String::new()
    })
}

fn priority(value: i32, violations: &mut Vec<Violation>) -> Priority {
    Priority::from_proto(value).unwrap_or_else(|| {
        violations.push(Violation::new(
            "priority",
            "AVVISO_PRIORITY_INFORMATIVO or AVVISO_PRIORITY_IMPORTANTE",
        ));
        Priority::Informativo
    })
}

/// The topic: empty (every topic) or one of the list requests use.
pub fn topic(value: &str, field: &str, violations: &mut Vec<Violation>) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    match value.parse::<Topic>() {
        Ok(topic) => topic.code().to_owned(),
        Err(reason) => {
            violations.push(Violation::new(field, reason));
            String::new()
        }
    }
}

fn audience(value: Option<&AvvisoAudience>, violations: &mut Vec<Violation>) -> Audience {
    let Some(value) = value else {
        violations.push(Violation::new(
            "audience",
            "is required: its scope (nation, region or provinces) and the patronati",
        ));
        return Audience {
            patronati: Vec::new(),
            territory: Territory::Nation,
        };
    };
    let mut patronati: Vec<String> = Vec::new();
    if value.patronati.len() > PATRONATI_MAX {
        violations.push(Violation::new(
            "audience.patronati",
            format!("at most {PATRONATI_MAX} patronati (none: all of them)"),
        ));
    } else {
        for (index, name) in value.patronati.iter().enumerate() {
            let name = name.trim();
            let field = format!("audience.patronati[{index}]");
            if name.is_empty() || name.chars().count() > PATRONATO_MAX_CHARS {
                violations.push(Violation::new(
                    field,
                    format!("a patronato's code, 1 to {PATRONATO_MAX_CHARS} characters"),
                ));
            } else if patronati.iter().any(|known| known == name) {
                violations.push(Violation::new(field, "names the same patronato twice"));
            } else {
                patronati.push(name.to_owned());
            }
        }
    }
    let region = value.region_code.trim();
    let provinces = &value.province_codes;
    let territory = match AudienceScope::try_from(value.scope) {
        Ok(AudienceScope::Nation) => Territory::Nation,
        Ok(AudienceScope::Region) => {
            if region_name(region).is_none() {
                violations.push(Violation::new(
                    "audience.region_code",
                    format!("`{region}` is not an ISTAT region code (01 to 20)"),
                ));
            }
            Territory::Region(region.to_owned())
        }
        Ok(AudienceScope::Provinces) => {
            let mut known: Vec<String> = Vec::new();
            if provinces.is_empty() {
                violations.push(Violation::new(
                    "audience.province_codes",
                    "name at least one province (by sigla: MI, TO, ...)",
                ));
            }
            for (index, sigla) in provinces.iter().enumerate() {
                let sigla = sigla.trim().to_uppercase();
                let field = format!("audience.province_codes[{index}]");
                if province_name(&sigla).is_none() {
                    violations.push(Violation::new(
                        field,
                        format!("`{sigla}` is not a province's sigla"),
                    ));
                } else if known.contains(&sigla) {
                    violations.push(Violation::new(field, "names the same province twice"));
                } else {
                    known.push(sigla);
                }
            }
            Territory::Provinces(known)
        }
        _ => {
            violations.push(Violation::new(
                "audience.scope",
                "AUDIENCE_SCOPE_NATION, AUDIENCE_SCOPE_REGION or AUDIENCE_SCOPE_PROVINCES",
            ));
            Territory::Nation
        }
    };
    if !region.is_empty() && !matches!(territory, Territory::Region(_)) {
        violations.push(Violation::new(
            "audience.region_code",
            "only with AUDIENCE_SCOPE_REGION",
        ));
    }
    if !provinces.is_empty() && !matches!(territory, Territory::Provinces(_)) {
        violations.push(Violation::new(
            "audience.province_codes",
            "only with AUDIENCE_SCOPE_PROVINCES",
        ));
    }
    Audience {
        patronati,
        territory,
    }
}

/// Files named by upload id: at most five, no repeats.
fn attachment_ids(ids: &[String], violations: &mut Vec<Violation>) -> Vec<Uuid> {
    combipat_platform::files::attachment_ids("attachment_ids", ids, violations)
}

fn expiry(
    value: Option<DateTime<Utc>>,
    after: DateTime<Utc>,
    violations: &mut Vec<Violation>,
) -> Option<DateTime<Utc>> {
    if let Some(expires) = value
        && expires <= after
    {
        violations.push(Violation::new(
            "expires_at",
            "must be after the publication time",
        ));
    }
    value
}

fn refused<T>(value: T, violations: Vec<Violation>) -> Result<T, ApiError> {
    if violations.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::InvalidArgument(violations))
    }
}

pub fn publication(call: &PublishAvvisoRequest, now: DateTime<Utc>) -> Result<Draft, ApiError> {
    let mut violations = Vec::new();
    let title = text(
        "title",
        &call.title,
        TITLE_MAX_CHARS,
        false,
        &mut violations,
    );
    let body = text("text", &call.text, TEXT_MAX_CHARS, true, &mut violations);
    let topic = topic(&call.topic, "topic", &mut violations);
    let priority = priority(call.priority, &mut violations);
    let audience = audience(call.audience.as_ref(), &mut violations);
    let publish_at = match call.publish_at.as_ref() {
        None => now,
        Some(asked) => match from_timestamp(Some(asked)) {
            Some(at) if at < now - PAST_GRACE => {
                violations.push(Violation::new(
                    "publish_at",
                    "is in the past: leave it empty to publish now",
                ));
                now
            }
            Some(at) if at > now + AHEAD_MAX => {
                violations.push(Violation::new("publish_at", "at most a year ahead"));
                now
            }
            Some(at) => at.max(now),
            None => {
                violations.push(Violation::new("publish_at", "is not a valid time"));
                now
            }
        },
    };
    let expires_at = expiry(
        from_timestamp(call.expires_at.as_ref()),
        publish_at,
        &mut violations,
    );
    let attachment_ids = attachment_ids(&call.attachment_ids, &mut violations);
    let key = call.idempotency_key.trim();
    if key.chars().count() > IDEMPOTENCY_KEY_MAX_CHARS {
        violations.push(Violation::new(
            "idempotency_key",
            format!("at most {IDEMPOTENCY_KEY_MAX_CHARS} characters"),
        ));
    }
    refused(
        Draft {
            title,
            text: body,
            topic,
            priority,
            audience,
            publish_at,
            expires_at,
            attachment_ids,
            idempotency_key: (!key.is_empty()).then(|| key.to_owned()),
        },
        violations,
    )
}

pub fn correction(call: &CorrectAvvisoRequest, now: DateTime<Utc>) -> Result<Correction, ApiError> {
    let mut violations = Vec::new();
    let title = text(
        "title",
        &call.title,
        TITLE_MAX_CHARS,
        false,
        &mut violations,
    );
    let body = text("text", &call.text, TEXT_MAX_CHARS, true, &mut violations);
    let priority = priority(call.priority, &mut violations);
    let note = text(
        "correction_note",
        &call.correction_note,
        NOTE_MAX_CHARS,
        false,
        &mut violations,
    );
    let expires_at = expiry(
        from_timestamp(call.expires_at.as_ref()),
        now,
        &mut violations,
    );
    let attachment_ids = attachment_ids(&call.attachment_ids, &mut violations);
    refused(
        Correction {
            title,
            text: body,
            priority,
            expires_at,
            attachment_ids,
            note,
        },
        violations,
    )
}

/// An avviso's state at `now`, from what is stored.
pub fn status(
    now: DateTime<Utc>,
    publish_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    superseded: bool,
    withdrawn: bool,
) -> AvvisoStatus {
    if withdrawn {
        AvvisoStatus::Withdrawn
    } else if superseded {
        AvvisoStatus::Superseded
    } else if publish_at > now {
        AvvisoStatus::Scheduled
    } else if expires_at.is_some_and(|expires| expires <= now) {
        AvvisoStatus::Expired
    } else {
        AvvisoStatus::Published
    }
}

pub fn avviso_id(field: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        ApiError::InvalidArgument(vec![Violation::new(field, "is not an avviso id (UUID)")])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use combipat_platform::time::to_timestamp;

    fn good() -> PublishAvvisoRequest {
        PublishAvvisoRequest {
            title: "Nuova procedura per le domande di pensione".into(),
            text: "Dal 1° marzo le domande si presentano con il nuovo modulo.".into(),
            topic: "pensioni".into(),
            priority: AvvisoPriority::Informativo as i32,
            audience: Some(AvvisoAudience {
                patronati: vec![],
                scope: AudienceScope::Provinces as i32,
                region_code: String::new(),
                province_codes: vec!["mi".into(), "MB".into()],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_publication_is_normalised() {
        let now = Utc::now();
        let draft = publication(&good(), now).unwrap();
        assert_eq!(draft.publish_at, now);
        assert_eq!(
            draft.audience.territory,
            Territory::Provinces(vec!["MI".into(), "MB".into()])
        );
        assert_eq!(draft.topic, "pensioni");
        assert_eq!(draft.idempotency_key, None);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let now = Utc::now();
        let call = PublishAvvisoRequest {
            title: " ".into(),
            text: String::new(),
            topic: "pensione".into(),
            priority: 0,
            audience: Some(AvvisoAudience {
                patronati: vec!["INCA".into(), "INCA".into(), String::new()],
                scope: AudienceScope::Region as i32,
                region_code: "21".into(),
                province_codes: vec!["MI".into()],
            }),
            publish_at: Some(to_timestamp(now - Duration::hours(2))),
            expires_at: Some(to_timestamp(now - Duration::hours(3))),
            attachment_ids: vec!["x".into()],
            idempotency_key: "k".repeat(101),
        };
        let Err(ApiError::InvalidArgument(violations)) = publication(&call, now) else {
            panic!("refused")
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "title",
                "text",
                "topic",
                "priority",
                "audience.patronati[1]",
                "audience.patronati[2]",
                "audience.region_code",
                "audience.province_codes",
                "publish_at",
                "expires_at",
                "attachment_ids[0]",
                "idempotency_key",
            ]
        );
        let missing = PublishAvvisoRequest {
            audience: None,
            ..good()
        };
        let Err(ApiError::InvalidArgument(violations)) = publication(&missing, now) else {
            panic!("refused")
        };
        assert_eq!(violations[0].field, "audience");
    }

    #[test]
    fn the_state_follows_the_clock_and_the_record() {
        let now = Utc::now();
        let later = now + Duration::hours(1);
        assert_eq!(
            status(now, later, None, false, false),
            AvvisoStatus::Scheduled
        );
        assert_eq!(
            status(later, later, None, false, false),
            AvvisoStatus::Published
        );
        assert_eq!(
            status(later, now, Some(later), false, false),
            AvvisoStatus::Expired
        );
        assert_eq!(
            status(now, now, None, true, false),
            AvvisoStatus::Superseded
        );
        assert_eq!(
            status(now, later, None, false, true),
            AvvisoStatus::Withdrawn
        );
    }
}
