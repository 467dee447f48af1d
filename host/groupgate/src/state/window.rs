//! Time windows and the buckets a counter is kept in.
//!
//! A counter is a series of events in time. A store keeps each series in
//! buckets at four resolutions (1 s, 1 min, 1 h and 1 day) and reads a
//! window as the sum of whole buckets at the coarsest resolution no longer
//! than a twentieth of the window: a `60s` window in 60 buckets of 1 s, `24h`
//! in 24 of 1 h, `30d` in 30 of 1 day (a window is a whole number of its
//! buckets: `2000s` is refused, `33m` is not). The buckets read are those of
//! the window's length that end with the one holding the request's time, so
//! a count never includes an event older than the window, and may leave out
//! events at its far edge up to one bucket (at most 5% of the window) late.
//! Time is the request's own (`sent_at`, `requested_at`), never the
//! machine's clock, so a count depends only on the requests a store saw.

use std::fmt;

/// Bucket lengths in seconds, finest first.
pub const RESOLUTIONS: [u64; 4] = [1, 60, 3_600, 86_400];

/// The longest window a counter may read: 400 days.
pub const MAX_WINDOW_SECS: u64 = 400 * 86_400;

/// How many buckets of the chosen resolution a window at least spans.
const BUCKETS_PER_WINDOW: u64 = 20;

/// A window a counter is read over, as a manifest writes it (`60s`, `15m`,
/// `24h`, `30d`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    text: String,
    secs: u64,
}

impl Window {
    /// Parses `NUMBER` followed by `s`, `m`, `h` or `d`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let unit_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(unit_at);
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => {
                return Err(format!("window `{text}`: expected a number and a unit, s, m, h or d (e.g. `60s`, `24h`)"));
            }
        };
        let n: u64 = number.parse().map_err(|_| format!("window `{text}`: expected a whole number before the unit"))?;
        let secs = n.checked_mul(scale).filter(|&s| s > 0 && s <= MAX_WINDOW_SECS).ok_or_else(|| {
            format!("window `{text}`: must be at least 1 s and at most {} days", MAX_WINDOW_SECS / 86_400)
        })?;
        let window = Window { text: text.to_owned(), secs };
        // Whole buckets, so that the window read is the window written.
        let resolution = window.resolution();
        if secs % resolution != 0 {
            let (unit, name) = match resolution {
                60 => ("m", "minutes"),
                3_600 => ("h", "hours"),
                _ => ("d", "days"),
            };
            return Err(format!(
                "window `{text}`: a window this long is counted in whole {name}; write it in whole {name}, \
                 e.g. `{}{unit}`",
                secs / resolution
            ));
        }
        Ok(window)
    }

    /// The window as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its length in seconds.
    pub fn secs(&self) -> u64 {
        self.secs
    }

    /// The resolution it is read at: the coarsest bucket no longer than a
    /// twentieth of the window.
    pub fn resolution(&self) -> u64 {
        RESOLUTIONS.iter().rev().copied().find(|&r| r * BUCKETS_PER_WINDOW <= self.secs).unwrap_or(RESOLUTIONS[0])
    }

    /// The buckets (at [`Window::resolution`]) a read at `at_ms` sums: from
    /// the first to the last, inclusive.
    pub fn buckets(&self, at_ms: u64) -> std::ops::RangeInclusive<u64> {
        let resolution = self.resolution();
        let last = bucket(at_ms, resolution);
        let count = self.secs.div_ceil(resolution);
        last.saturating_sub(count - 1)..=last
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The bucket of `resolution` seconds that holds `at_ms`.
pub fn bucket(at_ms: u64, resolution: u64) -> u64 {
    at_ms / 1000 / resolution
}

/// How long a store must keep a bucket of `resolution` seconds: as long as
/// the longest window read at that resolution (the next resolution's switch
/// point, or [`MAX_WINDOW_SECS`] for the coarsest).
pub fn retention_secs(resolution: u64) -> u64 {
    RESOLUTIONS.iter().copied().find(|&r| r > resolution).map_or(MAX_WINDOW_SECS, |next| next * BUCKETS_PER_WINDOW)
        + resolution
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_their_units_and_refuse_the_rest() {
        assert_eq!(Window::parse("60s").unwrap().secs(), 60);
        assert_eq!(Window::parse("15m").unwrap().secs(), 900);
        assert_eq!(Window::parse("24h").unwrap().secs(), 86_400);
        assert_eq!(Window::parse("30d").unwrap().secs(), 2_592_000);
        for bad in ["", "60", "s", "1w", "-1s", "0s", "1.5h", "401d", "99999999999999999999s", "2000s", "1250m", "500h"]
        {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_is_read_in_at_least_twenty_buckets_of_the_coarsest_resolution() {
        let resolution = |w: &str| Window::parse(w).unwrap().resolution();
        assert_eq!(resolution("60s"), 1);
        assert_eq!(resolution("19m"), 1);
        assert_eq!(resolution("20m"), 60);
        assert_eq!(resolution("24h"), 3_600);
        assert_eq!(resolution("30d"), 86_400);
        let w = Window::parse("60s").unwrap();
        // At 100.5 s: buckets 41..=100, sixty of them.
        assert_eq!(w.buckets(100_500), 41..=100);
        let day = Window::parse("24h").unwrap();
        assert_eq!(day.buckets(0), 0..=0);
        assert_eq!(day.buckets(30 * 3_600_000).count(), 24);
    }

    #[test]
    fn a_bucket_is_kept_as_long_as_the_longest_window_read_at_its_resolution() {
        assert_eq!(retention_secs(1), 1_200 + 1);
        assert_eq!(retention_secs(86_400), MAX_WINDOW_SECS + 86_400);
        for text in ["1s", "19m", "20m", "19h", "20h", "19d", "20d", "400d"] {
            let w = Window::parse(text).unwrap();
            assert!(retention_secs(w.resolution()) >= w.secs(), "{text}");
        }
    }
}
