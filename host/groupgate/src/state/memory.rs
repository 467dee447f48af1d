//! Counters kept in the process: nothing to install, one count per process.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::sync::atomic::{AtomicU64, Ordering};

use super::window::{MAX_WINDOW_SECS, RESOLUTIONS, bucket, retention_secs};
use super::{Increment, MAX_DISTINCT_VALUES, Read, StateError, StateMetrics, StateStore};

/// The most series the memory store holds by default.
pub const MEMORY_MAX_SERIES: usize = 1_000_000;

/// Shards of the map, so requests on many threads rarely wait for each other.
const SHARDS: usize = 16;

/// Counters in the process's memory, lost when it stops.
///
/// Bounded: it holds at most `max_series` series (a counter for one user or
/// group). Buckets too old for any window read at their resolution are
/// dropped as a series is written, before its memory would grow, so a
/// series holds at most twice the buckets its windows need. When a new
/// series would pass the bound,
/// the tenth of the series written least recently is forgotten first (their
/// counts read zero from then on) and counted in
/// `groupgate_state_series_evicted_total`: the store keeps the users and
/// groups active now, and each eviction pays for a tenth of the bound's
/// worth of new series.
pub struct Memory {
    shards: Vec<Mutex<HashTable<Keyed>>>,
    /// Std's keyed hash (SipHash, seeded per process): ids come from the
    /// platform's users, so no one can choose them to collide. Worked out
    /// once per key, it picks both the shard and the place in it.
    hasher: RandomState,
    max_series: usize,
    series: AtomicU64,
    /// Writes so far: the order in which series were last written.
    writes: AtomicU64,
    evicted: AtomicU64,
    /// One eviction at a time.
    evicting: Mutex<()>,
}

/// A series and its key.
struct Keyed {
    key: String,
    series: Series,
}

/// One series: at each resolution, its newest bucket, kept in the series
/// itself, and the older ones, oldest first.
///
/// Why the newest apart: most increments land in the newest bucket of most
/// resolutions (a minute, an hour and a day hold many requests), and a
/// series is one small struct in its map while each level's buckets are a
/// block of memory elsewhere. With thousands of active users those blocks
/// are rarely in the processor's cache, and reaching one cost more than the
/// rest of an increment together.
#[derive(Default)]
struct Series {
    /// Per resolution: the newest bucket and its count (none while 0).
    heads: [(u64, u64); RESOLUTIONS.len()],
    /// Per resolution: the older buckets, oldest first.
    levels: [VecDeque<(u64, u64)>; RESOLUTIONS.len()],
    /// When it was last written, in the store's own order of writes (not
    /// request time, which a platform could send far ahead).
    written: u64,
    /// The newest request time written, unix milliseconds.
    newest_ms: u64,
    /// For a series of distinct values: each value and when it was last
    /// seen, unix milliseconds.
    #[allow(
        clippy::box_collection,
        reason = "one word in every series, where an empty map inline would be six: most series count events"
    )]
    values: Option<Box<HashMap<String, u64>>>,
}

/// How far ahead of a series' newest request an increment may be and still
/// be taken as the time to drop old buckets from: one dated further ahead (a
/// platform's clock gone wrong once, or a series quiet for longer) is kept,
/// but drops nothing, so it cannot make the others' buckets look old. (Time
/// that keeps coming from ahead is the series' time from then on.)
const SKEW_MS: u64 = 86_400_000;

impl Series {
    fn add(&mut self, at_ms: u64, amount: u64, written: u64) {
        self.written = written;
        let first = self.newest_ms == 0;
        let prune = first || at_ms <= self.newest_ms.saturating_add(SKEW_MS);
        self.newest_ms = self.newest_ms.max(at_ms);
        for ((head, level), &resolution) in self.heads.iter_mut().zip(&mut self.levels).zip(&RESOLUTIONS) {
            let b = bucket(at_ms, resolution);
            // Requests arrive nearly in time order: the bucket is the newest
            // one, or a new one after it; an older one is searched for.
            if head.1 == 0 || head.0 == b {
                *head = (b, head.1.saturating_add(amount));
            } else if head.0 < b {
                prune_full(level, b, resolution, prune);
                level.push_back(*head);
                *head = (b, amount);
            } else {
                // Older than the newest: after one dated far ahead, every
                // request until then lands here, so it prunes too.
                prune_full(level, b, resolution, prune);
                match level.iter().rposition(|&(existing, _)| existing <= b) {
                    Some(i) if level[i].0 == b => level[i].1 = level[i].1.saturating_add(amount),
                    Some(i) => level.insert(i + 1, (b, amount)),
                    None => level.push_front((b, amount)),
                }
            }
        }
    }

    /// Notes `value` as seen at `at_ms`; past [`MAX_DISTINCT_VALUES`], the
    /// values too old for any window are forgotten, then those seen least
    /// recently, down to nine tenths of the bound.
    fn see(&mut self, value: &str, at_ms: u64, written: u64) {
        self.written = written;
        self.newest_ms = self.newest_ms.max(at_ms);
        let values = self.values.get_or_insert_with(Box::default);
        match values.get_mut(value) {
            Some(last) => *last = (*last).max(at_ms),
            None => {
                values.insert(value.to_owned(), at_ms);
            }
        }
        if values.len() > MAX_DISTINCT_VALUES {
            let oldest_kept = self.newest_ms.saturating_sub(MAX_WINDOW_SECS * 1000);
            values.retain(|_, &mut last| last >= oldest_kept);
            if values.len() > MAX_DISTINCT_VALUES {
                // Exactly `cut` go, the oldest first: of values seen at the
                // threshold's very time, as many as are still to go (many
                // values may share a millisecond).
                let mut times: Vec<u64> = values.values().copied().collect();
                let cut = values.len() - MAX_DISTINCT_VALUES * 9 / 10;
                let (_, &mut threshold, _) = times.select_nth_unstable(cut - 1);
                let mut ties = cut - times.iter().filter(|&&t| t < threshold).count();
                values.retain(|_, &mut last| {
                    if last < threshold {
                        return false;
                    }
                    if last == threshold && ties > 0 {
                        ties -= 1;
                        return false;
                    }
                    true
                });
            }
        }
    }

    /// The distinct values seen within the read's window, with the read's
    /// own value among them.
    fn distinct(&self, read: &Read<'_>, with: Option<&str>) -> u64 {
        let (from, to) = distinct_range(read);
        let inside = |t: u64| t > from && t <= to;
        let Some(values) = &self.values else { return u64::from(with.is_some()) };
        let seen = values.values().filter(|&&t| inside(t)).count() as u64;
        let own = with.is_some_and(|v| !values.get(v).is_some_and(|&t| inside(t)));
        seen + u64::from(own)
    }

    fn sum(&self, read: &Read<'_>) -> u64 {
        let resolution = read.window.resolution();
        let level = RESOLUTIONS.iter().position(|&r| r == resolution).expect("a resolution of RESOLUTIONS");
        let range = read.window.buckets(read.at_ms);
        let head = self.heads[level];
        let newest = if range.contains(&head.0) { head.1 } else { 0 };
        // Newest last: walk back from the end to the window's first bucket.
        self.levels[level]
            .iter()
            .rev()
            .skip_while(|(b, _)| b > range.end())
            .take_while(|(b, _)| b >= range.start())
            .fold(newest, |sum, &(_, n)| sum.saturating_add(n))
    }
}

/// The times a distinct read counts, `(from, to]` in unix milliseconds:
/// the window's length, ending at the request's time.
fn distinct_range(read: &Read<'_>) -> (u64, u64) {
    (read.at_ms.saturating_sub(read.window.secs().saturating_mul(1000)), read.at_ms)
}

/// Drops the buckets of `level` too old for any window read at its
/// `resolution`, as seen from bucket `b`, unless `prune` is false (the
/// request is dated far ahead of the rest): only when the level is full,
/// before its memory would grow, so a level holds at most twice the buckets
/// it must keep and most increments never touch its oldest ones.
fn prune_full(level: &mut VecDeque<(u64, u64)>, b: u64, resolution: u64, prune: bool) {
    if prune && level.len() == level.capacity() {
        let oldest_kept = b.saturating_sub(retention_secs(resolution) / resolution);
        while level.front().is_some_and(|&(b, _)| b < oldest_kept) {
            level.pop_front();
        }
    }
}

impl Memory {
    /// A store holding at most [`MEMORY_MAX_SERIES`] series.
    pub fn new() -> Self {
        Memory::with_max_series(MEMORY_MAX_SERIES)
    }

    /// A store holding at most `max_series` series.
    pub fn with_max_series(max_series: usize) -> Self {
        Memory {
            shards: (0..SHARDS).map(|_| Mutex::new(HashTable::new())).collect(),
            hasher: RandomState::new(),
            max_series: max_series.max(1),
            series: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            evicting: Mutex::new(()),
        }
    }

    /// The hash of `series`, and its shard: picked by bits 40 to 43 of the
    /// hash, which a table of under 2^40 places does not use for the place
    /// (its low bits) nor for its tags (the top seven).
    fn shard(&self, series: &str) -> (u64, &Mutex<HashTable<Keyed>>) {
        let hash = self.hasher.hash_one(series);
        (hash, &self.shards[(hash >> 40) as usize % SHARDS])
    }

    /// Forgets the tenth (at least one) of the series written least
    /// recently, unless another thread has just made room.
    fn evict(&self) {
        let _one = self.evicting.lock().unwrap_or_else(|e| e.into_inner());
        if (self.series.load(Ordering::Relaxed) as usize) < self.max_series {
            return;
        }
        let mut newest: Vec<u64> = Vec::with_capacity(self.max_series);
        for shard in &self.shards {
            newest.extend(shard.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|k| k.series.written));
        }
        if newest.is_empty() {
            return;
        }
        let cut = (newest.len() / 10).max(1) - 1;
        let (_, &mut threshold, _) = newest.select_nth_unstable(cut);
        let mut left = cut + 1;
        for shard in &self.shards {
            let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|k| {
                let forget = left > 0 && k.series.written <= threshold;
                left -= usize::from(forget);
                !forget
            });
        }
        let gone = (cut + 1 - left) as u64;
        self.series.fetch_sub(gone, Ordering::Relaxed);
        self.evicted.fetch_add(gone, Ordering::Relaxed);
    }
}

impl Default for Memory {
    fn default() -> Self {
        Memory::new()
    }
}

impl StateStore for Memory {
    fn describe(&self) -> String {
        "memory".into()
    }

    fn read(&self, reads: &[Read<'_>], _timeout_ms: u64) -> Result<Vec<u64>, StateError> {
        let mut counts = Vec::with_capacity(reads.len());
        let mut rest = reads;
        // Reads of one series in a row (its windows) look it up once.
        while let Some(first) = rest.first() {
            let same = rest.iter().take_while(|r| r.series == first.series).count();
            let (hash, shard) = self.shard(first.series);
            let map = shard.lock().unwrap_or_else(|e| e.into_inner());
            let series = map.find(hash, |k| k.key == first.series).map(|k| &k.series);
            counts.extend(rest[..same].iter().map(|read| match (read.distinct, series) {
                (Some(d), Some(s)) => s.distinct(read, d.with),
                (Some(d), None) => u64::from(d.with.is_some()),
                (None, Some(s)) => s.sum(read),
                (None, None) => 0,
            }));
            rest = &rest[same..];
        }
        Ok(counts)
    }

    fn apply(&self, increments: &[Increment], _timeout_ms: u64) -> Result<(), StateError> {
        for inc in increments.iter().filter(|inc| inc.amount > 0) {
            let written = self.writes.fetch_add(1, Ordering::Relaxed);
            let (hash, shard) = self.shard(&inc.series);
            let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
            let add = |series: &mut Series| match &inc.value {
                Some(value) => series.see(value, inc.at_ms, written),
                None => series.add(inc.at_ms, inc.amount, written),
            };
            if let Some(k) = map.find_mut(hash, |k| k.key == inc.series) {
                add(&mut k.series);
                continue;
            }
            if self.series.load(Ordering::Relaxed) as usize >= self.max_series {
                drop(map);
                self.evict();
                map = shard.lock().unwrap_or_else(|e| e.into_inner());
            }
            // Another thread may have made the series while the lock was let go.
            let rehash = |k: &Keyed| self.hasher.hash_one(&k.key);
            match map.entry(hash, |k| k.key == inc.series, rehash) {
                Entry::Occupied(mut e) => add(&mut e.get_mut().series),
                Entry::Vacant(v) => {
                    let mut series = Series::default();
                    add(&mut series);
                    v.insert(Keyed { key: inc.series.clone(), series });
                    self.series.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    fn metrics(&self) -> StateMetrics {
        StateMetrics {
            errors: 0,
            increments_dropped: 0,
            increments_pending: 0,
            series: Some(self.series.load(Ordering::Relaxed)),
            series_limit: Some(self.max_series as u64),
            series_evicted: Some(self.evicted.load(Ordering::Relaxed)),
        }
    }

    fn waits(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Distinct, Window};

    fn read(store: &Memory, series: &str, window: &str, at_ms: u64) -> u64 {
        let window = Window::parse(window).unwrap();
        store.read(&[Read::events(series, &window, at_ms)], 0).unwrap()[0]
    }

    fn add(store: &Memory, series: &str, at_ms: u64) {
        store.apply(&[Increment::events(series, 1, at_ms)], 0).unwrap();
    }

    #[test]
    fn a_window_counts_what_fell_inside_it_and_forgets_the_rest() {
        let store = Memory::new();
        let day = 86_400_000;
        // Twenty events a second apart, from t = 1000 s.
        for i in 0..20 {
            add(&store, "s", 1_000_000 + i * 1000);
        }
        assert_eq!(read(&store, "s", "60s", 1_019_500), 20);
        assert_eq!(read(&store, "s", "60s", 1_069_500), 10, "the first ten are more than 60 s old");
        assert_eq!(read(&store, "s", "60s", 1_100_000), 0);
        assert_eq!(read(&store, "s", "24h", 1_100_000), 20);
        assert_eq!(read(&store, "s", "24h", 1_000_000 + 2 * day), 0);
        assert_eq!(read(&store, "s", "30d", 1_000_000 + 2 * day), 20);
        assert_eq!(read(&store, "other", "30d", 1_000_000), 0);
        // An event out of order lands in its own bucket.
        add(&store, "s", 1_005_500);
        assert_eq!(read(&store, "s", "60s", 1_019_500), 21);
    }

    #[test]
    fn counts_match_every_event_in_the_window_in_or_out_of_order_and_memory_stays_bounded() {
        let store = Memory::new();
        let mut events: Vec<u64> = Vec::new();
        let mut at = 1_000_000_000_u64;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            // Mostly forward by up to 20 s; one in ten up to an hour back.
            let r = next();
            let t = if r % 10 == 0 { at.saturating_sub(r % 3_600_000) } else { at + r % 20_000 };
            at = at.max(t);
            add(&store, "s", t);
            events.push(t);
        }
        for window in ["60s", "15m", "24h", "30d"] {
            let w = Window::parse(window).unwrap();
            let range = w.buckets(at);
            let expected = events.iter().filter(|&&t| range.contains(&bucket(t, w.resolution()))).count() as u64;
            assert_eq!(read(&store, "s", window, at), expected, "{window}");
        }
        let map = store.shard("s").1.lock().unwrap();
        let series = &map.iter().next().unwrap().series;
        for (level, &resolution) in series.levels.iter().zip(&RESOLUTIONS) {
            let keep = (retention_secs(resolution) / resolution) as usize + 1;
            assert!(level.len() <= 2 * keep, "{} buckets of {resolution} s kept", level.len());
        }
    }

    #[test]
    fn after_a_request_dated_far_ahead_a_series_stays_bounded() {
        let store = Memory::new();
        add(&store, "s", 1_000_000);
        add(&store, "s", 4_102_444_800_000); // 2100: the newest bucket of every resolution
        // A day of requests a second apart, each older than that one.
        for i in 0..86_400 {
            add(&store, "s", 1_000_000 + i * 1000);
        }
        assert_eq!(read(&store, "s", "60s", 1_000_000 + 86_399_500), 60);
        let map = store.shard("s").1.lock().unwrap();
        let series = &map.iter().next().unwrap().series;
        let keep = (retention_secs(1) + 1) as usize;
        assert!(series.levels[0].len() <= 2 * keep, "{} buckets of a second kept", series.levels[0].len());
    }

    #[test]
    fn a_request_dated_far_ahead_does_not_erase_the_others_counts() {
        let store = Memory::new();
        for i in 0..3 {
            add(&store, "s", 1_000_000 + i * 1000);
        }
        add(&store, "s", 4_102_444_800_000); // 2100
        add(&store, "s", 1_003_000);
        assert_eq!(read(&store, "s", "60s", 1_003_500), 4);
        assert_eq!(read(&store, "s", "30d", 1_003_500), 4);
        assert_eq!(read(&store, "s", "24h", 4_102_444_800_000), 1);
    }

    #[test]
    fn distinct_values_count_once_each_within_the_window_with_the_requests_own() {
        let store = Memory::new();
        let window = Window::parse("24h").unwrap();
        let hour = 3_600_000;
        let read = |at_ms: u64, with: Option<&str>| {
            let read = Read { series: "d", window: &window, at_ms, distinct: Some(Distinct { with }) };
            store.read(&[read], 0).unwrap()[0]
        };
        assert_eq!((read(hour, None), read(hour, Some("a"))), (0, 1), "nothing seen: the request's own value alone");
        for (value, at) in [("a", hour), ("a", 2 * hour), ("b", 3 * hour), ("a", 4 * hour)] {
            store.apply(&[Increment::distinct("d", value, at)], 0).unwrap();
        }
        assert_eq!(read(5 * hour, None), 2, "a seen three times counts once");
        assert_eq!(read(5 * hour, Some("a")), 2, "a value already counted is not counted again");
        assert_eq!(read(5 * hour, Some("c")), 3);
        // b was last seen at 3 h, a at 4 h: at 27 h 30 min only a is within 24 h.
        assert_eq!(read(27 * hour + hour / 2, None), 1);
        assert_eq!(read(27 * hour + hour / 2, Some("b")), 2);
        assert_eq!(read(29 * hour, None), 0);
        // An events read of another series is unaffected.
        assert_eq!(read_events(&store), 0);
    }

    fn read_events(store: &Memory) -> u64 {
        read(store, "other", "24h", 0)
    }

    #[test]
    fn a_series_of_distinct_values_stays_bounded() {
        let mut series = Series::default();
        for i in 0..(MAX_DISTINCT_VALUES as u64 + 10) {
            series.see(&i.to_string(), 1_000_000 + i, i);
        }
        let values = series.values.as_ref().unwrap();
        assert!(values.len() <= MAX_DISTINCT_VALUES, "{}", values.len());
        // Values seen in one millisecond are cut all the same.
        let mut tied = Series::default();
        for i in 0..(MAX_DISTINCT_VALUES as u64 + 10) {
            tied.see(&i.to_string(), 1_000_000, i);
        }
        assert_eq!(tied.values.as_ref().unwrap().len(), MAX_DISTINCT_VALUES * 9 / 10 + 9);
        assert!(values.contains_key(&(MAX_DISTINCT_VALUES as u64 + 9).to_string()), "the newest value is kept");
        assert!(!values.contains_key("0"), "the oldest is forgotten");
    }

    #[test]
    fn a_full_store_forgets_the_series_written_least_recently() {
        let store = Memory::with_max_series(20);
        for i in 0..20 {
            add(&store, &format!("s{i}"), i * 1000);
        }
        add(&store, "s0", 100_000);
        // The twenty-first series: two (a tenth) are forgotten first, the
        // least recently written, s1 and s2 (s0 was just written).
        add(&store, "new", 101_000);
        let m = store.metrics();
        assert_eq!((m.series, m.series_evicted), (Some(19), Some(2)));
        assert_eq!(read(&store, "s1", "30d", 101_000), 0);
        assert_eq!(read(&store, "s2", "30d", 101_000), 0);
        assert_eq!(read(&store, "s0", "30d", 101_000), 2);
        assert_eq!(read(&store, "s3", "30d", 101_000), 1);
        assert_eq!(read(&store, "new", "30d", 101_000), 1);
    }
}
