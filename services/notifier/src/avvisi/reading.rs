//! Who reads which avvisi.
//!
//! - operatore: those for their patronato (or all patronati) and their office's territory
//!   (the nation, the office's region, or a list of provinces with the office's): the office's
//!   place is notifier's registry's (`offices.rs`); an office nowhere known reads the national
//!   ones only;
//! - supervisore: those for their patronato, anywhere (their offices are everywhere);
//! - funzionario, responsabile: those their office published, scheduled ones included;
//! - admin: all of them.
//!
//! The patronati read an avviso only from its publication time (the platform's clock).

use chrono::{DateTime, Utc};
use combipat_platform::ApiError;
use combipat_platform::auth::{Principal, Role};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::offices::{self, Place};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    All,
    Publisher(String),
    Patronato {
        patronato: String,
        /// An operator's office and where it is (None: a supervisore, for the whole patronato).
        office: Option<(String, Option<Place>)>,
    },
}

pub async fn reader(connection: &mut PgConnection, caller: &Principal) -> Result<Reader, ApiError> {
    let missing = |claim: &str| {
        ApiError::PermissionDenied(format!(
            "the token of a {} carries no {claim} claim",
            caller.role.as_str()
        ))
    };
    let claim = |value: &Option<String>, name: &str| {
        value
            .clone()
            .filter(|value| !value.is_empty())
            .ok_or_else(|| missing(name))
    };
    match caller.role {
        Role::Admin => Ok(Reader::All),
        Role::Funzionario | Role::Responsabile => Ok(Reader::Publisher(claim(
            &caller.inps_office,
            "inps_office",
        )?)),
        Role::Supervisore => Ok(Reader::Patronato {
            patronato: claim(&caller.patronato, "patronato")?,
            office: None,
        }),
        Role::Operatore => {
            let patronato = claim(&caller.patronato, "patronato")?;
            let office = claim(&caller.patronato_office, "patronato_office")?;
            let place = offices::place(connection, &patronato, &office).await?;
            Ok(Reader::Patronato {
                patronato,
                office: Some((office, place)),
            })
        }
        other => Err(ApiError::PermissionDenied(format!(
            "the role {} reads no avvisi",
            other.as_str()
        ))),
    }
}

impl Reader {
    /// The reader's patronato and office, for their read marks (None: INPS or an admin).
    pub fn marks(&self) -> Option<(&str, &str)> {
        match self {
            Self::Patronato { patronato, office } => Some((
                patronato,
                office.as_ref().map_or("", |(office, _)| office.as_str()),
            )),
            _ => None,
        }
    }

    /// Appends ` AND (<the avvisi this reader reads at now>)` for the table aliased `a`.
    pub fn push_condition(&self, query: &mut QueryBuilder<Postgres>, now: DateTime<Utc>) {
        match self {
            Self::All => {}
            Self::Publisher(office) => {
                query
                    .push(" AND a.publisher_office = ")
                    .push_bind(office.clone());
            }
            Self::Patronato { patronato, office } => {
                query
                    .push(" AND a.publish_at <= ")
                    .push_bind(now)
                    .push(" AND (cardinality(a.patronati) = 0 OR ")
                    .push_bind(patronato.clone())
                    .push(" = ANY(a.patronati))");
                match office {
                    None => {}
                    Some((_, None)) => {
                        query.push(" AND a.scope = 'nation'");
                    }
                    Some((_, Some(place))) => {
                        query
                            .push(" AND (a.scope = 'nation' OR (a.scope = 'region' AND a.region_code = ")
                            .push_bind(place.region_code.clone())
                            .push(") OR (a.scope = 'provinces' AND ")
                            .push_bind(place.province_code.clone())
                            .push(" = ANY(a.province_codes)))");
                    }
                }
            }
        }
    }
}
