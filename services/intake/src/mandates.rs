//! The mandate registry (mandati di patrocinio): a patronato writes for a citizen only while
//! it holds an active mandate. Stored here, fed by the admin API and the CSV import.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Rome;
use combipat_domain::CodiceFiscale;
use combipat_platform::time::{from_timestamp, to_timestamp};
use combipat_platform::{ApiError, Violation};
use combipat_proto::intake::v1::Mandate;
use sqlx::{PgConnection, PgPool};

const REFERENCE_MAX_CHARS: usize = 100;
const PATRONATO_MAX_CHARS: usize = 40;

/// A mandate as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MandateRow {
    pub patronato: String,
    pub codice_fiscale: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub reference: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: String,
}

impl From<MandateRow> for Mandate {
    fn from(row: MandateRow) -> Self {
        // A revocation dated in the future is not in force yet.
        let revoked = row.revoked_at.is_some_and(|at| at <= Utc::now());
        Mandate {
            status: if revoked { "REVOKED" } else { "ACTIVE" }.to_owned(),
            patronato: row.patronato,
            codice_fiscale: row.codice_fiscale,
            valid_from: Some(to_timestamp(row.valid_from)),
            valid_until: row.valid_until.map(to_timestamp),
            reference: row.reference,
            revoked_at: row.revoked_at.map(to_timestamp),
            revocation_reason: row.revocation_reason,
        }
    }
}

/// Why a patronato may not write for a citizen now, in words the operator can act on.
pub fn refusal(
    patronato: &str,
    codice_fiscale: &str,
    mandate: Option<&MandateRow>,
    now: DateTime<Utc>,
) -> Option<String> {
    let who = format!("{patronato} for the citizen {codice_fiscale}");
    match mandate {
        None => Some(format!(
            "there is no mandate (mandato di patrocinio) of {who}: register it before writing"
        )),
        Some(mandate) => {
            if let Some(revoked_at) = mandate.revoked_at.filter(|at| *at <= now) {
                Some(format!(
                    "the mandate of {who} was revoked on {}{}",
                    revoked_at.with_timezone(&Rome).format("%Y-%m-%d"),
                    if mandate.revocation_reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", mandate.revocation_reason)
                    }
                ))
            } else if mandate.valid_from > now {
                Some(format!(
                    "the mandate of {who} holds from {}",
                    mandate.valid_from.with_timezone(&Rome).format("%Y-%m-%d")
                ))
            } else {
                mandate
                    .valid_until
                    .filter(|until| *until <= now)
                    .map(|until| {
                        format!(
                            "the mandate of {who} expired on {}",
                            until.with_timezone(&Rome).format("%Y-%m-%d")
                        )
                    })
            }
        }
    }
}

const COLUMNS: &str =
    "patronato, codice_fiscale, valid_from, valid_until, reference, revoked_at, revocation_reason";

pub async fn find(
    connection: &mut PgConnection,
    patronato: &str,
    codice_fiscale: &str,
) -> sqlx::Result<Option<MandateRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mandates WHERE patronato = $1 AND codice_fiscale = $2"
    )))
    .bind(patronato)
    .bind(codice_fiscale)
    .fetch_optional(connection)
    .await
}

/// The mandates of several (patronato, codice fiscale) pairs at once, by pair.
pub async fn find_many(
    connection: &mut PgConnection,
    pairs: &[(String, String)],
) -> sqlx::Result<std::collections::HashMap<(String, String), MandateRow>> {
    let (patronati, citizens): (Vec<&str>, Vec<&str>) = pairs
        .iter()
        .map(|(patronato, citizen)| (patronato.as_str(), citizen.as_str()))
        .unzip();
    let rows: Vec<MandateRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mandates
         WHERE (patronato, codice_fiscale) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
    )))
    .bind(&patronati)
    .bind(&citizens)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.patronato.clone(), row.codice_fiscale.clone()), row))
        .collect())
}

/// Refuses the submission unless `patronato` holds an active mandate for the citizen.
pub async fn require(
    connection: &mut PgConnection,
    patronato: &str,
    codice_fiscale: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mandate = find(connection, patronato, codice_fiscale).await?;
    match refusal(patronato, codice_fiscale, mandate.as_ref(), now) {
        Some(reason) => Err(ApiError::PermissionDenied(reason)),
        None => Ok(()),
    }
}

/// A mandate checked field by field; `index` names it in the violations.
pub fn validate(index: usize, mandate: &Mandate) -> Result<MandateRow, Vec<Violation>> {
    let field = |name: &str| format!("mandates[{index}].{name}");
    let mut violations = Vec::new();
    let patronato = mandate.patronato.trim().to_ascii_uppercase();
    if patronato.is_empty()
        || patronato.len() > PATRONATO_MAX_CHARS
        || !patronato
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        violations.push(Violation::new(
            field("patronato"),
            format!(
                "must be the patronato's code (letters, digits, -; at most {PATRONATO_MAX_CHARS})"
            ),
        ));
    }
    let codice_fiscale = CodiceFiscale::parse(&mandate.codice_fiscale)
        .map_err(|error| {
            violations.push(Violation::new(field("codice_fiscale"), error.to_string()))
        })
        .ok();
    let valid_from = match &mandate.valid_from {
        None => Some(Utc::now()),
        Some(at) => from_timestamp(Some(at)).or_else(|| {
            violations.push(Violation::new(field("valid_from"), "is not a valid time"));
            None
        }),
    };
    let valid_until = match &mandate.valid_until {
        None => None,
        Some(at) => from_timestamp(Some(at)).or_else(|| {
            violations.push(Violation::new(field("valid_until"), "is not a valid time"));
            None
        }),
    };
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until <= from
    {
        violations.push(Violation::new(
            field("valid_until"),
            "must come after valid_from",
        ));
    }
    let reference = mandate.reference.trim().to_owned();
    if reference.chars().count() > REFERENCE_MAX_CHARS {
        violations.push(Violation::new(
            field("reference"),
            format!("at most {REFERENCE_MAX_CHARS} characters"),
        ));
    }
    match (codice_fiscale, valid_from) {
        (Some(codice_fiscale), Some(valid_from)) if violations.is_empty() => Ok(MandateRow {
            patronato,
            codice_fiscale: codice_fiscale.as_str().to_owned(),
            valid_from,
            valid_until,
            reference,
            revoked_at: None,
            revocation_reason: String::new(),
        }),
        _ => Err(violations),
    }
}

/// Stores every mandate or none: a mandate put again replaces the old one (and so
/// reinstates a revoked one).
pub async fn put(pool: &PgPool, mandates: &[MandateRow]) -> sqlx::Result<u32> {
    let mut transaction = pool.begin().await?;
    let stored = put_in(&mut transaction, mandates).await?;
    transaction.commit().await?;
    Ok(stored)
}

/// [`put`] inside the caller's transaction.
pub async fn put_in(connection: &mut PgConnection, mandates: &[MandateRow]) -> sqlx::Result<u32> {
    for mandate in mandates {
        sqlx::query(
            "INSERT INTO mandates (patronato, codice_fiscale, valid_from, valid_until, reference)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (patronato, codice_fiscale) DO UPDATE
             SET valid_from = EXCLUDED.valid_from, valid_until = EXCLUDED.valid_until,
                 reference = EXCLUDED.reference, revoked_at = NULL, revocation_reason = '',
                 updated_at = now()",
        )
        .bind(&mandate.patronato)
        .bind(&mandate.codice_fiscale)
        .bind(mandate.valid_from)
        .bind(mandate.valid_until)
        .bind(&mandate.reference)
        .execute(&mut *connection)
        .await?;
    }
    Ok(u32::try_from(mandates.len()).unwrap_or(u32::MAX))
}

pub async fn revoke(
    pool: &PgPool,
    patronato: &str,
    codice_fiscale: &str,
    reason: &str,
) -> Result<MandateRow, ApiError> {
    let codice_fiscale = CodiceFiscale::parse(codice_fiscale).map_err(|error| {
        ApiError::InvalidArgument(vec![Violation::new("codice_fiscale", error.to_string())])
    })?;
    let reason = combipat_domain::text::clean(reason, 500, false)
        .map_err(|why| ApiError::InvalidArgument(vec![Violation::new("reason", why)]))?;
    let patronato = patronato.trim().to_ascii_uppercase();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE mandates SET revoked_at = COALESCE(revoked_at, now()), revocation_reason = $3, updated_at = now()
         WHERE patronato = $1 AND codice_fiscale = $2 RETURNING {COLUMNS}"
    )))
    .bind(&patronato)
    .bind(codice_fiscale.as_str())
    .bind(&reason)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "no mandate of {patronato} for {}",
            codice_fiscale.as_str()
        ))
    })
}

/// One page of a patronato's mandates in codice fiscale order; the token is the last one.
pub async fn list(
    pool: &PgPool,
    patronato: &str,
    codice_fiscale: &str,
    page_size: i64,
    after: &str,
) -> sqlx::Result<Vec<MandateRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mandates
         WHERE patronato = $1 AND ($2 = '' OR codice_fiscale = $2) AND codice_fiscale > $3
         ORDER BY codice_fiscale LIMIT $4"
    )))
    .bind(patronato.trim().to_ascii_uppercase())
    .bind(codice_fiscale.trim().to_ascii_uppercase())
    .bind(after)
    .bind(page_size)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn mandate(now: DateTime<Utc>) -> MandateRow {
        MandateRow {
            patronato: "INCA".into(),
            codice_fiscale: "RSSMRA85T10A562S".into(),
            valid_from: now - Duration::days(30),
            valid_until: None,
            reference: "M-1".into(),
            revoked_at: None,
            revocation_reason: String::new(),
        }
    }

    #[test]
    fn only_an_active_mandate_in_its_validity_lets_the_patronato_write() {
        let now = Utc::now();
        let cf = "RSSMRA85T10A562S";
        assert!(refusal("INCA", cf, Some(&mandate(now)), now).is_none());
        assert!(
            refusal("INCA", cf, None, now)
                .unwrap()
                .contains("no mandate")
        );
        let revoked = MandateRow {
            revoked_at: Some(now - Duration::days(1)),
            revocation_reason: "richiesta del cittadino".into(),
            ..mandate(now)
        };
        let reason = refusal("INCA", cf, Some(&revoked), now).unwrap();
        assert!(reason.contains("revoked") && reason.contains("richiesta del cittadino"));
        let revoked_later = MandateRow {
            revoked_at: Some(now + Duration::days(30)),
            ..mandate(now)
        };
        assert!(
            refusal("INCA", cf, Some(&revoked_later), now).is_none(),
            "a revocation dated later is not in force yet"
        );
        assert_eq!(Mandate::from(revoked_later).status, "ACTIVE");
        let future = MandateRow {
            valid_from: now + Duration::days(2),
            ..mandate(now)
        };
        assert!(
            refusal("INCA", cf, Some(&future), now)
                .unwrap()
                .contains("holds from")
        );
        let expired = MandateRow {
            valid_until: Some(now - Duration::seconds(1)),
            ..mandate(now)
        };
        assert!(
            refusal("INCA", cf, Some(&expired), now)
                .unwrap()
                .contains("expired")
        );
    }

    #[test]
    fn a_mandate_names_its_bad_fields() {
        let bad = Mandate {
            patronato: "IN CA".into(),
            codice_fiscale: "RSSMRA85T10A562X".into(),
            valid_from: Some(to_timestamp(Utc::now())),
            valid_until: Some(to_timestamp(Utc::now() - Duration::days(1))),
            ..Mandate::default()
        };
        let fields: Vec<_> = validate(3, &bad)
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(
            fields,
            [
                "mandates[3].patronato",
                "mandates[3].codice_fiscale",
                "mandates[3].valid_until"
            ]
        );
    }
}
