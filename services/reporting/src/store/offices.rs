//! Office names and places for the tables' labels, learned from the events that describe
//! offices in full (router's decisions, transfers, deadline clocks). Labels only: no figure
//! depends on them, so the last description read wins.

use std::collections::HashMap;

use combipat_proto::common::v1::OfficeRef;
use sqlx::{PgConnection, PgPool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Office {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub province: String,
    pub parent: String,
}

pub async fn remember(connection: &mut PgConnection, offices: &[&OfficeRef]) -> sqlx::Result<()> {
    let mut seen: HashMap<&str, &OfficeRef> = HashMap::new();
    for office in offices {
        seen.insert(office.code.as_str(), office);
    }
    if seen.is_empty() {
        return Ok(());
    }
    let mut codes: Vec<&str> = seen.keys().copied().collect();
    codes.sort_unstable();
    let field = |get: fn(&OfficeRef) -> &str| -> Vec<String> {
        codes
            .iter()
            .map(|code| get(seen[code]).to_owned())
            .collect()
    };
    sqlx::query(
        "INSERT INTO offices (code, name, kind, region, province, parent)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
             region = EXCLUDED.region, province = EXCLUDED.province, parent = EXCLUDED.parent,
             updated_at = now()
         WHERE (offices.name, offices.kind, offices.region, offices.province, offices.parent)
               IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.region, EXCLUDED.province, EXCLUDED.parent)",
    )
    .bind(&codes)
    .bind(field(|office| &office.name))
    .bind(field(|office| &office.kind))
    .bind(field(|office| &office.region_code))
    .bind(field(|office| &office.province_code))
    .bind(field(|office| &office.parent_code))
    .execute(connection)
    .await
    .map(|_| ())
}

pub async fn all(pool: &PgPool) -> sqlx::Result<HashMap<String, Office>> {
    let offices: Vec<Office> =
        sqlx::query_as("SELECT code, name, kind, region, province, parent FROM offices")
            .fetch_all(pool)
            .await?;
    Ok(offices
        .into_iter()
        .map(|office| (office.code.clone(), office))
        .collect())
}

/// The codes of the offices in `region`.
pub async fn in_region(pool: &PgPool, region: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT code FROM offices WHERE region = $1 ORDER BY code")
        .bind(region)
        .fetch_all(pool)
        .await
}
