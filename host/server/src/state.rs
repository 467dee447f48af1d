//! The server's state: the active policy set, swapped atomically on reload,
//! and the record of the last reload attempt.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use groupgate::source::{Folder, SetSource};

use crate::provider::{Origin, Plain, Provider};
use groupgate::{AuditSettings, PolicySet, Runtime};
use groupgate_audit::{DecisionSink, Recorder, SinkError};
use groupgate_testing::{self as testing, RunOptions, Suite};
use serde::Serialize;

use crate::metrics::{Metrics, PolicyCounters};

/// A policy set serving requests, and where it came from.
pub struct Active {
    /// The set.
    pub set: PolicySet,
    /// Counts up from 1 with every set activated.
    pub generation: u64,
    /// When it was activated.
    pub loaded_at: SystemTime,
    /// How many test cases it passed before activation.
    pub cases: usize,
    /// Where it came from.
    pub origin: Origin,
    /// Each policy's counters, in policy order: a decision's reports index
    /// them by `position`.
    pub(crate) counters: Vec<Arc<PolicyCounters>>,
    /// Where its requests are decided (see `evaluate::decide`).
    pub(crate) placement: crate::evaluate::Placement,
}

/// The decision log a server records through, once opened.
type Sink = Result<Arc<dyn DecisionSink>, SinkError>;

/// The outcome of the last reload attempt.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Reload")]
pub struct ReloadReport {
    /// When it finished, RFC 3339.
    pub at: String,
    /// What asked for it: `start`, `watch`, `poll`, `http` or `signal`.
    pub trigger: &'static str,
    /// Whether the new set was activated.
    pub ok: bool,
    /// The generation serving after it.
    pub generation: Option<u64>,
    /// Why the new set was refused (naming file and cause), or null.
    pub error: Option<String>,
    /// How long loading, initialising and testing took, in milliseconds.
    pub duration_ms: u64,
}

/// Settings for a server.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// Where the policy set comes from on each reload: a folder, a
    /// folder whose set must be signed, a registry.
    pub provider: Arc<dyn Provider>,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// The longest a client may take to send a request's headers, and
    /// again its body: a client trickling bytes holds a connection (and a
    /// request's memory) no longer than this.
    pub read_timeout: Duration,
    /// Where decision records go when the set asks for them (`[audit]`):
    /// `None`, the default, writes the hash-chained log in `[audit] dir`
    /// with [`Recorder`]. A sink given here takes every record instead, and
    /// of `[audit]` only `record_content` applies.
    pub sink: Option<Arc<dyn DecisionSink>>,
    /// Leave out of answers what a failing policy wrote as it failed (its
    /// panic message, traceback or stack, after `policy output:` in its
    /// `policy-error` reason and its report's `error`): callers then see
    /// only that it failed and how. Logs and decision records keep it.
    pub hide_policy_output: bool,
}

impl Options {
    /// The default body limit: 256 KiB.
    pub const DEFAULT_MAX_BODY: usize = 256 * 1024;
    /// The default read timeout: 10 s.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

    /// Defaults for serving the set in the folder `policies`.
    pub fn new(policies: impl Into<PathBuf>) -> Options {
        Options::with_source(Arc::new(Folder::new(policies)))
    }

    /// Defaults for serving the set that `source` yields.
    pub fn with_source(source: Arc<dyn SetSource>) -> Options {
        Options::with_provider(Arc::new(Plain(source)))
    }

    /// Defaults for serving the sets that `provider` yields.
    pub fn with_provider(provider: Arc<dyn Provider>) -> Options {
        Options {
            provider,
            max_body: Options::DEFAULT_MAX_BODY,
            read_timeout: Options::DEFAULT_READ_TIMEOUT,
            sink: None,
            hide_policy_output: false,
        }
    }
}

/// Everything the handlers share.
pub struct ServerState {
    /// Settings.
    pub options: Options,
    runtime: Runtime,
    active: ArcSwapOption<Active>,
    last_reload: Mutex<Option<ReloadReport>>,
    /// One reload at a time; holds when the last one started.
    reloading: Mutex<Option<Instant>>,
    next_generation: AtomicU64,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    id_prefix: String,
    next_id: AtomicU64,
    /// The decision log, started with the first set that asks for one.
    sink: std::sync::OnceLock<(AuditSettings, Sink)>,
}

impl ServerState {
    /// A server on `runtime` with no set active yet; call
    /// [`ServerState::reload`] to load one.
    pub fn new(runtime: Runtime, options: Options) -> Arc<Self> {
        let started = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Arc::new(ServerState {
            options,
            runtime,
            active: ArcSwapOption::empty(),
            last_reload: Mutex::new(None),
            reloading: Mutex::new(None),
            next_generation: AtomicU64::new(1),
            metrics: Metrics::default(),
            // Unique across restarts: the start time, then a counter.
            id_prefix: format!("{:x}{:05x}", started.as_secs(), started.subsec_micros()),
            next_id: AtomicU64::new(0),
            sink: std::sync::OnceLock::new(),
        })
    }

    /// The set serving requests now, if any. A request holds on to it until
    /// answered, so a reload never changes the set under a request.
    pub fn active(&self) -> Option<Arc<Active>> {
        self.active.load_full()
    }

    /// The decision log's sink, if the active set's `[audit]` asked for
    /// one; `Err` when it could not be opened (decisions are then refused).
    pub fn sink(&self) -> Option<&Result<Arc<dyn DecisionSink>, SinkError>> {
        self.sink.get().map(|(_, sink)| sink)
    }

    /// Writes and fsyncs every queued record: for a shutdown.
    pub fn flush_log(&self) {
        if let Some(Ok(sink)) = self.sink()
            && let Err(e) = sink.flush()
        {
            tracing::error!("the decision log could not be flushed: {e}");
        }
    }

    /// The engine every set of this server runs on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The last reload attempt.
    pub fn last_reload(&self) -> Option<ReloadReport> {
        self.last_reload.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The active set and the last reload attempt, read together: when the
    /// last attempt succeeded, it is the one that activated this set.
    pub fn snapshot(&self) -> (Option<Arc<Active>>, Option<ReloadReport>) {
        let last = self.last_reload.lock().unwrap_or_else(|e| e.into_inner());
        (self.active(), last.clone())
    }

    /// A new decision id, unique across restarts of this server.
    pub fn decision_id(&self) -> String {
        format!("{}-{:x}", self.id_prefix, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Loads the policy folder, initialises every policy, runs the set's test
    /// cases, and only if all of that succeeds activates the new set with one
    /// atomic swap; otherwise the current set keeps serving. Blocking (it
    /// compiles); never call it on a request path.
    ///
    /// Asked for while another reload runs, it waits for that one, then
    /// reloads again only if no reload started after it was asked: so
    /// callers that ask while one reload runs share the next (a flood asked
    /// at one instant costs at most two reloads), and every caller gets a
    /// report that reflects the folder as it was when it asked.
    pub fn reload(&self, trigger: &'static str) -> ReloadReport {
        let asked = Instant::now();
        let mut last_started = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        if last_started.is_some_and(|started| started > asked)
            && let Some(report) = self.last_reload()
        {
            return report;
        }
        let start = Instant::now();
        *last_started = Some(start);
        let result = self.build();
        let report = match result {
            Ok((set, cases, origin)) => {
                if let Some(settings) = set.audit_settings() {
                    // Opened once: a later change of `[audit]` needs a restart.
                    self.sink.get_or_init(|| {
                        let sink = match &self.options.sink {
                            Some(sink) => Ok(sink.clone()),
                            None => Recorder::start(settings).map(|r| Arc::new(r) as Arc<dyn DecisionSink>),
                        };
                        if let Err(e) = &sink {
                            tracing::error!("{e}; decisions are refused");
                        }
                        (settings.clone(), sink)
                    });
                }
                let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
                // Requests may still hold the old set: its modules stay
                // compiled until the next activation, then are forgotten.
                let old = self.active();
                let keep: Vec<String> = set
                    .module_hashes()
                    .chain(old.iter().flat_map(|a| a.set.module_hashes()))
                    .map(str::to_owned)
                    .collect();
                let report = ReloadReport {
                    at: now(),
                    trigger,
                    ok: true,
                    generation: Some(generation),
                    error: None,
                    duration_ms: elapsed_ms(start),
                };
                // Found by name once here, so that counting a decision looks
                // nothing up.
                let counters = self.metrics.policy_counters(&set);
                self.options.provider.activated(&origin);
                // A set that records, or counts in a store across the
                // network, waits on them with every decision; one with a
                // long deadline may run that long.
                let waits = set.audit_settings().is_some() || set.waits();
                let long = set.policies().any(|p| p.limits.timeout_ms > crate::evaluate::INLINE_MAX_TIMEOUT_MS);
                let placement = crate::evaluate::Placement::new(waits || long);
                let active = Arc::new(Active {
                    set,
                    generation,
                    loaded_at: SystemTime::now(),
                    cases,
                    counters,
                    origin,
                    placement,
                });
                // The set and the report of the reload that activated it
                // change together under this lock, so `snapshot` never pairs
                // a new generation with the previous report.
                {
                    let mut last = self.last_reload.lock().unwrap_or_else(|e| e.into_inner());
                    self.active.store(Some(active));
                    *last = Some(report.clone());
                }
                drop(old);
                self.runtime.retain_modules(keep.iter().map(String::as_str));
                tracing::info!(generation, cases, trigger, "policy set activated");
                self.metrics.reload(true, generation);
                return report;
            }
            Err(error) => {
                let active = self.active();
                let generation = active.as_ref().map(|a| a.generation);
                // What the refused set compiled is not needed.
                self.runtime.retain_modules(active.iter().flat_map(|a| a.set.module_hashes()));
                // One log line: a policy's output in the error may look like others.
                let logged = groupgate::printable(&error);
                match generation {
                    Some(generation) => tracing::error!(
                        trigger,
                        generation,
                        "policy set refused; the previous one keeps serving: {logged}"
                    ),
                    None => tracing::error!(trigger, "policy set refused; none is active: {logged}"),
                }
                // Shown by /v1/reload and /v1/policies: without what policies
                // wrote, when answers are not to carry it.
                let error = if self.options.hide_policy_output {
                    groupgate::without_policy_output(&error).into_owned()
                } else {
                    error
                };
                self.metrics.reload(false, generation.unwrap_or(0));
                ReloadReport {
                    at: now(),
                    trigger,
                    ok: false,
                    generation,
                    error: Some(error),
                    duration_ms: elapsed_ms(start),
                }
            }
        };
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(report.clone());
        report
    }

    /// The new set, with the number of cases it passed and where it came
    /// from.
    fn build(&self) -> Result<(PolicySet, usize, Origin), String> {
        let fetched = self.options.provider.fetch()?;
        let source = &*fetched.source;
        let dir = &source.root().to_path_buf();
        let set = PolicySet::load(&self.runtime, source).map_err(|e| e.to_string())?;
        // The log, once open, stays as it is: a set that would stop or move
        // the records is refused rather than silently stop recording.
        if let Some((running, _)) = self.sink.get()
            && set.audit_settings() != Some(running)
        {
            return Err(format!(
                "`{}`: key `audit`: differs from the decision log this server writes (`{}`); restart the server to change it",
                dir.join(groupgate::SET_FILE).display(),
                running.dir.display()
            ));
        }
        let selection = testing::select(std::slice::from_ref(dir))
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or_else(|| format!("`{}` is not a policy set", dir.display()))?;
        let suite = Suite::collect(&set, &selection).map_err(|e| format!("test cases: {e}"))?;
        // A set is activated only when every one of its cases ran.
        suite.require_all_readable().map_err(|e| format!("test cases: {e}"))?;
        let report = suite.run(&set, &RunOptions::default());
        let failed: Vec<&testing::CaseResult> = report.cases.iter().filter(|c| !c.passed).collect();
        if let Some(first) = failed.first() {
            return Err(format!(
                "{} of {} test cases failed; first: {}: `{}`: {}",
                failed.len(),
                report.cases.len(),
                first.file.display(),
                first.name,
                first.failures.join("; ")
            ));
        }
        Ok((set, report.cases.len(), fetched.origin))
    }

    /// What the policy set is served from: a folder, or `oci://…`.
    pub fn policies_from(&self) -> String {
        self.options.provider.describe()
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn elapsed_ms(start: Instant) -> u64 {
    groupgate::time::whole_millis(start.elapsed())
}
