//! The one place the Wasm engine is configured: epoch deadlines, the memory
//! limiter, and a linker that grants a policy its log import and an empty
//! WASI context, nothing more.

mod cache;
mod output;
mod state;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, StoreContextMut};

use state::LogLevel;
pub(crate) use state::{Breach, HostState, LOG_LINES_MAX, printable};

/// How often the epoch advances: the resolution of every call deadline.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// Set to `1`, names compiled policy code for `perf` (see the README).
pub const PERF_MAP_VAR: &str = "GROUPGATE_PERF_MAP";

/// The WIT package version this host implements.
pub const CONTRACT: &str = "groupgate:policy@0.1.0";

/// A Wasm engine with its deadline clock and linker. One runtime serves any
/// number of policy sets; clones share it.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    stop: Arc<AtomicBool>,
    /// The standard plugins, compiled on first use and shared by every set.
    builtins: Mutex<HashMap<String, Component>>,
    /// Module files compiled before, by the SHA-256 of their bytes, so a
    /// reload that changes only data or manifests compiles nothing.
    modules: Mutex<HashMap<[u8; 32], Component>>,
    /// How many components (module files and standard plugins) have been
    /// compiled, for tests and operators.
    compiled: AtomicU64,
    /// Compiled components kept on disk across runs, if asked for.
    disk: Option<cache::DiskCache>,
    /// Components the disk cache answered, and entries it refused.
    disk_hits: AtomicU64,
    disk_rejected: AtomicU64,
    /// Guest log lines dropped over the per-call cap, by policy name; kept
    /// across reloads so the count only grows.
    log_dropped: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Where the process-wide runtime comes from: made on first use, or set once.
static SHARED: OnceLock<Result<Runtime, String>> = OnceLock::new();

impl Runtime {
    /// A new engine with its own epoch thread, which compiles every
    /// component it loads (once per runtime) and keeps nothing on disk.
    pub fn new() -> Result<Runtime, String> {
        Runtime::build(None)
    }

    /// A new engine that keeps compiled components in the folder `dir`
    /// (created if missing, private to its owner), so a later run, or a
    /// reload, that loads the same component bytes deserialises them in
    /// milliseconds instead of compiling them. Entries are checked before
    /// use; a corrupt or foreign one is removed and compiled again. `Err`
    /// when the folder cannot be created.
    pub fn with_cache(dir: impl AsRef<Path>) -> Result<Runtime, String> {
        Runtime::build(Some(dir.as_ref()))
    }

    fn build(cache_dir: Option<&Path>) -> Result<Runtime, String> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Calls are synchronous; concurrency support makes each call dearer.
        config.concurrency_support(false);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // With GROUPGATE_PERF_MAP=1, compiled policy code is named in
        // /tmp/perf-PID.map, so `perf report` shows a policy's own functions.
        if std::env::var_os(PERF_MAP_VAR).is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| format!("cannot configure the wasm engine: {e:#}"))?;
        let disk = cache_dir.map(|dir| cache::DiskCache::open(dir, &engine)).transpose()?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("cannot link WASI: {e:#}"))?;
        freeze_waiting(&mut linker).map_err(|e| format!("cannot link the frozen clock: {e:#}"))?;
        link_contract(&mut linker).map_err(|e| format!("cannot link the policy contract: {e:#}"))?;

        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        thread::Builder::new()
            .name("groupgate-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    thread::sleep(TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| format!("cannot start the deadline clock: {e}"))?;

        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                stop,
                builtins: Mutex::default(),
                modules: Mutex::default(),
                compiled: AtomicU64::new(0),
                disk,
                disk_hits: AtomicU64::new(0),
                disk_rejected: AtomicU64::new(0),
                log_dropped: Mutex::default(),
            }),
        })
    }

    /// The process-wide runtime that [`crate::PolicySet::load`] uses: the
    /// one given to [`Runtime::set_shared`], or else one made by
    /// [`Runtime::new`] on first use.
    pub fn shared() -> Result<Runtime, String> {
        SHARED.get_or_init(Runtime::new).clone()
    }

    /// Makes `runtime` the process-wide one (e.g. one with a compile
    /// cache). Only before the first use: `Err` gives it back otherwise.
    pub fn set_shared(runtime: Runtime) -> Result<(), Runtime> {
        SHARED.set(Ok(runtime)).map_err(|r| r.expect("set_shared is given a runtime"))
    }

    /// The compile cache folder, if this runtime keeps one.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.disk.as_ref().map(|d| d.root())
    }

    /// How many components the compile cache answered without compiling.
    pub fn cache_hits(&self) -> u64 {
        self.inner.disk_hits.load(Ordering::Relaxed)
    }

    /// How many compile cache entries failed a check (corrupt, truncated,
    /// from another engine) and were removed and compiled again.
    pub fn cache_rejected(&self) -> u64 {
        self.inner.disk_rejected.load(Ordering::Relaxed)
    }

    /// The component for `bytes` (SHA-256 `hash`): from the disk cache if it
    /// holds a valid entry, else compiled now and stored there.
    fn compile_or_fetch(&self, hash: &[u8; 32], bytes: &[u8]) -> Result<Component, String> {
        let Some(disk) = &self.inner.disk else {
            return self.compile_counted(bytes);
        };
        match disk.load(self.engine(), hash) {
            cache::Lookup::Hit(component) => {
                self.inner.disk_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(component);
            }
            cache::Lookup::Miss => {}
            cache::Lookup::Rejected(why) => {
                self.inner.disk_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("compile cache entry ignored and compiled again: {why}");
            }
        }
        let component = self.compile_counted(bytes)?;
        disk.store(hash, &component);
        Ok(component)
    }

    fn compile_counted(&self, bytes: &[u8]) -> Result<Component, String> {
        let component = compile(self, bytes)?;
        self.inner.compiled.fetch_add(1, Ordering::Relaxed);
        Ok(component)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// The component for module bytes with SHA-256 `hash`: compiled before,
    /// found in the disk cache, or compiled now and remembered.
    pub(crate) fn module_component(&self, hash: [u8; 32], bytes: &[u8]) -> Result<Component, String> {
        if let Some(component) = self.inner.modules.lock().unwrap_or_else(|e| e.into_inner()).get(&hash) {
            return Ok(component.clone());
        }
        // Compiled outside the lock: it takes long, and other loads may hit.
        let component = self.compile_or_fetch(&hash, bytes)?;
        self.inner.modules.lock().unwrap_or_else(|e| e.into_inner()).insert(hash, component.clone());
        Ok(component)
    }

    /// Forgets compiled module files except those with the given SHA-256
    /// hashes (the ones the sets still in use run), so a long-running
    /// server that reloads often does not keep every version it has seen.
    pub fn retain_modules<'a>(&self, keep: impl IntoIterator<Item = &'a str>) {
        let keep: Vec<&str> = keep.into_iter().collect();
        let mut cache = self.inner.modules.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|hash, _| keep.contains(&hex(hash).as_str()));
    }

    /// How many components (module files and standard plugins) were
    /// compiled: found neither in memory nor in the disk cache.
    pub fn components_compiled(&self) -> u64 {
        self.inner.compiled.load(Ordering::Relaxed)
    }

    /// The counter of log lines dropped for policy `name`.
    pub(crate) fn log_dropped_counter(&self, name: &str) -> Arc<AtomicU64> {
        let mut counters = self.inner.log_dropped.lock().unwrap_or_else(|e| e.into_inner());
        counters.entry(name.to_owned()).or_default().clone()
    }

    /// Log lines each policy (by name) wrote past the per-call cap of kept
    /// lines, which were dropped: what `/metrics` reports, so a policy that
    /// logs too much shows up before it floods.
    pub fn log_lines_dropped(&self) -> Vec<(String, u64)> {
        let counters = self.inner.log_dropped.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, u64)> =
            counters.iter().map(|(name, n)| (name.clone(), n.load(Ordering::Relaxed))).collect();
        out.sort();
        out
    }

    /// How many compiled module files are remembered.
    pub fn cached_modules(&self) -> usize {
        self.inner.modules.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The standard plugin `name`, whose embedded `bytes` have SHA-256
    /// `hash`, compiled (or found in the disk cache) once per runtime.
    pub(crate) fn builtin_component(&self, name: &str, hash: &[u8; 32], bytes: &[u8]) -> Result<Component, String> {
        let mut cache = self.inner.builtins.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(component) = cache.get(name) {
            return Ok(component.clone());
        }
        let component = self.compile_or_fetch(hash, bytes).map_err(|e| format!("standard plugin `{name}` {e}"))?;
        cache.insert(name.to_owned(), component.clone());
        Ok(component)
    }
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Deadline in epoch ticks for `ms` milliseconds, rounded up, plus one tick
/// because the current tick may be nearly over.
pub(crate) fn ticks(ms: u64) -> u64 {
    let tick_ms = TICK.as_millis().max(1) as u64;
    ms.div_ceil(tick_ms) + 1
}

/// The WASI clock interface version that `wasmtime-wasi` defines.
const WASI_CLOCKS: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Time does not pass inside a policy (its clocks read zero), so waiting on
/// the monotonic clock (a `sleep`) is ready at once. Otherwise a guest could
/// block the host thread in a real sleep, where no epoch deadline reaches it.
fn freeze_waiting(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(WASI_CLOCKS)?;
    clock.func_wrap("subscribe-duration", |mut cx: StoreContextMut<'_, HostState>, (_,): (u64,)| {
        Ok((cx.data_mut().ready_pollable()?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut cx: StoreContextMut<'_, HostState>, (_,): (u64,)| {
        Ok((cx.data_mut().ready_pollable()?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

fn link_contract(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let version = CONTRACT.split('@').nth(1).unwrap_or_default();
    // `types` holds only type definitions; its instance has nothing to provide.
    linker.instance(&format!("groupgate:policy/types@{version}"))?;
    let mut log = linker.instance(&format!("groupgate:policy/log@{version}"))?;
    log.func_wrap(
        "log",
        |mut cx: StoreContextMut<'_, HostState>,
         (level, message, fields): (LogLevel, String, Vec<(String, String)>)| {
            cx.data_mut().log(level, &message, &fields)
        },
    )?;
    Ok(())
}

/// Compiles a component, recognising a core module for what it is.
pub(crate) fn compile(runtime: &Runtime, bytes: &[u8]) -> Result<Component, String> {
    const CORE_MODULE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    if bytes.starts_with(&CORE_MODULE) {
        return Err("is a core WebAssembly module, not a component: build it for `wasm32-wasip2` \
                    or wrap it with `wasm-tools component new`"
            .into());
    }
    Component::new(runtime.engine(), bytes).map_err(|e| format!("is not a valid component: {}", e.root_cause()))
}
