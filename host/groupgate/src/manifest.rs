//! The policy folder's manifests: `groupgate.toml` for the set and one
//! `policy.toml` per policy. Unknown keys and bad values are errors naming
//! the file and the key. The parser is private to the crate; what it yields
//! is public.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::hook::Hook;
use crate::wire::Outcome;

/// The file that marks a folder as a policy set.
pub const SET_FILE: &str = "groupgate.toml";
/// The file that marks a folder as a policy.
pub const POLICY_FILE: &str = "policy.toml";
/// The folder, inside a policy or set folder, that holds its test cases;
/// never searched for policies.
pub const TESTS_DIR: &str = "tests";

const MAX_TIMEOUT_MS: u64 = 60_000;
const MAX_MEMORY_MB: u64 = 4_096;

/// `groupgate.toml`: settings for the whole set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetManifest {
    /// Policy folders (relative to the set) in evaluation order. When absent,
    /// every folder holding a `policy.toml` is loaded, in path order.
    pub policies: Option<Vec<String>>,
    /// Defaults for every policy that does not set its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// The decision log (`[audit]`), when the set asks for one.
    pub audit: Option<AuditSettings>,
    /// Set-wide bounds on what the set reads and is asked (`[limits]`).
    #[serde(default)]
    pub limits: SetLimits,
}

/// `[limits]` in `groupgate.toml`: bounds that hold for the whole set, checked
/// by the host before any policy sees the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SetLimits {
    /// Longest text field (message text, group name or description, id,
    /// label, ...), in bytes, the set is asked to judge; a request with a
    /// longer one is refused before any policy runs, naming the field.
    #[serde(default = "default_max_text_bytes")]
    pub max_text_bytes: u64,
    /// Largest `[data]` file, in bytes, a policy may be given; a set with a
    /// larger one is refused at load, naming the file.
    #[serde(default = "default_max_data_bytes")]
    pub max_data_bytes: u64,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits { max_text_bytes: default_max_text_bytes(), max_data_bytes: default_max_data_bytes() }
    }
}

fn default_max_text_bytes() -> u64 {
    64 * 1024
}

fn default_max_data_bytes() -> u64 {
    16 * 1024 * 1024
}

/// The most either set-wide limit may be raised to.
const MAX_SET_LIMIT_BYTES: u64 = 1 << 30;

/// The shortest retention the regulation allows: Art. 13 asks for network
/// logs to be kept at least six months.
pub const MIN_RETENTION_DAYS: u32 = 180;

/// `[audit]`: where and how decisions are recorded (Art. 11, 13).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditSettings {
    /// The log's folder: absolute, or relative to the set's folder, and
    /// outside it (the set's folder is watched for changes).
    pub dir: PathBuf,
    /// Whether a record keeps the request, or only its SHA-256.
    #[serde(default)]
    pub record_content: RecordContent,
    /// Days a segment is kept; at least [`MIN_RETENTION_DAYS`].
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// When a record reaches the disk.
    #[serde(default)]
    pub durability: Durability,
    /// With `durability = "batched"`: the longest a record waits for fsync.
    #[serde(default = "default_flush_ms")]
    pub flush_ms: u64,
    /// A segment is closed at this size, or at the end of its (UTC) day.
    #[serde(default = "default_segment_mb")]
    pub segment_mb: u64,
}

fn default_retention_days() -> u32 {
    MIN_RETENTION_DAYS
}

fn default_flush_ms() -> u64 {
    100
}

fn default_segment_mb() -> u64 {
    64
}

/// What a record keeps of its request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordContent {
    /// The whole request, so it can be replayed.
    #[default]
    Full,
    /// Only the SHA-256 of the request's canonical JSON, for platforms that
    /// must not store message text.
    Digest,
}

/// When a decision's record is durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Durability {
    /// On disk (fsync) before the decision is answered; concurrent records
    /// share one fsync.
    #[default]
    Sync,
    /// Written at once, fsynced at most every `flush_ms`: a crash may lose
    /// the records of the last `flush_ms`.
    Batched,
}

/// Set-wide defaults for `on_error` and `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// Verdict of a policy that fails; `deny` unless set.
    pub on_error: Option<OnError>,
    /// Deadline for one call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Deadline for `init`, in milliseconds.
    pub init_timeout_ms: Option<u64>,
    /// Linear-memory cap, in MiB.
    pub memory_mb: Option<u64>,
    /// Whether instances are reused across calls.
    pub isolation: Option<Isolation>,
}

/// Whether a policy's instance, and so its memory, outlives one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Isolation {
    /// Warm instances are reused, one call at a time: a policy may keep
    /// state between calls, including what earlier requests contained.
    #[default]
    Reuse,
    /// Every call gets a new instance that has just run `init`: nothing of
    /// one request can reach the next, at the cost of an `init` per call.
    Fresh,
}

impl Isolation {
    /// The setting as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Reuse => "reuse",
            Isolation::Fresh => "fresh",
        }
    }
}

/// Whether a policy's verdict counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mode {
    /// Its verdict is merged into the decision.
    #[default]
    Enforce,
    /// Evaluated and reported under `policies`, but not merged.
    Audit,
}

/// The verdict a policy gets when it traps, times out or exceeds a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnError {
    /// Fail closed (the default).
    Deny,
    /// Hold for a moderator.
    Review,
    /// Fail open.
    Allow,
}

impl Mode {
    /// The mode as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

impl OnError {
    /// The setting as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Deny => "deny",
            OnError::Review => "review",
            OnError::Allow => "allow",
        }
    }
}

impl From<OnError> for Outcome {
    fn from(o: OnError) -> Self {
        match o {
            OnError::Deny => Outcome::Deny,
            OnError::Review => Outcome::Review,
            OnError::Allow => Outcome::Allow,
        }
    }
}

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
    /// The set paths of its module file (if not a standard plugin) and of
    /// its data files, in `data` order: what loading reads from the source.
    pub(crate) files: ManifestFiles,
}

/// The files a policy's manifest names, as paths in its set.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManifestFiles {
    pub(crate) module: Option<String>,
    pub(crate) data: Vec<String>,
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

/// Validates `groupgate.toml` (at `path`, with contents `text`) of the set
/// in `dir`.
pub(crate) fn parse_set(path: &Path, dir: &Path, text: &str) -> Result<SetManifest, LoadError> {
    let mut set: SetManifest = parse_toml(path, text)?;
    let d = &set.defaults;
    check_range(path, "defaults.timeout_ms", d.timeout_ms, MAX_TIMEOUT_MS)?;
    check_range(path, "defaults.init_timeout_ms", d.init_timeout_ms, MAX_TIMEOUT_MS)?;
    check_range(path, "defaults.memory_mb", d.memory_mb, MAX_MEMORY_MB)?;
    let l = &set.limits;
    check_range(path, "limits.max_text_bytes", Some(l.max_text_bytes), MAX_SET_LIMIT_BYTES)?;
    check_range(path, "limits.max_data_bytes", Some(l.max_data_bytes), MAX_SET_LIMIT_BYTES)?;
    if let Some(audit) = &mut set.audit {
        check_audit(path, dir, audit)?;
    }
    Ok(set)
}

/// What a policy manifest is checked against: the set's files and defaults,
/// and the standard plugins the runtime knows.
pub(crate) struct PolicyContext<'a> {
    /// The set's folder, for paths in messages.
    pub(crate) root: &'a Path,
    /// Every file of the set.
    pub(crate) files: &'a [String],
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
                    "this build has none".to_owned()
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
            let file = in_set(cx, dir, &raw.module).map_err(|m| bad("module", m))?;
            let shown = cx.root.join(&file);
            files.module = Some(file);
            ModuleSource::File(shown)
        }
    };

    let mut data = Vec::with_capacity(raw.data.len());
    for (name, file) in &raw.data {
        let resolved = in_set(cx, dir, file).map_err(|m| bad(&format!("data.{name}"), m))?;
        data.push((name.clone(), cx.root.join(&resolved)));
        files.data.push(resolved);
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
        files,
    })
}

/// Deserialises a TOML file of a policy set (`text`, read from `path`): a
/// manifest, a test case file. An error names the file, the line and the
/// key.
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, LoadError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let line = e.span().map(|s| format!("line {}: ", line_of(s.start))).unwrap_or_default();
        LoadError::manifest(path, format!("{line}{}", e.message()))
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.inner();
        let line = inner.span().map(|s| format!("line {}: ", line_of(s.start))).unwrap_or_default();
        let key = if key == "." { String::new() } else { format!("key `{key}`: ") };
        LoadError::manifest(path, format!("{line}{key}{}", inner.message()))
    })
}

/// Validates `[audit]` and resolves its `dir` against the set's folder.
fn check_audit(path: &Path, set_dir: &Path, audit: &mut AuditSettings) -> Result<(), LoadError> {
    let bad = |key: &str, message: String| LoadError::manifest(path, format!("key `audit.{key}`: {message}"));
    if audit.retention_days < MIN_RETENTION_DAYS {
        return Err(bad(
            "retention_days",
            format!(
                "{} days is too short: Art. 13 requires logs to be kept at least six months ({MIN_RETENTION_DAYS} days)",
                audit.retention_days
            ),
        ));
    }
    if audit.flush_ms == 0 || audit.flush_ms > MAX_TIMEOUT_MS {
        return Err(bad("flush_ms", format!("{} is out of range (1 to {MAX_TIMEOUT_MS})", audit.flush_ms)));
    }
    if audit.segment_mb == 0 || audit.segment_mb > 4096 {
        return Err(bad("segment_mb", format!("{} is out of range (1 to 4096)", audit.segment_mb)));
    }
    let set_dir = std::path::absolute(set_dir).map_err(|e| bad("dir", e.to_string()))?;
    let dir = normalise(&set_dir.join(&audit.dir));
    if dir.starts_with(normalise(&set_dir)) {
        return Err(bad(
            "dir",
            format!(
                "`{}` is inside the policy set, which is watched for changes: put the log outside it",
                audit.dir.display()
            ),
        ));
    }
    audit.dir = dir;
    Ok(())
}

/// `path` with `.` and `..` resolved lexically (it may not exist yet).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn check_range(path: &Path, key: &str, value: Option<u64>, max: u64) -> Result<(), LoadError> {
    match value {
        Some(v) if v == 0 || v > max => {
            Err(LoadError::manifest(path, format!("key `{key}`: {v} is out of range (1 to {max})")))
        }
        _ => Ok(()),
    }
}

/// `relative`, a path the manifest in the set folder `dir` gives, as a
/// path in the set, which must be one of its files: a set stays
/// self-contained and relocatable. (Where a link leads is checked when the
/// file is read.)
fn in_set(cx: &PolicyContext<'_>, dir: &str, relative: &str) -> Result<String, String> {
    if Path::new(relative).is_absolute() {
        return Err(format!("`{relative}` must be a path relative to the policy folder"));
    }
    let Some(path) = crate::source::join(dir, relative) else {
        return Err(format!("`{relative}` is outside the policy set"));
    };
    if cx.files.binary_search(&path).is_ok() {
        return Ok(path);
    }
    let folder = format!("{path}/");
    if path.is_empty() || cx.files.iter().any(|f| f.starts_with(&folder)) {
        return Err(format!("`{relative}` is not a file"));
    }
    Err(format!("`{relative}` does not exist"))
}
