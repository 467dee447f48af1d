//! A policy set in a folder on disk, watched for changes: the first
//! [`SetSource`].

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::{SetSource, SourceError, Watch};

/// A policy set in a folder. Every file is read through the folder's own
/// path, and one that resolves outside it (through `..` or a link) is
/// refused, so a set stays self-contained and can be copied or mounted
/// anywhere.
#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    /// The set in `dir` (which need not exist yet: a server waits for it).
    pub fn new(dir: impl Into<PathBuf>) -> Folder {
        Folder { root: dir.into() }
    }
}

impl SetSource for Folder {
    fn root(&self) -> &Path {
        &self.root
    }

    fn files(&self) -> Result<Vec<String>, SourceError> {
        let io = |path: &Path, cause| SourceError::Io { path: path.to_path_buf(), cause };
        let mut found = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
                let entry = entry.map_err(|e| io(&dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let path = entry.path();
                let relative = format!("{prefix}{name}");
                // Links are not followed into folders: they could loop, or
                // reach outside the set. A link to a file is listed; reading
                // it checks where it leads.
                let kind = entry.file_type().map_err(|e| io(&path, e))?;
                if kind.is_dir() {
                    stack.push((path, format!("{relative}/")));
                } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
                    found.push(relative);
                }
            }
        }
        found.sort();
        Ok(found)
    }

    fn read(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let file = resolve_inside(&self.root, &self.root, path)?;
        let io = |cause| SourceError::Io { path: file.clone(), cause };
        let mut contents = Vec::new();
        // Read one byte past the limit: the size on disk may change meanwhile.
        std::fs::File::open(&file)
            .map_err(io)?
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut contents)
            .map_err(io)?;
        if contents.len() as u64 > max_bytes {
            return Err(SourceError::TooLarge { path: path.to_owned(), max_bytes });
        }
        Ok(contents)
    }

    fn watch(&self, changed: Box<dyn Fn() + Send>) -> Result<Watch, SourceError> {
        super::watch::watch(&self.root, changed).map(Watch::new)
    }
}

/// The nearest folder at or above `path` that holds a `groupgate.toml`: the
/// policy set a file or folder belongs to.
pub fn enclosing_set(path: &Path) -> Option<&Path> {
    path.ancestors().find(|a| a.join(crate::SET_FILE).is_file())
}

/// Resolves `relative` against the folder `dir` of the set in `root` and
/// requires the result to be an existing file inside the set (links
/// resolved), returning the checked path, the one to read.
pub fn resolve_inside(root: &Path, dir: &Path, relative: &str) -> Result<PathBuf, SourceError> {
    if Path::new(relative).is_absolute() {
        return Err(SourceError::Outside { path: relative.to_owned() });
    }
    let io = |path: &Path, cause| SourceError::Io { path: path.to_path_buf(), cause };
    let joined = dir.join(relative);
    let root = root.canonicalize().map_err(|e| io(root, e))?;
    let resolved = match joined.canonicalize() {
        Ok(resolved) => resolved,
        Err(e) => {
            // Missing, but the part that exists may already lead outside
            // (a link to another folder): that is the clearer error.
            let outside =
                joined.ancestors().skip(1).find_map(|a| a.canonicalize().ok()).is_some_and(|a| !a.starts_with(&root));
            return Err(if outside {
                SourceError::Outside { path: relative.to_owned() }
            } else {
                io(Path::new(relative), e)
            });
        }
    };
    if !resolved.starts_with(&root) {
        return Err(SourceError::Outside { path: relative.to_owned() });
    }
    if !resolved.is_file() {
        return Err(SourceError::NotAFile { path: relative.to_owned() });
    }
    Ok(resolved)
}
