//! Conversions between chrono and protobuf timestamps.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

pub fn timestamp_now() -> Timestamp {
    to_timestamp(Utc::now())
}

pub fn to_timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// `None` for a missing or out-of-range timestamp.
pub fn from_timestamp(timestamp: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let timestamp = timestamp?;
    DateTime::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
}
