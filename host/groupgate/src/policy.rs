//! One loaded policy: its compiled component, pre-linked once, and a pool of
//! warm instances that have run `init` and are reused across evaluations.
//! Every call runs under the policy's deadline and memory cap; a failed call
//! costs the policy its instance and yields a [`Failure`] instead of a verdict.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{ComponentType, Instance, InstancePre, Lower, TypedFunc};
use wasmtime::{Store, Trap};

use crate::decision::ErrorKind;
use crate::manifest::{Isolation, PolicyManifest};
use crate::request::Hook;
use crate::sandbox::{Breach, HostState, Runtime, ticks};
use crate::wire::{DataFile, GroupCreation, Membership, Message, Verdict};

/// Most reasons, and most measures, one verdict may carry.
pub(crate) const MAX_VERDICT_ITEMS: usize = 256;
/// Most bytes of text one verdict may carry across all its strings.
pub(crate) const MAX_VERDICT_BYTES: usize = 64 * 1024;
/// Most bytes the host copies out of a policy in one crossing (a verdict, a
/// log line), counted before copying: strings in a list may all point at the
/// same guest bytes, so the copy could otherwise dwarf the memory cap.
pub(crate) const MAX_COPY_BYTES: usize = 1024 * 1024;

/// Warm instances kept per policy between calls. Calls run on the caller's
/// thread, and a server may run one per connection at once (each blocking
/// call hands its worker's other requests to another thread), so the pool
/// keeps enough for a busy sidecar: an instance made and dropped per call
/// costs an `init` each time and fragments the allocator's memory.
const MAX_IDLE: usize = 32;
// Shard counts are powers of two up to MAX_IDLE, so a thread's shard is a mask.
const _: () = assert!(MAX_IDLE.is_power_of_two());

/// A policy's idle instances, split into shards that threads are spread over
/// (round robin, at a thread's first call). A thread takes and returns
/// instances through its own shard first, so that an instance, its store and
/// its linear memory stay with one thread (and so, mostly, one core's cache),
/// and two threads do not fight over one lock: with a single shared pool, two
/// threads deciding memberships through the default set made 1.1 to 1.3
/// times the decisions of one (`groupgate bench --threads 2`), each
/// instance's memory moving between cores on every call.
struct Pool {
    shards: Box<[Shard]>,
    /// Idle instances one shard keeps.
    per_shard: usize,
}

/// One shard, on a cache line of its own so that two threads' locks do not
/// share one.
#[repr(align(128))]
struct Shard(Mutex<Vec<Warm>>);

impl Pool {
    fn new() -> Pool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let count = cores.next_power_of_two().clamp(1, MAX_IDLE);
        let shards = (0..count).map(|_| Shard(Mutex::new(Vec::new()))).collect();
        Pool { shards, per_shard: (MAX_IDLE / count).max(1) }
    }

    /// The calling thread's shard.
    fn home(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local!(static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed));
        HOME.with(|home| home & (self.shards.len() - 1))
    }

    /// Every shard, the calling thread's first.
    fn home_first(&self) -> impl Iterator<Item = usize> + '_ {
        let home = self.home();
        (0..self.shards.len()).map(move |i| (home + i) % self.shards.len())
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Vec<Warm>> {
        self.shards[shard].0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle instance: the thread's own shard first, then any other, so
    /// that a thread new to the policy reuses an instance before making one.
    fn take(&self) -> Option<Warm> {
        self.home_first().find_map(|shard| self.lock(shard).pop())
    }

    /// Keeps `warm` in the thread's shard, or in the next one with room, so
    /// threads sharing a shard lose no instance while the pool holds fewer
    /// than `MAX_IDLE`; drops it when every shard is full.
    fn put(&self, warm: Warm) {
        for shard in self.home_first() {
            let mut shard = self.lock(shard);
            if shard.len() < self.per_shard {
                shard.push(warm);
                return;
            }
        }
    }
}

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
    /// The component's exports do not match the contract.
    Contract(String),
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
            Failure::Contract(_) => ErrorKind::Contract,
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
            Failure::Contract(msg) => f.write_str(msg),
        }
    }
}

/// A warm instance: `init` has run, the hook exports are looked up and
/// type-checked once.
struct Warm {
    store: Store<HostState>,
    hooks: Hooks,
}

/// A hook export, typed. `TypedFunc` is covariant in its parameters, so one
/// typed for `&'static` inputs accepts any shorter-lived borrow at call time.
pub(crate) type HookFunc<T> = TypedFunc<(&'static T,), (Verdict,)>;

pub(crate) struct Hooks {
    message: HookFunc<Message>,
    group_creation: HookFunc<GroupCreation>,
    membership: HookFunc<Membership>,
}

/// A request type that a hook export takes.
pub(crate) trait HookInput: ComponentType + Lower + Sync + 'static {
    /// The hook it answers.
    const HOOK: Hook;
    /// That hook's export in a warm instance.
    fn func(hooks: &Hooks) -> HookFunc<Self>;
}

impl HookInput for Message {
    const HOOK: Hook = Hook::Message;
    fn func(hooks: &Hooks) -> HookFunc<Self> {
        hooks.message
    }
}

impl HookInput for GroupCreation {
    const HOOK: Hook = Hook::GroupCreation;
    fn func(hooks: &Hooks) -> HookFunc<Self> {
        hooks.group_creation
    }
}

impl HookInput for Membership {
    const HOOK: Hook = Hook::Membership;
    fn func(hooks: &Hooks) -> HookFunc<Self> {
        hooks.membership
    }
}

pub(crate) struct LoadedPolicy {
    pub(crate) manifest: PolicyManifest,
    name: Arc<str>,
    runtime: Runtime,
    pre: InstancePre<HostState>,
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
        pre: InstancePre<HostState>,
        data: Vec<DataFile>,
    ) -> Result<Self, String> {
        let policy = LoadedPolicy {
            log_dropped: runtime.log_dropped_counter(&manifest.name),
            name: manifest.name.as_str().into(),
            manifest,
            runtime: runtime.clone(),
            pre,
            data,
            pool: Pool::new(),
        };
        let warm = policy.instantiate(policy.manifest.limits.init_timeout_ms).map_err(|e| match e {
            Failure::InitRejected(_) | Failure::Contract(_) => e.to_string(),
            other => format!("init failed: {other}"),
        })?;
        policy.release(warm);
        Ok(policy)
    }

    /// The same policy with another `[config]` (as JSON): a new pool whose
    /// instances run `init` with it. Fails as loading does if `init` refuses.
    pub(crate) fn with_config(&self, config_json: String) -> Result<Self, String> {
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
    pub(crate) fn evaluate<P: HookInput>(&self, input: &P) -> (Result<Verdict, Failure>, Duration) {
        let start = Instant::now();
        let result = self.take(start).and_then(|(warm, spent_ms)| self.call(warm, input, spent_ms));
        (result, start.elapsed())
    }

    /// Calls the hook with what is left of the deadline after `spent_ms`.
    fn call<P: HookInput>(&self, mut warm: Warm, input: &P, spent_ms: u64) -> Result<Verdict, Failure> {
        let func = P::func(&warm.hooks);
        warm.store.data_mut().begin_call();
        let timeout_ms = self.manifest.limits.timeout_ms;
        warm.store.set_epoch_deadline(ticks(timeout_ms.saturating_sub(spent_ms)));
        let result = func.call(&mut warm.store, (input,));
        warm.store.data_mut().end_call();
        match result {
            Ok((verdict,)) => {
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
                Ok((warm, u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)))
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
        let state = HostState::new(self.name.clone(), limits.memory_mb, self.log_dropped.clone());
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|state| state);
        store.set_hostcall_fuel(MAX_COPY_BYTES);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(deadline_ms));
        store.data_mut().begin_call();

        let timeout = deadline_ms;
        let instance = self.pre.instantiate(&mut store).map_err(|e| self.classify(e, store.data().breach, timeout))?;
        let init = instance
            .get_typed_func::<(&str, &[DataFile]), (Result<(), String>,)>(&mut store, "init")
            .map_err(|e| Failure::Contract(format!("export `init` does not match the contract: {e:#}")))?;
        let result = init.call(&mut store, (&self.manifest.config_json, &self.data));
        store.data_mut().end_call();
        let (outcome,) = result.map_err(|e| self.classify(e, store.data().breach, timeout))?;
        outcome.map_err(Failure::InitRejected)?;
        let hooks = Hooks {
            message: hook_func(&instance, &mut store)?,
            group_creation: hook_func(&instance, &mut store)?,
            membership: hook_func(&instance, &mut store)?,
        };
        Ok(Warm { store, hooks })
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

/// Looks up a hook export and checks its type against the contract.
fn hook_func<T: HookInput>(instance: &Instance, store: &mut Store<HostState>) -> Result<HookFunc<T>, Failure> {
    let name = T::HOOK.export_name();
    let func = instance.get_func(&mut *store, name).ok_or_else(|| {
        Failure::Contract(format!("export `{name}` is missing: the component does not implement the contract"))
    })?;
    func.typed(&*store).map_err(|e| Failure::Contract(format!("export `{name}` does not match the contract: {e:#}")))
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
        + verdict
            .measures
            .iter()
            .map(|m| match &m.target {
                crate::wire::Target::User(id) | crate::wire::Target::Group(id) => id.len(),
            })
            .sum::<usize>();
    if text > MAX_VERDICT_BYTES {
        return Err(Failure::Oversized(format!("{text} bytes of text, more than the {MAX_VERDICT_BYTES} allowed")));
    }
    Ok(())
}
