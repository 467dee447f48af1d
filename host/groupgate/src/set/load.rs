//! Loading a policy set from what its [`SetSource`] yields: the set's
//! manifest, each policy's manifest, module and data, checked and linked,
//! each policy's `init` run. Nothing here touches the file system: every
//! byte comes through the source.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::PolicySet;
use crate::bindings::PolicyPre;
use crate::error::{LoadError, PolicyError};
use crate::manifest::{self, ModuleSource, POLICY_FILE, PolicyContext, PolicyManifest, SET_FILE, TESTS_DIR};
use crate::policy::LoadedPolicy;
use crate::sandbox::{Runtime, hex};
use crate::source::{self, SetSource, SourceError};
use crate::wire::DataFile;

/// The largest manifest read, and the largest module: far above any real
/// one, low enough that a stray huge file is refused rather than read.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
const MAX_MODULE_BYTES: u64 = 1 << 30;

pub(super) fn load(runtime: &Runtime, source: &dyn SetSource) -> Result<PolicySet, LoadError> {
    let root = source.root().to_path_buf();
    let set_file = root.join(SET_FILE);
    let mut files = match source.files() {
        Ok(files) => files,
        Err(e) if e.is_missing() => Vec::new(),
        Err(e) => return Err(source_error(&root, e)),
    };
    files.sort();
    if files.binary_search(&SET_FILE.to_owned()).is_err() {
        return Err(LoadError::manifest(&root, format!("not a policy set: there is no `{SET_FILE}`")));
    }
    let text = read_text(source, SET_FILE, &set_file)?;
    let set = manifest::parse_set(&set_file, &root, &text)?;
    let folders = match &set.policies {
        Some(listed) => listed.iter().map(|p| listed_folder(&files, &set_file, p)).collect::<Result<_, _>>()?,
        None => discover(&files),
    };
    if folders.is_empty() {
        return Err(LoadError::manifest(&set_file, format!("no policies: no folder below holds a `{POLICY_FILE}`")));
    }

    let builtins = runtime.builtin_names();
    let cx = PolicyContext {
        root: &root,
        files: &files,
        defaults: &set.defaults,
        builtin: &|name| runtime.has_builtin(name),
        builtins: &builtins,
    };
    // Policies that share a module compile and check it once.
    let mut linked: HashMap<ModuleSource, (PolicyPre<crate::sandbox::PolicyState>, String)> = HashMap::new();
    let mut policies: Vec<LoadedPolicy> = Vec::with_capacity(folders.len());
    let mut hashes: Vec<String> = Vec::with_capacity(folders.len());
    for folder in folders {
        let manifest_file = source::join(&folder, POLICY_FILE).unwrap_or_default();
        let text = read_text(source, &manifest_file, &root.join(&manifest_file))?;
        let m = manifest::parse_policy(&cx, &folder, &text)?;
        if let Some(other) = policies.iter().find(|p| p.manifest.name == m.name) {
            return Err(LoadError::manifest(
                &m.path,
                format!("key `name`: `{}` is already the name of `{}`", m.name, other.manifest.path.display()),
            ));
        }
        let policy_err = |cause: PolicyError| LoadError::Policy { path: m.path.clone(), policy: m.name.clone(), cause };
        let (pre, sha256) = match linked.get(&m.module) {
            Some(found) => found.clone(),
            None => {
                let component = compile(runtime, source, &m)?;
                let (component, sha256) = component.map_err(&policy_err)?;
                let pre = link(runtime, &component).map_err(&policy_err)?;
                linked.insert(m.module.clone(), (pre.clone(), sha256.clone()));
                (pre, sha256)
            }
        };
        let data = read_data(source, &m, set.limits.max_data_bytes)?;
        let loaded = LoadedPolicy::new(runtime, m.clone(), pre, data).map_err(policy_err)?;
        policies.push(loaded);
        hashes.push(sha256);
    }
    Ok(PolicySet { root, audit: set.audit, limits: set.limits, policies, hashes })
}

/// A manifest's text. A manifest that cannot be read is named as a file.
fn read_text(source: &dyn SetSource, path: &str, shown: &Path) -> Result<String, LoadError> {
    let bytes = source.read(path, MAX_MANIFEST_BYTES).map_err(|e| match e {
        SourceError::Io { cause, .. } => LoadError::io(shown, cause),
        other => LoadError::manifest(shown, other.to_string()),
    })?;
    String::from_utf8(bytes).map_err(|_| LoadError::manifest(shown, "is not UTF-8 text"))
}

fn source_error(root: &Path, e: SourceError) -> LoadError {
    match e {
        SourceError::Io { path, cause } => LoadError::Io { path, cause },
        other => LoadError::manifest(root, other.to_string()),
    }
}

/// A folder named in `groupgate.toml`'s `policies`, which must lie inside the
/// set so the set stays self-contained.
fn listed_folder(files: &[String], set_file: &Path, listed: &str) -> Result<String, LoadError> {
    let bad = |why: String| LoadError::manifest(set_file, format!("key `policies`: `{listed}` {why}"));
    let inside = Path::new(listed)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    let folder = source::join("", listed).filter(|f| inside && !f.is_empty());
    let Some(folder) = folder else {
        return Err(bad("must be a folder inside the set".into()));
    };
    let manifest = format!("{folder}/{POLICY_FILE}");
    if files.binary_search(&manifest).is_err() {
        return Err(bad(format!("has no `{POLICY_FILE}`")));
    }
    Ok(folder)
}

/// Every folder of the set that holds a `policy.toml`, in path order. A
/// policy folder's own subfolders (data, tests) are not searched, nor is
/// any folder named `tests`.
fn discover(files: &[String]) -> Vec<String> {
    let candidates: Vec<&str> = files
        .iter()
        .filter_map(|file| file.strip_suffix(POLICY_FILE)?.strip_suffix('/'))
        .filter(|folder| !folder.split('/').any(|part| part == TESTS_DIR))
        .collect();
    let inside_another = |folder: &str| candidates.iter().any(|c| folder.starts_with(&format!("{c}/")));
    candidates.iter().filter(|f| !inside_another(f)).map(|f| (*f).to_owned()).collect()
}

/// Compiles (or finds compiled) the policy's module, returning it with the
/// SHA-256 of its bytes in hex. The outer error is a manifest's (the file
/// cannot be read), the inner one the policy's.
#[allow(clippy::type_complexity, reason = "the two layers of error are the point")]
fn compile(
    runtime: &Runtime,
    source: &dyn SetSource,
    m: &PolicyManifest,
) -> Result<Result<(Component, String), PolicyError>, LoadError> {
    Ok(match (&m.module, &m.files.module) {
        (ModuleSource::Builtin(name), _) => runtime
            .builtin_component(name)
            .map(|(component, hash)| (component, hex(&hash)))
            .map_err(PolicyError::Module),
        (ModuleSource::File(shown), Some(file)) => {
            let bytes = source
                .read(file, MAX_MODULE_BYTES)
                .map_err(|e| LoadError::manifest(&m.path, format!("key `module`: {}", shown_error(e, file))))?;
            let hash: [u8; 32] = Sha256::digest(&bytes).into();
            runtime
                .module_component(hash, &bytes)
                .map(|component| (component, hex(&hash)))
                .map_err(|e| PolicyError::Module(format!("module `{}`: {e}", shown.display())))
        }
        (ModuleSource::File(shown), None) => {
            Err(PolicyError::Module(format!("module `{}` is not a file of the set", shown.display())))
        }
    })
}

/// A read error for a manifest key: the path as the set names it.
fn shown_error(e: SourceError, file: &str) -> String {
    match e {
        SourceError::Io { cause, .. } => format!("`{file}` cannot be read: {cause}"),
        other => other.to_string(),
    }
}

/// Checks the component against the contract and links it.
fn link(runtime: &Runtime, component: &Component) -> Result<PolicyPre<crate::sandbox::PolicyState>, PolicyError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(runtime.engine()).map(|(name, _)| name.to_owned()).collect();
    crate::contract::check(imports.iter().map(String::as_str)).map_err(PolicyError::Contract)?;
    let pre = runtime.linker().instantiate_pre(component).map_err(|e| PolicyError::Link(format!("{e:#}")))?;
    PolicyPre::new(pre)
        .map_err(|e| PolicyError::Contract(format!("the component does not implement the contract's exports: {e:#}")))
}

/// Reads the policy's `[data]` files, to hand to every new instance's `init`.
/// A file over `max_bytes` is refused without being read whole: every
/// instance gets its own copy, so one oversized file would cost memory per
/// instance, and the policy's memory cap would only catch it at `init`.
fn read_data(source: &dyn SetSource, m: &PolicyManifest, max_bytes: u64) -> Result<Vec<DataFile>, LoadError> {
    m.data
        .iter()
        .zip(&m.files.data)
        .map(|((name, shown), file)| {
            let bad = |message: String| {
                LoadError::manifest(&m.path, format!("key `data.{name}`: `{}` {message}", shown.display()))
            };
            let contents = source.read(file, max_bytes).map_err(|e| match e {
                SourceError::TooLarge { .. } => bad(format!(
                    "is larger than the set's `max_data_bytes` of {max_bytes} bytes (`[limits]` in `groupgate.toml`)"
                )),
                SourceError::Io { cause, .. } => bad(format!("cannot be read: {cause}")),
                other => LoadError::manifest(&m.path, format!("key `data.{name}`: {other}")),
            })?;
            Ok(DataFile { name: name.clone(), contents })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::discover;

    #[test]
    fn discovery_stops_at_a_policy_folder_and_skips_tests_folders() {
        let files: Vec<String> = [
            "a/data/policy.toml",
            "a/policy.toml",
            "b/c/policy.toml",
            "b/tests/policy.toml",
            "groupgate.toml",
            "tests/policy.toml",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(discover(&files), ["a", "b/c"]);
    }
}
