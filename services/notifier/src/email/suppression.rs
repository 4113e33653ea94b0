//! Addresses no e-mail goes to (bounces, complaints, unsubscriptions), and each address's
//! unsubscribe token. Addresses are kept lower-case.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Bounce,
    Complaint,
    Unsubscribe,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
            Self::Unsubscribe => "unsubscribe",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Bounce, Self::Complaint, Self::Unsubscribe]
            .into_iter()
            .find(|reason| reason.as_str() == text)
    }
}

pub fn normalise(address: &str) -> String {
    address.trim().to_lowercase()
}

pub async fn is_suppressed(connection: &mut PgConnection, address: &str) -> sqlx::Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM suppressions WHERE address = $1")
            .bind(normalise(address))
            .fetch_optional(connection)
            .await?
            .is_some(),
    )
}

/// Records (or updates) the address's suppression; returns it as stored.
pub async fn record(
    connection: &mut PgConnection,
    address: &str,
    reason: Reason,
    detail: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<(String, String, String, DateTime<Utc>)> {
    sqlx::query_as(
        "INSERT INTO suppressions (address, reason, detail, recorded_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (address) DO UPDATE SET reason = $2, detail = $3, recorded_at = $4
         RETURNING address, reason, detail, recorded_at",
    )
    .bind(normalise(address))
    .bind(reason.as_str())
    .bind(detail)
    .bind(now)
    .fetch_one(connection)
    .await
}

pub async fn remove(connection: &mut PgConnection, address: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM suppressions WHERE address = $1")
        .bind(normalise(address))
        .execute(connection)
        .await?
        .rows_affected()
        > 0)
}

/// The address's unsubscribe token, made on first use.
pub async fn token_for(connection: &mut PgConnection, address: &str) -> sqlx::Result<String> {
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query_scalar(
        "INSERT INTO contacts (address, unsubscribe_token) VALUES ($1, $2)
         ON CONFLICT (address) DO UPDATE SET address = EXCLUDED.address RETURNING unsubscribe_token",
    )
    .bind(normalise(address))
    .bind(fresh)
    .fetch_one(connection)
    .await
}

/// The address an unsubscribe token stands for.
pub async fn address_of(
    connection: &mut PgConnection,
    token: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT address FROM contacts WHERE unsubscribe_token = $1")
        .bind(token)
        .fetch_optional(connection)
        .await
}
