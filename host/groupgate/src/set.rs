//! A policy set: an immutable snapshot of compiled policies loaded from a
//! folder, which evaluates requests and merges the verdicts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::decision::{Decision, PolicyReport};
use crate::error::LoadError;
use crate::manifest::{self, Mode, ModuleSource, PolicyManifest};
use crate::policy::LoadedPolicy;
use crate::request::{Request, RequestError, RequestRef};
use crate::sandbox::Runtime;
use crate::wire::{DataFile, GroupCreation, Membership, Message, Reason, Verdict};

/// The reason code of a policy that failed to give a verdict.
pub const POLICY_ERROR: &str = "policy-error";

/// Policies loaded from one folder, ready to evaluate requests. A set never
/// changes once loaded; a reload builds a new one.
pub struct PolicySet {
    root: PathBuf,
    /// `[audit]` from `groupgate.toml`, its `dir` resolved.
    audit: Option<manifest::AuditSettings>,
    /// `[limits]` from `groupgate.toml`.
    limits: manifest::SetLimits,
    policies: Vec<LoadedPolicy>,
    /// Each policy's module SHA-256, in hex, in policy order.
    hashes: Vec<String>,
}

impl PolicySet {
    /// Loads the set in `dir` on the process-wide [`Runtime`].
    pub fn load(dir: impl AsRef<Path>) -> Result<PolicySet, LoadError> {
        let dir = dir.as_ref();
        let runtime = Runtime::shared().map_err(|message| LoadError::manifest(dir, message))?;
        PolicySet::load_with(&runtime, dir)
    }

    /// Loads the set in `dir`: reads every manifest, compiles each module
    /// once, and runs each policy's `init`. Any error leaves nothing loaded.
    pub fn load_with(runtime: &Runtime, dir: impl AsRef<Path>) -> Result<PolicySet, LoadError> {
        let root = dir.as_ref().to_path_buf();
        let set_file = root.join(manifest::SET_FILE);
        if !set_file.is_file() {
            return Err(LoadError::manifest(&root, format!("not a policy set: there is no `{}`", manifest::SET_FILE)));
        }
        let set = manifest::read_set(&root)?;
        let folders = match &set.policies {
            Some(listed) => listed.iter().map(|p| listed_folder(&root, &set_file, p)).collect::<Result<_, _>>()?,
            None => discover(&root)?,
        };
        if folders.is_empty() {
            return Err(LoadError::manifest(
                &set_file,
                format!("no policies: no folder below holds a `{}`", manifest::POLICY_FILE),
            ));
        }

        let mut components: HashMap<ModuleSource, (Component, String)> = HashMap::new();
        let mut policies: Vec<LoadedPolicy> = Vec::with_capacity(folders.len());
        let mut hashes: Vec<String> = Vec::with_capacity(folders.len());
        for folder in folders {
            let m = manifest::read_policy(&root, &folder, &set.defaults)?;
            if let Some(other) = policies.iter().find(|p| p.manifest.name == m.name) {
                return Err(LoadError::manifest(
                    &m.path,
                    format!("key `name`: `{}` is already the name of `{}`", m.name, other.manifest.path.display()),
                ));
            }
            let policy_err =
                |message: String| LoadError::Policy { path: m.path.clone(), policy: m.name.clone(), message };
            let (component, sha256) = match components.get(&m.module) {
                Some(c) => c.clone(),
                None => {
                    let c = compile(runtime, &m.module).map_err(&policy_err)?;
                    components.insert(m.module.clone(), c.clone());
                    c
                }
            };
            check_contract(runtime, &component).map_err(&policy_err)?;
            let pre =
                runtime.linker().instantiate_pre(&component).map_err(|e| policy_err(format!("cannot link: {e:#}")))?;
            let data = read_data(&m, set.limits.max_data_bytes)?;
            let loaded = LoadedPolicy::new(runtime, m.clone(), pre, data).map_err(policy_err)?;
            policies.push(loaded);
            hashes.push(sha256);
        }
        Ok(PolicySet { root, audit: set.audit, limits: set.limits, policies, hashes })
    }

    /// The decision log settings (`[audit]` in `groupgate.toml`), if any.
    pub fn audit_settings(&self) -> Option<&manifest::AuditSettings> {
        self.audit.as_ref()
    }

    /// The set-wide limits (`[limits]` in `groupgate.toml`).
    pub fn limits(&self) -> &manifest::SetLimits {
        &self.limits
    }

    /// Checks a request against the set-wide limits, which every `evaluate`
    /// does before any policy runs: a message text over `max_text_bytes` is
    /// refused, so an oversized input costs no policy its deadline.
    pub fn check(&self, request: &Request) -> Result<(), RequestError> {
        self.check_ref(request.as_ref())
    }

    fn check_ref(&self, request: RequestRef<'_>) -> Result<(), RequestError> {
        let max = self.limits.max_text_bytes;
        let mut over = None;
        crate::wire::each_string(request, &mut |field, text| {
            if over.is_none() && text.len() as u64 > max {
                over = Some((field(), text.len()));
            }
        });
        match over {
            None => Ok(()),
            Some((field, len)) => Err(RequestError::too_large(
                request.hook(),
                format!("field `{field}`: {len} bytes, more than the set's `max_text_bytes` of {max}"),
            )),
        }
    }

    /// The folder the set was loaded from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SHA-256 (hex) of the module that policy `name` runs: what an
    /// operator compares to know which build is live.
    pub fn module_sha256(&self, name: &str) -> Option<&str> {
        let index = self.policies.iter().position(|p| p.manifest.name == name)?;
        Some(&self.hashes[index])
    }

    /// Every policy's module SHA-256 (hex), in evaluation order.
    pub fn module_hashes(&self) -> impl Iterator<Item = &str> {
        self.hashes.iter().map(String::as_str)
    }

    /// The policies' manifests, in evaluation order.
    pub fn policies(&self) -> impl Iterator<Item = &PolicyManifest> {
        self.policies.iter().map(|p| &p.manifest)
    }

    /// Decides a request: runs every policy whose hooks and scope match, in
    /// order, and merges their verdicts.
    ///
    /// `Err` when the request breaks the set's `[limits]` (see
    /// [`PolicySet::check`]); no policy has run then.
    pub fn evaluate(&self, request: &Request) -> Result<Decision, RequestError> {
        self.evaluate_ref(request.as_ref())
    }

    /// Decides a request by one policy alone, as its own test cases do: the
    /// policy runs only if its hooks and scope match, and its verdict is the
    /// decision even in audit mode, so an audit policy can be tested before
    /// it enforces. `None` when the set has no policy of that name.
    pub fn evaluate_policy(&self, name: &str, request: &Request) -> Option<Result<Decision, RequestError>> {
        let index = self.policies.iter().position(|p| p.manifest.name == name)?;
        Some(self.check(request).map(|()| self.decide(request.as_ref(), Some(index))))
    }

    /// A set holding only policy `name`, with `overrides` (a JSON object)
    /// merged into its `[config]` key by key, as a policy test case's
    /// `config` asks. `Err` names the policy and what `init` said, or that
    /// there is no such policy.
    pub fn with_policy_config(&self, name: &str, overrides: &serde_json::Value) -> Result<PolicySet, String> {
        let policy = self
            .policies
            .iter()
            .find(|p| p.manifest.name == name)
            .ok_or_else(|| format!("the set has no policy named `{name}`"))?;
        let mut config: serde_json::Value =
            serde_json::from_str(&policy.manifest.config_json).expect("a manifest's config is JSON");
        crate::testing::merge(&mut config, overrides.clone());
        let variant = policy
            .with_config(config.to_string())
            .map_err(|e| format!("policy `{name}` refused the case's config: {e}"))?;
        let index = self.policies.iter().position(|p| p.manifest.name == name).expect("found above");
        Ok(PolicySet {
            root: self.root.clone(),
            audit: self.audit.clone(),
            limits: self.limits,
            policies: vec![variant],
            hashes: vec![self.hashes[index].clone()],
        })
    }

    fn evaluate_ref(&self, request: RequestRef<'_>) -> Result<Decision, RequestError> {
        self.check_ref(request)?;
        Ok(self.decide(request, None))
    }

    /// Runs every matching policy, or only the one at index `only`.
    fn decide(&self, request: RequestRef<'_>, only: Option<usize>) -> Decision {
        let hook = request.hook();
        let (region, category) = request.scope_keys();
        let mut decision = Decision::new();
        for (index, policy) in self.policies.iter().enumerate() {
            let m = &policy.manifest;
            let chosen = only.is_none_or(|i| i == index);
            if !chosen || !m.hooks.contains(&hook) || !m.scope.matches(region, category) {
                continue;
            }
            let (result, elapsed) = match request {
                RequestRef::Message(r) => policy.evaluate(r),
                RequestRef::GroupCreation(r) => policy.evaluate(r),
                RequestRef::Membership(r) => policy.evaluate(r),
            };
            let (verdict, error, error_kind) = match result {
                Ok(verdict) => (verdict, None, None),
                Err(failure) => {
                    tracing::warn!(policy = %m.name, %hook, "policy failed: {failure}");
                    let message = format!("policy `{}` {failure}", m.name);
                    let reason = Reason { code: POLICY_ERROR.into(), message, article: None, evidence: None };
                    let verdict = Verdict { outcome: m.on_error.into(), reasons: vec![reason], measures: Vec::new() };
                    (verdict, Some(failure.to_string()), Some(failure.kind()))
                }
            };
            let report = PolicyReport {
                name: m.name.clone(),
                version: m.version.clone(),
                mode: m.mode,
                outcome: verdict.outcome,
                error,
                error_kind,
                duration: elapsed,
            };
            let counts = only.is_some() || m.mode == Mode::Enforce;
            decision.add(report, verdict, counts);
        }
        decision
    }

    /// May this message be published?
    pub fn evaluate_message(&self, message: &Message) -> Result<Decision, RequestError> {
        self.evaluate_ref(RequestRef::Message(message))
    }

    /// May this group be created?
    pub fn evaluate_group_creation(&self, creation: &GroupCreation) -> Result<Decision, RequestError> {
        self.evaluate_ref(RequestRef::GroupCreation(creation))
    }

    /// May this user join, or be invited into, this group?
    pub fn evaluate_membership(&self, membership: &Membership) -> Result<Decision, RequestError> {
        self.evaluate_ref(RequestRef::Membership(membership))
    }
}

/// A folder named in `groupgate.toml`'s `policies`, which must lie inside the
/// set so the set stays self-contained.
fn listed_folder(root: &Path, set_file: &Path, listed: &str) -> Result<PathBuf, LoadError> {
    let path = Path::new(listed);
    let inside = path.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    if !inside || listed.is_empty() {
        return Err(LoadError::manifest(
            set_file,
            format!("key `policies`: `{listed}` must be a folder inside the set"),
        ));
    }
    let folder = root.join(path);
    let outside = match (folder.canonicalize(), root.canonicalize()) {
        (Ok(folder), Ok(root)) => !folder.starts_with(root),
        _ => false,
    };
    if outside {
        return Err(LoadError::manifest(set_file, format!("key `policies`: `{listed}` leads outside the set")));
    }
    match folder.join(manifest::POLICY_FILE).metadata() {
        Ok(meta) if meta.is_file() => {}
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(LoadError::manifest(
                set_file,
                format!("key `policies`: cannot read `{listed}/{}`: {e}", manifest::POLICY_FILE),
            ));
        }
        _ => {
            return Err(LoadError::manifest(
                set_file,
                format!("key `policies`: `{listed}` has no `{}`", manifest::POLICY_FILE),
            ));
        }
    }
    Ok(folder)
}

/// Every folder below `root` that holds a `policy.toml`, in path order. A
/// policy folder's own subfolders (data, tests) are not searched.
fn discover(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| LoadError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| LoadError::io(&dir, e))?;
            let path = entry.path();
            // Links are not followed: they could loop, or reach outside the set.
            let is_dir = entry.file_type().map_err(|e| LoadError::io(&path, e))?.is_dir();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden || !is_dir || path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            if path.join(manifest::POLICY_FILE).is_file() {
                found.push(path);
            } else {
                stack.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Compiles (or finds compiled) the module, returning it with the SHA-256 of
/// its bytes in hex.
fn compile(runtime: &Runtime, module: &ModuleSource) -> Result<(Component, String), String> {
    match module {
        ModuleSource::Builtin(name) => {
            let bytes = crate::builtin::component(name).ok_or_else(|| format!("no standard plugin named `{name}`"))?;
            let hash: [u8; 32] = Sha256::digest(bytes).into();
            Ok((runtime.builtin_component(name, &hash, bytes)?, crate::sandbox::hex(&hash)))
        }
        ModuleSource::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read module `{}`: {e}", path.display()))?;
            let hash: [u8; 32] = Sha256::digest(&bytes).into();
            let component =
                runtime.module_component(hash, &bytes).map_err(|e| format!("module `{}`: {e}", path.display()))?;
            Ok((component, crate::sandbox::hex(&hash)))
        }
    }
}

/// Reads the policy's `[data]` files, to hand to every new instance's `init`.
/// A file over `max_bytes` is refused without being read whole: every
/// instance gets its own copy, so one oversized file would cost memory per
/// instance, and the policy's memory cap would only catch it at `init`.
fn read_data(m: &PolicyManifest, max_bytes: u64) -> Result<Vec<DataFile>, LoadError> {
    use std::io::Read as _;
    m.data
        .iter()
        .map(|(name, path)| {
            let bad = |message: String| {
                LoadError::manifest(&m.path, format!("key `data.{name}`: `{}` {message}", path.display()))
            };
            let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
            let mut contents = Vec::new();
            // Read one byte past the limit: the size on disk may change meanwhile.
            file.take(max_bytes + 1).read_to_end(&mut contents).map_err(|e| bad(format!("cannot be read: {e}")))?;
            if contents.len() as u64 > max_bytes {
                return Err(bad(format!(
                    "is larger than the set's `max_data_bytes` of {max_bytes} bytes (`[limits]` in `groupgate.toml`)"
                )));
            }
            Ok(DataFile { name: name.clone(), contents })
        })
        .collect()
}

/// Refuses a component built for another version of the contract, naming
/// both, before linking would fail with a less helpful message. Every
/// policy imports the contract's `types` interface, which carries the version.
fn check_contract(runtime: &Runtime, component: &Component) -> Result<(), String> {
    let (ours, our_version) = crate::sandbox::CONTRACT.split_once('@').expect("the contract has a version");
    let prefix = format!("{ours}/");
    let ty = component.component_type();
    for (name, _) in ty.imports(runtime.engine()) {
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let version = rest.split_once('@').map_or("", |(_, v)| v);
        if version != our_version {
            let theirs =
                if version.is_empty() { "an unversioned contract".to_owned() } else { format!("{ours}@{version}") };
            return Err(format!(
                "the component was built for {theirs} (it imports `{name}`), but this host implements {}: \
                 rebuild the policy against this host's `wit/policy.wit`",
                crate::sandbox::CONTRACT
            ));
        }
    }
    Ok(())
}
