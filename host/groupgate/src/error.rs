//! The library's errors. Every error that concerns a policy set names the
//! file, and the key or the policy, so an operator can fix it without
//! reading code. A message carries its whole chain of causes, each after
//! `: `, and the cause is kept typed in a field (`cause`) rather than
//! offered again through `source()`, so that printing a chain, as `{:#}`
//! does, says each cause once.

use std::path::{Path, PathBuf};

/// Why a policy set could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read `{}`: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// A manifest is malformed or has a bad value.
    #[error("`{}`: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A policy's module failed to load, or its `init` refused its config.
    #[error("`{}`: policy `{policy}`: {cause}", path.display())]
    Policy {
        /// The policy's manifest file.
        path: PathBuf,
        /// The policy's name.
        policy: String,
        /// What went wrong.
        cause: PolicyError,
    },
}

impl LoadError {
    pub(crate) fn manifest(path: &Path, message: impl Into<String>) -> Self {
        LoadError::Manifest { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn io(path: &Path, cause: std::io::Error) -> Self {
        LoadError::Io { path: path.to_path_buf(), cause }
    }
}

/// Why one policy could not be made ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Its module could not be read or compiled.
    #[error("{0}")]
    Module(String),
    /// Its component was built for a contract this host does not serve, or
    /// its exports do not match the contract.
    #[error("{0}")]
    Contract(String),
    /// It imports something this runtime does not offer.
    #[error("cannot link: {0}")]
    Link(String),
    /// Its `init` refused its config or data.
    #[error("init refused its config: {0}")]
    InitRejected(String),
    /// Its `init` failed: it trapped, ran out of time or memory.
    #[error("init failed: {0}")]
    Init(String),
}

/// Why a policy set could not be made with another config for one policy
/// (see [`PolicySet::with_policy_config`](crate::PolicySet::with_policy_config)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The set has no policy of that name.
    #[error("the set has no policy named `{0}`")]
    NoPolicy(String),
    /// The policy's `init` did not accept the config.
    #[error("policy `{policy}` refused the case's config: {cause}")]
    Refused {
        /// The policy.
        policy: String,
        /// What `init` said.
        cause: PolicyError,
    },
}

/// Why a [`Runtime`](crate::Runtime) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The wasm engine refused its configuration.
    #[error("cannot configure the wasm engine: {0}")]
    Engine(BoxError),
    /// The compile cache folder cannot be created or is not private.
    #[error("{message}")]
    Cache {
        /// What is wrong with it, naming the folder.
        message: String,
    },
    /// A host interface (or WASI, or the contract) could not be linked.
    #[error("cannot link {what}: {cause}")]
    Link {
        /// What was being linked.
        what: String,
        /// Why not.
        cause: BoxError,
    },
    /// The thread that ends calls at their deadline could not start.
    #[error("cannot start the deadline clock: {0}")]
    Clock(std::io::Error),
    /// A standard plugin was registered twice, or without a name.
    #[error("standard plugin `{name}` is registered twice or has no name")]
    Builtin {
        /// The name.
        name: String,
    },
}

/// An error from the engine, kept with its message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why the platform could not add to a policy's counter (see
/// [`PolicySet::add_to_counter`](crate::PolicySet::add_to_counter)).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CounterError {
    /// The set has no policy of that name.
    #[error("the set has no policy named `{0}`")]
    NoPolicy(String),
    /// The policy declares no such counter with `platform = true`.
    #[error(
        "policy `{policy}` has no counter `{counter}` that the platform may add to (`platform = true` under \
         `[counters.{counter}]`); those it has: {open}"
    )]
    NotOpen {
        /// The policy.
        policy: String,
        /// The counter asked for.
        counter: String,
        /// The counters the platform may add to, listed.
        open: String,
    },
    /// The store could not apply it.
    #[error("{0}")]
    State(crate::state::StateError),
}
