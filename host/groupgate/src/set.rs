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
use crate::request::{Request, RequestRef};
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
            let pre =
                runtime.linker().instantiate_pre(&component).map_err(|e| policy_err(format!("cannot link: {e:#}")))?;
            let data = read_data(&m)?;
            let loaded = LoadedPolicy::new(runtime, m.clone(), pre, data).map_err(policy_err)?;
            policies.push(loaded);
            hashes.push(sha256);
        }
        Ok(PolicySet { root, audit: set.audit, policies, hashes })
    }

    /// The decision log settings (`[audit]` in `groupgate.toml`), if any.
    pub fn audit_settings(&self) -> Option<&manifest::AuditSettings> {
        self.audit.as_ref()
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
    pub fn evaluate(&self, request: &Request) -> Decision {
        self.evaluate_ref(request.as_ref())
    }

    /// Decides a request by one policy alone, as its own test cases do: the
    /// policy runs only if its hooks and scope match, and its verdict is the
    /// decision even in audit mode, so an audit policy can be tested before
    /// it enforces. `None` when the set has no policy of that name.
    pub fn evaluate_policy(&self, name: &str, request: &Request) -> Option<Decision> {
        let index = self.policies.iter().position(|p| p.manifest.name == name)?;
        Some(self.decide(request.as_ref(), Some(index)))
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
            policies: vec![variant],
            hashes: vec![self.hashes[index].clone()],
        })
    }

    fn evaluate_ref(&self, request: RequestRef<'_>) -> Decision {
        self.decide(request, None)
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
                duration_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            };
            let counts = only.is_some() || m.mode == Mode::Enforce;
            decision.add(report, verdict, counts);
        }
        decision
    }

    /// May this message be published?
    pub fn evaluate_message(&self, message: &Message) -> Decision {
        self.evaluate_ref(RequestRef::Message(message))
    }

    /// May this group be created?
    pub fn evaluate_group_creation(&self, creation: &GroupCreation) -> Decision {
        self.evaluate_ref(RequestRef::GroupCreation(creation))
    }

    /// May this user join, or be invited into, this group?
    pub fn evaluate_membership(&self, membership: &Membership) -> Decision {
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
            Ok((runtime.builtin_component(name)?, crate::sandbox::hex(&Sha256::digest(bytes))))
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
fn read_data(m: &PolicyManifest) -> Result<Vec<DataFile>, LoadError> {
    m.data
        .iter()
        .map(|(name, path)| {
            let contents = std::fs::read(path).map_err(|e| {
                LoadError::manifest(&m.path, format!("key `data.{name}`: cannot read `{}`: {e}", path.display()))
            })?;
            Ok(DataFile { name: name.clone(), contents })
        })
        .collect()
}
