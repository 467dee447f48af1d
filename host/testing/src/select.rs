//! From paths to selections: what each path given to the runner (a set, a
//! folder of sets, a policy, a `tests` folder or a case file) stands for,
//! grouped by the set it falls in, and the paths as reports show them.

use std::path::{Path, PathBuf};

use groupgate::source::{Folder, SetSource as _, SourceError, enclosing_set};
use groupgate::{POLICY_FILE, SET_FILE, TESTS_DIR};

use crate::TestError;

/// What a path given to the runner stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selected {
    /// Every case of the set: its own and each policy's.
    Set,
    /// One policy folder's cases.
    Policy(PathBuf),
    /// These case files.
    Files(Vec<PathBuf>),
}

/// The paths that fall in one policy set, which is loaded once for all.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The set's folder.
    pub root: PathBuf,
    pub(crate) targets: Vec<Selected>,
}

/// Sorts `paths` (set folders, policy folders, `tests` folders or case
/// files; a folder holding several sets stands for each of them) by the
/// set each belongs to, in first-seen order. Each path is resolved first, so
/// `.`, `..` and bare file names work from any folder; the set's folder is
/// then named relative to the working folder, and every file below it by
/// joining onto that, so reports show short paths.
pub fn select(paths: &[PathBuf]) -> Result<Vec<Selection>, TestError> {
    let (selections, errors) = group(paths);
    match errors.into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(selections),
    }
}

/// The selections that `paths` make, and each path that selects nothing
/// with why, both in the order given.
pub(crate) fn group(paths: &[PathBuf]) -> (Vec<Selection>, Vec<(PathBuf, TestError)>) {
    let mut selections = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match resolve(path) {
            Ok(found) => found.into_iter().for_each(|(key, target)| add(&mut selections, key, target)),
            Err(error) => errors.push((path.clone(), error)),
        }
    }
    (selections.into_iter().map(|(_, s)| s).collect(), errors)
}

/// Adds `target` to the selection of the set whose resolved folder is `key`,
/// so each set is loaded once however many paths fall in it.
fn add(selections: &mut Vec<(PathBuf, Selection)>, key: PathBuf, target: Selected) {
    // Targets are resolved paths; name them as the working folder sees them.
    let target = match target {
        Selected::Set => Selected::Set,
        Selected::Policy(dir) => Selected::Policy(relative_to_cwd(&dir)),
        Selected::Files(files) => Selected::Files(files.iter().map(|f| relative_to_cwd(f)).collect()),
    };
    match selections.iter_mut().find(|(k, _)| *k == key) {
        Some((_, s)) => {
            if !s.targets.contains(&target) {
                s.targets.push(target);
            }
        }
        None => {
            let root = relative_to_cwd(&key);
            selections.push((key, Selection { root, targets: vec![target] }));
        }
    }
}

/// The set folders (resolved) that `path` selects, with what it selects in each.
fn resolve(given: &Path) -> Result<Vec<(PathBuf, Selected)>, TestError> {
    let bad = |why: &str| Err(TestError::Path(format!("`{}`: {why}", given.display())));
    let Ok(path) = given.canonicalize() else {
        return bad("no such file or folder");
    };
    let not_in_set = || {
        TestError::Path(format!(
            "`{}`: not inside a policy set (no `{SET_FILE}` in any folder above it)",
            given.display()
        ))
    };
    if path.is_file() {
        let owner = path.parent().filter(|d| d.file_name().is_some_and(|n| n == TESTS_DIR)).and_then(Path::parent);
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        let Some(owner) = owner.filter(|_| is_toml) else {
            return bad("a case file must be a `.toml` file in a policy's or a set's `tests` folder");
        };
        let root = enclosing_set(owner).map(Path::to_path_buf).ok_or_else(not_in_set)?;
        return Ok(vec![(root, Selected::Files(vec![path.clone()]))]);
    }
    if path.join(SET_FILE).is_file() {
        return Ok(vec![(path, Selected::Set)]);
    }
    if path.join(POLICY_FILE).is_file() {
        let root = enclosing_set(&path).map(Path::to_path_buf).ok_or_else(not_in_set)?;
        return Ok(vec![(root, Selected::Policy(path))]);
    }
    if path.file_name().is_some_and(|n| n == TESTS_DIR)
        && let Some(owner) = path.parent().filter(|o| o.join(SET_FILE).is_file() || o.join(POLICY_FILE).is_file())
    {
        let root = enclosing_set(owner).map(Path::to_path_buf).ok_or_else(not_in_set)?;
        return Ok(vec![(root, Selected::Files(case_files(&path)?))]);
    }
    let sets = sets_below(&path)?;
    if sets.is_empty() {
        return bad(&format!(
            "not a policy set (no `{SET_FILE}`), a policy (no `{POLICY_FILE}`), nor a folder holding policy sets"
        ));
    }
    Ok(sets.into_iter().map(|root| (root, Selected::Set)).collect())
}

/// Every set folder below `dir`, in path order, not counting a set inside
/// another. Listed by [`Folder`], so hidden folders and links to folders
/// are passed over just as when a set is loaded.
fn sets_below(dir: &Path) -> Result<Vec<PathBuf>, TestError> {
    let files = Folder::new(dir).files().map_err(unreadable)?;
    let mut sets: Vec<PathBuf> =
        files.iter().filter_map(|f| f.strip_suffix(SET_FILE)?.strip_suffix('/')).map(|d| dir.join(d)).collect();
    // By path, not by text: `a/b` comes before `a-b`, as a reader expects.
    sets.sort();
    let mut outermost: Vec<PathBuf> = Vec::with_capacity(sets.len());
    for set in sets {
        // Sorted by path, a set's nested sets follow it.
        if !outermost.last().is_some_and(|outer| set.starts_with(outer)) {
            outermost.push(set);
        }
    }
    Ok(outermost)
}

/// The case files in the `tests` folder `dir`: its `*.toml` files, not
/// those in folders below, in name order; none if it is absent. Listed by
/// [`Folder`], so what counts as a file is what loading a set counts.
pub(crate) fn case_files(dir: &Path) -> Result<Vec<PathBuf>, TestError> {
    let files = match Folder::new(dir).files() {
        Ok(files) => files,
        Err(e) if e.is_missing() => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(e)),
    };
    Ok(files.iter().filter(|f| !f.contains('/') && f.ends_with(".toml")).map(|f| dir.join(f)).collect())
}

fn unreadable(error: SourceError) -> TestError {
    TestError::Path(format!("cannot read {error}"))
}

/// `path`, resolved, or why it cannot be.
pub(crate) fn canonical(path: &Path) -> Result<PathBuf, TestError> {
    path.canonicalize().map_err(|e| TestError::Path(format!("`{}`: {e}", path.display())))
}

/// `base` joined with `rest`, without a leading `./` when `base` is `.`.
pub(crate) fn join_shown(base: &Path, rest: &str) -> PathBuf {
    if base == Path::new(".") { PathBuf::from(rest) } else { base.join(rest) }
}

/// `path` (resolved) relative to the working folder, with `..` where needed;
/// unchanged when there is no working folder to speak of.
pub(crate) fn relative_to_cwd(path: &Path) -> PathBuf {
    let Some(cwd) = std::env::current_dir().ok().and_then(|d| d.canonicalize().ok()) else {
        return path.to_path_buf();
    };
    let common = cwd.components().zip(path.components()).take_while(|(a, b)| a == b).count();
    let ups = cwd.components().count() - common;
    // Only the root in common: an absolute path says it better.
    if common <= 1 {
        return path.to_path_buf();
    }
    let mut relative = PathBuf::new();
    for _ in 0..ups {
        relative.push("..");
    }
    for part in path.components().skip(common) {
        relative.push(part);
    }
    if relative.as_os_str().is_empty() { PathBuf::from(".") } else { relative }
}
