//! Preferences per operator and per office: which kinds of notice go to which channel, and
//! the e-mail address. Without a row, the defaults: every kind in the inbox, by e-mail what
//! asks for attention (`Kind::email_by_default`). A notice that needs action, or an avviso
//! importante, is never muted (`Kind::unmutable`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use combipat_platform::{ApiError, Violation};
use sqlx::PgConnection;

use crate::notice::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Operator,
    Office,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Office => "office",
        }
    }
}

/// One kind's channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channels {
    pub inbox: bool,
    pub email: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub email: String,
    pub daily_digest: bool,
    pub set: HashMap<Kind, Channels>,
}

impl Profile {
    pub fn channels(&self, kind: Kind) -> Channels {
        let chosen = self.set.get(&kind).copied().unwrap_or(Channels {
            inbox: true,
            email: kind.email_by_default(),
        });
        if kind.unmutable() {
            Channels {
                inbox: true,
                email: true,
            }
        } else {
            chosen
        }
    }

    pub fn inbox(&self, kind: Kind) -> bool {
        self.channels(kind).inbox
    }

    pub fn email(&self, kind: Kind) -> bool {
        self.channels(kind).email
    }

    /// The kinds this profile keeps out of the inbox.
    pub fn muted_in_inbox(&self) -> Vec<&'static str> {
        Kind::ALL
            .into_iter()
            .filter(|kind| !self.inbox(*kind))
            .map(Kind::as_str)
            .collect()
    }
}

/// The preferences key of a patronato office: the pair, since an office code is unique only
/// within its patronato (`INCA/INCA-MI-01`). INPS offices are keyed by their code.
pub fn patronato_office_subject(patronato: &str, office: &str) -> String {
    format!("{patronato}/{office}")
}

pub async fn profile(
    connection: &mut PgConnection,
    scope: Scope,
    subject: &str,
) -> sqlx::Result<Profile> {
    let head: Option<(String, bool)> = sqlx::query_as(
        "SELECT email, daily_digest FROM preference_profiles WHERE scope = $1 AND subject = $2",
    )
    .bind(scope.as_str())
    .bind(subject)
    .fetch_optional(&mut *connection)
    .await?;
    let rows: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT event_type, inbox, email FROM channel_preferences WHERE scope = $1 AND subject = $2",
    )
    .bind(scope.as_str())
    .bind(subject)
    .fetch_all(connection)
    .await?;
    let (email, daily_digest) = head.unwrap_or_default();
    Ok(Profile {
        email,
        daily_digest,
        set: rows
            .into_iter()
            .filter_map(|(kind, inbox, email)| {
                Some((Kind::parse(&kind)?, Channels { inbox, email }))
            })
            .collect(),
    })
}

/// What a caller asks to change.
#[derive(Debug, Clone)]
pub struct Change {
    pub email: String,
    pub daily_digest: bool,
    pub channels: Vec<(String, Channels)>,
}

/// Checks every field at once: a known kind, never muting one that cannot be, an address
/// that looks like one, a digest only for an office.
pub fn validate(scope: Scope, change: &Change) -> Result<Vec<(Kind, Channels)>, ApiError> {
    let mut violations = Vec::new();
    let email = change.email.trim();
    if !email.is_empty() && !looks_like_address(email) {
        violations.push(Violation::new(
            "email",
            "is not an e-mail address (name@domain)",
        ));
    }
    if change.daily_digest && scope == Scope::Operator {
        violations.push(Violation::new(
            "daily_digest",
            "only an office has a daily digest",
        ));
    }
    let mut valid = Vec::new();
    for (index, (name, channels)) in change.channels.iter().enumerate() {
        match Kind::parse(name) {
            None => violations.push(Violation::new(
                format!("channels[{index}].event_type"),
                format!("unknown kind `{name}`"),
            )),
            Some(kind) if kind.unmutable() && !(channels.inbox && channels.email) => {
                violations.push(Violation::new(
                    format!("channels[{index}]"),
                    if kind.action_needed() {
                        format!("{name} asks the patronato to act: it cannot be muted")
                    } else {
                        format!("{name} is an avviso INPS marked importante: it cannot be muted")
                    },
                ));
            }
            Some(kind) => valid.push((kind, *channels)),
        }
    }
    if violations.is_empty() {
        Ok(valid)
    } else {
        Err(ApiError::InvalidArgument(violations))
    }
}

pub fn looks_like_address(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && text.len() <= 254
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        }
        None => false,
    }
}

pub async fn store(
    connection: &mut PgConnection,
    scope: Scope,
    subject: &str,
    change: &Change,
    channels: &[(Kind, Channels)],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO preference_profiles (scope, subject, email, daily_digest, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, subject) DO UPDATE SET email = $3, daily_digest = $4, updated_at = $5",
    )
    .bind(scope.as_str())
    .bind(subject)
    .bind(change.email.trim())
    .bind(change.daily_digest)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    for (kind, chosen) in channels {
        sqlx::query(
            "INSERT INTO channel_preferences (scope, subject, event_type, inbox, email) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope, subject, event_type) DO UPDATE SET inbox = $4, email = $5",
        )
        .bind(scope.as_str())
        .bind(subject)
        .bind(kind.as_str())
        .bind(chosen.inbox)
        .bind(chosen.email)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_information_request_cannot_be_muted() {
        let change = Change {
            email: "not an address".into(),
            daily_digest: true,
            channels: vec![
                (
                    "request.info_requested".into(),
                    Channels {
                        inbox: false,
                        email: true,
                    },
                ),
                (
                    "request.routed".into(),
                    Channels {
                        inbox: false,
                        email: false,
                    },
                ),
                (
                    "request.nonsense".into(),
                    Channels {
                        inbox: true,
                        email: true,
                    },
                ),
            ],
        };
        let Err(ApiError::InvalidArgument(violations)) = validate(Scope::Operator, &change) else {
            panic!("refused")
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "email",
                "daily_digest",
                "channels[0]",
                "channels[2].event_type"
            ]
        );
        let mut profile = Profile {
            email: String::new(),
            daily_digest: false,
            set: HashMap::new(),
        };
        profile.set.insert(
            Kind::InfoRequested,
            Channels {
                inbox: false,
                email: false,
            },
        );
        assert!(profile.inbox(Kind::InfoRequested) && profile.email(Kind::InfoRequested));
        assert!(profile.inbox(Kind::Routed) && !profile.email(Kind::Routed));
    }
}
