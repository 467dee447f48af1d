//! Loading a policy set from what its [`SetSource`] yields: the set's
//! manifest, each policy's manifest, module and data, checked and linked,
//! each policy's `init` run. Nothing here touches the file system: every
//! byte comes through the source.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::PolicySet;
use super::counts::{KeptCounter, PolicyCounters};
use crate::bindings::{v1, v2};
use crate::contract::Version;
use crate::error::{LoadError, PolicyError};
use crate::hook::HOOKS;
use crate::manifest::{self, ModuleSource, POLICY_FILE, PolicyContext, PolicyManifest, SET_FILE, TESTS_DIR};
use crate::policy::{LoadedPolicy, Pre};
use crate::sandbox::{Runtime, hex};
use crate::source::{self, SetSource, SourceError};
use crate::wire::DataFile;

/// The largest manifest read, and the largest module: far above any real
/// one (a manifest is a page of TOML, a JavaScript policy's component
/// about 12 MB), low enough that a stray huge file is refused, naming it,
/// rather than read into memory.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
const MAX_MODULE_BYTES: u64 = 1 << 30;

pub(super) fn load(runtime: &Runtime, source: &dyn SetSource) -> Result<PolicySet, LoadError> {
    let root = source.root().to_path_buf();
    let set_file = root.join(SET_FILE);
    let text = match source.read(SET_FILE, MAX_MANIFEST_BYTES) {
        // No folder there, a file in its place, or no `groupgate.toml` in it.
        Err(SourceError::Io { cause, .. })
            if matches!(cause.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) =>
        {
            return Err(not_a_set(&root));
        }
        Err(SourceError::NotAFile { .. }) => return Err(not_a_set(&root)),
        read => manifest_text(read, &set_file)?,
    };
    let set = manifest::parse_set(&set_file, &root, &text)?;
    // Each policy folder, with the entry of `policies` that names it, if any.
    let folders: Vec<(String, Option<&str>)> = match &set.policies {
        Some(listed) => listed
            .iter()
            .map(|p| listed_folder(&set_file, p).map(|folder| (folder, Some(p.as_str()))))
            .collect::<Result<_, _>>()?,
        None => discover(&source.files().map_err(|e| source_error(&root, e))?).into_iter().map(|f| (f, None)).collect(),
    };
    if folders.is_empty() {
        return Err(LoadError::manifest(&set_file, format!("no policies: no folder below holds a `{POLICY_FILE}`")));
    }

    let builtins = runtime.builtin_names();
    let cx = PolicyContext {
        root: &root,
        defaults: &set.defaults,
        builtin: &|name| runtime.has_builtin(name),
        builtins: &builtins,
    };
    // Policies that share a module compile and check it once.
    let mut linked: HashMap<ModuleSource, (Pre, String)> = HashMap::new();
    let mut policies: Vec<LoadedPolicy> = Vec::with_capacity(folders.len());
    let mut hashes: Vec<String> = Vec::with_capacity(folders.len());
    for (folder, listed) in folders {
        let manifest_file = format!("{folder}/{POLICY_FILE}");
        let read = source.read(&manifest_file, MAX_MANIFEST_BYTES);
        let text = match (read, listed) {
            (Err(e), Some(listed)) => return Err(listed_error(&set_file, listed, e)),
            (read, _) => manifest_text(read, &root.join(&manifest_file))?,
        };
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
                let (component, sha256) = compile(runtime, source, &m)?;
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
    // Replicas serving copies of one folder share its name, and so its counts.
    let namespace = set.state.namespace.clone().unwrap_or_else(|| {
        let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.is_empty() { "default".to_owned() } else { name.replace('|', "_") }
    });
    Ok(PolicySet {
        root,
        audit: set.audit,
        limits: set.limits,
        hashes,
        state: runtime.state().clone(),
        state_timeout_ms: set.state.timeout_ms,
        counters: policies.iter().map(|p| PolicyCounters::new(&p.manifest, &namespace)).collect(),
        host_counters: KeptCounter::all(policies.iter().map(|p| &p.manifest), &namespace),
        namespace,
        policies,
    })
}

fn not_a_set(root: &Path) -> LoadError {
    LoadError::manifest(root, format!("not a policy set: there is no `{SET_FILE}`"))
}

/// A manifest's text, from what reading it gave. A manifest that cannot be
/// read is named as a file.
fn manifest_text(read: Result<Vec<u8>, SourceError>, shown: &Path) -> Result<String, LoadError> {
    let bytes = read.map_err(|e| match e {
        SourceError::Io { cause, .. } => LoadError::io(shown, cause),
        other => LoadError::manifest(shown, other.to_string()),
    })?;
    String::from_utf8(bytes).map_err(|_| {
        LoadError::io(shown, std::io::Error::new(ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
    })
}

fn source_error(root: &Path, e: SourceError) -> LoadError {
    match e {
        SourceError::Io { path, cause } => LoadError::Io { path, cause },
        other => LoadError::manifest(root, other.to_string()),
    }
}

/// A folder named in `groupgate.toml`'s `policies`, which must be a folder
/// inside the set (a link may lead elsewhere in it; see [`listed_error`]).
fn listed_folder(set_file: &Path, listed: &str) -> Result<String, LoadError> {
    let inside = Path::new(listed)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    source::join("", listed).filter(|f| inside && !f.is_empty()).ok_or_else(|| {
        LoadError::manifest(set_file, format!("key `policies`: `{listed}` must be a folder inside the set"))
    })
}

/// Why the `policy.toml` of the folder that `policies` names as `listed`
/// could not be read, as an error of that key.
fn listed_error(set_file: &Path, listed: &str, e: SourceError) -> LoadError {
    let why = match e {
        SourceError::Outside { .. } => "leads outside the set".to_owned(),
        e if e.is_missing() || matches!(e, SourceError::NotAFile { .. }) => format!("has no `{POLICY_FILE}`"),
        SourceError::Io { cause, .. } => format!("cannot read `{listed}/{POLICY_FILE}`: {cause}"),
        other => other.to_string(),
    };
    LoadError::manifest(set_file, format!("key `policies`: `{listed}` {why}"))
}

/// Every folder of the set that holds a `policy.toml`, in path order (as
/// paths compare: folder by folder). A policy folder's own subfolders
/// (data, tests) are not searched, nor is any folder named `tests`.
fn discover(files: &[String]) -> Vec<String> {
    let mut candidates: Vec<&str> = files
        .iter()
        .filter_map(|file| file.strip_suffix(POLICY_FILE)?.strip_suffix('/'))
        .filter(|folder| !folder.split('/').any(|part| part == TESTS_DIR))
        .collect();
    candidates.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
    let inside_another = |folder: &str| candidates.iter().any(|c| folder.starts_with(&format!("{c}/")));
    candidates.iter().filter(|f| !inside_another(f)).map(|f| (*f).to_owned()).collect()
}

/// Compiles (or finds compiled) the policy's module, returning it with the
/// SHA-256 of its bytes in hex.
fn compile(runtime: &Runtime, source: &dyn SetSource, m: &PolicyManifest) -> Result<(Component, String), LoadError> {
    let policy_err = |cause: PolicyError| LoadError::Policy { path: m.path.clone(), policy: m.name.clone(), cause };
    let (component, hash) = match &m.module {
        ModuleSource::Builtin(name) => {
            runtime.builtin_component(name).map_err(|e| policy_err(PolicyError::Module(e)))?
        }
        ModuleSource::File(shown) => {
            let file = m.files.module.as_ref().expect("the manifest parser keeps a module file's set path");
            let bytes = source.read(&file.path, MAX_MODULE_BYTES).map_err(|e| match e {
                SourceError::Io { cause, .. } if cause.kind() != ErrorKind::NotFound => {
                    policy_err(PolicyError::Module(format!("cannot read module `{}`: {cause}", shown.display())))
                }
                other => LoadError::manifest(&m.path, format!("key `module`: {}", file_error(other, &file.written))),
            })?;
            let hash: [u8; 32] = Sha256::digest(&bytes).into();
            let component = runtime
                .module_component(hash, &bytes)
                .map_err(|e| policy_err(PolicyError::Module(format!("module `{}`: {e}", shown.display()))))?;
            (component, hash)
        }
    };
    Ok((component, hex(&hash)))
}

/// A file a manifest names that the source refused, named as the manifest
/// writes it.
fn file_error(e: SourceError, written: &str) -> String {
    match e {
        SourceError::Outside { .. } => format!("`{written}` is outside the policy set"),
        SourceError::NotAFile { .. } => format!("`{written}` is not a file"),
        SourceError::TooLarge { max_bytes, .. } => format!("`{written}` is larger than {max_bytes} bytes"),
        SourceError::Io { cause, .. } => format!("`{written}`: {cause}"),
        other => other.to_string(),
    }
}

/// Checks the component against the contract and links it with the
/// version it was built for.
fn link(runtime: &Runtime, component: &Component) -> Result<Pre, PolicyError> {
    let ty = component.component_type();
    let engine = runtime.engine();
    let version = crate::contract::check(ty.imports(engine).map(|(name, _)| name)).map_err(PolicyError::Contract)?;
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    // Reports came with 0.2.0: a 0.1.0 component has no export for them (and
    // one that imports nothing of the contract is checked by its exports
    // below, against each version).
    let required = std::iter::once("init").chain(
        HOOKS.iter().filter(|h| h.hook != crate::hook::Hook::Report || version == Some(Version::V2)).map(|h| h.export),
    );
    if let Some(missing) = required.into_iter().find(|name| !exports.contains(name)) {
        return Err(PolicyError::Contract(format!(
            "export `{missing}` is missing: the component does not implement the contract"
        )));
    }
    let pre = runtime.linker().instantiate_pre(component).map_err(|e| PolicyError::Link(format!("{e:#}")))?;
    let mismatch = |e: wasmtime::Error| PolicyError::Contract(format!("the exports do not match the contract: {e:#}"));
    match version {
        Some(Version::V1) => v1::PolicyPre::new(pre).map(Pre::V1).map_err(mismatch),
        Some(Version::V2) => v2::PolicyPre::new(pre).map(Pre::V2).map_err(mismatch),
        // Imports nothing of the contract (not even its types): whichever
        // version its exports match, the newest named when none does.
        None => match v2::PolicyPre::new(pre.clone()) {
            Ok(pre) => Ok(Pre::V2(pre)),
            Err(e) => v1::PolicyPre::new(pre).map(Pre::V1).map_err(|_| mismatch(e)),
        },
    }
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
            let bad = |message: String| LoadError::manifest(&m.path, format!("key `data.{name}`: {message}"));
            let contents = source.read(&file.path, max_bytes).map_err(|e| match e {
                SourceError::TooLarge { .. } => bad(format!(
                    "`{}` is larger than the set's `max_data_bytes` of {max_bytes} bytes (`[limits]` in `groupgate.toml`)",
                    shown.display()
                )),
                SourceError::Io { cause, .. } if cause.kind() != ErrorKind::NotFound => {
                    bad(format!("`{}` cannot be read: {cause}", shown.display()))
                }
                other => bad(file_error(other, &file.written)),
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
            "a-b/policy.toml",
            "a/data/policy.toml",
            "a/policy.toml",
            "b/c/policy.toml",
            "b/tests/policy.toml",
            "groupgate.toml",
            "tests/policy.toml",
        ]
        .map(String::from)
        .to_vec();
        // Folder by folder, as paths compare: `a` before `a-b`, though `-`
        // sorts before `/` as text.
        assert_eq!(discover(&files), ["a", "a-b", "b/c"]);
    }
}
