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

/// `None` for a missing or out-of-range timestamp. Nanos past a second are refused as the
/// protobuf Timestamp refuses them (chrono would read them as a leap second at :59).
pub fn from_timestamp(timestamp: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let timestamp = timestamp?;
    let nanos = u32::try_from(timestamp.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)?;
    DateTime::from_timestamp(timestamp.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_valid_protobuf_timestamp_is_read() {
        let at = |seconds, nanos| from_timestamp(Some(&Timestamp { seconds, nanos }));
        // 1780000019 is at :59, where chrono would take 1.5 s of nanos for a leap second.
        assert!(
            at(1_780_000_019, 1_500_000_000).is_none(),
            "found by the fuzz target"
        );
        assert!(at(1_780_000_019, -1).is_none());
        assert_eq!(
            at(1_780_000_019, 999_999_999).map(|time| time.timestamp_subsec_nanos()),
            Some(999_999_999)
        );
        assert!(from_timestamp(None).is_none());
    }
}
