//! Counters kept in Redis, so that several groupgate replicas see one count.
//!
//! [`RedisState`] is a [`StateStore`] with the same windows, buckets and
//! counts as the in-process [`Memory`](groupgate::state::Memory) store (see
//! [`groupgate::state::window`]): given the same increments and reads (at or
//! after the times written, as the host makes them) it answers the same
//! counts.
//!
//! # Keys and expiry
//!
//! Each bucket is one Redis string holding an integer, under the key
//! `gg:SERIES:RESOLUTION:BUCKET`: the series' key (already namespaced and
//! escaped by the host), the bucket's length in seconds (1, 60, 3600 or
//! 86400) and its number ([`bucket`]). Resolution and bucket are
//! decimal numbers without a colon, so reading a key from its right end gives
//! back its three parts: no two (series, resolution, bucket) share a key, even
//! when a series holds colons, and the four resolutions never mix. An
//! increment adds its amount to its bucket at every resolution (`INCRBY`) and
//! sets each bucket's time to live to [`retention_secs`] of its
//! resolution (`EXPIRE`): as long as the longest window read at that
//! resolution, counted from the bucket's last write. Redis thus forgets what
//! no window can read any more, and nothing else is kept: a series that is no
//! longer written disappears bucket by bucket, at most 401 days after its
//! last write. Expiry follows Redis's clock while buckets follow the
//! requests' times; they agree as long as requests carry times near the
//! present, which is what the host gives.
//!
//! # Round trips
//!
//! A [`read`](StateStore::read) sends one `MGET` per read (the keys of the
//! window's buckets at its resolution; missing keys count zero) and an
//! [`apply`](StateStore::apply) one `INCRBY` and one `EXPIRE` per increment
//! and resolution, each call as one pipeline: one round trip, whatever the
//! number of reads or increments. An apply is a transaction (`MULTI` …
//! `EXEC`, in the same round trip), so that a batch that fails is either
//! applied whole or not at all, never half, before it is kept to be sent
//! again. Opening a connection costs one more round trip (the client's
//! handshake), but connections are kept: up to [`IDLE_CONNECTIONS`] idle
//! ones, each call taking one and giving it back when it succeeds. A
//! connection that failed in any way is dropped (its protocol state is
//! unknown); one that was refused or cut makes every idle one dropped too, as
//! they went to the same server. A call whose kept connection turns out cut
//! (Redis restarted, or closes idle connections) is tried once more on a new
//! connection within the same timeout: a connect and a second round trip,
//! rather than a failed request.
//!
//! # Timeouts
//!
//! Every call is bounded by its `timeout_ms`: connecting (the TCP connect and
//! the handshake), then each write and read of the request, are given what
//! remains of it, so a call takes about `timeout_ms` at most (a name to look
//! up, as `localhost`, is resolved by the system, unbounded; give an address
//! to avoid it). A request that timed out leaves its connection dropped.
//!
//! While Redis cannot be reached, at most one connection attempt is made
//! every [`RECONNECT_INTERVAL`]: the calls in between fail at once, saying
//! why the last attempt failed, rather than each waiting for a connect of
//! its own. A Redis that comes back is picked up by the next attempt; nothing
//! needs restarting. A Redis that is down when groupgate starts does not stop
//! it from starting: [`RedisState::connect`] only checks the URL, and the
//! first call connects.
//!
//! # Buffering and what is dropped
//!
//! An apply that fails keeps its increments in a buffer in the process, and
//! returns the error (counted in [`StateMetrics::errors`]). Every later apply
//! sends, in the same transaction as its own increments, up to
//! [`FLUSH_PER_APPLY`] kept increments, oldest first, until none is left; a
//! bounded number, so that an apply after a long outage stays within its
//! timeout and the buffer drains over the next applies. Reads do not send
//! them: a read is on the request's path, before its policies run, and is
//! kept as short as it can be; the buffer is flushed by applies only, and
//! stays as it is while none comes. An increment sent with a batch that
//! failed after Redis received it (the answer came too late) may have been
//! applied, and is applied again: while the process runs, counts err on the
//! high side rather than lose an increment that fit in the buffer.
//!
//! Increments to one series within one second land in the same buckets at
//! every resolution, so the buffer keeps them as one entry with their summed
//! amount. It holds at most [`BUFFER_LIMIT`] entries: an increment that needs
//! a new entry when it is full is dropped, and counted in
//! [`StateMetrics::increments_dropped`]. What is kept is counted in
//! [`StateMetrics::increments_pending`] (increments, not entries) and is lost
//! if the process stops. Amounts are added saturating at `i64::MAX`, the
//! largest a Redis integer holds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use groupgate::state::window::{RESOLUTIONS, bucket, retention_secs};
use groupgate::state::{Increment, Read, StateError, StateMetrics, StateStore};
use redis::{Client, Connection, ConnectionAddr, Pipeline, RedisError};

/// The most entries the buffer of unapplied increments holds (one per series
/// and second): about 100 bytes each plus the series' key, so some 20 MB at
/// most, and what a host answering 1,000 requests a second, each counted for
/// a different user, applies in a minute and a half of outage.
pub const BUFFER_LIMIT: usize = 100_000;

/// The most buffered entries one apply sends besides its own increments:
/// 8,000 commands in one transaction, a small share of a call's usual 50 ms
/// for Redis, and a pause short enough for its other clients.
pub const FLUSH_PER_APPLY: usize = 1_000;

/// While Redis cannot be reached, the least time between two connection
/// attempts.
pub const RECONNECT_INTERVAL: Duration = Duration::from_millis(250);

/// The most idle connections kept for the next calls: enough for the
/// threads that read and apply at once; more are closed when given back.
pub const IDLE_CONNECTIONS: usize = 16;

/// Counters in a Redis server: see the [crate] documentation.
pub struct RedisState {
    client: Client,
    description: String,
    idle: Mutex<Vec<Connection>>,
    link: Mutex<Link>,
    buffer: Mutex<Buffer>,
    /// Buffered increments an apply has taken out of the buffer to send:
    /// still pending until Redis has them.
    in_flight: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
}

/// What the store knows of its way to Redis.
#[derive(Default)]
struct Link {
    /// The last connection attempt failed, or a connection was refused or
    /// cut since: attempts are spaced by [`RECONNECT_INTERVAL`].
    down: bool,
    /// When a connection attempt last started or failed; none since a
    /// connection was lost, so that the next call tries at once.
    last_attempt: Option<Instant>,
    /// Why Redis is down, for the calls that fail without trying.
    last_error: String,
    /// "Unreachable" was logged, and "reachable again" is to be: once each
    /// per outage, not once per call.
    warned: bool,
}

/// Increments kept while they cannot be applied, by (second, series): the
/// oldest first.
struct Buffer {
    entries: BTreeMap<(u64, String), Kept>,
    limit: usize,
    /// The increments the entries hold.
    increments: u64,
}

/// One buffer entry: the summed amount of `increments` increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    amount: u64,
    increments: u64,
}

impl Buffer {
    /// Keeps `kept` for `series` at `second`: returns how many increments
    /// were dropped (none, or all of them when a new entry does not fit).
    fn keep(&mut self, second: u64, series: &str, kept: Kept) -> u64 {
        let key = (second, series.to_owned());
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.amount = entry.amount.saturating_add(kept.amount);
            entry.increments += kept.increments;
        } else if self.entries.len() < self.limit {
            self.entries.insert(key, kept);
        } else {
            return kept.increments;
        }
        self.increments += kept.increments;
        0
    }

    /// Takes up to `n` entries, the oldest first.
    fn take(&mut self, n: usize) -> Vec<((u64, String), Kept)> {
        let mut taken = Vec::with_capacity(n.min(self.entries.len()));
        while taken.len() < n
            && let Some(entry) = self.entries.pop_first()
        {
            self.increments -= entry.1.increments;
            taken.push(entry);
        }
        taken
    }
}

/// A mutex's guard, even if a thread panicked holding it: each one guards
/// data that a panic cannot leave half written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The key of one bucket (see the crate documentation for why it is unique).
pub fn key(series: &str, resolution: u64, bucket: u64) -> String {
    format!("gg:{series}:{resolution}:{bucket}")
}

/// Adds to `pipe` the commands that apply `amount` to `series` at `at_ms`.
fn add_increment(pipe: &mut Pipeline, series: &str, at_ms: u64, amount: u64) {
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    for resolution in RESOLUTIONS {
        let key = key(series, resolution, bucket(at_ms, resolution));
        pipe.cmd("INCRBY").arg(&key).arg(amount).ignore();
        pipe.cmd("EXPIRE").arg(&key).arg(retention_secs(resolution)).ignore();
    }
}

/// An error of a request, in words.
fn explain(error: &RedisError, timeout_ms: u64) -> String {
    if error.is_timeout() { format!("no answer within {timeout_ms} ms") } else { error.to_string() }
}

/// Why a call failed, and whether Redis answered it (with an error): a
/// transaction it answered ran, its other commands applied, so it is not
/// sent again.
struct CallError {
    message: String,
    answered: bool,
}

impl CallError {
    fn unsent(message: String) -> CallError {
        CallError { message, answered: false }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Whether `error` says the server refused or cut the connection, rather
/// than answering an error or being slow: the other idle connections to it
/// are then as good as gone.
fn is_lost(error: &RedisError) -> bool {
    !error.is_timeout() && (error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal())
}

impl RedisState {
    /// A store in the Redis at `url`, `redis://HOST:PORT[/DB]` (a password as
    /// `redis://:PASSWORD@HOST:PORT`; the port is 6379 when not given). Only
    /// the URL is checked: the first call connects, so a Redis that is down
    /// does not stop the host from starting.
    pub fn connect(url: &str) -> Result<RedisState, StateError> {
        RedisState::with_buffer_limit(url, BUFFER_LIMIT)
    }

    /// [`RedisState::connect`] with a buffer of `limit` entries, for tests.
    #[doc(hidden)]
    pub fn with_buffer_limit(url: &str, limit: usize) -> Result<RedisState, StateError> {
        let invalid = |why: String| StateError {
            store: "redis".into(),
            message: format!("invalid URL `{}`: {why} (expected redis://HOST:PORT[/DB])", without_password(url)),
        };
        if !url.starts_with("redis://") {
            return Err(invalid("the scheme must be redis://".into()));
        }
        let client = Client::open(url).map_err(|e| invalid(e.to_string()))?;
        let info = client.get_connection_info();
        let ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Err(invalid("expected a TCP address".into()));
        };
        let db = info.redis_settings().db();
        if db < 0 {
            return Err(invalid(format!("database {db} is negative")));
        }
        let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
        Ok(RedisState {
            description: format!("redis://{host}:{port}/{db}"),
            client,
            idle: Mutex::new(Vec::new()),
            link: Mutex::new(Link::default()),
            buffer: Mutex::new(Buffer { entries: BTreeMap::new(), limit, increments: 0 }),
            in_flight: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Runs `request` on a connection within `timeout_ms`.
    fn call<T>(
        &self,
        timeout_ms: u64,
        request: impl Fn(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, CallError> {
        let timeout_ms = timeout_ms.max(1);
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let mut retried = false;
        loop {
            let (mut connection, kept) = self.connection(deadline, timeout_ms).map_err(CallError::unsent)?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                self.give_back(connection);
                return Err(CallError::unsent(format!(
                    "no time left to ask after connecting (timeout {timeout_ms} ms)"
                )));
            }
            let result = connection
                .set_read_timeout(Some(remaining))
                .and_then(|()| connection.set_write_timeout(Some(remaining)))
                .and_then(|()| request(&mut connection));
            let error = match result {
                Ok(answer) => {
                    self.give_back(connection);
                    return Ok(answer);
                }
                Err(error) => error,
            };
            let message = explain(&error, timeout_ms);
            if !is_lost(&error) {
                // Redis answered with an error: it had the request.
                let answered = !error.is_timeout() && !error.is_io_error();
                return Err(CallError { message, answered });
            }
            self.lost(&message);
            // A kept connection that the server closed since its last use (it
            // restarted, or closes idle connections) did not take the request:
            // once more on a new one, within the same deadline.
            if !kept || retried || Instant::now() >= deadline {
                return Err(CallError::unsent(message));
            }
            retried = true;
        }
    }

    /// An idle connection (and `true`), or a new one (and `false`) unless an
    /// attempt was made less than [`RECONNECT_INTERVAL`] ago while Redis is
    /// down.
    fn connection(&self, deadline: Instant, timeout_ms: u64) -> Result<(Connection, bool), String> {
        if let Some(connection) = lock(&self.idle).pop() {
            return Ok((connection, true));
        }
        {
            let mut link = lock(&self.link);
            let now = Instant::now();
            if link.down
                && let Some(at) = link.last_attempt
                && now.duration_since(at) < RECONNECT_INTERVAL
            {
                let wait = RECONNECT_INTERVAL - now.duration_since(at);
                return Err(format!(
                    "unreachable ({}); the next connection attempt is in {} ms at most",
                    link.last_error,
                    wait.as_millis().max(1)
                ));
            }
            // Claimed under the lock: while Redis is down, the calls that
            // come during this attempt fail at once rather than try too.
            link.last_attempt = Some(now);
        }
        let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        match self.client.get_connection_with_timeout(remaining) {
            Ok(connection) => {
                let mut link = lock(&self.link);
                link.down = false;
                if std::mem::take(&mut link.warned) {
                    tracing::info!(store = %self.description, "Redis is reachable again");
                }
                Ok((connection, false))
            }
            Err(error) => {
                let message = format!("cannot connect: {}", explain(&error, timeout_ms));
                let mut link = lock(&self.link);
                if !std::mem::replace(&mut link.warned, true) {
                    tracing::warn!(store = %self.description, error = %message, "Redis is unreachable");
                }
                link.down = true;
                link.last_error = message.clone();
                link.last_attempt = Some(Instant::now());
                Err(message)
            }
        }
    }

    /// Keeps a connection that answered, up to [`IDLE_CONNECTIONS`].
    fn give_back(&self, connection: Connection) {
        let mut idle = lock(&self.idle);
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(connection);
        }
    }

    /// A connection was refused or cut: the idle ones went to the same
    /// server and are dropped. The next call tries to connect at once (a
    /// Redis that restarted answers it), and only the calls during that
    /// attempt, or after it failed, wait for the next one.
    fn lost(&self, message: &str) {
        let idle = std::mem::take(&mut *lock(&self.idle));
        drop(idle);
        tracing::debug!(store = %self.description, error = %message, "lost a connection to Redis");
        let mut link = lock(&self.link);
        link.down = true;
        link.last_attempt = None;
        link.last_error = message.to_owned();
    }

    /// Counts an error and words it for the host.
    fn failed(&self, message: String) -> StateError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        StateError { store: self.description.clone(), message }
    }
}

impl StateStore for RedisState {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn read(&self, reads: &[Read<'_>], timeout_ms: u64) -> Result<Vec<u64>, StateError> {
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for read in reads {
            let resolution = read.window.resolution();
            let keys: Vec<String> = read.window.buckets(read.at_ms).map(|b| key(read.series, resolution, b)).collect();
            pipe.cmd("MGET").arg(keys);
        }
        let answer: Vec<Vec<Option<u64>>> = self
            .call(timeout_ms, |connection| pipe.query(connection))
            .map_err(|e| self.failed(format!("read failed: {e}")))?;
        if answer.len() != reads.len() {
            return Err(self.failed(format!("read failed: {} answers to {} reads", answer.len(), reads.len())));
        }
        Ok(answer.into_iter().map(|buckets| buckets.into_iter().flatten().fold(0, u64::saturating_add)).collect())
    }

    fn apply(&self, increments: &[Increment], timeout_ms: u64) -> Result<(), StateError> {
        let increments: Vec<&Increment> = increments.iter().filter(|i| i.amount > 0).collect();
        let kept = lock(&self.buffer).take(FLUSH_PER_APPLY);
        if increments.is_empty() && kept.is_empty() {
            return Ok(());
        }
        // Counted as pending while they are sent, whatever comes of it.
        let flying: u64 = kept.iter().map(|(_, entry)| entry.increments).sum();
        self.in_flight.fetch_add(flying, Ordering::Relaxed);
        let landed = Landed(&self.in_flight, flying);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for ((second, series), entry) in &kept {
            add_increment(&mut pipe, series, second * 1000, entry.amount);
        }
        for increment in &increments {
            add_increment(&mut pipe, &increment.series, increment.at_ms, increment.amount);
        }
        let Err(error) = self.call(timeout_ms, |connection| pipe.exec(connection)) else {
            return Ok(());
        };
        // Back to the buffer below: counted there, not twice.
        drop(landed);
        if error.answered {
            // Redis ran the transaction but refused a command in it (a key
            // of another type, an overflow): the rest applied, and sending
            // it again would count them twice. What it refused is dropped.
            let dropped: u64 = kept.iter().map(|(_, e)| e.increments).sum::<u64>() + increments.len() as u64;
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
            return Err(self.failed(format!("apply refused by Redis: {error}; {dropped} increments dropped")));
        }
        // Kept again, the buffered ones first: they were there before, and
        // those that no longer fit (others filled the buffer meanwhile) are
        // dropped like any other.
        let mut dropped = 0;
        let pending = {
            let mut buffer = lock(&self.buffer);
            for ((second, series), entry) in kept {
                dropped += buffer.keep(second, &series, entry);
            }
            for increment in increments {
                let entry = Kept { amount: increment.amount, increments: 1 };
                dropped += buffer.keep(increment.at_ms / 1000, &increment.series, entry);
            }
            buffer.increments
        };
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
        let dropped = if dropped > 0 { format!(", {dropped} dropped (the buffer is full)") } else { String::new() };
        Err(self.failed(format!("apply failed: {error}; {pending} increments kept to apply later{dropped}")))
    }

    fn metrics(&self) -> StateMetrics {
        StateMetrics::new(
            self.errors.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            lock(&self.buffer).increments + self.in_flight.load(Ordering::Relaxed),
        )
    }
}

/// Takes buffered increments off the in-flight count when an apply is done
/// with them: sent, or back in the buffer.
struct Landed<'a>(&'a AtomicU64, u64);

impl Drop for Landed<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::Relaxed);
    }
}

/// `url` without the password it may hold, for messages.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use groupgate::state::Window;

    use super::*;

    #[test]
    fn urls_are_checked_and_described_without_their_password() {
        let store = RedisState::connect("redis://:s3cret@127.0.0.1:6380/2").unwrap();
        assert_eq!(store.describe(), "redis://127.0.0.1:6380/2");
        assert_eq!(
            RedisState::connect("redis://user:s3cret@localhost").unwrap().describe(),
            "redis://localhost:6379/0"
        );
        assert_eq!(RedisState::connect("redis://[::1]:7000").unwrap().describe(), "redis://[::1]:7000/0");
        for (bad, why) in [
            ("http://localhost:6379", "scheme"),
            ("localhost:6379", "scheme"),
            ("rediss://localhost:6379", "scheme"),
            ("redis://", "redis://HOST:PORT"),
            ("redis://localhost:6379/zero", "database"),
            ("redis://localhost:99999", "redis://HOST:PORT"),
            ("redis://:s3cret@localhost:6379/x", "database"),
        ] {
            let error = RedisState::connect(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
            let text = error.to_string();
            assert!(text.contains(why), "{bad}: {text}");
            assert!(!text.contains("s3cret"), "{bad}: {text}");
        }
    }

    #[test]
    fn keys_keep_resolutions_and_series_apart() {
        assert_eq!(key("ns|c|user|u1", 60, 7), "gg:ns|c|user|u1:60:7");
        assert_ne!(key("a", 1, 60), key("a", 60, 1));
        assert_ne!(key("a:1", 60, 5), key("a", 1, 60));
    }

    #[test]
    fn the_buffer_merges_increments_of_one_second_and_drops_past_its_bound() {
        let mut buffer = Buffer { entries: BTreeMap::new(), limit: 2, increments: 0 };
        let one = Kept { amount: 3, increments: 1 };
        assert_eq!(buffer.keep(10, "a", one), 0);
        assert_eq!(buffer.keep(10, "a", one), 0, "the same second and series share an entry");
        assert_eq!(buffer.keep(5, "b", one), 0);
        assert_eq!(buffer.keep(11, "a", one), 1, "a third entry does not fit");
        assert_eq!(buffer.keep(5, "b", one), 0, "an existing entry still takes more");
        assert_eq!(buffer.increments, 4);
        let taken = buffer.take(1);
        assert_eq!(taken, vec![((5, "b".to_owned()), Kept { amount: 6, increments: 2 })], "the oldest first");
        assert_eq!(buffer.increments, 2);
        assert_eq!(buffer.take(10).len(), 1);
        assert_eq!(buffer.increments, 0);
    }

    /// A server on a loopback port that accepts connections and closes them
    /// at once, counting them.
    fn slamming_server() -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        (port, accepted)
    }

    fn read_of(series: &str) -> Read<'_> {
        let window: &'static Window = Box::leak(Box::new(Window::parse("60s").unwrap()));
        Read { series, window, at_ms: 1_000_000 }
    }

    #[test]
    fn while_redis_is_down_connections_are_attempted_once_per_interval() {
        let (port, accepted) = slamming_server();
        let store = RedisState::connect(&format!("redis://127.0.0.1:{port}")).unwrap();
        let started = Instant::now();
        let mut errors = Vec::new();
        for _ in 0..50 {
            errors.push(store.read(&[read_of("s")], 50).unwrap_err());
        }
        let increment = Increment { series: "s".into(), amount: 1, at_ms: 1_000_000 };
        assert!(store.apply(std::slice::from_ref(&increment), 50).is_err());
        assert!(started.elapsed() < RECONNECT_INTERVAL, "the calls failed at once: {:?}", started.elapsed());
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one attempt in the interval");
        assert!(errors[0].message.contains("cannot connect"), "{}", errors[0]);
        assert!(errors[1].message.contains("unreachable (cannot connect"), "{}", errors[1]);
        assert!(errors[1].to_string().starts_with(&format!("state store redis://127.0.0.1:{port}/0: read failed: ")));
        let metrics = store.metrics();
        assert_eq!((metrics.errors, metrics.increments_pending, metrics.increments_dropped), (51, 1, 0));

        std::thread::sleep(RECONNECT_INTERVAL + Duration::from_millis(20));
        assert!(store.read(&[read_of("s")], 50).is_err());
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "another attempt once the interval has passed");
    }

    #[test]
    fn a_server_that_does_not_answer_fails_the_call_within_its_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and reads, never answers.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                std::thread::spawn(move || {
                    let mut stream = stream.unwrap();
                    let mut sink = [0; 1024];
                    while stream.read(&mut sink).is_ok_and(|n| n > 0) {}
                });
            }
        });
        let store = RedisState::connect(&format!("redis://127.0.0.1:{port}")).unwrap();
        let started = Instant::now();
        let error = store.read(&[read_of("s")], 50).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert!(error.message.contains("no answer within 50 ms"), "{error}");
    }
}
