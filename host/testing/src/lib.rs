//! The policy test runner: case files in a policy's or a set's `tests`
//! folder say what each request must decide, and [`run`] checks them for
//! `groupgate test`, the server's reload gate and embedders alike. A policy's
//! cases run against that policy alone and a set's own cases against the
//! whole set, on frozen clocks, so every case decides the same way each run.
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
mod check;
mod coverage;
mod render;
mod report;
mod select;
mod suite;

use groupgate::LoadError;

pub use case::{Case, Expect, ExpectedMeasure, ExpectedReason};
pub use coverage::{HookCoverage, PolicyCoverage, ReasonCoverage};
pub use report::{CaseResult, Report, SetRun, TestRun};
pub use select::{Selection, select};
pub use suite::{Suite, UnreadableFile, run};

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
