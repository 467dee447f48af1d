//! What a run found: a result per case, a report per set, and the run as a
//! whole with its totals and exit code. `render` turns these into text,
//! JUnit and JSON.

use std::path::{Path, PathBuf};

use serde::Serialize;

use groupgate::{Decision, Hook};

use crate::{Expect, PolicyCoverage, TestError, UnreadableFile};

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
    /// Case files that could not be read (their cases did not run), each
    /// with every error found in it.
    pub unreadable: Vec<UnreadableFile>,
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

    /// Case files that could not be read, across sets.
    pub fn unreadable(&self) -> impl Iterator<Item = &UnreadableFile> {
        self.reports().flat_map(|r| &r.unreadable)
    }

    /// Errors that kept a set from being tested.
    pub fn errors(&self) -> impl Iterator<Item = (&Path, &TestError)> {
        self.sets.iter().filter_map(|s| s.result.as_ref().err().map(|e| (s.root.as_path(), e)))
    }

    /// The exit code for the command: 2 when a set could not be tested or
    /// a case file could not be read, 1 when a case failed (or, with
    /// `fail_on_empty`, when none ran), else 0.
    pub fn exit_code(&self, fail_on_empty: bool) -> u8 {
        if self.errors().next().is_some() || self.unreadable().next().is_some() {
            2
        } else if self.failed() > 0 || (fail_on_empty && self.cases().next().is_none()) {
            1
        } else {
            0
        }
    }

    /// The summary line: `N passed, N failed`, and `, N case files could
    /// not be read` when some could not.
    pub fn summary(&self) -> String {
        let mut summary = format!("{} passed, {} failed", self.passed(), self.failed());
        match self.unreadable().count() {
            0 => {}
            1 => summary.push_str(", 1 case file could not be read"),
            n => summary.push_str(&format!(", {n} case files could not be read")),
        }
        summary
    }
}

/// Paths as shown to people, so a name that is not UTF-8 cannot fail the
/// whole report.
pub(crate) fn display_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&path.display())
}

/// A duration for people: `850 µs`, `12.3 ms`.
pub(crate) fn micros(us: u64) -> String {
    if us < 1000 { format!("{us} µs") } else { format!("{:.1} ms", us as f64 / 1000.0) }
}
