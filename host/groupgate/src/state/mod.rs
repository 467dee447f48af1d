//! Counters over time windows: the one memory policies have across requests.
//!
//! A policy declares in its manifest the counters it reads (`[counters.NAME]`:
//! whom it counts and over which windows). Before the policy's call the host
//! reads those counts for the request from a [`StateStore`] and puts them in
//! the policy's request buffer, after the request; the verdict may carry increments to the
//! policy's own counters. Once the request's merged decision is final the
//! host applies every policy's increments, and its own counts of denials and
//! reviews, in one batch. A call thus never waits on I/O, its deadline holds,
//! and the counts read go into the decision's record so that a decision can
//! be reproduced without the store.
//!
//! [`Memory`] keeps counters in the process (the default); another store,
//! such as Redis shared by several replicas, implements [`StateStore`] and is
//! given to [`RuntimeBuilder::state`](crate::RuntimeBuilder::state).
//! See [`window`] for how windows are kept and how precise they are.

pub(crate) mod counts;
mod memory;
pub mod window;

use std::collections::BTreeMap;
use std::fmt;

pub use counts::PolicyCounts;
pub use memory::{MEMORY_MAX_SERIES, Memory};
pub use window::Window;

/// One count to read: the events of `series` within `window`, ending at the
/// request's time `at_ms` (unix milliseconds); or, for a series of distinct
/// values, how many distinct values it holds within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read<'a> {
    /// The series' key, unique across sets and policies (see [`series_key`]).
    pub series: &'a str,
    /// The window summed.
    pub window: &'a Window,
    /// The request's time.
    pub at_ms: u64,
    /// Set for a series of distinct values (see [`Distinct`]).
    pub distinct: Option<Distinct<'a>>,
}

/// How a series of distinct values is read: the number of distinct values
/// last added within the window, exactly (to the millisecond, not in
/// buckets), counting `with` among them if it is not there yet: the
/// request's own value, so that a count says what it will be once this
/// request is counted, whether or not its value was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distinct<'a> {
    /// The request's own value, when it has one.
    pub with: Option<&'a str>,
}

/// Events to add to a series at `at_ms`, the request's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    /// The series' key.
    pub series: String,
    /// How many events (for a series of distinct values, any amount above
    /// 0 adds `value` once).
    pub amount: u64,
    /// The request's time.
    pub at_ms: u64,
    /// For a series of distinct values, the value seen at `at_ms` (seen
    /// again, it counts once, as seen last then).
    pub value: Option<String>,
}

impl<'a> Read<'a> {
    /// A read of the events of `series` in `window` up to `at_ms`.
    pub fn events(series: &'a str, window: &'a Window, at_ms: u64) -> Read<'a> {
        Read { series, window, at_ms, distinct: None }
    }
}

impl Increment {
    /// `amount` events of `series` at `at_ms`.
    pub fn events(series: impl Into<String>, amount: u64, at_ms: u64) -> Increment {
        Increment { series: series.into(), amount, at_ms, value: None }
    }

    /// `value`, seen in `series` at `at_ms`.
    pub fn distinct(series: impl Into<String>, value: impl Into<String>, at_ms: u64) -> Increment {
        Increment { series: series.into(), amount: 1, at_ms, value: Some(value.into()) }
    }
}

/// The most distinct values a store keeps per series: past it, the values
/// seen least recently are forgotten, so a count of distinct values is
/// exact up to this many.
pub const MAX_DISTINCT_VALUES: usize = 65_536;

/// Why a store could not read or apply.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state store {store}: {message}")]
pub struct StateError {
    /// The store, as [`StateStore::describe`] gives it.
    pub store: String,
    /// What went wrong.
    pub message: String,
}

/// What a store reports for `/metrics`. Counts are totals since the store
/// was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateMetrics {
    /// Reads or applies that failed (unreachable, too slow, refused).
    pub errors: u64,
    /// Increments given up: over a buffer's or the store's bound.
    pub increments_dropped: u64,
    /// Increments waiting to be applied (a store that buffers while down).
    pub increments_pending: u64,
    /// Series the store holds now, where it knows (the memory store).
    pub series: Option<u64>,
    /// The most series it holds, where bounded.
    pub series_limit: Option<u64>,
    /// Series forgotten to stay within the bound, where bounded.
    pub series_evicted: Option<u64>,
}

impl StateMetrics {
    /// Metrics with the counts of errors and drops.
    pub fn new(errors: u64, increments_dropped: u64, increments_pending: u64) -> Self {
        StateMetrics {
            errors,
            increments_dropped,
            increments_pending,
            series: None,
            series_limit: None,
            series_evicted: None,
        }
    }
}

/// Where counters are kept.
///
/// `read` answers one request's reads together, in order (a networked store
/// in one round trip); `apply` adds one request's increments together. A
/// series is either of events, summed over windows, or of distinct values
/// ([`Read::distinct`], [`Increment::value`]): a key is only ever used one
/// way. A
/// store shared by several hosts makes them see one count. Both must return
/// within `timeout_ms`, or fail: the request is decided without counts then,
/// as each policy's `on_state_error` says. A store that cannot apply keeps
/// increments (bounded) to apply once it can again, or counts them dropped.
///
/// A second store looks like this (one that forgets everything):
///
/// ```
/// use groupgate::state::{Increment, Read, StateError, StateMetrics, StateStore};
///
/// struct Forgetful;
///
/// impl StateStore for Forgetful {
///     fn describe(&self) -> String {
///         "forgetful".into()
///     }
///     fn read(&self, reads: &[Read<'_>], _timeout_ms: u64) -> Result<Vec<u64>, StateError> {
///         Ok(vec![0; reads.len()])
///     }
///     fn apply(&self, _increments: &[Increment], _timeout_ms: u64) -> Result<(), StateError> {
///         Ok(())
///     }
///     fn metrics(&self) -> StateMetrics {
///         StateMetrics::default()
///     }
/// }
///
/// let runtime = groupgate::Runtime::builder().state(Forgetful).build()?;
/// assert_eq!(runtime.state().describe(), "forgetful");
/// # Ok::<(), groupgate::RuntimeError>(())
/// ```
pub trait StateStore: Send + Sync + 'static {
    /// The store for messages and metrics: `memory`, `redis://host:port/0`.
    fn describe(&self) -> String;

    /// The count of each read, in order.
    fn read(&self, reads: &[Read<'_>], timeout_ms: u64) -> Result<Vec<u64>, StateError>;

    /// Adds the increments.
    fn apply(&self, increments: &[Increment], timeout_ms: u64) -> Result<(), StateError>;

    /// Errors, drops and size so far.
    fn metrics(&self) -> StateMetrics;

    /// Whether a read or an apply may wait on something outside the
    /// process (a network, a disk). A server decides requests that use
    /// such a store on threads kept for blocking, off those that serve
    /// connections; one that answers from memory can be called anywhere.
    /// By default a store is taken to wait.
    fn waits(&self) -> bool {
        true
    }
}

/// The key of a series: the set's namespace, then the policy's own counter
/// (`policy/NAME/COUNTER`) or one the host keeps (`host/...`), then whom it
/// counts (`user/ID` or `group/ID`). Ids are escaped so no id can reach
/// another's key.
pub fn series_key(namespace: &str, counter: &str, whom: &str, id: &str) -> String {
    let mut key = String::with_capacity(namespace.len() + counter.len() + whom.len() + id.len() + 8);
    for (i, part) in [namespace, counter, whom, id].into_iter().enumerate() {
        if i > 0 {
            key.push('|');
        }
        escape_into(&mut key, part);
    }
    key
}

/// `|` separates a key's parts and `%` escapes: both are escaped in a part.
pub(crate) fn escape_into(out: &mut String, part: &str) {
    // Most ids have neither: copied whole.
    if !part.bytes().any(|b| b == b'%' || b == b'|') {
        out.push_str(part);
        return;
    }
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            '|' => out.push_str("%7C"),
            c => out.push(c),
        }
    }
}

impl fmt::Display for Read<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} over {} at {}", self.series, self.window, self.at_ms)
    }
}

/// A store that answers with counts given beforehand and keeps nothing: a
/// test case's prior counts, or a record's counts when it is replayed.
/// Reads it was not given count zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    counts: BTreeMap<String, PolicyCounts>,
    unavailable: bool,
}

impl Recorded {
    /// Counts per policy name.
    pub fn new(counts: BTreeMap<String, PolicyCounts>) -> Self {
        Recorded { counts, unavailable: false }
    }

    /// As if the store could not be read at all: every count is `none`, and
    /// a policy with `on_state_error = "error"` fails.
    pub fn unavailable() -> Self {
        Recorded { counts: BTreeMap::new(), unavailable: true }
    }

    /// The counts given, by policy name.
    pub fn policies(&self) -> impl Iterator<Item = (&str, &PolicyCounts)> {
        self.counts.iter().map(|(name, counts)| (name.as_str(), counts))
    }

    /// Whether it stands for a store that could not be read.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// The count policy `policy` reads for `counter` over `window`: `None`
    /// when not given, `Some(None)` for one given as unavailable.
    pub(crate) fn get(&self, policy: &str, counter: &str, window: &str) -> Option<Option<u64>> {
        if self.unavailable {
            return Some(None);
        }
        self.counts.get(policy)?.get(counter, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_reach_another_series() {
        assert_eq!(
            series_key("default", "policy/flood/messages", "user", "u1"),
            "default|policy/flood/messages|user|u1"
        );
        assert_ne!(series_key("a", "c", "user", "x|user|y"), series_key("a", "c|user|x", "user", "y"));
        assert_eq!(series_key("n", "c", "user", "100%|"), "n|c|user|100%25%7C");
    }
}
