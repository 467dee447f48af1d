//! One loaded policy: its compiled component, pre-linked once, and a pool of
//! warm instances that have run `init` and are reused across evaluations.
//! Every call runs under the policy's deadline and memory cap; a failed call
//! costs the policy its instance and yields a [`Failure`] instead of a verdict.

mod pool;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use crate::bindings::{v1, v2};
use crate::decision::ErrorKind;
use crate::error::PolicyError;
use crate::manifest::{Isolation, PolicyManifest};
use crate::request::RequestRef;
use crate::sandbox::{Aborted, Breach, Encoded, Explained, PolicyState, Runtime, printable, ticks};
use crate::state::PolicyCounts;
use crate::wire::{DataFile, Outcome, Verdict};
use pool::Pool;

/// Most reasons, and most measures, one verdict may carry.
pub(crate) const MAX_VERDICT_ITEMS: usize = 256;
/// Most bytes of text one verdict may carry across all its strings.
pub(crate) const MAX_VERDICT_BYTES: usize = 64 * 1024;
/// Most bytes the host copies out of a policy in one crossing (a verdict, a
/// log line), counted before copying: strings in a list may all point at the
/// same guest bytes, so the copy could otherwise dwarf the memory cap.
pub(crate) const MAX_COPY_BYTES: usize = 1024 * 1024;

/// What starts the lines a policy wrote as it failed, in an error: a line
/// of its own (a policy's own text is escaped line by line, and so cannot
/// make one).
pub const OUTPUT_HEADER: &str = "policy output:";

/// `text` (an error, or a reason's message) without what failing policies
/// wrote: cut where the first [`OUTPUT_HEADER`] line starts, with a note
/// that something was left out. For callers who are not to read a policy's
/// internals, and for records that must not keep message text (a panic may
/// quote the request).
pub fn without_policy_output(text: &str) -> std::borrow::Cow<'_, str> {
    match text.find(&format!("\n{OUTPUT_HEADER}\n")) {
        Some(at) => format!("{} [what the policy wrote is left out]", &text[..at]).into(),
        None => text.into(),
    }
}

/// Why a policy gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The guest trapped (a panic, `unreachable`, a stack overflow, ...):
    /// why, and the last lines it wrote during the call, if any (a panic's
    /// message and location, an exception's traceback).
    Trap(String, Option<String>),
    /// The call ran past the deadline.
    Timeout(u64),
    /// The guest tried to grow its memory past the cap.
    Memory(u64),
    /// The guest wrote more log lines than one call may.
    LogFlood,
    /// The verdict was larger than the host accepts.
    Oversized(String),
    /// `init` refused the policy's config or data.
    InitRejected(String),
    /// The verdict broke the contract (an increment to an undeclared counter).
    Contract(String),
    /// Its counts could not be read, and its manifest says to fail then.
    State(String),
}

impl Failure {
    /// The failure's stable name.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Failure::Trap(..) => ErrorKind::Trap,
            Failure::Timeout(_) => ErrorKind::Timeout,
            Failure::Memory(_) => ErrorKind::Memory,
            Failure::LogFlood => ErrorKind::LogFlood,
            Failure::Oversized(_) => ErrorKind::Oversized,
            Failure::InitRejected(_) => ErrorKind::Init,
            Failure::Contract(_) => ErrorKind::Contract,
            Failure::State(_) => ErrorKind::State,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Trap(msg, None) => write!(f, "trapped: {msg}"),
            Failure::Trap(msg, Some(said)) => write!(f, "trapped: {msg}\n{OUTPUT_HEADER}\n{said}"),
            Failure::Timeout(ms) => write!(f, "timed out: ran past its {ms} ms deadline"),
            Failure::Memory(mb) => write!(f, "memory limit: tried to grow past its {mb} MiB cap"),
            Failure::LogFlood => {
                write!(f, "log flood: wrote more than {} log lines in one call", crate::sandbox::LOG_LINES_MAX)
            }
            Failure::Oversized(msg) => write!(f, "oversized verdict: {msg}"),
            Failure::InitRejected(msg) => write!(f, "init refused its config: {msg}"),
            Failure::Contract(msg) => write!(f, "broke the contract: {msg}"),
            Failure::State(msg) => write!(f, "could not read its counts: {msg}"),
        }
    }
}

/// A component linked against the contract version it was built for.
#[derive(Clone)]
pub(crate) enum Pre {
    /// 0.1.x: the request is lowered whole.
    V1(v1::PolicyPre<PolicyState>),
    /// 0.2.x: the request in the request encoding.
    V2(v2::PolicyPre<PolicyState>),
}

/// The exports of an instance, of its contract version.
enum Exports {
    V1(v1::Policy),
    V2(v2::Policy),
}

/// A warm instance: `init` has run, and the contract's exports were looked
/// up and type-checked when the policy was linked.
pub(crate) struct Warm {
    store: Store<PolicyState>,
    exports: Exports,
}

/// What a policy answered: its verdict, and what it adds to its counters.
pub(crate) struct Answer {
    pub(crate) verdict: Verdict,
    pub(crate) increments: Vec<v2::Increment>,
}

impl Answer {
    /// Allow, for no reason, adding nothing: what the host takes a policy
    /// it does not call to answer.
    pub(crate) fn allow() -> Answer {
        Answer {
            verdict: Verdict { outcome: Outcome::Allow, reasons: Vec::new(), measures: Vec::new() },
            increments: Vec::new(),
        }
    }

    /// Whether it is [`Answer::allow`].
    pub(crate) fn is_plain_allow(&self) -> bool {
        self.verdict.outcome == Outcome::Allow
            && self.verdict.reasons.is_empty()
            && self.verdict.measures.is_empty()
            && self.increments.is_empty()
    }
}

/// Warm instances kept per policy between calls. Calls run on the caller's
/// thread, and a server may run one per connection at once (each blocking
/// call hands its worker's other requests to another thread), so the pool
/// keeps enough for a busy sidecar: an instance made and dropped per call
/// costs an `init` each time and fragments the allocator's memory.
const MAX_IDLE: usize = 32;
// Shard counts are powers of two up to MAX_IDLE, so a thread's shard is a mask.
const _: () = assert!(MAX_IDLE.is_power_of_two());

/// A policy ready to evaluate: its manifest, linked component, data and
/// pool of warm instances.
pub(crate) struct LoadedPolicy {
    pub(crate) manifest: PolicyManifest,
    pub(crate) name: Arc<str>,
    pub(crate) version: Arc<str>,
    runtime: Runtime,
    pre: Pre,
    data: Vec<DataFile>,
    pool: Pool,
    /// Log lines over the per-call cap, counted across reloads by name.
    log_dropped: Arc<AtomicU64>,
}

/// A trap, with what the guest wrote as it failed: its own words about
/// why.
fn with_output(failure: Failure, said: Option<String>) -> Failure {
    match failure {
        Failure::Trap(trap, None) => Failure::Trap(trap, said),
        other => other,
    }
}

impl LoadedPolicy {
    /// Links the component and makes one warm instance, which proves that the
    /// exports match the contract and that `init` accepts the config.
    pub(crate) fn new(
        runtime: &Runtime,
        manifest: PolicyManifest,
        pre: Pre,
        data: Vec<DataFile>,
    ) -> Result<Self, PolicyError> {
        // Reports came with 0.2.0: a 0.1.0 component has no export for them.
        if matches!(pre, Pre::V1(_)) && manifest.hooks.contains(&crate::hook::Hook::Report) {
            return Err(PolicyError::Contract(
                "its manifest lists hook `report`, which contract groupgate:policy@0.1.0 (the component's) does not \
                 have: rebuild it against 0.2.0, or leave `report` out of `hooks`"
                    .into(),
            ));
        }
        let policy = LoadedPolicy {
            log_dropped: runtime.log_dropped_counter(&manifest.name),
            name: manifest.name.as_str().into(),
            version: manifest.version.as_str().into(),
            manifest,
            runtime: runtime.clone(),
            pre,
            data,
            pool: Pool::new(MAX_IDLE),
        };
        let warm = policy.instantiate(policy.manifest.limits.init_timeout_ms).map_err(|e| match e {
            Failure::InitRejected(message) => PolicyError::InitRejected(message),
            other => PolicyError::Init(other.to_string()),
        })?;
        policy.release(warm);
        Ok(policy)
    }

    /// The same policy with another `[config]` (as JSON): a new pool whose
    /// instances run `init` with it. Fails as loading does if `init` refuses.
    pub(crate) fn with_config(&self, config_json: String) -> Result<Self, PolicyError> {
        let mut manifest = self.manifest.clone();
        manifest.config_json = config_json;
        LoadedPolicy::new(&self.runtime, manifest, self.pre.clone(), self.data.clone())
    }

    /// Runs the hook for `request` with the counts read for it, returning the
    /// answer or why there is none, and the time spent.
    ///
    /// The whole call, including the `init` of an instance made for it (with
    /// `isolation = "fresh"`, or after a failure emptied the pool), runs within
    /// the policy's `timeout_ms`: `init_timeout_ms` bounds only the `init` at
    /// load, so a slow `init` cannot hold up requests.
    ///
    /// `encoded` holds the request in the request encoding, which policies
    /// on contract 0.2 receive: made on first use and shared by every policy
    /// deciding the request.
    pub(crate) fn evaluate(
        &self,
        request: RequestRef<'_>,
        encoded: &mut Option<Encoded>,
        counts: &PolicyCounts,
    ) -> (Result<Answer, Failure>, Duration) {
        // Written once per decision, for every policy: not this one's time.
        if matches!(self.pre, Pre::V2(_)) && encoded.is_none() {
            *encoded = Some(Encoded::new(request));
        }
        let start = Instant::now();
        let result = self.take(start).and_then(|(warm, spent_ms)| self.call(warm, request, encoded, counts, spent_ms));
        (result, start.elapsed())
    }

    /// Calls the hook with what is left of the deadline after `spent_ms`.
    fn call(
        &self,
        mut warm: Warm,
        request: RequestRef<'_>,
        encoded: &mut Option<Encoded>,
        counts: &PolicyCounts,
        spent_ms: u64,
    ) -> Result<Answer, Failure> {
        warm.store.data_mut().begin_call();
        let timeout_ms = self.manifest.limits.timeout_ms;
        warm.store.set_epoch_deadline(ticks(timeout_ms.saturating_sub(spent_ms)));
        let store = &mut warm.store;
        let result = match &warm.exports {
            Exports::V1(exports) => match request {
                RequestRef::Message(m) => exports.call_evaluate_message(store, m),
                RequestRef::GroupCreation(c) => exports.call_evaluate_group_creation(store, c),
                RequestRef::Membership(m) => exports.call_evaluate_membership(store, m),
                // Refused at load (`LoadedPolicy::new`): never called.
                RequestRef::Report(_) => Err(wasmtime::Error::msg("contract 0.1.0 has no `report` hook")),
            }
            .map(|verdict| Answer { verdict, increments: Vec::new() }),
            Exports::V2(exports) => {
                let bytes = encoded.get_or_insert_with(|| Encoded::new(request)).with(counts);
                call_v2(exports, store, request, bytes).map(|outcome| {
                    // The rest of the verdict, when the hook gave any.
                    let Explained { reasons, measures, increments } =
                        store.data_mut().explained.take().unwrap_or_default();
                    Answer { verdict: Verdict { outcome, reasons, measures }, increments }
                })
            }
        };
        // What the guest wrote as it failed, before the call's output is
        // logged and forgotten.
        let said = if result.is_err() { warm.store.data().output.tail() } else { None };
        warm.store.data_mut().end_call();
        match result {
            Ok(answer) => {
                check_size(&answer.verdict)?;
                self.check_increments(&answer.increments)?;
                self.release(warm);
                Ok(answer)
            }
            // The instance is dropped: after a trap its state is unknown.
            Err(e) => {
                Err(with_output(self.classify(e, warm.store.data().breach, self.manifest.limits.timeout_ms), said))
            }
        }
    }

    /// A warm instance, and the milliseconds of the call's deadline spent
    /// getting it: none for a pooled one (the clock is not read again).
    fn take(&self, start: Instant) -> Result<(Warm, u64), Failure> {
        let pooled = match self.manifest.limits.isolation {
            Isolation::Reuse => self.pool.take(),
            Isolation::Fresh => None,
        };
        match pooled {
            Some(warm) => Ok((warm, 0)),
            // Made on the request path: its `init` gets the call's deadline.
            None => {
                let warm = self.instantiate(self.manifest.limits.timeout_ms)?;
                Ok((warm, crate::time::whole_millis(start.elapsed())))
            }
        }
    }

    fn release(&self, warm: Warm) {
        if self.manifest.limits.isolation == Isolation::Fresh {
            // Dropped with everything the call left in its memory.
            return;
        }
        self.pool.put(warm);
    }

    /// A fresh instance that has run `init` within `deadline_ms`.
    fn instantiate(&self, deadline_ms: u64) -> Result<Warm, Failure> {
        let limits = self.manifest.limits;
        let state = PolicyState::new(self.name.clone(), limits.memory_mb, self.log_dropped.clone());
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|state| state);
        store.set_hostcall_fuel(MAX_COPY_BYTES);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(deadline_ms));
        store.data_mut().begin_call();

        let timeout = deadline_ms;
        let config = &self.manifest.config_json;
        let (exports, result) = match &self.pre {
            Pre::V1(pre) => {
                let exports =
                    pre.instantiate(&mut store).map_err(|e| self.classify(e, store.data().breach, timeout))?;
                let result = exports.call_init(&mut store, config, &self.data);
                (Exports::V1(exports), result)
            }
            Pre::V2(pre) => {
                let exports =
                    pre.instantiate(&mut store).map_err(|e| self.classify(e, store.data().breach, timeout))?;
                let result = exports.call_init(&mut store, config, &self.data);
                (Exports::V2(exports), result)
            }
        };
        let said = if result.is_err() { store.data().output.tail() } else { None };
        store.data_mut().end_call();
        let outcome = result.map_err(|e| with_output(self.classify(e, store.data().breach, timeout), said))?;
        outcome.map_err(Failure::InitRejected)?;
        Ok(Warm { store, exports })
    }

    fn classify(&self, error: wasmtime::Error, breach: Option<Breach>, timeout_ms: u64) -> Failure {
        let trap = error.downcast_ref::<Trap>();
        if trap == Some(&Trap::Interrupt) {
            return Failure::Timeout(timeout_ms);
        }
        match breach {
            Some(Breach::Memory) => return Failure::Memory(self.manifest.limits.memory_mb),
            Some(Breach::LogFlood) => return Failure::LogFlood,
            None => {}
        }
        // The policy's own message, whatever it says.
        if let Some(Aborted(message)) = error.downcast_ref::<Aborted>() {
            return Failure::Trap(message.clone(), None);
        }
        let message = format!("{error:#}");
        // wasmtime's error for data over the copy budget has no public type.
        if message.contains("fuel allocated for hostcalls has been exhausted") {
            return Failure::Oversized(format!("more than {} KiB to copy out of the policy", MAX_COPY_BYTES / 1024));
        }
        match trap {
            Some(trap) => Failure::Trap(trap.to_string(), None),
            // A host function's error (an undeclared counter, say): the
            // first line is wasmtime's wrapping, the cause is the news.
            None => Failure::Trap(error.root_cause().to_string().lines().next().unwrap_or_default().to_owned(), None),
        }
    }
}

impl LoadedPolicy {
    /// Increments go only to the policy's own counters (not to one the host
    /// keeps), and no more of them than of reasons.
    fn check_increments(&self, increments: &[v2::Increment]) -> Result<(), Failure> {
        if increments.len() > MAX_VERDICT_ITEMS {
            return Err(Failure::Oversized(format!(
                "{} increments, more than the {MAX_VERDICT_ITEMS} allowed",
                increments.len()
            )));
        }
        for inc in increments {
            let own = self.manifest.counters.iter().any(|c| c.name == inc.counter && c.host.is_none());
            if !own {
                let mut own: Vec<&str> =
                    self.manifest.counters.iter().filter(|c| c.host.is_none()).map(|c| c.name.as_str()).collect();
                if own.is_empty() {
                    own.push("none");
                }
                return Err(Failure::Contract(format!(
                    "the verdict adds to counter `{}`, which is not one of the policy's own counters \
                     (`[counters]` without `host` in its manifest: {})",
                    printable(shortened(&inc.counter)),
                    own.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Calls a 0.2 policy's hook for `request` with `bytes`, the request in the
/// request encoding: its outcome (the rest of its verdict is what it gave
/// `verdict.explain`).
fn call_v2(
    exports: &v2::Policy,
    store: &mut Store<PolicyState>,
    request: RequestRef<'_>,
    bytes: &[u8],
) -> wasmtime::Result<Outcome> {
    match request {
        RequestRef::Message(_) => exports.call_evaluate_message(store, bytes),
        RequestRef::GroupCreation(_) => exports.call_evaluate_group_creation(store, bytes),
        RequestRef::Membership(_) => exports.call_evaluate_membership(store, bytes),
        RequestRef::Report(_) => exports.call_evaluate_report(store, bytes),
    }
}

/// At most 64 bytes of a name a policy gave, for a message.
pub(crate) fn shortened(name: &str) -> &str {
    shortened_to(name, 64)
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn shortened_to(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn check_size(verdict: &Verdict) -> Result<(), Failure> {
    if verdict.reasons.len() > MAX_VERDICT_ITEMS {
        return Err(Failure::Oversized(format!(
            "{} reasons, more than the {MAX_VERDICT_ITEMS} allowed",
            verdict.reasons.len()
        )));
    }
    if verdict.measures.len() > MAX_VERDICT_ITEMS {
        return Err(Failure::Oversized(format!(
            "{} measures, more than the {MAX_VERDICT_ITEMS} allowed",
            verdict.measures.len()
        )));
    }
    let text: usize = verdict
        .reasons
        .iter()
        .map(|r| {
            r.code.len()
                + r.message.len()
                + r.article.as_ref().map_or(0, String::len)
                + r.evidence.as_ref().map_or(0, String::len)
        })
        .sum::<usize>()
        + verdict.measures.iter().map(|m| m.target.id().len()).sum::<usize>();
    if text > MAX_VERDICT_BYTES {
        return Err(Failure::Oversized(format!("{text} bytes of text, more than the {MAX_VERDICT_BYTES} allowed")));
    }
    Ok(())
}
