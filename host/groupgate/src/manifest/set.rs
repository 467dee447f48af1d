//! `groupgate.toml`: the settings of a whole set, its defaults, its limits
//! and its decision log.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::counters::StateSettings;
use super::{Isolation, MAX_MEMORY_MB, MAX_TIMEOUT_MS, OnError, check_range, parse_toml};
use crate::error::LoadError;

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
    /// Where the set's counters live (`[state]`).
    #[serde(default)]
    pub state: StateSettings,
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
    check_range(path, "state.timeout_ms", Some(set.state.timeout_ms), MAX_TIMEOUT_MS)?;
    if let Some(ns) = &set.state.namespace
        && (ns.is_empty() || ns.contains('|'))
    {
        return Err(LoadError::manifest(path, format!("key `state.namespace`: `{ns}` must be non-empty, without `|`")));
    }
    Ok(set)
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
