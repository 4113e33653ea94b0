//! Who reads which notices, and who manages what.
//!
//! - operatore: their patronato office's notices;
//! - supervisore: every notice of their patronato (its offices' and its administrators');
//! - funzionario: their INPS office's (a direzione regionale's officials, its escalations);
//! - responsabile: the same, and the office's overdue notices;
//! - admin: every notice.

use combipat_platform::ApiError;
use combipat_platform::auth::{Principal, Role};
use sqlx::{Postgres, QueryBuilder};

/// The notices a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// Notices of these (audience, code) pairs, within `patronato` when it is set.
    Audiences {
        pairs: Vec<(&'static str, String)>,
        patronato: Option<String>,
    },
    /// Every notice of the patronato.
    Patronato(String),
}

pub fn visibility(caller: &Principal) -> Result<Visibility, ApiError> {
    let missing = |claim: &str| {
        ApiError::PermissionDenied(format!(
            "the token of a {} carries no {claim} claim",
            caller.role.as_str()
        ))
    };
    match caller.role {
        Role::Admin => Ok(Visibility::All),
        Role::Operatore => {
            let patronato = caller
                .patronato
                .clone()
                .ok_or_else(|| missing("patronato"))?;
            let office = caller
                .patronato_office
                .clone()
                .ok_or_else(|| missing("patronato_office"))?;
            Ok(Visibility::Audiences {
                pairs: vec![("patronato_office", office)],
                patronato: Some(patronato),
            })
        }
        Role::Supervisore => Ok(Visibility::Patronato(
            caller
                .patronato
                .clone()
                .ok_or_else(|| missing("patronato"))?,
        )),
        Role::Funzionario => Ok(Visibility::Audiences {
            pairs: vec![("inps_office", inps_office(caller)?)],
            patronato: None,
        }),
        Role::Responsabile => {
            let office = inps_office(caller)?;
            Ok(Visibility::Audiences {
                pairs: vec![
                    ("inps_office", office.clone()),
                    ("inps_responsabile", office),
                ],
                patronato: None,
            })
        }
        other => Err(ApiError::PermissionDenied(format!(
            "the role {} has no notices",
            other.as_str()
        ))),
    }
}

fn inps_office(caller: &Principal) -> Result<String, ApiError> {
    caller.inps_office.clone().ok_or_else(|| {
        ApiError::PermissionDenied(format!(
            "the token of a {} carries no inps_office claim",
            caller.role.as_str()
        ))
    })
}

impl Visibility {
    /// Appends ` AND (<the notices this caller reads>)` for the table aliased `n`.
    pub fn push_condition(&self, query: &mut QueryBuilder<Postgres>) {
        match self {
            Self::All => {}
            Self::Patronato(patronato) => {
                query
                    .push(" AND n.patronato = ")
                    .push_bind(patronato.clone());
            }
            Self::Audiences { pairs, patronato } => {
                query.push(" AND (");
                for (index, (audience, code)) in pairs.iter().enumerate() {
                    if index > 0 {
                        query.push(" OR ");
                    }
                    query
                        .push("(n.audience = ")
                        .push_bind(*audience)
                        .push(" AND n.audience_code = ")
                        .push_bind(code.clone())
                        .push(")");
                }
                query.push(")");
                if let Some(patronato) = patronato {
                    query
                        .push(" AND n.patronato = ")
                        .push_bind(patronato.clone());
                }
            }
        }
    }
}

/// The patronato whose endpoints the caller manages: a supervisore's own; an admin names one.
pub fn endpoint_manager(caller: &Principal, named: &str) -> Result<String, ApiError> {
    match caller.role {
        Role::Admin if named.trim().is_empty() => Err(ApiError::InvalidArgument(vec![
            combipat_platform::Violation::new("patronato", "an admin names the patronato"),
        ])),
        Role::Admin => Ok(named.trim().to_owned()),
        Role::Supervisore => {
            let own = caller.patronato.clone().ok_or_else(|| {
                ApiError::PermissionDenied("the token carries no patronato claim".to_owned())
            })?;
            if !named.trim().is_empty() && named.trim() != own {
                return Err(ApiError::PermissionDenied(format!(
                    "you manage the endpoints of {own}, not {}",
                    named.trim()
                )));
            }
            Ok(own)
        }
        other => Err(ApiError::PermissionDenied(format!(
            "the role {} cannot manage webhook endpoints (a patronato's supervisore does)",
            other.as_str()
        ))),
    }
}

/// An endpoint of `patronato` is the caller's to manage; another patronato's is NOT_FOUND, so
/// that its existence does not show.
pub fn may_manage(caller: &Principal, patronato: &str) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Supervisore => caller.patronato.as_deref() == Some(patronato),
        _ => false,
    }
}

/// The office whose preferences the caller may read and set (empty `named`: their own).
pub fn office_for_preferences(caller: &Principal, named: &str) -> Result<String, ApiError> {
    use crate::preferences::patronato_office_subject;
    let named = named.trim();
    let no_office = || ApiError::PermissionDenied("the token names no office".to_owned());
    match caller.role {
        // An admin names the key itself: PATRONATO/OFFICE for a patronato office.
        Role::Admin if !named.is_empty() => Ok(named.to_owned()),
        // A supervisore sets the offices of their patronato; office codes start with it
        // (INCA-MI-01), which is how the channel names patronato offices.
        Role::Supervisore
            if !named.is_empty()
                && caller
                    .patronato
                    .as_deref()
                    .is_some_and(|patronato| named.starts_with(&format!("{patronato}-"))) =>
        {
            let patronato = caller.patronato.as_deref().unwrap_or_default();
            Ok(patronato_office_subject(patronato, named))
        }
        Role::Operatore => {
            let (Some(patronato), Some(own)) = (&caller.patronato, &caller.patronato_office) else {
                return Err(no_office());
            };
            if named.is_empty() || named == own {
                Ok(patronato_office_subject(patronato, own))
            } else {
                Err(ApiError::PermissionDenied(format!(
                    "you may set the preferences of {own}, not {named}"
                )))
            }
        }
        Role::Responsabile => match &caller.inps_office {
            Some(own) if named.is_empty() || named == own => Ok(own.clone()),
            Some(own) => Err(ApiError::PermissionDenied(format!(
                "you may set the preferences of {own}, not {named}"
            ))),
            None => Err(no_office()),
        },
        other => Err(ApiError::PermissionDenied(format!(
            "the role {} cannot set an office's preferences for {}",
            other.as_str(),
            if named.is_empty() {
                "(none named)"
            } else {
                named
            }
        ))),
    }
}
