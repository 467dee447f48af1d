//! Collecting the cases a selection names in a loaded set, and running them:
//! a policy folder's cases against that policy alone (see
//! [`PolicySet::evaluate_policy`]), the set's own cases against the whole
//! set, to test merging, scope and audit mode.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use groupgate::time::whole_micros;
use groupgate::{ConfigError, Decision, ErrorKind, PolicySet, Runtime, SET_FILE, TESTS_DIR};

use crate::check::{check, slow_note};
use crate::coverage::coverage;
use crate::select::{Selected, Selection, canonical, case_files, group, join_shown, relative_to_cwd};
use crate::{Case, CaseResult, Report, RunOptions, SetRun, TestError, TestRun, case};

/// The cases selected in one loaded set.
#[derive(Debug, Clone)]
pub struct Suite {
    root: PathBuf,
    cases: Vec<Case>,
    /// Policies whose coverage the selection speaks for.
    covered: Vec<String>,
    /// Case files that could not be read.
    unreadable: Vec<UnreadableFile>,
}

/// A case file that could not be read, and every error found in it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnreadableFile {
    /// The file.
    #[serde(serialize_with = "crate::report::display_path")]
    pub file: PathBuf,
    /// Each error, naming the file and, where it can, the case and key.
    pub errors: Vec<String>,
}

/// Errors for each policy a case names that the set does not hold.
fn unknown_policies(case: &Case, all: &[String]) -> Vec<String> {
    let named = case.expect.policy_outcomes.keys().chain(&case.expect.skipped).chain(&case.expect.errors);
    named
        .filter(|name| !all.contains(name))
        .map(|name| {
            format!(
                "`{}`: case `{}`: no policy named `{name}` in the set (there are `{}`)",
                case.file.display(),
                case.name,
                all.join("`, `")
            )
        })
        .collect()
}

/// Runs the cases that `paths` select: each set is loaded once, on
/// `runtime`. A path that selects nothing and a set that fails to load are
/// reported as that set's error (exit code 2) without stopping the others;
/// a case file that cannot be read is reported in its set's report (exit
/// code 2 too) while the set's other files run, so a report is always
/// complete.
pub fn run(runtime: &Runtime, paths: &[PathBuf], options: &RunOptions) -> TestRun {
    let (selections, errors) = group(paths);
    let mut sets: Vec<SetRun> = errors.into_iter().map(|(root, error)| SetRun { root, result: Err(error) }).collect();
    for selection in selections {
        let result = PolicySet::load_dir(runtime, &selection.root)
            .map_err(TestError::from)
            .and_then(|set| Suite::collect(&set, &selection).map(|suite| suite.run(&set, options)));
        sets.push(SetRun { root: selection.root, result });
    }
    TestRun { sets }
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
        let tests_of = |dir: &Path| case_files(&join_shown(dir, TESTS_DIR));

        // Files in order, each with the policy it tests (None: the set).
        let mut files: Vec<(PathBuf, Option<String>)> = Vec::new();
        let mut covered: Vec<String> = Vec::new();
        let all: Vec<String> = set.policies().map(|m| m.name.clone()).collect();
        for target in &selection.targets {
            match target {
                Selected::Set => {
                    files.extend(tests_of(set.root())?.into_iter().map(|f| (f, None)));
                    for m in set.policies() {
                        let found = tests_of(m.path.parent().unwrap_or(Path::new(".")))?;
                        files.extend(found.into_iter().map(|f| (f, Some(m.name.clone()))));
                    }
                    covered.extend(all.iter().cloned());
                }
                Selected::Policy(dir) => {
                    let name = policy_in(dir)?;
                    files.extend(tests_of(dir)?.into_iter().map(|f| (f, Some(name.clone()))));
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
        // A file with an error is set aside whole, with every error it has;
        // the other files still run.
        let mut unreadable = Vec::new();
        for (file, policy) in files {
            // A file linked into two policies' folders runs for each.
            let resolved = canonical(&file)?;
            if !seen.insert((resolved.clone(), policy.clone())) {
                continue;
            }
            // Shown by its shortest name from the working folder.
            let file = relative_to_cwd(&resolved);
            let read = case::read(set.root(), &file, policy.as_deref()).and_then(|found| {
                let errors: Vec<String> = found.iter().flat_map(|case| unknown_policies(case, &all)).collect();
                if errors.is_empty() { Ok(found) } else { Err(errors) }
            });
            match read {
                Ok(found) => cases.extend(found),
                Err(errors) => unreadable.push(UnreadableFile { file, errors }),
            }
        }
        let mut unique = BTreeSet::new();
        covered.retain(|n| unique.insert(n.clone()));
        Ok(Suite { root: set.root().to_path_buf(), cases, covered, unreadable })
    }

    /// The case files that could not be read, each with every error found
    /// in it: their cases do not run.
    pub fn unreadable(&self) -> &[UnreadableFile] {
        &self.unreadable
    }

    /// [`TestError::Cases`] naming every error of every unreadable file,
    /// if there is one: for a caller that must refuse a set whose cases do
    /// not all run (a server's reload).
    pub fn require_all_readable(&self) -> Result<(), TestError> {
        if self.unreadable.is_empty() {
            return Ok(());
        }
        Err(TestError::Cases(self.unreadable.iter().flat_map(|f| f.errors.iter().cloned()).collect()))
    }

    /// The cases, in file order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// Runs every case that the filter lets through, in order, against
    /// `set`; the report lists the files that could not be read too.
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
                        // The policy refused the case's config: the case fails saying why.
                        Err(e) => result(case, Decision::default(), vec![e.to_string()]),
                    }
                }
                _ => run_case(set, case),
            })
            .collect();
        let coverage = coverage(set, &self.covered, &cases);
        Report { root: self.root.clone(), cases, coverage, unreadable: self.unreadable.clone() }
    }
}

/// Runs one case on `set` and checks its decision, the failures of its
/// policies and the time each took.
fn run_case(set: &PolicySet, case: &Case) -> CaseResult {
    // Counts for a counter nobody declares would read as zero and let the
    // case pass for the wrong reason.
    let undeclared = undeclared_counts(set, &case.counts);
    if !undeclared.is_empty() {
        return result(case, Decision::default(), undeclared);
    }
    let decided = match &case.policy {
        None if !case.before.is_empty() => {
            let store = groupgate::state::Memory::new();
            let mut failures = Vec::new();
            for (i, earlier) in case.before.iter().enumerate() {
                if let Err(refused) = set.evaluate_on(earlier, &store) {
                    failures.push(format!("earlier request {i} (`before[{i}]`) was refused: {refused}"));
                }
            }
            if !failures.is_empty() {
                return result(case, Decision::default(), failures);
            }
            Some(set.evaluate_on(&case.request, &store))
        }
        None => Some(set.evaluate_with_counts(&case.request, &case.counts)),
        Some(name) => set.evaluate_policy_with_counts(name, &case.request, &case.counts),
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
    // A policy the host did not call must have had nothing to say: call it
    // and see. (A policy's own cases always call it.)
    if case.policy.is_none() && decision.policies.iter().any(|p| p.below_call_from) {
        // A case deciding earlier requests has its counts from its store:
        // those its decision read.
        let read;
        let counts = if case.before.is_empty() {
            &case.counts
        } else {
            read = groupgate::state::Recorded::new(
                decision.policies.iter().map(|p| (p.name.to_string(), p.counts.clone())).collect(),
            );
            &read
        };
        match set.check_call_from(&case.request, counts) {
            Ok(broken) => failures.extend(broken),
            Err(refused) => failures.push(format!("the request was refused: {refused}")),
        }
    }
    let mut limits = Vec::new();
    let mut slow = Vec::new();
    for report in &decision.policies {
        let expected = case.expect.errors.iter().any(|e| **e == *report.name);
        match (report.error_kind, &report.error) {
            (Some(kind), Some(error)) => {
                let what = if kind.is_limit() { "hit a limit" } else { "failed" };
                limits.push(format!("policy `{}` {what}: {error}", report.name));
                if !expected {
                    // The error last: what the policy wrote ends it, on
                    // lines of its own.
                    failures.push(format!(
                        "policy `{}` {what} (a case that means this lists it under `errors`): {error}",
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
        let deadline_us = set.policies().find(|m| *m.name == *report.name).map_or(0, |m| m.limits.timeout_ms * 1000);
        if report.error_kind != Some(ErrorKind::Timeout)
            && let Some(note) = slow_note(&report.name, whole_micros(report.duration), deadline_us)
        {
            slow.push(note);
        }
    }
    for name in &case.expect.errors {
        if !decision.policies.iter().any(|p| *p.name == **name) {
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
    CaseResult { limits, slow, ..result(case, decision, failures) }
}

/// The result of `case`, with no policy failed or slow: it passed when
/// nothing failed.
fn result(case: &Case, decision: Decision, failures: Vec<String>) -> CaseResult {
    CaseResult {
        file: case.file.clone(),
        name: case.name.clone(),
        policy: case.policy.clone(),
        hook: case.request.hook(),
        passed: failures.is_empty(),
        expected: case.expect.clone(),
        failures,
        duration_us: whole_micros(decision.policies.iter().map(|p| p.duration).sum()),
        limits: Vec::new(),
        slow: Vec::new(),
        decision,
    }
}

/// What a case's `counts` give that no policy of `set` reads.
fn undeclared_counts(set: &PolicySet, counts: &groupgate::state::Recorded) -> Vec<String> {
    let mut problems = Vec::new();
    for (policy, given) in counts.policies() {
        let Some(m) = set.policies().find(|m| m.name == policy) else {
            problems.push(format!("key `counts`: the set has no policy named `{policy}`"));
            continue;
        };
        for (counter, window, _) in given.iter() {
            let declared =
                m.counters.iter().any(|c| c.name == counter && c.windows.iter().any(|w| w.as_str() == window));
            if !declared {
                let known: Vec<String> = m
                    .counters
                    .iter()
                    .flat_map(|c| c.windows.iter().map(move |w| format!("{} over {w}", c.name)))
                    .collect();
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                problems.push(format!(
                    "key `counts`: `{policy}` reads no counter `{counter}` over `{window}` (it reads: {known})"
                ));
            }
        }
    }
    problems
}
