//! Times and durations as the whole numbers that records, reports and
//! metrics carry. Each saturates rather than wraps.

use std::time::{Duration, SystemTime};

/// Whole microseconds.
pub fn whole_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Whole milliseconds.
pub fn whole_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Unix milliseconds (0 for a time before 1970).
pub fn unix_millis(t: SystemTime) -> u64 {
    whole_millis(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
}
