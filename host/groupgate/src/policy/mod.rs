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

use crate::bindings::{Policy, PolicyPre};
use crate::decision::ErrorKind;
use crate::error::PolicyError;
use crate::manifest::{Isolation, PolicyManifest};
use crate::request::RequestRef;
use crate::sandbox::{Breach, PolicyState, Runtime, ticks};
use crate::wire::{DataFile, Verdict};
use pool::Pool;

/// Most reasons, and most measures, one verdict may carry.
pub(crate) const MAX_VERDICT_ITEMS: usize = 256;
/// Most bytes of text one verdict may carry across all its strings.
pub(crate) const MAX_VERDICT_BYTES: usize = 64 * 1024;
/// Most bytes the host copies out of a policy in one crossing (a verdict, a
/// log line), counted before copying: strings in a list may all point at the
/// same guest bytes, so the copy could otherwise dwarf the memory cap.
pub(crate) const MAX_COPY_BYTES: usize = 1024 * 1024;

/// Why a policy gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The guest trapped (a panic, `unreachable`, a stack overflow, ...).
    Trap(String),
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
}

impl Failure {
    /// The failure's stable name.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Failure::Trap(_) => ErrorKind::Trap,
            Failure::Timeout(_) => ErrorKind::Timeout,
            Failure::Memory(_) => ErrorKind::Memory,
            Failure::LogFlood => ErrorKind::LogFlood,
            Failure::Oversized(_) => ErrorKind::Oversized,
            Failure::InitRejected(_) => ErrorKind::Init,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Trap(msg) => write!(f, "trapped: {msg}"),
            Failure::Timeout(ms) => write!(f, "timed out: ran past its {ms} ms deadline"),
            Failure::Memory(mb) => write!(f, "memory limit: tried to grow past its {mb} MiB cap"),
            Failure::LogFlood => {
                write!(f, "log flood: wrote more than {} log lines in one call", crate::sandbox::LOG_LINES_MAX)
            }
            Failure::Oversized(msg) => write!(f, "oversized verdict: {msg}"),
            Failure::InitRejected(msg) => write!(f, "init refused its config: {msg}"),
        }
    }
}

/// A warm instance: `init` has run, and the contract's exports were looked
/// up and type-checked when the policy was linked.
pub(crate) struct Warm {
    store: Store<PolicyState>,
    exports: Policy,
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
    name: Arc<str>,
    runtime: Runtime,
    pre: PolicyPre<PolicyState>,
    data: Vec<DataFile>,
    pool: Pool,
    /// Log lines over the per-call cap, counted across reloads by name.
    log_dropped: Arc<AtomicU64>,
}

impl LoadedPolicy {
    /// Links the component and makes one warm instance, which proves that the
    /// exports match the contract and that `init` accepts the config.
    pub(crate) fn new(
        runtime: &Runtime,
        manifest: PolicyManifest,
        pre: PolicyPre<PolicyState>,
        data: Vec<DataFile>,
    ) -> Result<Self, PolicyError> {
        let policy = LoadedPolicy {
            log_dropped: runtime.log_dropped_counter(&manifest.name),
            name: manifest.name.as_str().into(),
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

    /// Runs the hook for `input`, returning the verdict or why there is
    /// none, and the time spent.
    ///
    /// The whole call, including the `init` of an instance made for it (with
    /// `isolation = "fresh"`, or after a failure emptied the pool), runs within
    /// the policy's `timeout_ms`: `init_timeout_ms` bounds only the `init` at
    /// load, so a slow `init` cannot hold up requests.
    pub(crate) fn evaluate(&self, request: RequestRef<'_>) -> (Result<Verdict, Failure>, Duration) {
        let start = Instant::now();
        let result = self.take(start).and_then(|(warm, spent_ms)| self.call(warm, request, spent_ms));
        (result, start.elapsed())
    }

    /// Calls the hook with what is left of the deadline after `spent_ms`.
    fn call(&self, mut warm: Warm, request: RequestRef<'_>, spent_ms: u64) -> Result<Verdict, Failure> {
        warm.store.data_mut().begin_call();
        let timeout_ms = self.manifest.limits.timeout_ms;
        warm.store.set_epoch_deadline(ticks(timeout_ms.saturating_sub(spent_ms)));
        let store = &mut warm.store;
        let result = match request {
            RequestRef::Message(m) => warm.exports.call_evaluate_message(store, m),
            RequestRef::GroupCreation(c) => warm.exports.call_evaluate_group_creation(store, c),
            RequestRef::Membership(m) => warm.exports.call_evaluate_membership(store, m),
        };
        warm.store.data_mut().end_call();
        match result {
            Ok(verdict) => {
                check_size(&verdict)?;
                self.release(warm);
                Ok(verdict)
            }
            // The instance is dropped: after a trap its state is unknown.
            Err(e) => Err(self.classify(e, warm.store.data().breach, self.manifest.limits.timeout_ms)),
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
        let exports = self.pre.instantiate(&mut store).map_err(|e| self.classify(e, store.data().breach, timeout))?;
        let result = exports.call_init(&mut store, &self.manifest.config_json, &self.data);
        store.data_mut().end_call();
        let outcome = result.map_err(|e| self.classify(e, store.data().breach, timeout))?;
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
        let message = format!("{error:#}");
        // wasmtime's error for data over the copy budget has no public type.
        if message.contains("fuel allocated for hostcalls has been exhausted") {
            return Failure::Oversized(format!("more than {} KiB to copy out of the policy", MAX_COPY_BYTES / 1024));
        }
        match trap {
            Some(trap) => Failure::Trap(trap.to_string()),
            None => Failure::Trap(message.lines().next().unwrap_or_default().to_owned()),
        }
    }
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
