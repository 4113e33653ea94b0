//! Where the patronato offices are, so that an avviso for a region or a province reaches the
//! offices there.
//!
//! No event says where a patronato office is. Two sources, the first winning:
//! - **import** (`ImportPatronatoOffices`, an admin): the patronato's own list of its offices
//!   and their provinces;
//! - **learned**: each first routing decision (`request.routed`) for a request the office
//!   filed counts one for the province of the INPS sede or agenzia it went to (routing follows
//!   the citizen's residence); the office is placed in the province with the most, the latest
//!   on a tie. Decisions for a polo or a fallback queue say nothing of a province and count
//!   nothing.
//!
//! An office never seen and never imported is nowhere: it reads only national avvisi and is
//! reached by no regional or provincial one.

use chrono::{DateTime, Utc};
use combipat_proto::common::v1::OfficeRef;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::directory::{AGENZIA, SEDE_PROVINCIALE};
use super::model::{Audience, Territory};

/// Where an office is.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Place {
    pub province_code: String,
    pub region_code: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnownOffice {
    pub office: String,
    pub patronato: String,
    pub province_code: String,
    pub region_code: String,
    pub source: String,
    pub updated_at: DateTime<Utc>,
}

/// The seed of the advisory lock a batch takes on each patronato office it counts
/// (`hashtextextended(office, seed)`), before it touches the office's rows.
pub const SIGHTINGS_LOCK_SEED: i64 = 0;

/// Counts a routing decision of a request filed by `office` of `patronato`, and places the
/// office again unless an admin imported its place.
pub async fn learn(
    connection: &mut PgConnection,
    patronato: &str,
    office: &str,
    routed_to: &OfficeRef,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let territorial = routed_to.kind == SEDE_PROVINCIALE || routed_to.kind == AGENZIA;
    if !territorial || routed_to.province_code.is_empty() || routed_to.region_code.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO patronato_office_sightings (office, province_code, patronato, region_code, requests, last_seen)
         VALUES ($1, $2, $3, $4, 1, $5)
         ON CONFLICT (office, province_code) DO UPDATE
             SET requests = patronato_office_sightings.requests + 1, patronato = $3, region_code = $4,
                 last_seen = GREATEST(patronato_office_sightings.last_seen, $5)",
    )
    .bind(office)
    .bind(&routed_to.province_code)
    .bind(patronato)
    .bind(&routed_to.region_code)
    .bind(at)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO patronato_offices (office, patronato, province_code, region_code, source, updated_at)
         SELECT office, patronato, province_code, region_code, 'learned', $2
         FROM patronato_office_sightings WHERE office = $1
         ORDER BY requests DESC, last_seen DESC, province_code LIMIT 1
         ON CONFLICT (office) DO UPDATE
             SET patronato = EXCLUDED.patronato, province_code = EXCLUDED.province_code,
                 region_code = EXCLUDED.region_code, updated_at = EXCLUDED.updated_at
             WHERE patronato_offices.source = 'learned'",
    )
    .bind(office)
    .bind(at)
    .execute(connection)
    .await
    .map(|_| ())
}

/// One imported office, checked.
pub struct Imported {
    pub patronato: String,
    pub office: String,
    pub province_code: String,
    pub region_code: String,
}

pub async fn import(
    connection: &mut PgConnection,
    offices: &[Imported],
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let mut imported = 0;
    for office in offices {
        imported += sqlx::query(
            "INSERT INTO patronato_offices (office, patronato, province_code, region_code, source, updated_at)
             VALUES ($1, $2, $3, $4, 'import', $5)
             ON CONFLICT (office) DO UPDATE
                 SET patronato = $2, province_code = $3, region_code = $4, source = 'import', updated_at = $5",
        )
        .bind(&office.office)
        .bind(&office.patronato)
        .bind(&office.province_code)
        .bind(&office.region_code)
        .bind(now)
        .execute(&mut *connection)
        .await?
        .rows_affected();
    }
    Ok(imported)
}

/// Where `office` of `patronato` is; None when unknown (or known as another patronato's).
pub async fn place(
    connection: &mut PgConnection,
    patronato: &str,
    office: &str,
) -> sqlx::Result<Option<Place>> {
    sqlx::query_as(
        "SELECT province_code, region_code FROM patronato_offices WHERE office = $1 AND patronato = $2",
    )
    .bind(office)
    .bind(patronato)
    .fetch_optional(connection)
    .await
}

/// Appends ` AND <the offices in audience>` for the table aliased `o`.
fn push_audience(query: &mut QueryBuilder<Postgres>, audience: &Audience) {
    if !audience.patronati.is_empty() {
        query
            .push(" AND o.patronato = ANY(")
            .push_bind(audience.patronati.clone())
            .push(")");
    }
    match &audience.territory {
        Territory::Nation => {}
        Territory::Region(region) => {
            query
                .push(" AND o.region_code = ")
                .push_bind(region.clone());
        }
        Territory::Provinces(provinces) => {
            query
                .push(" AND o.province_code = ANY(")
                .push_bind(provinces.clone())
                .push(")");
        }
    }
}

/// The offices (office, patronato) an avviso for `audience` goes to, by code.
pub async fn in_audience(
    connection: &mut PgConnection,
    audience: &Audience,
) -> sqlx::Result<Vec<(String, String)>> {
    let mut query =
        QueryBuilder::new("SELECT o.office, o.patronato FROM patronato_offices o WHERE true");
    push_audience(&mut query, audience);
    query.push(" ORDER BY o.office");
    query.build_query_as().fetch_all(connection).await
}

/// The offices known, filtered (empty filters: all), by patronato and code.
pub async fn list(
    connection: &mut PgConnection,
    patronato: &str,
    region: &str,
    province: &str,
) -> sqlx::Result<Vec<KnownOffice>> {
    let mut query = QueryBuilder::new(
        "SELECT office, patronato, province_code, region_code, source, updated_at FROM patronato_offices WHERE true",
    );
    for (column, value) in [
        ("patronato", patronato),
        ("region_code", region),
        ("province_code", province),
    ] {
        if !value.trim().is_empty() {
            query
                .push(format_args!(" AND {column} = "))
                .push_bind(value.trim().to_owned());
        }
    }
    query.push(" ORDER BY patronato, office LIMIT 10000");
    query.build_query_as().fetch_all(connection).await
}
