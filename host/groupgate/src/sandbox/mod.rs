//! The one place the Wasm engine is configured: epoch deadlines, the memory
//! limiter, the compile cache, and a linker that grants a policy the host
//! interfaces it was built with and an empty WASI context, nothing more.
//!
//! A [`Runtime`] is made by a [`RuntimeBuilder`]: what it keeps on disk,
//! whether `perf` may name policy code, which standard plugins it knows and
//! which host interfaces it offers are values given to the builder, never
//! read from globals or the environment.

mod cache;
mod host;
mod io;
mod output;
mod request;
mod state;
mod verdict;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, StoreContextMut};

pub use host::{HostInterface, Log, TEXT_MAX_BYTES, Text};
pub(crate) use request::{Aborted, Encoded};
pub use state::PolicyState;
pub use state::printable;
pub(crate) use state::{Breach, LOG_LINES_MAX};
pub(crate) use verdict::Explained;

use crate::contract;
use crate::error::RuntimeError;
use crate::state::{Memory, StateStore};

/// How often the epoch advances: the resolution of every call deadline.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// A Wasm engine with its deadline clock, its linker and the standard
/// plugins it knows. One runtime serves any number of policy sets; clones
/// share it.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<PolicyState>,
    stop: Arc<AtomicBool>,
    /// The standard plugins this runtime knows, by name: their bytes and
    /// SHA-256, compiled on first use and shared by every set.
    builtins: HashMap<String, Builtin>,
    /// The host interfaces offered, by name, in the order they were given.
    interfaces: Vec<String>,
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
    /// Where counters are kept.
    state: Arc<dyn StateStore>,
}

/// A standard plugin: embedded bytes, their hash, and once compiled, the
/// component.
struct Builtin {
    bytes: &'static [u8],
    hash: [u8; 32],
    compiled: Mutex<Option<Component>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Makes a [`Runtime`]. Every setting has a default, so
/// `Runtime::builder().build()` is a runtime that compiles every component
/// it loads (once), keeps nothing on disk, knows no standard plugin and
/// offers policies the `log` and `text` interfaces.
///
/// ```no_run
/// use groupgate::{Log, Runtime};
///
/// // A component of the platform's own, loadable as `builtin:house-rules`.
/// let house_rules: &'static [u8] = std::fs::read("house-rules.wasm")?.leak();
/// let runtime = Runtime::builder()
///     .cache_dir(".groupgate-cache")
///     .builtin("house-rules", house_rules)
///     .host_interface(Log::default())
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RuntimeBuilder {
    cache_dir: Option<PathBuf>,
    perf_map: bool,
    builtins: Vec<(String, &'static [u8])>,
    interfaces: Vec<Arc<dyn HostInterface>>,
    state: Option<Arc<dyn StateStore>>,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            cache_dir: None,
            perf_map: false,
            builtins: Vec::new(),
            interfaces: vec![Arc::new(Log::default()), Arc::new(Text::default())],
            state: None,
        }
    }
}

impl RuntimeBuilder {
    /// Keeps compiled components in the folder `dir` (created if missing,
    /// private to its owner), so a later run, or a reload, that loads the
    /// same component bytes deserialises them in milliseconds instead of
    /// compiling them. Entries are checked before use; a corrupt or foreign
    /// one is removed and compiled again.
    pub fn cache_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Names compiled policy code in `/tmp/perf-PID.map`, so `perf report`
    /// shows a policy's own functions.
    pub fn perf_map(&mut self, on: bool) -> &mut Self {
        self.perf_map = on;
        self
    }

    /// Makes the component `bytes` loadable as `module = "builtin:NAME"`.
    /// The crate `groupgate-builtins` registers the standard plugins.
    pub fn builtin(&mut self, name: &str, bytes: &'static [u8]) -> &mut Self {
        self.builtins.push((name.to_owned(), bytes));
        self
    }

    /// Offers policies `interface`, replacing one of the same name (the
    /// default `log` or `text`, say). Adding a host interface means adding it
    /// to the contract (`wit/policy.wit`), implementing [`HostInterface`] in a
    /// module of its own, and passing a value of it here.
    pub fn host_interface(&mut self, interface: impl HostInterface) -> &mut Self {
        self.interfaces.retain(|i| i.name() != interface.name());
        self.interfaces.push(Arc::new(interface));
        self
    }

    /// Keeps the counters policies read and write in `store` (see
    /// [`crate::state`]) instead of a [`Memory`] store of this runtime's own.
    /// Every set loaded by the runtime shares it, so counts survive reloads.
    pub fn state(&mut self, store: impl StateStore) -> &mut Self {
        self.state = Some(Arc::new(store));
        self
    }

    /// Like [`RuntimeBuilder::state`], for a store shared with other owners.
    pub fn shared_state(&mut self, store: Arc<dyn StateStore>) -> &mut Self {
        self.state = Some(store);
        self
    }

    /// Offers policies no host interface at all: a policy that imports one
    /// then fails to link.
    pub fn no_host_interfaces(&mut self) -> &mut Self {
        self.interfaces.clear();
        self
    }

    /// The runtime: an engine with its own epoch thread and linker. Fails
    /// when the engine cannot be configured, a host interface cannot be
    /// linked, a standard plugin is named twice, or the cache folder cannot
    /// be used.
    pub fn build(&self) -> Result<Runtime, RuntimeError> {
        let mut builtins = HashMap::new();
        for (name, bytes) in &self.builtins {
            let hash: [u8; 32] = Sha256::digest(bytes).into();
            let builtin = Builtin { bytes, hash, compiled: Mutex::new(None) };
            if name.is_empty() || builtins.insert(name.clone(), builtin).is_some() {
                return Err(RuntimeError::Builtin { name: name.clone() });
            }
        }

        let mut config = Config::new();
        config.wasm_component_model(true);
        // Calls are synchronous; concurrency support makes each call dearer.
        config.concurrency_support(false);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        if self.perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| RuntimeError::Engine(e.into()))?;
        let disk = self
            .cache_dir
            .as_deref()
            .map(|dir| cache::DiskCache::open(dir, &engine))
            .transpose()
            .map_err(|message| RuntimeError::Cache { message })?;

        let mut linker = Linker::new(&engine);
        let link = |what: &str, e: wasmtime::Error| RuntimeError::Link { what: what.to_owned(), cause: e.into() };
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| link("WASI", e))?;
        freeze_waiting(&mut linker).map_err(|e| link("the frozen clock", e))?;
        io::add_to_linker(&mut linker).map_err(|e| link("WASI's streams", e))?;
        contract::add_to_linker(&mut linker).map_err(|e| link("the policy contract", e))?;
        for interface in &self.interfaces {
            interface.add_to_linker(&mut linker).map_err(|e| link(&format!("`{}`", interface.name()), e))?;
        }

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
            .map_err(RuntimeError::Clock)?;

        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                stop,
                builtins,
                interfaces: self.interfaces.iter().map(|i| i.name().to_owned()).collect(),
                modules: Mutex::default(),
                compiled: AtomicU64::new(0),
                disk,
                disk_hits: AtomicU64::new(0),
                disk_rejected: AtomicU64::new(0),
                log_dropped: Mutex::default(),
                state: self.state.clone().unwrap_or_else(|| Arc::new(Memory::new())),
            }),
        })
    }
}

impl Runtime {
    /// A builder with the defaults (see [`RuntimeBuilder`]).
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The names of the standard plugins this runtime knows, sorted.
    pub fn builtin_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.inner.builtins.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Whether `name` is a standard plugin this runtime knows.
    pub(crate) fn has_builtin(&self, name: &str) -> bool {
        self.inner.builtins.contains_key(name)
    }

    /// The host interfaces offered to policies, by name.
    pub fn host_interfaces(&self) -> impl Iterator<Item = &str> {
        self.inner.interfaces.iter().map(String::as_str)
    }

    /// Where this runtime keeps counters.
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.inner.state
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

    pub(crate) fn linker(&self) -> &Linker<PolicyState> {
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

    /// The standard plugin `name` with its SHA-256, compiled (or found in the
    /// disk cache) once per runtime.
    pub(crate) fn builtin_component(&self, name: &str) -> Result<(Component, [u8; 32]), String> {
        let builtin = self.inner.builtins.get(name).ok_or_else(|| format!("no standard plugin named `{name}`"))?;
        let mut compiled = builtin.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(component) = &*compiled {
            return Ok((component.clone(), builtin.hash));
        }
        let component =
            self.compile_or_fetch(&builtin.hash, builtin.bytes).map_err(|e| format!("standard plugin `{name}` {e}"))?;
        *compiled = Some(component.clone());
        Ok((component, builtin.hash))
    }
}

/// Lower-case hexadecimal, as hashes are shown.
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
fn freeze_waiting(linker: &mut Linker<PolicyState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(WASI_CLOCKS)?;
    clock.func_wrap("subscribe-duration", |mut cx: StoreContextMut<'_, PolicyState>, (_,): (u64,)| {
        Ok((cx.data_mut().ready_pollable()?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut cx: StoreContextMut<'_, PolicyState>, (_,): (u64,)| {
        Ok((cx.data_mut().ready_pollable()?,))
    })?;
    linker.allow_shadowing(false);
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
