//! Policy test suites: what each policy must decide, stated in case files
//! next to it, and the one runner that `groupgate test`, the integration
//! tests and embedders all use.
//!
//! A policy folder's `tests/*.toml` are run against that policy alone (see
//! [`PolicySet::evaluate_policy`]); the set's own `tests/*.toml`, next to
//! `groupgate.toml`, are run against the whole set, to test merging, scope
//! and audit mode. Requests carry their own timestamps and policies see
//! frozen clocks, so every case decides the same way on every run.
//!
//! ```no_run
//! use groupgate_testing::{self as testing, RunOptions};
//!
//! let runtime = groupgate::Runtime::builder().build()?;
//! let run = testing::run(&runtime, &["policies/default".into()], &RunOptions::default());
//! for (path, error) in run.errors() {
//!     eprintln!("`{}`: {error}", path.display());
//! }
//! for line in run.failure_lines() {
//!     eprintln!("{line}");
//! }
//! println!("{}", run.summary());
//! std::process::exit(run.exit_code(false).into());
//! # Ok::<(), groupgate::RuntimeError>(())
//! ```

#![deny(missing_docs)]

mod case;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use case::{Case, Expect, ExpectedMeasure, ExpectedReason};

use groupgate::time::whole_micros;
use groupgate::{
    ConfigError, Decision, ErrorKind, Hook, LoadError, POLICY_ERROR, POLICY_FILE, PolicySet, Runtime, SET_FILE, Target,
};

/// The folder, inside a policy or set folder, that holds its case files.
pub use groupgate::TESTS_DIR;

/// A policy call that takes more than this share of its deadline is reported
/// as slow, so an author sees it before production hits the deadline.
pub const SLOW_SHARE_OF_DEADLINE: f64 = 0.5;

/// Why tests could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// A path given to the runner is not a set, a policy or a case file.
    #[error("{0}")]
    Path(String),
    /// The policy set could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Case files that cannot be read, one problem per entry.
    #[error("{}", .0.join("\n"))]
    Cases(Vec<String>),
}

/// How to run.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Run only the cases whose name matches.
    pub filter: Option<regex::Regex>,
}

/// What a path given to the runner stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selected {
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
    targets: Vec<Selected>,
}

/// Sorts `paths` (set folders, policy folders, `tests` folders or case
/// files; a folder holding several sets stands for each of them) by the
/// set each belongs to, in first-seen order. Each path is resolved first, so
/// `.`, `..` and bare file names work from any folder; the set's folder is
/// then named relative to the working folder, and every file below it by
/// joining onto that, so reports show short paths.
pub fn select(paths: &[PathBuf]) -> Result<Vec<Selection>, TestError> {
    let mut selections = Vec::new();
    for path in paths {
        for (key, target) in resolve(path)? {
            add(&mut selections, key, target);
        }
    }
    Ok(selections.into_iter().map(|(_, s)| s).collect())
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

/// `base` joined with `rest`, without a leading `./` when `base` is `.`.
fn join_shown(base: &Path, rest: &str) -> PathBuf {
    if base == Path::new(".") { PathBuf::from(rest) } else { base.join(rest) }
}

/// `path` (resolved) relative to the working folder, with `..` where needed;
/// unchanged when there is no working folder to speak of.
fn relative_to_cwd(path: &Path) -> PathBuf {
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
        let root = enclosing_set(owner).ok_or_else(not_in_set)?;
        return Ok(vec![(root, Selected::Files(vec![path.clone()]))]);
    }
    if path.join(SET_FILE).is_file() {
        return Ok(vec![(path, Selected::Set)]);
    }
    if path.join(POLICY_FILE).is_file() {
        let root = enclosing_set(&path).ok_or_else(not_in_set)?;
        return Ok(vec![(root, Selected::Policy(path))]);
    }
    if path.file_name().is_some_and(|n| n == TESTS_DIR)
        && let Some(owner) = path.parent().filter(|o| o.join(SET_FILE).is_file() || o.join(POLICY_FILE).is_file())
    {
        let root = enclosing_set(owner).ok_or_else(not_in_set)?;
        let files = case_files(&path).map_err(TestError::Path)?;
        return Ok(vec![(root, Selected::Files(files))]);
    }
    let sets = sets_below(&path).map_err(TestError::Path)?;
    if sets.is_empty() {
        return bad(&format!(
            "not a policy set (no `{SET_FILE}`), a policy (no `{POLICY_FILE}`), nor a folder holding policy sets"
        ));
    }
    Ok(sets.into_iter().map(|root| (root, Selected::Set)).collect())
}

/// The nearest folder at or above `dir` (resolved) that holds a `groupgate.toml`.
fn enclosing_set(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|a| a.join(SET_FILE).is_file()).map(Path::to_path_buf)
}

/// Every set folder below `dir`, in path order, not looking inside a set.
fn sets_below(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if path.join(SET_FILE).is_file() { found.push(path) } else { stack.push(path) }
        }
    }
    found.sort();
    Ok(found)
}

/// The `*.toml` files directly in `dir`, in name order; none if it is absent.
fn case_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read `{}`: {e}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    Ok(files)
}

fn canonical(path: &Path) -> Result<PathBuf, TestError> {
    path.canonicalize().map_err(|e| TestError::Path(format!("`{}`: {e}", path.display())))
}

/// The cases selected in one loaded set.
#[derive(Debug, Clone)]
pub struct Suite {
    root: PathBuf,
    cases: Vec<Case>,
    /// Policies whose coverage the selection speaks for.
    covered: Vec<String>,
}

impl Suite {
    /// Reads the case files that `selection` names in `set`. Every unreadable
    /// file or invalid case is reported, not just the first.
    pub fn collect(set: &PolicySet, selection: &Selection) -> Result<Suite, TestError> {
        let root_key = canonical(set.root())?;
        // Each policy's folder, resolved, with its name.
        let folders: Vec<(PathBuf, String)> = set
            .policies()
            .filter_map(|m| m.path.parent().and_then(|d| d.canonicalize().ok()).map(|d| (d, m.name.clone())))
            .collect();
        let policy_in = |dir: &Path| -> Result<String, TestError> {
            let key = canonical(dir)?;
            folders.iter().find(|(d, _)| *d == key).map(|(_, n)| n.clone()).ok_or_else(|| {
                TestError::Path(format!(
                    "`{}`: this policy is not part of the set `{}` (its `{SET_FILE}` lists `policies` without it)",
                    dir.display(),
                    set.root().display()
                ))
            })
        };

        // Files in order, each with the policy it tests (None: the set).
        let mut files: Vec<(PathBuf, Option<String>)> = Vec::new();
        let mut covered: Vec<String> = Vec::new();
        let all: Vec<String> = set.policies().map(|m| m.name.clone()).collect();
        for target in &selection.targets {
            match target {
                Selected::Set => {
                    let own = case_files(&join_shown(set.root(), TESTS_DIR)).map_err(TestError::Path)?;
                    files.extend(own.into_iter().map(|f| (f, None)));
                    for m in set.policies() {
                        let dir = m.path.parent().unwrap_or(Path::new("."));
                        let found = case_files(&join_shown(dir, TESTS_DIR)).map_err(TestError::Path)?;
                        files.extend(found.into_iter().map(|f| (f, Some(m.name.clone()))));
                    }
                    covered.extend(all.iter().cloned());
                }
                Selected::Policy(dir) => {
                    let name = policy_in(dir)?;
                    let found = case_files(&join_shown(dir, TESTS_DIR)).map_err(TestError::Path)?;
                    files.extend(found.into_iter().map(|f| (f, Some(name.clone()))));
                    covered.push(name);
                }
                Selected::Files(list) => {
                    for file in list {
                        // Resolved first: a bare `cases.toml` has no parent to speak of.
                        let resolved = canonical(file)?;
                        let owner = resolved.parent().and_then(Path::parent).unwrap_or(Path::new("/"));
                        if owner == root_key {
                            files.push((file.clone(), None));
                            covered.extend(all.iter().cloned());
                        } else {
                            let name = policy_in(owner)?;
                            files.push((file.clone(), Some(name.clone())));
                            covered.push(name);
                        }
                    }
                }
            }
        }

        let mut seen = BTreeSet::new();
        let mut cases = Vec::new();
        let mut errors = Vec::new();
        for (file, policy) in files {
            // A file linked into two policies' folders runs for each.
            let resolved = canonical(&file)?;
            if !seen.insert((resolved.clone(), policy.clone())) {
                continue;
            }
            // Shown by its shortest name from the working folder.
            let file = relative_to_cwd(&resolved);
            match case::read(set.root(), &file, policy.as_deref()) {
                Ok(found) => cases.extend(found),
                Err(e) => errors.extend(e),
            }
        }
        for case in &cases {
            let named = case.expect.policy_outcomes.keys().chain(&case.expect.skipped).chain(&case.expect.errors);
            for name in named {
                if !all.contains(name) {
                    errors.push(format!(
                        "`{}`: case `{}`: no policy named `{name}` in the set (there are `{}`)",
                        case.file.display(),
                        case.name,
                        all.join("`, `")
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(TestError::Cases(errors));
        }
        let mut unique = BTreeSet::new();
        covered.retain(|n| unique.insert(n.clone()));
        Ok(Suite { root: set.root().to_path_buf(), cases, covered })
    }

    /// The cases, in file order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// Runs every case that the filter lets through, in order, against `set`.
    pub fn run(&self, set: &PolicySet, options: &RunOptions) -> Report {
        let selected = self.cases.iter().filter(|c| options.filter.as_ref().is_none_or(|f| f.is_match(&c.name)));
        // Cases that set their policy's config share one variant per config.
        let mut variants: Vec<(String, String, Result<PolicySet, ConfigError>)> = Vec::new();
        let cases: Vec<CaseResult> = selected
            .map(|case| match (&case.policy, &case.config) {
                (Some(policy), Some(config)) => {
                    let key = config.to_string();
                    let index = match variants.iter().position(|(p, k, _)| p == policy && *k == key) {
                        Some(i) => i,
                        None => {
                            let variant = case::config_with(set, policy, config)
                                .and_then(|config| set.with_policy_config(policy, &config));
                            variants.push((policy.clone(), key, variant));
                            variants.len() - 1
                        }
                    };
                    match &variants[index].2 {
                        Ok(variant) => run_case(variant, case),
                        Err(e) => refused(case, &e.to_string()),
                    }
                }
                _ => run_case(set, case),
            })
            .collect();
        let coverage = coverage(set, &self.covered, &cases);
        Report { root: self.root.clone(), cases, coverage }
    }
}

/// How one case fared.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case file.
    #[serde(serialize_with = "display_path")]
    pub file: PathBuf,
    /// The case's name.
    pub name: String,
    /// The policy tested alone, or null for a case of the whole set.
    pub policy: Option<String>,
    /// The hook it asks.
    pub hook: Hook,
    /// Whether every expectation held.
    pub passed: bool,
    /// What the case expects.
    pub expected: Expect,
    /// Each expectation that did not hold, saying what was expected and what
    /// was decided.
    pub failures: Vec<String>,
    /// Time spent in policy calls, in microseconds.
    pub duration_us: u64,
    /// Policies that failed, naming the limit hit (deadline, memory, log
    /// lines, verdict size) or the trap.
    pub limits: Vec<String>,
    /// Policies that took more than half their deadline.
    pub slow: Vec<String>,
    /// The decision itself.
    pub decision: Decision,
}

/// The result of a case whose config its policy refused.
fn refused(case: &Case, error: &str) -> CaseResult {
    CaseResult {
        file: case.file.clone(),
        name: case.name.clone(),
        policy: case.policy.clone(),
        hook: case.request.hook(),
        passed: false,
        expected: case.expect.clone(),
        failures: vec![error.to_owned()],
        duration_us: 0,
        limits: Vec::new(),
        slow: Vec::new(),
        decision: Decision::default(),
    }
}

fn run_case(set: &PolicySet, case: &Case) -> CaseResult {
    let decided = match &case.policy {
        None => Some(set.evaluate(&case.request)),
        Some(name) => set.evaluate_policy(name, &case.request),
    };
    let (decision, mut failures) = match (decided, &case.policy) {
        (Some(Ok(decision)), _) => (decision, Vec::new()),
        (Some(Err(refused)), _) => (Decision::default(), vec![format!("the request was refused: {refused}")]),
        // A suite collected from another set than the one it runs on.
        (None, name) => (
            Decision::default(),
            vec![format!("the set has no policy named `{}`", name.as_deref().unwrap_or_default())],
        ),
    };
    if failures.is_empty() {
        failures.extend(check(&case.expect, &decision));
    }
    let mut limits = Vec::new();
    let mut slow = Vec::new();
    for report in &decision.policies {
        let expected = case.expect.errors.contains(&report.name);
        match (report.error_kind, &report.error) {
            (Some(kind), Some(error)) => {
                let what = if kind.is_limit() { "hit a limit" } else { "failed" };
                limits.push(format!("policy `{}` {what}: {error}", report.name));
                if !expected {
                    failures.push(format!(
                        "policy `{}` {what} ({error}); a case that means this lists it under `errors`",
                        report.name
                    ));
                }
            }
            _ if expected => failures.push(format!(
                "expected policy `{}` to fail, but it decided {}",
                report.name,
                report.outcome.as_str()
            )),
            _ => {}
        }
        let deadline_us = set.policies().find(|m| m.name == report.name).map_or(0, |m| m.limits.timeout_ms * 1000);
        if report.error_kind != Some(ErrorKind::Timeout)
            && let Some(note) = slow_note(&report.name, whole_micros(report.duration), deadline_us)
        {
            slow.push(note);
        }
    }
    for name in &case.expect.errors {
        if !decision.policies.iter().any(|p| &p.name == name) {
            failures.push(format!("expected policy `{name}` to fail, but it did not run"));
        }
    }
    // A policy case whose policy did not run is usually a hook or scope slip.
    if let Some(name) = &case.policy
        && !failures.is_empty()
        && decision.policies.is_empty()
    {
        failures.push(format!("note: policy `{name}` did not run: its hooks or scope do not match the request"));
    }
    CaseResult {
        file: case.file.clone(),
        name: case.name.clone(),
        policy: case.policy.clone(),
        hook: case.request.hook(),
        passed: failures.is_empty(),
        expected: case.expect.clone(),
        failures,
        duration_us: whole_micros(decision.policies.iter().map(|p| p.duration).sum()),
        limits,
        slow,
        decision,
    }
}

/// A note when a call took more than [`SLOW_SHARE_OF_DEADLINE`] of its deadline.
fn slow_note(policy: &str, duration_us: u64, deadline_us: u64) -> Option<String> {
    let slow = deadline_us > 0 && duration_us as f64 > deadline_us as f64 * SLOW_SHARE_OF_DEADLINE;
    slow.then(|| format!("policy `{policy}` took {} of its {} deadline", micros(duration_us), micros(deadline_us)))
}

/// Paths as shown to people, so a name that is not UTF-8 cannot fail the
/// whole report.
fn display_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&path.display())
}

/// A duration for people: `850 µs`, `12.3 ms`.
pub(crate) fn micros(us: u64) -> String {
    if us < 1000 { format!("{us} µs") } else { format!("{:.1} ms", us as f64 / 1000.0) }
}

fn list_or_none(items: Vec<String>) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

/// Every expectation that `decision` does not meet.
fn check(expect: &Expect, decision: &Decision) -> Vec<String> {
    let mut failures = Vec::new();
    let reasons = || {
        let each = decision.reasons.iter().map(|r| match &r.article {
            Some(article) => format!("`{}` ({}, {article})", r.code, r.policy),
            None => format!("`{}` ({})", r.code, r.policy),
        });
        list_or_none(each.collect())
    };
    if decision.outcome != expect.outcome {
        failures.push(format!(
            "expected outcome {}, decided {} (reasons: {})",
            expect.outcome.as_str(),
            decision.outcome.as_str(),
            reasons()
        ));
    }
    for want in &expect.reasons {
        let found = decision.reasons.iter().any(|r| {
            r.code == want.code
                && want.policy.as_ref().is_none_or(|p| *p == r.policy)
                && want.article.as_ref().is_none_or(|a| r.article.as_ref() == Some(a))
        });
        if !found {
            failures.push(format!("expected reason {want}, decided reasons: {}", reasons()));
        }
    }
    for code in &expect.absent_reasons {
        if let Some(r) = decision.reasons.iter().find(|r| &r.code == code) {
            failures.push(format!("expected no reason `{code}`, but policy `{}` gave it: {}", r.policy, r.message));
        }
    }
    for want in &expect.measures {
        let found = decision.measures.iter().any(|m| {
            m.kind == want.kind
                && m.target == want.target
                && want.duration_secs.is_none_or(|d| m.duration_secs == Some(d))
                && want.amount.is_none_or(|a| m.amount == Some(a))
        });
        if !found {
            let decided = decision.measures.iter().map(|m| measure_text(m.kind, &m.target, m.duration_secs, m.amount));
            failures.push(format!(
                "expected measure {}, decided measures: {}",
                measure_text(want.kind, &want.target, want.duration_secs, want.amount),
                list_or_none(decided.collect())
            ));
        }
    }
    if let Some(needle) = &expect.evidence
        && !decision.reasons.iter().any(|r| r.evidence.as_deref().is_some_and(|e| e.contains(needle.as_str())))
    {
        let decided = decision.reasons.iter().filter_map(|r| r.evidence.as_ref().map(|e| format!("`{e}`")));
        failures.push(format!(
            "expected evidence containing `{needle}`, decided evidence: {}",
            list_or_none(decided.collect())
        ));
    }
    for (name, want) in &expect.policy_outcomes {
        match decision.policies.iter().find(|p| &p.name == name) {
            Some(p) if p.outcome != *want => failures.push(format!(
                "expected policy `{name}` to decide {}, it decided {}",
                want.as_str(),
                p.outcome.as_str()
            )),
            Some(_) => {}
            None => failures.push(format!(
                "expected policy `{name}` to decide {}, but it did not run (its hooks or scope do not match)",
                want.as_str()
            )),
        }
    }
    for name in &expect.skipped {
        if let Some(p) = decision.policies.iter().find(|p| &p.name == name) {
            failures
                .push(format!("expected policy `{name}` to be skipped, but it ran and decided {}", p.outcome.as_str()));
        }
    }
    failures
}

fn measure_text(kind: groupgate::MeasureKind, target: &Target, duration: Option<u64>, amount: Option<u32>) -> String {
    let kind = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mut text = format!("{kind} on {}", target);
    if let Some(d) = duration {
        text.push_str(&format!(" for {d} s"));
    }
    if let Some(a) = amount {
        text.push_str(&format!(" by {a}"));
    }
    text
}

/// Which of a policy's hooks and reason codes the cases exercised.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyCoverage {
    /// The policy.
    pub policy: String,
    /// Each hook the policy declares, with the number of cases that ran the
    /// policy on it.
    pub hooks: Vec<HookCoverage>,
    /// Each reason code the policy declares (`reasons = [...]`) or gave in
    /// some case (but not `policy-error`, which the host gives).
    pub reasons: Vec<ReasonCoverage>,
    /// Cases of the policy's own (in its `tests` folder) that ran.
    pub own_cases: usize,
}

/// One declared hook's coverage.
#[derive(Debug, Clone, Serialize)]
pub struct HookCoverage {
    /// The hook.
    pub hook: Hook,
    /// Cases that ran the policy on it.
    pub cases: usize,
}

/// One reason code's coverage. A code is tested when some case in which the
/// policy gave it also expects it.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonCoverage {
    /// The code.
    pub code: String,
    /// Whether the manifest declares it.
    pub declared: bool,
    /// Cases in which the policy gave it.
    pub given: usize,
    /// Of those, cases that expect it.
    pub expected: usize,
}

impl PolicyCoverage {
    /// Declared hooks that no case ran the policy on.
    pub fn untested_hooks(&self) -> impl Iterator<Item = Hook> + '_ {
        self.hooks.iter().filter(|h| h.cases == 0).map(|h| h.hook)
    }

    /// Reason codes that no case both produced and expected.
    pub fn untested_reasons(&self) -> impl Iterator<Item = &ReasonCoverage> + '_ {
        self.reasons.iter().filter(|r| r.expected == 0)
    }
}

fn coverage(set: &PolicySet, covered: &[String], cases: &[CaseResult]) -> Vec<PolicyCoverage> {
    let mut out = Vec::new();
    for m in set.policies().filter(|m| covered.contains(&m.name)) {
        let ran = |c: &&CaseResult| c.decision.policies.iter().any(|p| p.name == m.name);
        let hooks = m
            .hooks
            .iter()
            .map(|&hook| HookCoverage { hook, cases: cases.iter().filter(ran).filter(|c| c.hook == hook).count() })
            .collect();
        let mut reasons: BTreeMap<String, ReasonCoverage> = m
            .reasons
            .iter()
            .map(|code| (code.clone(), ReasonCoverage { code: code.clone(), declared: true, given: 0, expected: 0 }))
            .collect();
        for case in cases {
            let given: BTreeSet<&str> = case
                .decision
                .reasons
                .iter()
                .filter(|r| r.policy == m.name && r.code != POLICY_ERROR)
                .map(|r| r.code.as_str())
                .collect();
            for code in given {
                let entry = reasons.entry(code.to_owned()).or_insert_with(|| ReasonCoverage {
                    code: code.to_owned(),
                    declared: false,
                    given: 0,
                    expected: 0,
                });
                entry.given += 1;
                if case
                    .expected
                    .reasons
                    .iter()
                    .any(|r| r.code == code && r.policy.as_ref().is_none_or(|p| *p == m.name))
                {
                    entry.expected += 1;
                }
            }
        }
        let own_cases = cases.iter().filter(|c| c.policy.as_deref() == Some(&m.name)).count();
        out.push(PolicyCoverage { policy: m.name.clone(), hooks, reasons: reasons.into_values().collect(), own_cases });
    }
    out
}

/// The results of one set's cases.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The set's folder.
    #[serde(serialize_with = "display_path")]
    pub root: PathBuf,
    /// One result per case run.
    pub cases: Vec<CaseResult>,
    /// Per policy of the selection, what the cases exercised.
    pub coverage: Vec<PolicyCoverage>,
}

/// One set's outcome: its report, or why it could not be tested.
#[derive(Debug)]
pub struct SetRun {
    /// The set's folder.
    pub root: PathBuf,
    /// The report, or the error that stopped the set (exit code 2).
    pub result: Result<Report, TestError>,
}

/// Everything one `groupgate test` invocation ran.
#[derive(Debug)]
pub struct TestRun {
    /// Each set, in the order its first path was given.
    pub sets: Vec<SetRun>,
}

/// Runs the cases that `paths` select: each set is loaded once, on
/// `runtime`. A path that selects nothing, a set that fails to
/// load and invalid case files are reported as that set's error (exit code
/// 2) without stopping the others, so a report is always complete.
pub fn run(runtime: &Runtime, paths: &[PathBuf], options: &RunOptions) -> TestRun {
    let mut sets = Vec::new();
    let mut selections = Vec::new();
    for path in paths {
        match resolve(path) {
            Ok(found) => found.into_iter().for_each(|(key, target)| add(&mut selections, key, target)),
            Err(error) => sets.push(SetRun { root: path.clone(), result: Err(error) }),
        }
    }
    for (_, selection) in selections {
        let result = PolicySet::load_dir(runtime, &selection.root)
            .map_err(TestError::from)
            .and_then(|set| Suite::collect(&set, &selection).map(|suite| suite.run(&set, options)));
        sets.push(SetRun { root: selection.root, result });
    }
    TestRun { sets }
}

impl TestRun {
    /// Reports of the sets that ran.
    pub fn reports(&self) -> impl Iterator<Item = &Report> {
        self.sets.iter().filter_map(|s| s.result.as_ref().ok())
    }

    /// Every case result, across sets.
    pub fn cases(&self) -> impl Iterator<Item = &CaseResult> {
        self.reports().flat_map(|r| &r.cases)
    }

    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.cases().filter(|c| c.passed).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases().filter(|c| !c.passed).count()
    }

    /// Errors that kept a set from being tested.
    pub fn errors(&self) -> impl Iterator<Item = (&Path, &TestError)> {
        self.sets.iter().filter_map(|s| s.result.as_ref().err().map(|e| (s.root.as_path(), e)))
    }

    /// The exit code for the command: 2 when a set could not be tested, 1
    /// when a case failed (or, with `fail_on_empty`, when none ran), else 0.
    pub fn exit_code(&self, fail_on_empty: bool) -> u8 {
        if self.errors().next().is_some() {
            2
        } else if self.failed() > 0 || (fail_on_empty && self.cases().next().is_none()) {
            1
        } else {
            0
        }
    }

    /// The summary line: `N passed, N failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_over_half_its_deadline_is_slow() {
        assert_eq!(slow_note("p", 50_000, 100_000), None);
        assert_eq!(
            slow_note("p", 50_001, 100_000).as_deref(),
            Some("policy `p` took 50.0 ms of its 100.0 ms deadline")
        );
        assert_eq!(slow_note("p", 900, 1_000).as_deref(), Some("policy `p` took 900 µs of its 1.0 ms deadline"));
    }
}
