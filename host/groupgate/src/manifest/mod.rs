//! The policy folder's manifests: `groupgate.toml` for the set and one
//! `policy.toml` per policy. Unknown keys and bad values are errors naming
//! the file and the key. The parser is private to the crate; what it yields
//! is public.

mod counters;
mod policy;
mod set;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::wire::Outcome;

pub(crate) use counters::actor;
pub use counters::{CounterSpec, HostCounter, OnStateError, Party, StateSettings};
pub use policy::{BuildSpec, Language, Limits, ModuleSource, PolicyManifest, Scope};
pub(crate) use policy::{PolicyContext, parse_policy};
pub(crate) use set::parse_set;
pub use set::{AuditSettings, Durability, MIN_RETENTION_DAYS, RecordContent, SetLimits};

/// The file that marks a folder as a policy set.
pub const SET_FILE: &str = "groupgate.toml";
/// The file that marks a folder as a policy.
pub const POLICY_FILE: &str = "policy.toml";
/// The folder, inside a policy or set folder, that holds its test cases;
/// never searched for policies.
pub const TESTS_DIR: &str = "tests";

pub(crate) const MAX_TIMEOUT_MS: u64 = 60_000;
pub(crate) const MAX_MEMORY_MB: u64 = 4_096;

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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

pub(crate) fn check_range(path: &Path, key: &str, value: Option<u64>, max: u64) -> Result<(), LoadError> {
    match value {
        Some(v) if v == 0 || v > max => {
            Err(LoadError::manifest(path, format!("key `{key}`: {v} is out of range (1 to {max})")))
        }
        _ => Ok(()),
    }
}
