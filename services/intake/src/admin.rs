//! `combipat-intake admin mandates import FILE.csv`: loads, updates and revokes mandates
//! from a CSV file, all of it or nothing.
//!
//! Columns (a header line first): `patronato,codice_fiscale,valid_from,valid_until,
//! reference,revoked_on`. Dates are `YYYY-MM-DD` (start of that day, Italian time) or RFC 3339;
//! an empty `valid_from` means now, an empty `valid_until` no end. A date in `revoked_on`
//! revokes the mandate; empty keeps (or makes) it active.

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use combipat_platform::time::to_timestamp;
use combipat_proto::intake::v1::Mandate;
use serde::Deserialize;
use sqlx::PgPool;

use crate::mandates;

const USAGE: &str = "usage: combipat-intake admin mandates import FILE.csv";

pub async fn run(pool: &PgPool, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["mandates", "import", path] => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read the mandates file {path}"))?;
            let imported = import(pool, file)
                .await
                .with_context(|| format!("mandates file {path}"))?;
            tracing::info!(
                stored = imported.stored,
                revoked = imported.revoked,
                "mandates imported"
            );
            Ok(())
        }
        _ => anyhow::bail!(USAGE),
    }
}

#[derive(Debug, Deserialize)]
struct Row {
    patronato: String,
    codice_fiscale: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    valid_until: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    revoked_on: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    pub stored: u32,
    pub revoked: u32,
}

fn instant(text: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|day| Some(combipat_domain::sla::start_of_day(day)))
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD) nor an RFC 3339 time"))
}

/// Reads every line, reports every bad one (by line number), and stores only a clean file.
pub async fn import(pool: &PgPool, reader: impl std::io::Read) -> anyhow::Result<Imported> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let mut rows = Vec::new();
    let mut revocations = Vec::new();
    let mut problems = Vec::new();
    for (index, record) in csv.deserialize::<Row>().enumerate() {
        let line = index + 2;
        let row = match record {
            Ok(row) => row,
            Err(error) => {
                problems.push(format!("line {line}: {error}"));
                continue;
            }
        };
        let (valid_from, valid_until, revoked_on) = match (
            instant(&row.valid_from),
            instant(&row.valid_until),
            instant(&row.revoked_on),
        ) {
            (Ok(from), Ok(until), Ok(revoked)) => (from, until, revoked),
            (from, until, revoked) => {
                for (column, result) in [
                    ("valid_from", from),
                    ("valid_until", until),
                    ("revoked_on", revoked),
                ] {
                    if let Err(reason) = result {
                        problems.push(format!("line {line}: {column}: {reason}"));
                    }
                }
                continue;
            }
        };
        let mandate = Mandate {
            patronato: row.patronato,
            codice_fiscale: row.codice_fiscale,
            valid_from: valid_from.map(to_timestamp),
            valid_until: valid_until.map(to_timestamp),
            reference: row.reference,
            ..Mandate::default()
        };
        match mandates::validate(index, &mandate) {
            Ok(valid) => {
                if let Some(revoked_on) = revoked_on {
                    revocations.push((
                        valid.patronato.clone(),
                        valid.codice_fiscale.clone(),
                        revoked_on,
                    ));
                }
                rows.push(valid);
            }
            Err(violations) => problems.extend(violations.into_iter().map(|violation| {
                let column = violation
                    .field
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                format!("line {line}: {column}: {}", violation.reason)
            })),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!("nothing imported:\n{}", problems.join("\n"));
    }
    let mut transaction = pool.begin().await?;
    let stored = mandates::put_in(&mut transaction, &rows).await?;
    for (patronato, codice_fiscale, revoked_on) in &revocations {
        sqlx::query(
            "UPDATE mandates SET revoked_at = $3, revocation_reason = 'revoked in the import', updated_at = now()
             WHERE patronato = $1 AND codice_fiscale = $2",
        )
        .bind(patronato)
        .bind(codice_fiscale)
        .bind(revoked_on)
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(Imported {
        stored,
        revoked: u32::try_from(revocations.len()).unwrap_or(u32::MAX),
    })
}
