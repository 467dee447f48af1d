//! The Redis state store (`groupgate-redis`) against a `redis-server` each
//! test starts: the same counts as the memory store, of events and of
//! distinct values, one count for several clients, keys with their expiry,
//! one round trip a call, failing fast while Redis is down, and the
//! increments kept meanwhile applied once it is back.
//!
//! Time is the requests' own (`at_ms`), never slept for, but for
//! [`RECONNECT_INTERVAL`]: after a failed connection attempt the store tries
//! again only once it has passed.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use groupgate::state::window::{MAX_WINDOW_SECS, RESOLUTIONS, retention_secs};
use groupgate::state::{Distinct, Increment, MAX_DISTINCT_VALUES, Memory, Read, StateStore, Window};
use groupgate_redis::{FLUSH_PER_APPLY, RECONNECT_INTERVAL, RedisState};
use groupgate_tests::redis::RedisServer;

/// A timeout for calls that must succeed: generous, for a busy machine.
const OK_MS: u64 = 2_000;
/// The timeout of calls to a Redis that is down, as a set's default.
const DOWN_MS: u64 = 50;
/// 2025-11-28, as the sample requests.
const T0: u64 = 1_764_316_800_000;
const SECOND: u64 = 1_000;
const DAY: u64 = 86_400_000;

fn inc(series: &str, amount: u64, at_ms: u64) -> Increment {
    Increment::events(series, amount, at_ms)
}

fn read<'a>(series: &'a str, window: &str, at_ms: u64) -> Read<'a> {
    // A few windows per test, kept for the test's life.
    let window: &'static Window = Box::leak(Box::new(Window::parse(window).unwrap()));
    Read::events(series, window, at_ms)
}

/// `value` seen in the distinct series `series` at `at_ms`.
fn seen(series: &str, value: &str, at_ms: u64) -> Increment {
    Increment::distinct(series, value, at_ms)
}

/// A read of the distinct values of `series`, with the request's own value
/// `with`.
fn distinct<'a>(series: &'a str, window: &str, at_ms: u64, with: Option<&'a str>) -> Read<'a> {
    Read { distinct: Some(Distinct { with }), ..read(series, window, at_ms) }
}

/// When `value` was last seen in the distinct series `series`, as Redis
/// holds it (a score is a double).
fn last_seen(connection: &mut redis::Connection, series: &str, value: &str) -> Option<f64> {
    redis::cmd("ZSCORE").arg(format!("gg:{series}:distinct")).arg(value).query(connection).unwrap()
}

/// A raw connection to `server`, to look at what the store wrote.
fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url()).unwrap().get_connection().unwrap()
}

fn keys(connection: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("gg:*").query(connection).unwrap();
    keys.sort();
    keys
}

/// A pseudo-random sequence, the same every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn counts_match_the_memory_store() {
    let server = RedisServer::start();
    let redis = RedisState::connect(&server.url()).unwrap();
    let memory = Memory::new();
    let series = ["ns|policy/flood/messages|user|u1", "ns|policy/flood/messages|user|u:2", "ns|host/denied|group|g1"];
    let windows = ["60s", "24h", "30d"];
    let mut random = Lcg(7);
    let mut now = T0;
    let mut nonzero = 0;
    let mut compared = 0;
    for step in 0..300 {
        // Gaps from milliseconds to days, so that every resolution rolls
        // over and old buckets leave the windows.
        now += match random.below(5) {
            0 => random.below(1_000),
            1 => random.below(30) * SECOND,
            2 => random.below(90) * 60 * SECOND,
            3 => random.below(30) * 3_600 * SECOND,
            _ => random.below(4) * DAY,
        };
        let batch: Vec<Increment> = (0..=random.below(3))
            .map(|_| {
                // Some a little late, as requests finishing out of order.
                let late = if random.below(4) == 0 { random.below(5) * SECOND } else { 0 };
                inc(series[random.below(3) as usize], 1 + random.below(3), now.saturating_sub(late))
            })
            .collect();
        redis.apply(&batch, OK_MS).unwrap();
        memory.apply(&batch, 0).unwrap();
        // Reads at the time of the last request and later.
        let at = now + [0, 500, 45 * SECOND, 12 * 3_600 * SECOND, 20 * DAY][step % 5];
        let reads: Vec<Read<'_>> = series.iter().flat_map(|s| windows.iter().map(move |w| read(s, w, at))).collect();
        let from_redis = redis.read(&reads, OK_MS).unwrap();
        let from_memory = memory.read(&reads, 0).unwrap();
        assert_eq!(from_redis, from_memory, "step {step}, at {at}: {reads:?}");
        compared += reads.len();
        nonzero += from_redis.iter().filter(|&&n| n > 0).count();
    }
    assert!(nonzero > compared / 4 && nonzero < compared, "{nonzero} of {compared} counts are not zero");
    let metrics = redis.metrics();
    assert_eq!((metrics.errors, metrics.increments_dropped, metrics.increments_pending), (0, 0, 0));
    assert_eq!((metrics.series, metrics.series_limit), (None, None));
}

#[test]
fn two_clients_of_one_server_see_one_count() {
    let server = RedisServer::start();
    let a = RedisState::connect(&server.url()).unwrap();
    let b = RedisState::connect(&server.url()).unwrap();
    a.apply(&[inc("s", 2, T0)], OK_MS).unwrap();
    b.apply(&[inc("s", 3, T0 + SECOND)], OK_MS).unwrap();
    a.apply(&[inc("other", 1, T0)], OK_MS).unwrap();
    for store in [&a, &b] {
        let counts = store.read(&[read("s", "60s", T0 + 2 * SECOND), read("other", "24h", T0)], OK_MS).unwrap();
        assert_eq!(counts, [5, 1]);
    }
}

#[test]
fn every_bucket_is_a_key_with_its_expiry() {
    let server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    store
        .apply(&[inc("ns|c|user|u1", 1, T0 + 90 * SECOND), inc("ns|c|user|u1", 1, T0 + 90 * SECOND + 400)], OK_MS)
        .unwrap();
    store.apply(&[inc("ns|c|user|u2", 1, T0)], OK_MS).unwrap();
    let mut connection = raw(&server);
    let s = T0 / 1000 + 90;
    let mut expected: Vec<String> = RESOLUTIONS.iter().map(|&r| format!("gg:ns|c|user|u1:{r}:{}", s / r)).collect();
    expected.extend(RESOLUTIONS.iter().map(|&r| format!("gg:ns|c|user|u2:{r}:{}", T0 / 1000 / r)));
    expected.sort();
    assert_eq!(keys(&mut connection), expected, "one key per series, resolution and bucket");
    let value: u64 = redis::cmd("GET").arg(format!("gg:ns|c|user|u1:1:{s}")).query(&mut connection).unwrap();
    assert_eq!(value, 2, "two increments in one second share a bucket");
    for key in &expected {
        let resolution: u64 = key.rsplit(':').nth(1).unwrap().parse().unwrap();
        let ttl: i64 = redis::cmd("TTL").arg(key).query(&mut connection).unwrap();
        let retention = retention_secs(resolution) as i64;
        assert!(ttl > retention - 10 && ttl <= retention, "{key}: TTL {ttl}, retention {retention}");
    }
}

/// A TCP proxy in front of `port` counting connections and round trips: a
/// round trip is the client sending, then the server answering.
struct Proxy {
    port: u16,
    connections: Arc<AtomicUsize>,
    round_trips: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let round_trips = Arc::new(AtomicUsize::new(0));
        let (accepted, trips) = (connections.clone(), round_trips.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let client = client.unwrap();
                let server = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)).unwrap();
                accepted.fetch_add(1, Ordering::SeqCst);
                // Set before the request goes on, so that its answer finds it.
                let asked = Arc::new(AtomicBool::new(false));
                let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut from_server, mut to_client) = (server, client);
                let client_asked = asked.clone();
                std::thread::spawn(move || {
                    let mut buffer = vec![0; 1 << 20];
                    while let Ok(n @ 1..) = from_client.read(&mut buffer) {
                        client_asked.store(true, Ordering::SeqCst);
                        if to_server.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to_server.shutdown(std::net::Shutdown::Both);
                });
                let trips = trips.clone();
                std::thread::spawn(move || {
                    let mut buffer = vec![0; 1 << 20];
                    while let Ok(n @ 1..) = from_server.read(&mut buffer) {
                        if asked.swap(false, Ordering::SeqCst) {
                            trips.fetch_add(1, Ordering::SeqCst);
                        }
                        if to_client.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to_client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Proxy { port, connections, round_trips }
    }

    fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::SeqCst)
    }
}

/// Calls of each command since the last `CONFIG RESETSTAT`.
fn command_calls(connection: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(connection).unwrap();
    let line = format!("cmdstat_{command}:calls=");
    info.lines().find_map(|l| l.strip_prefix(&line)).map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

#[test]
fn a_read_and_an_apply_are_one_round_trip_each_on_a_kept_connection() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port());
    let store = RedisState::connect(&format!("redis://127.0.0.1:{}", proxy.port)).unwrap();
    // Small enough requests (a few kilobytes) that the proxy forwards each
    // in one piece, and Redis reads each whole before it answers: the proxy
    // then counts one turn per round trip.
    let reads: Vec<Read<'_>> = ["60s", "24h", "30d"].iter().map(|w| read("s", w, T0)).collect();
    assert_eq!(store.read(&reads, OK_MS).unwrap(), [0, 0, 0]);
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 1);
    let mut stats = raw(&server);
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut stats).unwrap();

    let before = proxy.round_trips();
    let batch: Vec<Increment> = (0..10).map(|i| inc(&format!("s{}", i % 7), 1, T0 + i * 997)).collect();
    store.apply(&batch, OK_MS).unwrap();
    assert_eq!(proxy.round_trips() - before, 1, "an apply of 10 increments");
    assert_eq!(command_calls(&mut stats, "incrby"), 40);
    assert_eq!(command_calls(&mut stats, "expire"), 40);
    assert_eq!((command_calls(&mut stats, "multi"), command_calls(&mut stats, "exec")), (1, 1));

    let before = proxy.round_trips();
    let counts = store.read(&reads, OK_MS).unwrap();
    assert_eq!(proxy.round_trips() - before, 1, "a read of three windows");
    assert_eq!(command_calls(&mut stats, "mget"), 3);
    assert_eq!(counts, [0, 0, 0], "series `s` has none: the increments went to s0 to s6");

    for _ in 0..20 {
        store.read(&reads, OK_MS).unwrap();
        store.apply(&batch, OK_MS).unwrap();
    }
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 1, "one connection, kept");
}

#[test]
fn while_redis_is_down_calls_fail_fast_and_increments_wait_for_it() {
    let mut server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    store.apply(&[inc("s", 1, T0)], DOWN_MS).unwrap();
    assert_eq!(store.read(&[read("s", "60s", T0)], DOWN_MS).unwrap(), [1]);

    server.stop();
    let started = Instant::now();
    let error = store.apply(&[inc("s", 2, T0 + SECOND), inc("t", 1, T0 + SECOND)], DOWN_MS).unwrap_err();
    assert!(error.to_string().starts_with(&format!("state store {}/0: apply failed: ", server.url())), "{error}");
    assert!(error.message.contains("2 increments kept to apply later"), "{error}");
    let errors: Vec<String> =
        (0..21).map(|_| store.read(&[read("s", "60s", T0 + SECOND)], DOWN_MS).unwrap_err().message).collect();
    assert!(errors.iter().all(|e| e.starts_with("read failed: ") && e.contains("cannot connect: ")), "{errors:#?}");
    // The apply found its kept connection cut and tried a new one: the reads
    // come within the reconnection interval and do not try.
    assert!(errors.iter().any(|e| e.contains("unreachable (cannot connect: ")), "{errors:#?}");
    assert!(store.apply(&[inc("s", 4, T0 + 2 * SECOND)], DOWN_MS).is_err());
    assert!(started.elapsed() < Duration::from_secs(1), "23 calls took {:?}", started.elapsed());
    let metrics = store.metrics();
    assert_eq!((metrics.errors, metrics.increments_pending, metrics.increments_dropped), (23, 3, 0));

    // Back on the same port, empty: the same store applies what it kept with
    // the next apply, once its next connection attempt is due.
    server.restart();
    std::thread::sleep(RECONNECT_INTERVAL);
    store.apply(&[inc("s", 8, T0 + 3 * SECOND)], DOWN_MS).unwrap();
    assert_eq!(store.metrics().increments_pending, 0);
    let counts = store.read(&[read("s", "60s", T0 + 3 * SECOND), read("t", "24h", T0 + 3 * SECOND)], DOWN_MS).unwrap();
    assert_eq!(counts, [2 + 4 + 8, 1], "the kept increments and the new one, not those the old server lost");
    assert_eq!(store.metrics().errors, 23);
}

#[test]
fn a_redis_restarted_between_two_calls_is_asked_again_at_once() {
    let mut server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    store.apply(&[inc("s", 1, T0)], DOWN_MS).unwrap();
    server.restart();
    // The kept connection is cut: each call tries a new one at once.
    assert_eq!(store.read(&[read("s", "60s", T0)], DOWN_MS).unwrap(), [0], "the restarted server is empty");
    server.restart();
    store.apply(&[inc("s", 1, T0)], DOWN_MS).unwrap();
    assert_eq!(store.read(&[read("s", "60s", T0)], DOWN_MS).unwrap(), [1]);
    assert_eq!(store.metrics().errors, 0);
}

#[test]
fn a_redis_that_is_down_at_start_is_used_once_it_is_up() {
    let mut server = RedisServer::start();
    server.stop();
    let store = RedisState::connect(&server.url()).expect("connecting does not need the server");
    assert!(store.read(&[read("s", "60s", T0)], DOWN_MS).is_err());
    server.restart();
    std::thread::sleep(RECONNECT_INTERVAL);
    assert_eq!(store.read(&[read("s", "60s", T0)], DOWN_MS).unwrap(), [0]);
}

#[test]
fn a_full_buffer_drops_and_counts() {
    let mut server = RedisServer::start();
    let store = RedisState::with_buffer_limit(&server.url(), 3).unwrap();
    server.stop();
    // Five seconds: three fit, two are dropped.
    let batch: Vec<Increment> = (0..5).map(|i| inc("s", 1, T0 + i * SECOND)).collect();
    let error = store.apply(&batch, DOWN_MS).unwrap_err();
    assert!(error.message.ends_with("3 increments kept to apply later, 2 dropped (the buffer is full)"), "{error}");
    // One more in a second already kept shares its entry; one in a new second does not fit.
    let _ = store.apply(&[inc("s", 1, T0 + 1_500), inc("s", 1, T0 + 9 * SECOND)], DOWN_MS).unwrap_err();
    let metrics = store.metrics();
    assert_eq!((metrics.increments_pending, metrics.increments_dropped, metrics.errors), (4, 3, 2));

    server.restart();
    std::thread::sleep(RECONNECT_INTERVAL);
    store.apply(&[], OK_MS).unwrap();
    assert_eq!(store.metrics().increments_pending, 0);
    let counts: Vec<u64> =
        store.read(&(0..10).map(|i| read("s", "1s", T0 + i * SECOND)).collect::<Vec<_>>(), OK_MS).unwrap();
    assert_eq!(counts, [1, 2, 1, 0, 0, 0, 0, 0, 0, 0], "the oldest three seconds were kept");
}

#[test]
fn a_long_outage_is_applied_over_several_applies() {
    let mut server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    server.stop();
    let kept = 2 * FLUSH_PER_APPLY + FLUSH_PER_APPLY / 2;
    let batch: Vec<Increment> = (0..kept as u64).map(|i| inc("s", 1, T0 + i * SECOND)).collect();
    assert!(store.apply(&batch, DOWN_MS).is_err());
    assert_eq!(store.metrics().increments_pending, kept as u64);

    server.restart();
    std::thread::sleep(RECONNECT_INTERVAL);
    let mut pending = Vec::new();
    for _ in 0..4 {
        store.apply(&[], OK_MS).unwrap();
        pending.push(store.metrics().increments_pending);
    }
    let step = FLUSH_PER_APPLY as u64;
    assert_eq!(pending, [kept as u64 - step, kept as u64 - 2 * step, 0, 0]);
    let total = store.read(&[read("s", "30d", T0 + kept as u64 * SECOND)], OK_MS).unwrap();
    assert_eq!(total, [kept as u64]);
    // T0 is at the start of an hour: the seconds fall in one hour of one day.
    assert_eq!(
        keys(&mut raw(&server)).len(),
        kept + kept.div_ceil(60) + 1 + 1,
        "one key per second, minute, hour, day"
    );
}

// Series of distinct values: one sorted set each, counted to the millisecond.

#[test]
fn distinct_counts_match_the_memory_store() {
    let server = RedisServer::start();
    let redis = RedisState::connect(&server.url()).unwrap();
    let memory = Memory::new();
    let series = ["ns|policy/reports/by|user|t1", "ns|policy/reports/by|user|t:2"];
    let values = ["u1", "u2", "u3", "u:4", "u|5", "u%6", "7", ""];
    let windows = ["60s", "15m", "24h", "30d"];
    let mut random = Lcg(11);
    let mut now = T0;
    let mut nonzero = 0;
    let mut compared = 0;
    for step in 0..300 {
        now += match random.below(5) {
            0 => random.below(1_000),
            1 => random.below(30) * SECOND,
            2 => random.below(90) * 60 * SECOND,
            3 => random.below(30) * 3_600 * SECOND,
            _ => random.below(4) * DAY,
        };
        let batch: Vec<Increment> = (0..=random.below(3))
            .map(|_| {
                let late = if random.below(4) == 0 { random.below(5_000) } else { 0 };
                let value = values[random.below(values.len() as u64) as usize];
                seen(series[random.below(2) as usize], value, now.saturating_sub(late))
            })
            .collect();
        redis.apply(&batch, OK_MS).unwrap();
        memory.apply(&batch, 0).unwrap();
        let at = now + [0, 1, 500, 45 * SECOND, 12 * 3_600 * SECOND, 20 * DAY][step % 6];
        let with = values[random.below(values.len() as u64) as usize];
        let reads: Vec<Read<'_>> = series
            .iter()
            .flat_map(|s| windows.iter().flat_map(move |w| [distinct(s, w, at, None), distinct(s, w, at, Some(with))]))
            .collect();
        let from_redis = redis.read(&reads, OK_MS).unwrap();
        let from_memory = memory.read(&reads, 0).unwrap();
        assert_eq!(from_redis, from_memory, "step {step}, at {at}: {reads:?}");
        compared += reads.len();
        // Those without the request's own value, which is never zero.
        nonzero += reads.iter().zip(&from_redis).filter(|&(r, &n)| r.distinct.unwrap().with.is_none() && n > 0).count();
    }
    assert!(nonzero > compared / 10 && nonzero < compared / 2, "{nonzero} of {compared} counts are not zero");
    let metrics = redis.metrics();
    assert_eq!((metrics.errors, metrics.increments_dropped, metrics.increments_pending), (0, 0, 0));
}

#[test]
fn a_value_seen_again_counts_once_and_distinct_values_once_each() {
    let server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    store.apply(&[seen("same", "v", T0), seen("same", "v", T0 + SECOND)], OK_MS).unwrap();
    store.apply(&[seen("same", "v", T0 + 2 * SECOND)], OK_MS).unwrap();
    store
        .apply(&[seen("three", "a", T0), seen("three", "b", T0 + SECOND), seen("three", "c", T0 + 2 * SECOND)], OK_MS)
        .unwrap();
    let at = T0 + 3 * SECOND;
    for window in ["60s", "24h", "400d"] {
        let reads = [distinct("same", window, at, None), distinct("three", window, at, None)];
        assert_eq!(store.read(&reads, OK_MS).unwrap(), [1, 3], "over {window}");
    }
    assert_eq!(store.read(&[distinct("unseen", "60s", at, None)], OK_MS).unwrap(), [0]);
    let mut connection = raw(&server);
    assert_eq!(last_seen(&mut connection, "same", "v"), Some((T0 + 2 * SECOND) as f64), "seen last then");
    // Seen again earlier (a request that finished late): the latest time stays.
    store.apply(&[seen("same", "v", T0)], OK_MS).unwrap();
    assert_eq!(last_seen(&mut connection, "same", "v"), Some((T0 + 2 * SECOND) as f64));
    let cardinality: u64 = redis::cmd("ZCARD").arg("gg:three:distinct").query(&mut connection).unwrap();
    assert_eq!(cardinality, 3);
}

#[test]
fn the_requests_own_value_is_counted_once_whether_or_not_it_was_seen() {
    let server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    store.apply(&[seen("s", "a", T0), seen("s", "b", T0 + 10), seen("s", "old", T0 - 120 * SECOND)], OK_MS).unwrap();
    let at = T0 + SECOND;
    let reads = [
        distinct("s", "60s", at, None),
        distinct("s", "60s", at, Some("a")),
        distinct("s", "60s", at, Some("b")),
        distinct("s", "60s", at, Some("new")),
        // Seen, but before the window: counted as the request's own.
        distinct("s", "60s", at, Some("old")),
        distinct("s", "15m", at, Some("old")),
        distinct("unseen", "60s", at, Some("a")),
        distinct("unseen", "60s", at, None),
    ];
    assert_eq!(store.read(&reads, OK_MS).unwrap(), [2, 2, 2, 3, 3, 3, 1, 0]);
    // A read writes nothing: the values read with are not seen.
    assert_eq!(store.read(&reads[..1], OK_MS).unwrap(), [2]);
    assert_eq!(keys(&mut raw(&server)), ["gg:s:distinct"]);
}

#[test]
fn values_seen_before_the_window_are_not_counted_to_the_millisecond() {
    let server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    // `a` seen at T0 (and, late, before it), `b` half a second after.
    store.apply(&[seen("s", "a", T0), seen("s", "b", T0 + 500), seen("s", "a", T0 - 10 * SECOND)], OK_MS).unwrap();
    let minute = 60 * SECOND;
    let counts = store
        .read(
            &[
                distinct("s", "60s", T0 + minute - 1, None),
                distinct("s", "60s", T0 + minute, None),
                distinct("s", "60s", T0 + minute + 499, None),
                distinct("s", "60s", T0 + minute + 500, None),
                distinct("s", "60s", T0 + minute, Some("a")),
                distinct("s", "60s", T0 - 1, None),
                distinct("s", "60s", T0 - 1, Some("a")),
                distinct("s", "15m", T0 + minute + 500, None),
            ],
            OK_MS,
        )
        .unwrap();
    // The window is (at - 60 s, at]: a value seen exactly 60 s before is out,
    // and one seen after the read's time is not in yet.
    assert_eq!(counts, [2, 1, 1, 0, 2, 0, 1, 2]);
    // Seen again, `a` is back in the window.
    store.apply(&[seen("s", "a", T0 + 30 * SECOND)], OK_MS).unwrap();
    assert_eq!(store.read(&[distinct("s", "60s", T0 + minute + 500, None)], OK_MS).unwrap(), [1]);
}

#[test]
fn two_replicas_of_one_server_see_each_others_values() {
    let server = RedisServer::start();
    let a = RedisState::connect(&server.url()).unwrap();
    let b = RedisState::connect(&server.url()).unwrap();
    a.apply(&[seen("s", "x", T0)], OK_MS).unwrap();
    b.apply(&[seen("s", "y", T0 + SECOND)], OK_MS).unwrap();
    b.apply(&[seen("s", "x", T0 + 2 * SECOND)], OK_MS).unwrap();
    a.apply(&[seen("other", "x", T0)], OK_MS).unwrap();
    let at = T0 + 3 * SECOND;
    for store in [&a, &b] {
        let reads = [
            distinct("s", "60s", at, None),
            distinct("s", "60s", at, Some("x")),
            distinct("s", "60s", at, Some("y")),
            distinct("s", "60s", at, Some("z")),
            distinct("other", "24h", at, Some("y")),
        ];
        assert_eq!(store.read(&reads, OK_MS).unwrap(), [2, 2, 2, 3, 2]);
    }
    // `x`, seen by `a` at T0 then by `b` at T0 + 2 s, counts from the later:
    // 61 s after T0 it alone is in the window (`y` was seen at T0 + 1 s).
    let counts = a.read(&[distinct("s", "60s", T0 + 61 * SECOND, None)], OK_MS).unwrap();
    assert_eq!(counts, [1]);
    let counts = b.read(&[distinct("s", "60s", T0 + 62 * SECOND, None)], OK_MS).unwrap();
    assert_eq!(counts, [0]);
}

#[test]
fn a_distinct_series_is_one_sorted_set_with_its_expiry_trimmed_and_capped() {
    let server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    let mut connection = raw(&server);
    store.apply(&[seen("ns|c|user|u1", "v:1", T0), seen("ns|c|user|u1", "v|2", T0 + 1)], OK_MS).unwrap();
    let key = "gg:ns|c|user|u1:distinct";
    assert_eq!(keys(&mut connection), [key], "one key for the series, and no bucket");
    let kind: String = redis::cmd("TYPE").arg(key).query(&mut connection).unwrap();
    assert_eq!(kind, "zset");
    assert_eq!(last_seen(&mut connection, "ns|c|user|u1", "v:1"), Some(T0 as f64));
    assert_eq!(last_seen(&mut connection, "ns|c|user|u1", "v|2"), Some((T0 + 1) as f64));
    let ttl: i64 = redis::cmd("TTL").arg(key).query(&mut connection).unwrap();
    let retention = retention_secs(86_400) as i64;
    assert!(ttl > retention - 10 && ttl <= retention, "TTL {ttl}, retention {retention}");

    // Values no window can read from the newest increment's time are
    // forgotten with it: before the longest window, not at its edge.
    let at = T0 + SECOND;
    let longest = MAX_WINDOW_SECS * 1000;
    let _: u64 = redis::cmd("ZADD")
        .arg("gg:old:distinct")
        .arg(at - longest - 1)
        .arg("ancient")
        .arg(at - longest)
        .arg("edge")
        .query(&mut connection)
        .unwrap();
    store.apply(&[seen("old", "now", at)], OK_MS).unwrap();
    assert_eq!(last_seen(&mut connection, "old", "ancient"), None);
    assert_eq!(last_seen(&mut connection, "old", "edge"), Some((at - longest) as f64));
    assert_eq!(store.read(&[distinct("old", "400d", at, None)], OK_MS).unwrap(), [1], "the edge is out of the window");

    // Past MAX_DISTINCT_VALUES, those seen least recently go.
    let mut fill = redis::cmd("ZADD");
    fill.arg("gg:full:distinct");
    for i in 0..MAX_DISTINCT_VALUES as u64 {
        fill.arg(T0 - DAY + i).arg(format!("m{i}"));
    }
    let added: u64 = fill.query(&mut connection).unwrap();
    assert_eq!(added, MAX_DISTINCT_VALUES as u64);
    store.apply(&[seen("full", "new", T0)], OK_MS).unwrap();
    let cardinality: u64 = redis::cmd("ZCARD").arg("gg:full:distinct").query(&mut connection).unwrap();
    assert_eq!(cardinality, MAX_DISTINCT_VALUES as u64);
    assert_eq!(last_seen(&mut connection, "full", "m0"), None, "the oldest is forgotten");
    assert_eq!(last_seen(&mut connection, "full", "m1"), Some((T0 - DAY + 1) as f64));
    assert_eq!(last_seen(&mut connection, "full", "new"), Some(T0 as f64));
    let reads = [distinct("full", "30d", T0, None), distinct("full", "30d", T0, Some("m0"))];
    let counts = store.read(&reads, OK_MS).unwrap();
    assert_eq!(counts, [MAX_DISTINCT_VALUES as u64, MAX_DISTINCT_VALUES as u64 + 1]);
}

#[test]
fn distinct_reads_and_increments_share_the_round_trip_of_the_rest() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port());
    let store = RedisState::connect(&format!("redis://127.0.0.1:{}", proxy.port)).unwrap();
    assert_eq!(store.read(&[read("s", "60s", T0)], OK_MS).unwrap(), [0]);
    let mut stats = raw(&server);
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut stats).unwrap();

    let before = proxy.round_trips();
    let batch = [inc("s", 1, T0), seen("d", "a", T0), seen("d", "b", T0 + 1), seen("e", "a", T0 + 2)];
    store.apply(&batch, OK_MS).unwrap();
    assert_eq!(proxy.round_trips() - before, 1, "an apply of events and distinct values");
    assert_eq!(command_calls(&mut stats, "incrby"), 4);
    assert_eq!(command_calls(&mut stats, "zadd"), 3);
    assert_eq!(command_calls(&mut stats, "zremrangebyscore"), 3);
    assert_eq!(command_calls(&mut stats, "zremrangebyrank"), 3);
    assert_eq!(command_calls(&mut stats, "expire"), 4 + 3);
    assert_eq!((command_calls(&mut stats, "multi"), command_calls(&mut stats, "exec")), (1, 1));

    let before = proxy.round_trips();
    let at = T0 + SECOND;
    let reads = [
        read("s", "60s", at),
        distinct("d", "60s", at, None),
        distinct("d", "24h", at, Some("c")),
        read("s", "24h", at),
        distinct("e", "60s", at, Some("a")),
    ];
    assert_eq!(store.read(&reads, OK_MS).unwrap(), [1, 2, 3, 1, 1]);
    assert_eq!(proxy.round_trips() - before, 1, "a read of events and distinct values");
    assert_eq!(command_calls(&mut stats, "mget"), 2);
    assert_eq!(command_calls(&mut stats, "zcount"), 3);
    assert_eq!(command_calls(&mut stats, "zscore"), 2);
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 1, "one connection, kept");
}

#[test]
fn distinct_values_seen_while_redis_is_down_are_kept_with_their_exact_time() {
    let mut server = RedisServer::start();
    let store = RedisState::connect(&server.url()).unwrap();
    store.apply(&[seen("s", "a", T0)], DOWN_MS).unwrap();

    server.stop();
    let batch = [seen("s", "b", T0 + SECOND), seen("s", "a", T0 + SECOND + 400), seen("s", "a", T0 + SECOND + 1)];
    let error = store.apply(&batch, DOWN_MS).unwrap_err();
    assert!(error.message.contains("3 increments kept to apply later"), "{error}");
    assert!(store.read(&[distinct("s", "60s", T0 + SECOND, None)], DOWN_MS).is_err());
    assert_eq!(store.metrics().increments_pending, 3);

    // Back, empty: the kept values land with the next apply.
    server.restart();
    std::thread::sleep(RECONNECT_INTERVAL);
    store.apply(&[seen("s", "c", T0 + 2 * SECOND)], DOWN_MS).unwrap();
    assert_eq!(store.metrics().increments_pending, 0);
    assert_eq!(last_seen(&mut raw(&server), "s", "a"), Some((T0 + SECOND + 400) as f64), "its latest time");
    let minute = 60 * SECOND;
    let counts = store
        .read(
            &[
                distinct("s", "60s", T0 + 2 * SECOND, None),
                distinct("s", "60s", T0 + minute + SECOND + 399, None),
                distinct("s", "60s", T0 + minute + SECOND + 400, None),
            ],
            DOWN_MS,
        )
        .unwrap();
    assert_eq!(counts, [3, 2, 1], "a, b and c; then a (to the millisecond) and c; then c alone");
}
