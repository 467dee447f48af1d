//! Why a policy set could not be loaded. Every error names the file, and the
//! key or the policy, so an operator can fix it without reading code.

use std::path::{Path, PathBuf};

/// A policy set that cannot be activated.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
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
    #[error("`{}`: policy `{policy}`: {message}", path.display())]
    Policy {
        /// The policy's manifest file.
        path: PathBuf,
        /// The policy's name.
        policy: String,
        /// What went wrong.
        message: String,
    },
}

impl LoadError {
    pub(crate) fn manifest(path: &Path, message: impl Into<String>) -> Self {
        LoadError::Manifest { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        LoadError::Io { path: path.to_path_buf(), source }
    }
}
