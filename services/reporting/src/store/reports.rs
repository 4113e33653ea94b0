//! The frozen monthly reports: written once (a trigger refuses any change), listed, read.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listing {
    pub month: NaiveDate,
    pub region_code: String,
    pub label: String,
    pub frozen_at: DateTime<Utc>,
    pub generation: i32,
    pub stream_offset: i64,
    pub newest_event_at: Option<DateTime<Utc>>,
}

pub struct Frozen<'a> {
    pub month: NaiveDate,
    pub region_code: &'a str,
    pub label: &'a str,
    pub frozen_at: DateTime<Utc>,
    pub generation: i32,
    pub stream_offset: i64,
    pub newest_event_at: Option<DateTime<Utc>>,
    pub small_cell_threshold: u32,
    pub report: Vec<u8>,
}

/// Stores a report unless one is already frozen for that month and scope (another replica
/// was first); answers whether this one was stored.
pub async fn freeze(pool: &PgPool, report: &Frozen<'_>) -> sqlx::Result<bool> {
    let stored = sqlx::query(
        "INSERT INTO monthly_reports (month, region_code, label, frozen_at, generation, stream_offset,
                                      newest_event_at, small_cell_threshold, report)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(report.month)
    .bind(report.region_code)
    .bind(report.label)
    .bind(report.frozen_at)
    .bind(report.generation)
    .bind(report.stream_offset)
    .bind(report.newest_event_at)
    .bind(i32::try_from(report.small_cell_threshold).unwrap_or(i32::MAX))
    .bind(&report.report)
    .execute(pool)
    .await?;
    Ok(stored.rows_affected() == 1)
}

pub async fn frozen_months(pool: &PgPool) -> sqlx::Result<Vec<NaiveDate>> {
    sqlx::query_scalar("SELECT DISTINCT month FROM monthly_reports WHERE region_code = 'IT'")
        .fetch_all(pool)
        .await
}

/// Newest first; only the scopes in `regions` (None: all).
pub async fn list(pool: &PgPool, regions: Option<&[String]>) -> sqlx::Result<Vec<Listing>> {
    sqlx::query_as(
        "SELECT month, region_code, label, frozen_at, generation, stream_offset, newest_event_at
         FROM monthly_reports
         WHERE $1::text[] IS NULL OR region_code = ANY($1)
         ORDER BY month DESC, region_code",
    )
    .bind(regions)
    .fetch_all(pool)
    .await
}

pub async fn get(
    pool: &PgPool,
    month: NaiveDate,
    region_code: &str,
) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT report FROM monthly_reports WHERE month = $1 AND region_code = $2")
        .bind(month)
        .bind(region_code)
        .fetch_optional(pool)
        .await
}
