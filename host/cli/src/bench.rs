//! Measuring what a decision costs: [`run`] drives one request through
//! [`PolicySet::evaluate`], the call the server makes per request, from one
//! or more threads, and reports throughput, latency percentiles and the time
//! spent in each policy. `groupgate bench` prints its [`BenchReport`].

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use groupgate::{Outcome, PolicySet, Request, RequestError};

/// How long and on how many threads to measure.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BenchOptions {
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long every thread evaluates before measuring starts, so that each
    /// policy has a warm instance per thread and the caches are hot.
    pub warmup: Duration,
    /// Threads evaluating at once, each in a loop.
    pub threads: usize,
    /// How many users the requests come from, in turn: the request's own
    /// (the sender, founder or subject) with `-1`, `-2`, ... appended (and
    /// the thread's number, so threads do not share users), each sending
    /// once every [`SENDER_INTERVAL_MS`] of request time, so that a set that
    /// counts per user (flood control) sees ordinary traffic rather than
    /// one user's flood. 1 decides the request as given, time standing still.
    pub senders: usize,
}

impl BenchOptions {
    /// Measure for `duration` after `warmup`, on `threads` threads.
    pub fn new(duration: Duration, warmup: Duration, threads: usize) -> BenchOptions {
        BenchOptions { duration, warmup, threads, senders: 1 }
    }

    /// Spread the requests over `senders` users (see [`BenchOptions::senders`]).
    pub fn senders(mut self, senders: usize) -> BenchOptions {
        self.senders = senders.max(1);
        self
    }
}

impl Default for BenchOptions {
    /// Ten seconds on one thread, after one second of warm-up.
    fn default() -> Self {
        BenchOptions { duration: Duration::from_secs(10), warmup: Duration::from_secs(1), threads: 1, senders: 1 }
    }
}

/// How far a user's requests are apart in request time, with
/// [`BenchOptions::senders`] over 1: six a minute, under flood-control's 20.
pub const SENDER_INTERVAL_MS: u64 = 10_000;

/// `request` from each of `n` users of thread `thread` in turn (see
/// [`BenchOptions::senders`]).
fn from_senders(request: &Request, n: usize, thread: usize) -> Vec<Request> {
    if n <= 1 {
        return vec![request.clone()];
    }
    let hook = request.hook();
    let mut value = request.to_value();
    let field = match hook {
        groupgate::Hook::Message => "sender",
        groupgate::Hook::GroupCreation => "founder",
        _ => "subject",
    };
    let id = value[field]["id"].as_str().unwrap_or_default().to_owned();
    (1..=n)
        .map(|k| {
            value[field]["id"] = format!("{id}-{thread}-{k}").into();
            Request::from_value(hook, value.clone()).expect("the request with another user id decodes")
        })
        .collect()
}

/// What a run measured. Times are in microseconds, from the moment
/// `evaluate` is called to the moment its decision is dropped.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Decisions made while measuring, across all threads.
    pub evaluations: u64,
    /// How long the measurement ran, in seconds.
    pub seconds: f64,
    /// Decisions per second, across all threads.
    pub evals_per_sec: f64,
    /// Threads that evaluated at once.
    pub threads: usize,
    /// Mean latency of one decision.
    pub mean_us: f64,
    /// Median latency.
    pub p50_us: f64,
    /// 90th percentile latency.
    pub p90_us: f64,
    /// 99th percentile latency.
    pub p99_us: f64,
    /// The slowest decision.
    pub max_us: f64,
    /// The decision's outcome (the same request is decided every time).
    pub outcome: Outcome,
    /// The policies that ran, in evaluation order, with their share.
    pub policies: Vec<PolicyTime>,
    /// The time per decision outside every policy: checking the set's
    /// limits and merging the verdicts.
    pub host_us: f64,
}

/// One policy's part of a decision's time.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyTime {
    /// The policy's name.
    pub name: String,
    /// Mean time per call: taking a warm instance, copying the request into
    /// it, running the hook, and copying the verdict out.
    pub mean_us: f64,
    /// Its part of the mean latency, from 0 to 1.
    pub share: f64,
    /// Calls in which it failed (trapped, timed out, ...) and gave its
    /// `on_error` verdict instead of its own: a run with failures measures
    /// the failure, not the policy.
    pub errors: u64,
}

/// Evaluates `request` on `options.threads` threads for the warm-up and then
/// for `options.duration`, recording every decision's latency.
///
/// `Err` when the set refuses the request (its `[limits]`), checked once
/// before any thread starts.
pub fn run(set: &PolicySet, request: &Request, options: &BenchOptions) -> Result<BenchReport, RequestError> {
    let first = set.evaluate(request)?;
    let names: Vec<String> = first.policies.iter().map(|p| p.name.to_string()).collect();
    let threads = options.threads.max(1);

    let go = Instant::now() + options.warmup;
    let stop = go + options.duration;
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let names = names.len();
                let senders = options.senders;
                scope.spawn(move || measure(set, from_senders(request, senders, t), names, go, stop))
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a bench thread panicked")).collect()
    });

    let mut latency = new_histogram();
    let mut per_policy = vec![PolicyTally::default(); names.len()];
    let mut busy = Duration::ZERO;
    for tally in &tallies {
        latency.add(&tally.latency).expect("histograms of one shape add up");
        for (total, thread) in per_policy.iter_mut().zip(&tally.per_policy) {
            total.ns += thread.ns;
            total.errors += thread.errors;
        }
        busy = busy.max(tally.elapsed);
    }
    let evaluations = latency.len();
    let per_call_us = |ns: u128| if evaluations == 0 { 0.0 } else { ns as f64 / evaluations as f64 / 1000.0 };
    let mean_us = latency.mean() / 1000.0;
    let policies: Vec<PolicyTime> = names
        .into_iter()
        .zip(&per_policy)
        .map(|(name, tally)| {
            let mean = per_call_us(tally.ns);
            let share = if mean_us > 0.0 { mean / mean_us } else { 0.0 };
            PolicyTime { name, mean_us: mean, share, errors: tally.errors }
        })
        .collect();
    let in_policies: f64 = policies.iter().map(|p| p.mean_us).sum();
    let quantile_us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let seconds = busy.as_secs_f64();
    Ok(BenchReport {
        evaluations,
        seconds,
        evals_per_sec: if seconds > 0.0 { evaluations as f64 / seconds } else { 0.0 },
        threads,
        mean_us,
        p50_us: quantile_us(0.50),
        p90_us: quantile_us(0.90),
        p99_us: quantile_us(0.99),
        max_us: latency.max() as f64 / 1000.0,
        outcome: first.outcome,
        policies,
        host_us: (mean_us - in_policies).max(0.0),
    })
}

/// One thread's measurements.
struct Tally {
    latency: Histogram<u64>,
    /// Each policy's calls, in evaluation order.
    per_policy: Vec<PolicyTally>,
    /// From the end of the warm-up to the thread's last decision.
    elapsed: Duration,
}

/// One policy's calls, summed.
#[derive(Clone, Default)]
struct PolicyTally {
    /// Nanoseconds spent in it.
    ns: u128,
    /// Calls in which it failed.
    errors: u64,
}

/// One thread's loop over its `requests`: after each pass over them, their
/// time moves on by [`SENDER_INTERVAL_MS`] (with more than one).
fn measure(set: &PolicySet, mut requests: Vec<Request>, policies: usize, go: Instant, stop: Instant) -> Tally {
    let mut next = 0;
    // The index of the next request: after each pass over them (with more
    // than one), their time moves on.
    let mut turn = |requests: &mut [Request]| {
        next = (next + 1) % requests.len();
        if next == 0 && requests.len() > 1 {
            for r in requests.iter_mut() {
                r.advance(SENDER_INTERVAL_MS);
            }
        }
        next
    };
    // The warm-up: every thread evaluates (at least once, even with no
    // warm-up time), so that the pools hold instances for the threads that
    // overlap before timing starts.
    loop {
        let i = turn(&mut requests);
        drop(set.evaluate(&requests[i]));
        if Instant::now() >= go {
            break;
        }
    }
    let mut latency = new_histogram();
    let mut per_policy = vec![PolicyTally::default(); policies];
    let start = Instant::now();
    let mut now = start;
    while now < stop {
        // The set and the request (up to a user id) are the same as in the
        // first, accepted, call, and the limits check depends on nothing else.
        let i = turn(&mut requests);
        let decision = set.evaluate(&requests[i]).expect("the request was accepted once");
        // The same request runs the same policies each time, in order.
        for (tally, p) in per_policy.iter_mut().zip(&decision.policies) {
            tally.ns += p.duration.as_nanos();
            tally.errors += u64::from(p.error_kind.is_some());
        }
        drop(decision);
        let end = Instant::now();
        latency.saturating_record(u64::try_from((end - now).as_nanos()).unwrap_or(u64::MAX));
        now = end;
    }
    Tally { latency, per_policy, elapsed: now - start }
}

/// Nanoseconds from 1 to an hour, to three significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}
