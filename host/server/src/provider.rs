//! Where a server's policy set comes from on each reload: a [`Provider`].
//! A folder watched for changes is the plain one; a folder whose set must
//! be signed, or a registry polled for a tag, are others (the
//! `groupgate-fleet` crate), each handing the reload a checked set and
//! saying where it came from.

use std::sync::Arc;

use groupgate::source::{SetSource, SourceError, Watch};
use serde::Serialize;

/// Yields the set a reload loads, and says when another may be there.
pub trait Provider: Send + Sync {
    /// What the set is served from, for logs: a folder, or `oci://…`.
    fn describe(&self) -> String;

    /// The set to load now, checked as this provider checks sets (its
    /// signature, say), with where it came from. Blocking: it may read
    /// every file or pull from a registry. An `Err` is the reason the set
    /// is refused, as `last_reload` shows it.
    fn fetch(&self) -> Result<Fetched, String>;

    /// Calls `changed`, on a thread of the provider's, with the trigger to
    /// report (`watch`, `poll`), whenever a reload may find another set,
    /// until the returned [`Watch`] is dropped.
    fn watch(&self, changed: Box<dyn Fn(&'static str) + Send>) -> Result<Watch, SourceError>;

    /// Told when the set of `origin` has passed its tests and serves: a
    /// provider that keeps a last known good set keeps this one.
    fn activated(&self, origin: &Origin) {
        let _ = origin;
    }
}

/// A set to load and where it came from.
pub struct Fetched {
    /// Its files.
    pub source: Arc<dyn SetSource>,
    /// Where they came from.
    pub origin: Origin,
}

/// Where a set came from, as `/v1/policies` and `/readyz` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Origin {
    /// The folder, or the `oci://` reference it was pulled from.
    pub source: String,
    /// The set's digest (`sha256:…` over every file, see `groupgate sign`),
    /// when it was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The OCI manifest's digest, for a set pulled from a registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Who signed it: the principal the trusted keys name, and the key's
    /// fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Set when the set is the last known good one, kept on disk, served
    /// because its usual source could not be reached: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_known_good: Option<String>,
}

impl Origin {
    /// A set read from `source`, unchecked.
    pub fn new(source: impl Into<String>) -> Origin {
        Origin { source: source.into(), ..Origin::default() }
    }
}

/// A [`SetSource`] as a provider: its files as they are, watched by the
/// source itself.
pub struct Plain(pub Arc<dyn SetSource>);

impl Provider for Plain {
    fn describe(&self) -> String {
        self.0.root().display().to_string()
    }

    fn fetch(&self) -> Result<Fetched, String> {
        Ok(Fetched { source: self.0.clone(), origin: Origin::new(self.describe()) })
    }

    fn watch(&self, changed: Box<dyn Fn(&'static str) + Send>) -> Result<Watch, SourceError> {
        self.0.watch(Box::new(move || changed("watch")))
    }
}
