//! Counters kept in Redis, so that several groupgate replicas see one count.
//!
//! [`RedisState`] is a [`StateStore`] with the same windows, buckets and
//! counts as the in-process [`Memory`](groupgate::state::Memory) store (see
//! [`groupgate::state::window`]), and the same counts of distinct values:
//! given the same increments and reads (at or after the times written, as
//! the host makes them) it answers the same counts.
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
//! A series of distinct values ([`Increment::value`], [`Read::distinct`]) is
//! one sorted set, under the key `gg:SERIES:distinct` ([`distinct_key`]):
//! its last part is not a number, so it is never a bucket's key. Each member
//! is a value, its score the time it was last seen (unix milliseconds, the
//! request's): an increment adds it with `ZADD … GT`, so a value seen again
//! keeps its latest time, whatever order increments arrive in. Its counts are
//! exact, to the millisecond rather than in buckets: a read counts the
//! members last seen within the window, `(at_ms - window, at_ms]`
//! (`ZCOUNT`), plus the request's own value ([`Distinct::with`]) unless it is
//! one of them (`ZSCORE`). The same increment forgets the members last seen
//! more than [`MAX_WINDOW_SECS`] before its time, which no window can read
//! from it (`ZREMRANGEBYSCORE`), then, past [`MAX_DISTINCT_VALUES`], those
//! seen least recently (`ZREMRANGEBYRANK`): a count is exact up to that many
//! values. The set's time to live is that of the daily buckets
//! ([`retention_secs`] of a day) from its last write, so it too is gone at
//! most 401 days after it was last written.
//!
//! [`Distinct::with`]: groupgate::state::Distinct::with
//!
//! # Round trips
//!
//! A [`read`](StateStore::read) sends one `MGET` per read (the keys of the
//! window's buckets at its resolution; missing keys count zero), or for a
//! series of distinct values a `ZCOUNT` and, when the request has a value of
//! its own, a `ZSCORE`; an [`apply`](StateStore::apply) sends one `INCRBY`
//! and one `EXPIRE` per increment and resolution, or for a distinct value a
//! `ZADD`, the two trims and an `EXPIRE`; each call as one pipeline: one
//! round trip, whatever the number and kinds of reads or increments. An
//! apply is a transaction (`MULTI` … `EXEC`, in the same round trip), so
//! that a batch that fails is either applied whole or not at all, never
//! half, before it is kept to be sent again. Opening a connection costs one
//! more round trip (the client's handshake), but connections are kept: up
//! to [`IDLE_CONNECTIONS`] idle ones, each call taking one and giving it
//! back when it succeeds. A connection that failed in any way is dropped
//! (its protocol state is unknown); one that was refused or cut makes every
//! idle one dropped too, as they went to the same server. A call whose kept
//! connection turns out cut (Redis restarted, or closes idle connections) is
//! tried once more on a new connection within the same timeout: a connect
//! and a second round trip, rather than a failed request.
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
//! amount. A distinct value is kept with its exact time: one entry per
//! series, value and second, holding the latest time it was seen then, and
//! applied with `ZADD … GT` as any other, so that the latest time wins
//! however entries and new increments interleave. It holds at most
//! [`BUFFER_LIMIT`] entries: an increment that needs a new entry when it is
//! full is dropped, and counted in [`StateMetrics::increments_dropped`]. What is kept is counted in
//! [`StateMetrics::increments_pending`] (increments, not entries) and is lost
//! if the process stops. Amounts are added saturating at `i64::MAX`, the
//! largest a Redis integer holds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use groupgate::state::window::{MAX_WINDOW_SECS, RESOLUTIONS, bucket, retention_secs};
use groupgate::state::{Increment, MAX_DISTINCT_VALUES, Read, StateError, StateMetrics, StateStore};
use redis::{Client, Connection, ConnectionAddr, Pipeline, RedisError, Value};

/// The most entries the buffer of unapplied increments holds (one per series
/// and second, and per value for a series of distinct values): about 100
/// bytes each plus the series' key and value, so some 20 MB at most, and
/// what a host answering 1,000 requests a second, each counted for a
/// different user, applies in a minute and a half of outage.
pub const BUFFER_LIMIT: usize = 100_000;

/// The most buffered entries one apply sends besides its own increments:
/// at most 8,000 commands in one transaction (8 per entry of events, 4 per
/// distinct value), a small share of a call's usual 50 ms for Redis, and a
/// pause short enough for its other clients.
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

/// Where a kept increment goes: its second, its series and, for a series of
/// distinct values, its value.
type Slot = (u64, String, Option<String>);

/// Increments kept while they cannot be applied, by [`Slot`]: the oldest
/// first.
struct Buffer {
    entries: BTreeMap<Slot, Kept>,
    limit: usize,
    /// The increments the entries hold.
    increments: u64,
}

/// One buffer entry: `increments` increments, their summed amount and the
/// latest of their times (all in the entry's second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    amount: u64,
    increments: u64,
    at_ms: u64,
}

impl Kept {
    /// One increment, to keep.
    fn of(increment: &Increment) -> (Slot, Kept) {
        let slot = (increment.at_ms / 1000, increment.series.clone(), increment.value.clone());
        (slot, Kept { amount: increment.amount, increments: 1, at_ms: increment.at_ms })
    }
}

impl Buffer {
    /// Keeps `kept` at `slot`: returns how many increments were dropped
    /// (none, or all of them when a new entry does not fit).
    fn keep(&mut self, slot: Slot, kept: Kept) -> u64 {
        if let Some(entry) = self.entries.get_mut(&slot) {
            entry.amount = entry.amount.saturating_add(kept.amount);
            entry.increments += kept.increments;
            entry.at_ms = entry.at_ms.max(kept.at_ms);
        } else if self.entries.len() < self.limit {
            self.entries.insert(slot, kept);
        } else {
            return kept.increments;
        }
        self.increments += kept.increments;
        0
    }

    /// Takes up to `n` entries, the oldest first.
    fn take(&mut self, n: usize) -> Vec<(Slot, Kept)> {
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

/// The key of a series of distinct values (see the crate documentation for
/// why no bucket has it).
pub fn distinct_key(series: &str) -> String {
    format!("gg:{series}:distinct")
}

/// How long a series of distinct values is kept after its last write: as
/// long as the daily buckets, those of the longest windows.
fn distinct_retention_secs() -> u64 {
    retention_secs(RESOLUTIONS[RESOLUTIONS.len() - 1])
}

/// The times a distinct read counts, `(from, to]` in unix milliseconds: the
/// window's length, ending at the request's time (as the memory store).
fn distinct_range(read: &Read<'_>) -> (u64, u64) {
    (read.at_ms.saturating_sub(read.window.secs().saturating_mul(1000)), read.at_ms)
}

/// Adds to `pipe` the commands that apply `amount` to `series` at `at_ms`,
/// or for a series of distinct values, that note `value` as seen then.
fn add_increment(pipe: &mut Pipeline, series: &str, value: Option<&str>, at_ms: u64, amount: u64) {
    if let Some(value) = value {
        add_distinct(pipe, series, value, at_ms);
        return;
    }
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    for resolution in RESOLUTIONS {
        let key = key(series, resolution, bucket(at_ms, resolution));
        pipe.cmd("INCRBY").arg(&key).arg(amount).ignore();
        pipe.cmd("EXPIRE").arg(&key).arg(retention_secs(resolution)).ignore();
    }
}

/// Adds to `pipe` the commands that note `value` as seen in `series` at
/// `at_ms` (unless it was seen later), forget the values no window read at
/// `at_ms` reaches, keep at most [`MAX_DISTINCT_VALUES`] (those seen last),
/// and keep the set as long as the daily buckets.
fn add_distinct(pipe: &mut Pipeline, series: &str, value: &str, at_ms: u64) {
    let key = distinct_key(series);
    pipe.cmd("ZADD").arg(&key).arg("GT").arg(at_ms).arg(value).ignore();
    // Kept from this time on, as the memory store keeps them.
    let oldest_kept = at_ms.saturating_sub(MAX_WINDOW_SECS * 1000);
    pipe.cmd("ZREMRANGEBYSCORE").arg(&key).arg("-inf").arg(format!("({oldest_kept}")).ignore();
    // Ranks go from the lowest score: all but the last MAX_DISTINCT_VALUES,
    // nothing while there are no more than that.
    let keep = i64::try_from(MAX_DISTINCT_VALUES).unwrap_or(i64::MAX);
    pipe.cmd("ZREMRANGEBYRANK").arg(&key).arg(0).arg(-keep - 1).ignore();
    pipe.cmd("EXPIRE").arg(&key).arg(distinct_retention_secs()).ignore();
}

/// The count of `read` from its answers, taken from `answers` in the order
/// [`RedisState::read`] asked: the `MGET` of its buckets, or the `ZCOUNT` of
/// its distinct values and the `ZSCORE` of its own value if it has one.
fn count(read: &Read<'_>, answers: &mut impl Iterator<Item = Value>) -> Result<u64, String> {
    let mut next = || answers.next().ok_or_else(|| "fewer answers than commands".to_owned());
    let Some(distinct) = read.distinct else {
        let buckets: Vec<Option<u64>> = redis::from_redis_value(next()?).map_err(|e| e.to_string())?;
        return Ok(buckets.into_iter().flatten().fold(0, u64::saturating_add));
    };
    let seen: u64 = redis::from_redis_value(next()?).map_err(|e| e.to_string())?;
    if distinct.with.is_none() {
        return Ok(seen);
    }
    // A score is a double: milliseconds since 1970 are exact in one.
    let last: Option<f64> = redis::from_redis_value(next()?).map_err(|e| e.to_string())?;
    let (from, to) = distinct_range(read);
    let counted = last.is_some_and(|t| t > from as f64 && t <= to as f64);
    Ok(seen + u64::from(!counted))
}

/// How many commands [`RedisState::read`] sends for `read`.
fn commands(read: &Read<'_>) -> usize {
    match read.distinct {
        Some(distinct) if distinct.with.is_some() => 2,
        _ => 1,
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
            let Some(distinct) = read.distinct else {
                let resolution = read.window.resolution();
                let keys: Vec<String> =
                    read.window.buckets(read.at_ms).map(|b| key(read.series, resolution, b)).collect();
                pipe.cmd("MGET").arg(keys);
                continue;
            };
            let key = distinct_key(read.series);
            let (from, to) = distinct_range(read);
            pipe.cmd("ZCOUNT").arg(&key).arg(format!("({from}")).arg(to);
            if let Some(with) = distinct.with {
                pipe.cmd("ZSCORE").arg(&key).arg(with);
            }
        }
        let answer: Vec<Value> = self
            .call(timeout_ms, |connection| pipe.query(connection))
            .map_err(|e| self.failed(format!("read failed: {e}")))?;
        let sent: usize = reads.iter().map(commands).sum();
        if answer.len() != sent {
            return Err(self.failed(format!("read failed: {} answers to {sent} commands", answer.len())));
        }
        let mut answers = answer.into_iter();
        reads
            .iter()
            .map(|read| count(read, &mut answers))
            .collect::<Result<Vec<u64>, String>>()
            .map_err(|e| self.failed(format!("read failed: {e}")))
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
        for ((_, series, value), entry) in &kept {
            add_increment(&mut pipe, series, value.as_deref(), entry.at_ms, entry.amount);
        }
        for increment in &increments {
            add_increment(&mut pipe, &increment.series, increment.value.as_deref(), increment.at_ms, increment.amount);
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
            for (slot, entry) in kept {
                dropped += buffer.keep(slot, entry);
            }
            for increment in increments {
                let (slot, entry) = Kept::of(increment);
                dropped += buffer.keep(slot, entry);
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
        assert_eq!(distinct_key("ns|c|user|u1"), "gg:ns|c|user|u1:distinct");
        assert_ne!(distinct_key("a:1:2"), key("a", 1, 2), "a distinct key ends in no number");
        assert_ne!(distinct_key("a:1"), distinct_key("a"));
    }

    fn slot(second: u64, series: &str, value: Option<&str>) -> Slot {
        (second, series.to_owned(), value.map(str::to_owned))
    }

    #[test]
    fn the_buffer_merges_increments_of_one_second_and_drops_past_its_bound() {
        let mut buffer = Buffer { entries: BTreeMap::new(), limit: 2, increments: 0 };
        let one = |at_ms| Kept { amount: 3, increments: 1, at_ms };
        assert_eq!(buffer.keep(slot(10, "a", None), one(10_000)), 0);
        assert_eq!(buffer.keep(slot(10, "a", None), one(10_500)), 0, "the same second and series share an entry");
        assert_eq!(buffer.keep(slot(5, "b", None), one(5_900)), 0);
        assert_eq!(buffer.keep(slot(11, "a", None), one(11_000)), 1, "a third entry does not fit");
        assert_eq!(buffer.keep(slot(5, "b", None), one(5_100)), 0, "an existing entry still takes more");
        assert_eq!(buffer.increments, 4);
        let taken = buffer.take(1);
        let b = Kept { amount: 6, increments: 2, at_ms: 5_900 };
        assert_eq!(taken, vec![(slot(5, "b", None), b)], "the oldest first, at the latest time of its second");
        assert_eq!(buffer.increments, 2);
        assert_eq!(buffer.take(10).len(), 1);
        assert_eq!(buffer.increments, 0);
    }

    #[test]
    fn the_buffer_keeps_distinct_values_apart_with_their_latest_time() {
        let mut buffer = Buffer { entries: BTreeMap::new(), limit: 10, increments: 0 };
        for (value, at_ms) in [("x", 7_200), ("y", 7_100), ("x", 7_900), ("x", 7_300), ("x", 8_000)] {
            let (slot, kept) = Kept::of(&Increment::distinct("d", value, at_ms));
            assert_eq!(buffer.keep(slot, kept), 0);
        }
        assert_eq!(buffer.increments, 5);
        let taken = buffer.take(10);
        assert_eq!(
            taken,
            vec![
                (slot(7, "d", Some("x")), Kept { amount: 3, increments: 3, at_ms: 7_900 }),
                (slot(7, "d", Some("y")), Kept { amount: 1, increments: 1, at_ms: 7_100 }),
                (slot(8, "d", Some("x")), Kept { amount: 1, increments: 1, at_ms: 8_000 }),
            ],
            "one entry per second and value, at the latest time the value was seen then"
        );
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
        Read::events(series, window, 1_000_000)
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
        let increment = Increment::events("s", 1, 1_000_000);
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
