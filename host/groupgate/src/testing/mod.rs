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
//! use groupgate::testing::{self, RunOptions};
//!
//! let run = testing::run(&["policies/default".into()], &RunOptions::default())?;
//! for line in run.failure_lines() {
//!     eprintln!("{line}");
//! }
//! println!("{}", run.summary());
//! # Ok::<(), groupgate::testing::TestError>(())
//! ```

mod case;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use case::{Case, Expect, ExpectedMeasure};

use crate::decision::{Decision, ErrorKind};
use crate::error::LoadError;
use crate::manifest::{POLICY_FILE, SET_FILE};
use crate::request::Hook;
use crate::set::{POLICY_ERROR, PolicySet};
use crate::wire::{Outcome, Target};

/// The folder, inside a policy or set folder, that holds its case files.
pub const TESTS_DIR: &str = "tests";

/// A policy call that takes more than this share of its deadline is reported
/// as slow, so an author sees it before production hits the deadline.
pub const SLOW_SHARE_OF_DEADLINE: f64 = 0.5;

/// Why tests could not run.
#[derive(Debug, thiserror::Error)]
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
/// set each belongs to, in first-seen order.
pub fn select(paths: &[PathBuf]) -> Result<Vec<Selection>, TestError> {
    let mut selections: Vec<(PathBuf, Selection)> = Vec::new();
    for path in paths {
        for (root, target) in resolve(path)? {
            let key = canonical(&root)?;
            match selections.iter_mut().find(|(k, _)| *k == key) {
                Some((_, s)) => {
                    if !s.targets.contains(&target) {
                        s.targets.push(target);
                    }
                }
                None => selections.push((key, Selection { root, targets: vec![target] })),
            }
        }
    }
    Ok(selections.into_iter().map(|(_, s)| s).collect())
}

fn resolve(path: &Path) -> Result<Vec<(PathBuf, Selected)>, TestError> {
    let bad = |why: &str| Err(TestError::Path(format!("`{}`: {why}", path.display())));
    if !path.exists() {
        return bad("no such file or folder");
    }
    if path.is_file() {
        let owner = path.parent().filter(|d| d.file_name().is_some_and(|n| n == TESTS_DIR)).and_then(Path::parent);
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        let Some(owner) = owner.filter(|_| is_toml) else {
            return bad("a case file must be a `.toml` file in a policy's or a set's `tests` folder");
        };
        let root = enclosing_set(owner).ok_or_else(|| not_in_set(path))?;
        return Ok(vec![(root, Selected::Files(vec![path.to_path_buf()]))]);
    }
    if path.join(SET_FILE).is_file() {
        return Ok(vec![(path.to_path_buf(), Selected::Set)]);
    }
    if path.join(POLICY_FILE).is_file() {
        let root = enclosing_set(path).ok_or_else(|| not_in_set(path))?;
        return Ok(vec![(root, Selected::Policy(path.to_path_buf()))]);
    }
    if path.file_name().is_some_and(|n| n == TESTS_DIR)
        && let Some(owner) = path.parent().filter(|o| o.join(SET_FILE).is_file() || o.join(POLICY_FILE).is_file())
    {
        let root = enclosing_set(owner).ok_or_else(|| not_in_set(path))?;
        let files = case_files(path).map_err(TestError::Path)?;
        return Ok(vec![(root, Selected::Files(files))]);
    }
    let sets = sets_below(path).map_err(TestError::Path)?;
    if sets.is_empty() {
        return bad(&format!(
            "not a policy set (no `{SET_FILE}`), a policy (no `{POLICY_FILE}`), nor a folder holding policy sets"
        ));
    }
    Ok(sets.into_iter().map(|root| (root, Selected::Set)).collect())
}

fn not_in_set(path: &Path) -> TestError {
    TestError::Path(format!("`{}`: not inside a policy set (no `{SET_FILE}` in any folder above it)", path.display()))
}

/// The nearest folder at or above `dir` that holds a `groupgate.toml`.
fn enclosing_set(dir: &Path) -> Option<PathBuf> {
    let lexical = dir.ancestors().map(|a| if a.as_os_str().is_empty() { Path::new(".") } else { a });
    if let Some(found) = lexical.clone().find(|a| a.join(SET_FILE).is_file()) {
        return Some(found.to_path_buf());
    }
    // A relative path stops at the working folder; look further up from there.
    let absolute = std::path::absolute(dir).ok()?;
    absolute.ancestors().find(|a| a.join(SET_FILE).is_file()).map(Path::to_path_buf)
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
                    let own = case_files(&set.root().join(TESTS_DIR)).map_err(TestError::Path)?;
                    files.extend(own.into_iter().map(|f| (f, None)));
                    for m in set.policies() {
                        let dir = m.path.parent().unwrap_or(Path::new("."));
                        let found = case_files(&dir.join(TESTS_DIR)).map_err(TestError::Path)?;
                        files.extend(found.into_iter().map(|f| (f, Some(m.name.clone()))));
                    }
                    covered.extend(all.iter().cloned());
                }
                Selected::Policy(dir) => {
                    let name = policy_in(dir)?;
                    let found = case_files(&dir.join(TESTS_DIR)).map_err(TestError::Path)?;
                    files.extend(found.into_iter().map(|f| (f, Some(name.clone()))));
                    covered.push(name);
                }
                Selected::Files(list) => {
                    for file in list {
                        let owner = file.parent().and_then(Path::parent).unwrap_or(Path::new("."));
                        if canonical(owner)? == root_key {
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
            if !seen.insert(canonical(&file)?) {
                continue;
            }
            match case::read(set.root(), &file, policy.as_deref()) {
                Ok(found) => cases.extend(found),
                Err(e) => errors.extend(e),
            }
        }
        for case in &cases {
            let named = case.expect.policy_outcomes.keys().chain(&case.expect.skipped);
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
        let cases: Vec<CaseResult> = selected.map(|case| run_case(set, case)).collect();
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

fn run_case(set: &PolicySet, case: &Case) -> CaseResult {
    let (decision, mut failures) = match &case.policy {
        None => (set.evaluate(&case.request), Vec::new()),
        Some(name) => match set.evaluate_policy(name, &case.request) {
            Some(decision) => (decision, Vec::new()),
            // A suite collected from another set than the one it runs on.
            None => (Decision::default(), vec![format!("the set has no policy named `{name}`")]),
        },
    };
    failures.extend(check(&case.expect, &decision));
    let mut limits = Vec::new();
    let mut slow = Vec::new();
    let expects_errors = case.expect.reasons.iter().any(|r| r == POLICY_ERROR);
    for report in &decision.policies {
        if let (Some(kind), Some(error)) = (report.error_kind, &report.error) {
            let what = if kind.is_limit() { "hit a limit" } else { "failed" };
            limits.push(format!("policy `{}` {what}: {error}", report.name));
            if !expects_errors {
                failures.push(format!(
                    "policy `{}` {what} ({error}); a case that means this must expect reason `{POLICY_ERROR}`",
                    report.name
                ));
            }
        }
        let deadline_us = set.policies().find(|m| m.name == report.name).map_or(0, |m| m.limits.timeout_ms * 1000);
        if report.error_kind != Some(ErrorKind::Timeout)
            && let Some(note) = slow_note(&report.name, report.duration_us, deadline_us)
        {
            slow.push(note);
        }
    }
    CaseResult {
        file: case.file.clone(),
        name: case.name.clone(),
        policy: case.policy.clone(),
        hook: case.request.hook(),
        passed: failures.is_empty(),
        expected: case.expect.clone(),
        failures,
        duration_us: decision.policies.iter().map(|p| p.duration_us).sum(),
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

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "allow",
        Outcome::Review => "review",
        Outcome::Deny => "deny",
    }
}

fn target_text(t: &Target) -> String {
    match t {
        Target::User(id) => format!("user `{id}`"),
        Target::Group(id) => format!("group `{id}`"),
    }
}

fn list_or_none(items: Vec<String>) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

/// Every expectation that `decision` does not meet.
fn check(expect: &Expect, decision: &Decision) -> Vec<String> {
    let mut failures = Vec::new();
    let reasons = || list_or_none(decision.reasons.iter().map(|r| format!("`{}` ({})", r.code, r.policy)).collect());
    if decision.outcome != expect.outcome {
        failures.push(format!(
            "expected outcome {}, decided {} (reasons: {})",
            outcome_name(expect.outcome),
            outcome_name(decision.outcome),
            reasons()
        ));
    }
    for code in &expect.reasons {
        if !decision.reasons.iter().any(|r| &r.code == code) {
            failures.push(format!("expected reason `{code}`, decided reasons: {}", reasons()));
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
                outcome_name(*want),
                outcome_name(p.outcome)
            )),
            Some(_) => {}
            None => failures.push(format!(
                "expected policy `{name}` to decide {}, but it did not run (its hooks or scope do not match)",
                outcome_name(*want)
            )),
        }
    }
    for name in &expect.skipped {
        if let Some(p) = decision.policies.iter().find(|p| &p.name == name) {
            failures.push(format!(
                "expected policy `{name}` to be skipped, but it ran and decided {}",
                outcome_name(p.outcome)
            ));
        }
    }
    failures
}

fn measure_text(kind: crate::wire::MeasureKind, target: &Target, duration: Option<u64>, amount: Option<u32>) -> String {
    let kind = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mut text = format!("{kind} on {}", target_text(target));
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
    /// some case.
    pub reasons: Vec<ReasonCoverage>,
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
            let given: BTreeSet<&str> =
                case.decision.reasons.iter().filter(|r| r.policy == m.name).map(|r| r.code.as_str()).collect();
            for code in given {
                let entry = reasons.entry(code.to_owned()).or_insert_with(|| ReasonCoverage {
                    code: code.to_owned(),
                    declared: false,
                    given: 0,
                    expected: 0,
                });
                entry.given += 1;
                if case.expected.reasons.iter().any(|c| c == code) {
                    entry.expected += 1;
                }
            }
        }
        out.push(PolicyCoverage { policy: m.name.clone(), hooks, reasons: reasons.into_values().collect() });
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

/// Runs the cases that `paths` select: each set is loaded once, on the
/// process-wide runtime, and a set that fails to load or whose case files are
/// invalid is reported without stopping the others. Fails only when a path
/// is neither a set, a policy nor a case file.
pub fn run(paths: &[PathBuf], options: &RunOptions) -> Result<TestRun, TestError> {
    let selections = select(paths)?;
    let sets = selections
        .into_iter()
        .map(|selection| {
            let result = PolicySet::load(&selection.root)
                .map_err(TestError::from)
                .and_then(|set| Suite::collect(&set, &selection).map(|suite| suite.run(&set, options)));
            SetRun { root: selection.root, result }
        })
        .collect();
    Ok(TestRun { sets })
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
