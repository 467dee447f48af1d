//! A set read whole into memory: what is checked is what is loaded, so a
//! file changed on disk between the check and the load cannot slip in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use groupgate::source::{SetSource, SourceError, Watch};

/// The most a set may hold in all, read into memory to be checked.
pub const MAX_SET_BYTES: u64 = 512 * 1024 * 1024;

/// A set's files, in memory, named from the folder `root`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    root: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
}

impl Snapshot {
    /// Every file `source` lists, read now. A set over [`MAX_SET_BYTES`] is
    /// refused.
    pub fn read(source: &dyn SetSource) -> Result<Snapshot, SourceError> {
        let mut files = BTreeMap::new();
        let mut left = MAX_SET_BYTES;
        for path in source.files()? {
            let bytes = source.read(&path, left).map_err(|e| match e {
                SourceError::TooLarge { path, .. } => SourceError::TooLarge { path, max_bytes: MAX_SET_BYTES },
                e => e,
            })?;
            left -= bytes.len() as u64;
            files.insert(path, bytes);
        }
        Ok(Snapshot { root: source.root().to_path_buf(), files })
    }

    /// A snapshot of `files`, named from `root`.
    pub fn new(root: impl Into<PathBuf>, files: BTreeMap<String, Vec<u8>>) -> Snapshot {
        Snapshot { root: root.into(), files }
    }

    /// Its files: path → contents.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// Writes every file under `dir` (which must not exist yet), through a
    /// folder beside it renamed into place, so `dir` is either complete or
    /// absent. Paths are checked again: none may leave `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        let parent = dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let staging = tempfile::Builder::new().prefix(".incoming-").tempdir_in(parent)?;
        for (path, bytes) in &self.files {
            let target = staging.path().join(safe_relative(path)?);
            if let Some(folder) = target.parent() {
                std::fs::create_dir_all(folder)?;
            }
            std::fs::write(&target, bytes)?;
        }
        let staged = staging.keep();
        if let Err(e) = std::fs::rename(&staged, dir) {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(e);
        }
        Ok(())
    }
}

/// `path` as a relative path of plain, visible parts, or an error.
pub fn safe_relative(path: &str) -> std::io::Result<&Path> {
    let ok = !path.is_empty()
        && path.split('/').all(|part| !part.is_empty() && !part.starts_with('.') && !part.contains(['\\', '\0']));
    if ok {
        Ok(Path::new(path))
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("`{}` is not a plain path inside a set", path.escape_debug()),
        ))
    }
}

impl SetSource for Snapshot {
    fn root(&self) -> &Path {
        &self.root
    }

    fn files(&self) -> Result<Vec<String>, SourceError> {
        Ok(self.files.keys().cloned().collect())
    }

    fn read(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let bytes = self.files.get(path).ok_or_else(|| SourceError::missing(path))?;
        if bytes.len() as u64 > max_bytes {
            return Err(SourceError::TooLarge { path: path.into(), max_bytes });
        }
        Ok(bytes.clone())
    }

    fn watch(&self, _changed: Box<dyn Fn() + Send>) -> Result<Watch, SourceError> {
        Ok(Watch::none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_visible_relative_paths_are_written() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", ".hidden", "a/.git/config", "a\\b", "a/"] {
            assert!(safe_relative(bad).is_err(), "{bad:?}");
        }
        assert!(safe_relative("prohibited-content/words.txt").is_ok());
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("set");
        let evil = Snapshot::new(
            &target,
            BTreeMap::from([("a.txt".to_owned(), b"a".to_vec()), ("../escape".to_owned(), vec![])]),
        );
        assert!(evil.write_to(&target).is_err());
        assert!(!target.exists() && !dir.path().join("escape").exists(), "nothing written, nothing left behind");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no staging folder left");
        let good = Snapshot::new(&target, BTreeMap::from([("p/a.txt".to_owned(), b"a".to_vec())]));
        good.write_to(&target).unwrap();
        assert_eq!(std::fs::read(target.join("p/a.txt")).unwrap(), b"a");
    }
}
