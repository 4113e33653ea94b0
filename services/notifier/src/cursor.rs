//! The keyset cursor of the newest-first lists (notices, deliveries): the last row's time and id.

use chrono::{DateTime, Utc};
use combipat_platform::{ApiError, Violation};
use uuid::Uuid;

pub fn format(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}.{id}", at.timestamp_micros())
}

pub fn parse(token: &str) -> Result<Option<(DateTime<Utc>, Uuid)>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ApiError::InvalidArgument(vec![Violation::new(
            "page_token",
            "is not a token this service gave",
        )])
    };
    let (micros, id) = token.split_once('.').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok(Some((at, Uuid::parse_str(id).map_err(|_| bad())?)))
}

/// The page size asked for: 0 means 20, at most 100.
pub fn page_size(asked: u32) -> Result<usize, ApiError> {
    match asked {
        0 => Ok(20),
        1..=100 => Ok(usize::try_from(asked).unwrap_or(100)),
        _ => Err(ApiError::InvalidArgument(vec![Violation::new(
            "page_size",
            "at most 100",
        )])),
    }
}
