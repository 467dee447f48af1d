//! The set-source seam: where a policy set's files come from. A
//! [`SetSource`] lists and reads the files of one set (manifests, modules,
//! data, test cases) and says when they change; loading a set works from
//! what its source yields. [`Folder`], a folder on disk watched for changes,
//! is the first source.

mod folder;
mod watch;

use std::path::{Path, PathBuf};

pub use folder::{Folder, enclosing_set, resolve_inside};
pub use watch::{DEBOUNCE, MAX_WAIT, RECHECK};

/// Where a policy set's files come from.
///
/// Paths are relative to the set's folder, with `/` between their parts.
/// A second source, one that serves a set from memory (a test's, or one
/// unpacked from an archive), needs only the first three methods:
///
/// ```
/// use std::collections::BTreeMap;
/// use std::path::{Path, PathBuf};
/// use groupgate::source::{SetSource, SourceError, Watch};
///
/// struct InMemory {
///     root: PathBuf,
///     files: BTreeMap<String, Vec<u8>>,
/// }
///
/// impl SetSource for InMemory {
///     fn root(&self) -> &Path {
///         &self.root
///     }
///     fn files(&self) -> Result<Vec<String>, SourceError> {
///         Ok(self.files.keys().cloned().collect())
///     }
///     fn read(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
///         let bytes = self.files.get(path).ok_or_else(|| SourceError::missing(path))?;
///         if bytes.len() as u64 > max_bytes {
///             return Err(SourceError::TooLarge { path: path.into(), max_bytes });
///         }
///         Ok(bytes.clone())
///     }
///     fn watch(&self, _changed: Box<dyn Fn() + Send>) -> Result<Watch, SourceError> {
///         Ok(Watch::none()) // it never changes
///     }
/// }
///
/// let source = InMemory { root: "memory".into(), files: BTreeMap::new() };
/// let runtime = groupgate::Runtime::builder().build()?;
/// let err = groupgate::PolicySet::load(&runtime, &source).err().unwrap();
/// assert!(err.to_string().contains("not a policy set"));
/// # Ok::<(), groupgate::RuntimeError>(())
/// ```
pub trait SetSource: Send + Sync {
    /// The folder the set's files are named from in messages, and that
    /// [`PolicySet::root`](crate::PolicySet::root) reports. The test runner
    /// (and so a server's reload) reads a set's case files from it on disk.
    fn root(&self) -> &Path;

    /// Every file of the set, sorted. Hidden files and folders (names that
    /// start with `.`) are left out, and links to folders are not followed.
    fn files(&self) -> Result<Vec<String>, SourceError>;

    /// The bytes of the file `path`, refusing one longer than `max_bytes`
    /// without reading it whole.
    fn read(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, SourceError>;

    /// Calls `changed`, on a thread of the source's, whenever the set's files
    /// may have changed (a burst of changes once), until the returned
    /// [`Watch`] is dropped.
    fn watch(&self, changed: Box<dyn Fn() + Send>) -> Result<Watch, SourceError>;
}

/// Keeps a source watched while alive.
#[must_use = "the source is watched only while this is kept"]
pub struct Watch {
    _guard: Option<Box<dyn Send>>,
}

impl Watch {
    /// A watch that holds `guard` (and drops it when dropped).
    pub fn new(guard: impl Send + 'static) -> Watch {
        Watch { _guard: Some(Box::new(guard)) }
    }

    /// A watch of a source that never changes.
    pub fn none() -> Watch {
        Watch { _guard: None }
    }
}

/// Why a source could not list, read or watch a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The path leads outside the set (`..`, an absolute path, or a link).
    #[error("`{path}` is outside the policy set")]
    Outside {
        /// The path as given.
        path: String,
    },
    /// The path names a folder, or something else that is not a file.
    #[error("`{path}` is not a file")]
    NotAFile {
        /// The path as given.
        path: String,
    },
    /// The file is longer than the reader allows.
    #[error("`{path}` is larger than {max_bytes} bytes")]
    TooLarge {
        /// The path as given.
        path: String,
        /// The most the reader allows.
        max_bytes: u64,
    },
    /// The file or folder could not be read.
    #[error("`{}`: {cause}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// The set cannot be watched.
    #[error("cannot watch the policy folder `{}`: {cause}", path.display())]
    Watch {
        /// The folder.
        path: PathBuf,
        /// Why not.
        cause: String,
    },
}

impl SourceError {
    /// A file that does not exist in the set.
    pub fn missing(path: &str) -> SourceError {
        SourceError::Io { path: path.into(), cause: std::io::ErrorKind::NotFound.into() }
    }

    /// Whether the file does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, SourceError::Io { cause, .. } if cause.kind() == std::io::ErrorKind::NotFound)
    }
}

/// `relative` (a path in a manifest, relative to the folder `dir` of the
/// set) as a set path, its `.` and `..` resolved: `None` when it leads
/// outside the set or is absolute.
pub(crate) fn join(dir: &str, relative: &str) -> Option<String> {
    if relative.starts_with('/') || Path::new(relative).is_absolute() {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    for part in relative.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_inside_the_set_or_not_at_all() {
        assert_eq!(join("words", "words.txt").as_deref(), Some("words/words.txt"));
        assert_eq!(join("a/b", "../c/./d.wasm").as_deref(), Some("a/c/d.wasm"));
        assert_eq!(join("", "x").as_deref(), Some("x"));
        assert_eq!(join("a", "../../x"), None);
        assert_eq!(join("a", "/etc/hostname"), None);
    }
}
