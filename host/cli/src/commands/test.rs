//! `groupgate test`: run policy test cases.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use groupgate::Runtime;
use groupgate_testing::{self as testing, RunOptions};

/// Flags of `test`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy sets, policy folders, `tests` folders or case files; a
    /// folder holding several sets tests each of them.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Run only the cases whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<regex::Regex>,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the results as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when no case ran at all (a filter that matches nothing, a folder without cases).
    #[arg(long)]
    pub fail_on_empty: bool,
    /// List, per policy, the hooks and reason codes that no case exercises.
    #[arg(long)]
    pub coverage: bool,
    /// Print a line for every case, with the time spent in policy calls.
    #[arg(short, long)]
    pub verbose: bool,
    /// Keep running: build what changed and run the cases again whenever a
    /// file of a set tested changes (a source, a case file, a manifest, a
    /// data file), until interrupted.
    #[arg(long, conflicts_with_all = ["junit", "json"])]
    pub watch: bool,
    /// With --watch: where the builds keep their toolchains.
    #[command(flatten)]
    pub build_dir: super::build::BuildDir,
}

pub const HELP: &str = "Cases in a policy folder's `tests/` run against that policy alone; cases in the set's own `tests/` (next to groupgate.toml) run against the whole set. The case file format is described in the README.

Output: a line per error of a case file that cannot be read (ERROR; the file's cases do not run, the other files' do), per failed case (FAIL), per policy that hit a limit or trapped (LIMIT), and per policy call that took more than half its deadline (SLOW), then `N passed, N failed` (and how many case files could not be read). What a failing policy wrote as it failed (a panic's message, a traceback) follows its line, each of its lines after `|`.

--watch builds the policies that have a source (as `groupgate build` does: only those whose source changed) and runs the cases, then does it again after each change to a set tested (a source, a case file, a manifest, a data file), printing each run, until interrupted. Errors (a build that fails, a broken set, a case file that cannot be read) are printed and the watching goes on; after a failed build the cases wait for the next change, since they would test the component built before.

Exit status: 0 when every case passed; 1 when a case failed (or none ran, with --fail-on-empty); 2 when a path, a case file or the policy set is invalid.";

pub fn run(
    runtime: &Runtime,
    Args { paths, filter, junit, json, fail_on_empty, coverage, verbose, watch, build_dir }: Args,
) -> Result<u8> {
    let mut options = RunOptions::default();
    options.filter = filter;
    if watch {
        return run_watching(runtime, &paths, &options, &build_dir.resolve()?, (coverage, verbose));
    }
    let run = testing::run(runtime, &paths, &options);
    if json {
        print_errors(&run);
        println!("{}", serde_json::to_string_pretty(&run.to_json())?);
    } else {
        print_text(&run, coverage, verbose);
    }
    // Written after the results are shown, so a bad path loses nothing.
    if let Some(path) = &junit {
        std::fs::write(path, run.to_junit()).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(run.exit_code(fail_on_empty))
}

/// Errors that kept a set from being tested, on standard error.
fn print_errors(run: &testing::TestRun) {
    for (root, error) in run.errors() {
        eprintln!("error: `{}`: {error}", root.display());
    }
}

/// A run as text: its errors, its case lines, the coverage if asked, and
/// the summary.
fn print_text(run: &testing::TestRun, coverage: bool, verbose: bool) {
    print_errors(run);
    for line in run.case_lines(verbose) {
        println!("{line}");
    }
    if coverage {
        for line in run.coverage_lines() {
            println!("{line}");
        }
    }
    println!("{}", run.summary());
}

/// Builds what changed and runs the cases, then again after every change
/// to a set tested (a burst of changes once), printing each run as a plain
/// run prints it. Sets are loaded afresh each time; components already
/// compiled are found by their SHA-256, so a run after a change to a case
/// or a data file takes milliseconds. Never returns but with an error.
fn run_watching(
    runtime: &Runtime,
    paths: &[PathBuf],
    options: &RunOptions,
    build_dir: &std::path::Path,
    (coverage, verbose): (bool, bool),
) -> Result<u8> {
    use std::io::Write as _;
    // Each path's set, or the path itself (a folder of sets).
    let mut roots: Vec<PathBuf> = Vec::new();
    for path in paths {
        let path = std::path::absolute(path).with_context(|| format!("`{}`", path.display()))?;
        let root = groupgate::source::enclosing_set(&path).map_or_else(|| path.clone(), std::path::Path::to_path_buf);
        let root = if root.is_file() { root.parent().map(std::path::Path::to_path_buf).unwrap_or(root) } else { root };
        if !roots.iter().any(|r| root.starts_with(r)) {
            roots.retain(|r| !r.starts_with(&root));
            roots.push(root);
        }
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut watches = Vec::new();
    for root in &roots {
        let tx = tx.clone();
        let changed = Box::new(move || {
            let _ = tx.send(());
        });
        let watch = groupgate::SetSource::watch(&groupgate::Folder::new(root), changed)
            .with_context(|| format!("cannot watch `{}`", root.display()))?;
        watches.push(watch);
    }
    // Builds what changed, then runs the cases unless a build failed.
    // Returns what the round started from, the builds' own outputs left
    // out: an event that finds the same (a component moved in) starts no
    // new round, and a save during the round does.
    let round = |outputs: &[PathBuf]| -> Result<(Fingerprint, Vec<PathBuf>)> {
        let seen = fingerprint(&roots, outputs);
        let done = super::build::out_of_date(&roots, build_dir)?;
        for line in &done.built {
            println!("{line}");
        }
        if done.failed.is_empty() {
            print_text(&testing::run(runtime, paths, options), coverage, verbose);
        } else {
            for line in &done.failed {
                println!("BUILD FAILED {line}");
            }
            println!("(the cases run again after the next change)");
        }
        let _ = std::io::stdout().flush();
        // The first round learns the outputs only as it builds.
        let seen = seen.into_iter().filter(|(path, ..)| !done.outputs.contains(path)).collect();
        Ok((seen, done.outputs))
    };
    let (mut seen, mut outputs) = round(&[])?;
    loop {
        println!(
            "watching {} for changes (Ctrl-C to stop)",
            roots.iter().map(|r| format!("`{}`", r.display())).collect::<Vec<_>>().join(", ")
        );
        let _ = std::io::stdout().flush();
        loop {
            rx.recv().context("the folder watch stopped")?;
            // One round for a burst of changes, however many watches saw it.
            while rx.try_recv().is_ok() {}
            if fingerprint(&roots, &outputs) != seen {
                break;
            }
        }
        println!(
            "\n--- changed at {}: running again ---",
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        match round(&outputs) {
            Ok(done) => (seen, outputs) = done,
            Err(e) => println!("error: {e:#}"),
        }
    }
}

/// Each file's path, size and modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<std::time::SystemTime>)>;

/// The path, size and modification time of every file a set lists under
/// `roots` (hidden ones left out, as sets leave them out), but `outputs`.
fn fingerprint(roots: &[PathBuf], outputs: &[PathBuf]) -> Fingerprint {
    let mut seen = Vec::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(_) if outputs.contains(&entry.path()) => {}
                Ok(m) => seen.push((entry.path(), m.len(), m.modified().ok())),
                Err(_) => {}
            }
        }
    }
    seen.sort();
    seen
}
