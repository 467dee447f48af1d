//! `policy.toml`: one policy's name, module, hooks, scope, limits, config
//! and data, checked against the set it belongs to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::counters::{CounterSpec, OnStateError, RawCounter, check_counters};
use super::set::Defaults;
use super::{Isolation, MAX_MEMORY_MB, MAX_TIMEOUT_MS, Mode, OnError, POLICY_FILE, check_range, parse_toml};
use crate::error::LoadError;
use crate::hook::Hook;

/// `policy.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    version: String,
    module: String,
    hooks: Vec<Hook>,
    #[serde(default)]
    mode: Mode,
    on_error: Option<OnError>,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: toml::Table,
    #[serde(default)]
    data: BTreeMap<String, String>,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    counters: BTreeMap<String, RawCounter>,
    on_state_error: Option<OnStateError>,
    /// Read by `groupgate build`, not by loading; checked here so that a
    /// typo in it is an error wherever the manifest is read.
    build: Option<BuildSpec>,
}

/// `[build]`: how `groupgate build` makes the policy's module from the
/// source in its folder. Without it, the build goes by convention (a
/// `Cargo.toml`, one `.js` file, an `app.py`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BuildSpec {
    /// The language of the source.
    pub language: Language,
    /// The file the build starts from, relative to the policy folder:
    /// `Cargo.toml` (Rust), the module that exports the hooks (JavaScript,
    /// Python); by default `Cargo.toml`, the folder's one `.js` file, and
    /// `app.py`.
    pub entry: Option<String>,
}

/// A language `groupgate build` compiles to a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Language {
    /// cargo, for `wasm32-wasip2`, with the Rust SDK.
    Rust,
    /// componentize-js, with the JavaScript SDK module.
    Javascript,
    /// componentize-py, with the Python SDK module.
    Python,
}

impl Language {
    /// As `[build] language` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Javascript => "javascript",
            Language::Python => "python",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which requests a policy sees; an empty list matches everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Scope {
    /// Regions (the group's, or the requested one for a creation).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Group categories.
    #[serde(default)]
    pub categories: Vec<String>,
}

impl Scope {
    /// Whether a request in `region` and `category` is in scope.
    pub fn matches(&self, region: &str, category: &str) -> bool {
        (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
            && (self.categories.is_empty() || self.categories.iter().any(|c| c == category))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    timeout_ms: Option<u64>,
    init_timeout_ms: Option<u64>,
    memory_mb: Option<u64>,
    isolation: Option<Isolation>,
}

/// The resources one policy call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Deadline for one hook call, in milliseconds.
    pub timeout_ms: u64,
    /// Deadline for `init`, in milliseconds.
    pub init_timeout_ms: u64,
    /// Linear-memory cap, in MiB.
    pub memory_mb: u64,
    /// Whether an instance serves more than one call.
    pub isolation: Isolation,
}

impl Limits {
    /// Used where neither the policy nor the set says otherwise.
    pub const DEFAULT: Limits =
        Limits { timeout_ms: 100, init_timeout_ms: 5_000, memory_mb: 64, isolation: Isolation::Reuse };
}

/// Where a policy's component comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModuleSource {
    /// A standard plugin embedded in the binary: `builtin:NAME`.
    Builtin(String),
    /// A `.wasm` file inside the set.
    File(PathBuf),
}

/// A validated `policy.toml`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PolicyManifest {
    /// The manifest's own path.
    pub path: PathBuf,
    /// Unique name within the set.
    pub name: String,
    /// The policy's version, reported with every verdict.
    pub version: String,
    /// The component to run.
    pub module: ModuleSource,
    /// Hooks it answers.
    pub hooks: Vec<Hook>,
    /// Enforce or audit.
    pub mode: Mode,
    /// Verdict on failure.
    pub on_error: OnError,
    /// Which requests it sees.
    pub scope: Scope,
    /// Its resource limits.
    pub limits: Limits,
    /// `[config]`, as the JSON handed to `init`.
    pub config_json: String,
    /// `[data]`: name and file path, in name order.
    pub data: Vec<(String, PathBuf)>,
    /// The reason codes the policy says it may give (`reasons = [...]`), so
    /// `groupgate test --coverage` can name one that no case exercises.
    pub reasons: Vec<String>,
    /// `[counters.NAME]`: the counters it reads, in name order.
    pub counters: Vec<CounterSpec>,
    /// Whether it is called without counts, or fails, when they cannot be read.
    pub on_state_error: OnStateError,
    /// Its module file (if not a standard plugin) and its data files, in
    /// `data` order: what loading reads from the source.
    pub(crate) files: ManifestFiles,
}

/// The files a policy's manifest names.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManifestFiles {
    pub(crate) module: Option<SetFile>,
    pub(crate) data: Vec<SetFile>,
}

/// A file a manifest names: its path in the set, and as the manifest
/// writes it (relative to the policy's folder), for messages.
#[derive(Debug, Clone)]
pub(crate) struct SetFile {
    pub(crate) path: String,
    pub(crate) written: String,
}

impl std::fmt::Display for ModuleSource {
    /// As a manifest writes it: `builtin:NAME`, or the file's path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleSource::Builtin(name) => write!(f, "builtin:{name}"),
            ModuleSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What a policy manifest is checked against: the set's folder and defaults,
/// and the standard plugins the runtime knows.
pub(crate) struct PolicyContext<'a> {
    /// The set's folder, for paths in messages.
    pub(crate) root: &'a Path,
    /// `[defaults]` of `groupgate.toml`.
    pub(crate) defaults: &'a Defaults,
    /// Whether a standard plugin of that name exists.
    pub(crate) builtin: &'a dyn Fn(&str) -> bool,
    /// The names of the standard plugins, for a message.
    pub(crate) builtins: &'a [&'a str],
}

/// Validates the `policy.toml` with contents `text` in the set folder
/// `dir` (a set path).
pub(crate) fn parse_policy(cx: &PolicyContext<'_>, dir: &str, text: &str) -> Result<PolicyManifest, LoadError> {
    let path = cx.root.join(crate::source::join(dir, POLICY_FILE).unwrap_or_default());
    let raw: RawPolicy = parse_toml(&path, text)?;
    let bad = |key: &str, message: String| LoadError::manifest(&path, format!("key `{key}`: {message}"));
    let defaults = cx.defaults;

    if raw.name.is_empty() || !raw.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(bad("name", format!("`{}` must be non-empty letters, digits, `-` or `_`", raw.name)));
    }
    if raw.version.trim().is_empty() {
        return Err(bad("version", "must not be empty".into()));
    }
    if raw.hooks.is_empty() {
        return Err(bad("hooks", format!("must list at least one of {}", Hook::expected())));
    }
    for (i, hook) in raw.hooks.iter().enumerate() {
        if raw.hooks[..i].contains(hook) {
            return Err(bad("hooks", format!("`{hook}` is listed twice")));
        }
    }
    for (i, code) in raw.reasons.iter().enumerate() {
        if code.is_empty() || code.chars().any(char::is_whitespace) {
            return Err(bad("reasons", format!("`{code}` must be a non-empty code without spaces")));
        }
        if raw.reasons[..i].contains(code) {
            return Err(bad("reasons", format!("`{code}` is listed twice")));
        }
    }
    check_range(&path, "limits.timeout_ms", raw.limits.timeout_ms, MAX_TIMEOUT_MS)?;
    check_range(&path, "limits.init_timeout_ms", raw.limits.init_timeout_ms, MAX_TIMEOUT_MS)?;
    check_range(&path, "limits.memory_mb", raw.limits.memory_mb, MAX_MEMORY_MB)?;

    let mut files = ManifestFiles::default();
    let module = match raw.module.strip_prefix("builtin:") {
        Some(name) => {
            if !(cx.builtin)(name) {
                let known = if cx.builtins.is_empty() {
                    "this runtime has none registered: see `groupgate_builtins::register`".to_owned()
                } else {
                    format!("there are `{}`", cx.builtins.join("`, `"))
                };
                return Err(bad("module", format!("no standard plugin named `{name}` ({known})")));
            }
            ModuleSource::Builtin(name.to_owned())
        }
        None => {
            if Path::new(&raw.module).extension().is_none_or(|e| e != "wasm") {
                return Err(bad("module", format!("`{}` is neither `builtin:NAME` nor a `.wasm` file", raw.module)));
            }
            let file = in_set(dir, &raw.module).map_err(|m| bad("module", m))?;
            let shown = cx.root.join(&file.path);
            files.module = Some(file);
            ModuleSource::File(shown)
        }
    };

    let mut data = Vec::with_capacity(raw.data.len());
    for (name, file) in &raw.data {
        let resolved = in_set(dir, file).map_err(|m| bad(&format!("data.{name}"), m))?;
        data.push((name.clone(), cx.root.join(&resolved.path)));
        files.data.push(resolved);
    }

    let counters =
        check_counters(raw.counters, &raw.hooks, &raw.config).map_err(|(key, message)| bad(&key, message))?;
    if raw.on_state_error.is_some() && counters.is_empty() {
        return Err(bad("on_state_error", "the policy declares no `[counters]` to read".into()));
    }

    if let Some(entry) = raw.build.as_ref().and_then(|b| b.entry.as_deref()) {
        // Built from the policy's own folder, as `groupgate build` requires.
        let mut parts = Path::new(entry).components().peekable();
        if parts.peek().is_none() || !parts.all(|c| matches!(c, std::path::Component::Normal(_))) {
            return Err(bad("build.entry", format!("`{entry}` must be a path inside the policy folder")));
        }
    }

    let config_json = serde_json::to_string(&toml::Value::Table(raw.config))
        .map_err(|e| bad("config", format!("cannot be passed to the policy: {e}")))?;

    let limits = Limits {
        timeout_ms: raw.limits.timeout_ms.or(defaults.timeout_ms).unwrap_or(Limits::DEFAULT.timeout_ms),
        init_timeout_ms: raw
            .limits
            .init_timeout_ms
            .or(defaults.init_timeout_ms)
            .unwrap_or(Limits::DEFAULT.init_timeout_ms),
        memory_mb: raw.limits.memory_mb.or(defaults.memory_mb).unwrap_or(Limits::DEFAULT.memory_mb),
        isolation: raw.limits.isolation.or(defaults.isolation).unwrap_or_default(),
    };

    Ok(PolicyManifest {
        path,
        name: raw.name,
        version: raw.version,
        module,
        hooks: raw.hooks,
        mode: raw.mode,
        on_error: raw.on_error.or(defaults.on_error).unwrap_or(OnError::Deny),
        scope: raw.scope,
        limits,
        config_json,
        data,
        reasons: raw.reasons,
        counters,
        on_state_error: raw.on_state_error.unwrap_or_default(),
        files,
    })
}

/// `relative`, a path the manifest in the set folder `dir` gives, as a
/// path in the set: it may not lead outside the set, which stays
/// self-contained and relocatable. Whether the file exists, and where a link
/// on the way leads, is checked when the source reads it.
fn in_set(dir: &str, relative: &str) -> Result<SetFile, String> {
    if Path::new(relative).is_absolute() {
        return Err(format!("`{relative}` must be a path relative to the policy folder"));
    }
    match crate::source::join(dir, relative) {
        Some(path) if !path.is_empty() => Ok(SetFile { path, written: relative.to_owned() }),
        Some(_) => Err(format!("`{relative}` is not a file")),
        None => Err(format!("`{relative}` is outside the policy set")),
    }
}
