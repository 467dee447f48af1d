//! groupgate beside the engines a platform would pick instead, in one
//! process on the same inputs: groupgate (the default set, one policy alone,
//! and the default set with `isolation = "fresh"`), Rego through `regorus`,
//! Cedar through `cedar-policy` (memberships), and the same rules in native
//! Rust. Every engine's decisions are cross-checked before anything is timed;
//! a disagreement fails the run.
//!
//! Run with `python3 scripts/peers.py`, which also draws the chart; see
//! BENCHMARKS.md.

mod engines;
mod inputs;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use groupgate::PolicySet;
use groupgate_cli::bench::{BenchOptions, BenchReport};
use hdrhistogram::Histogram;
use serde::Serialize;

use engines::{Answer, Cedar, Engine, Groupgate, Lists, Native, Rego};
use inputs::{Input, WORD_COUNTS};

/// Time the same workloads through groupgate, Rego, Cedar and native Rust.
#[derive(Parser)]
struct Args {
    /// How long to time each engine on each workload, after its warm-up.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// How long each engine runs a workload before it is timed.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Random requests per hook on which the engines must agree, besides the
    /// timed ones.
    #[arg(long, default_value_t = 300)]
    variants: usize,
    /// Only the workloads whose name contains this text (e.g. `membership`).
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
    /// Also write the results as JSON to FILE (relative to the repository);
    /// `scripts/peers.py` writes `docs/benchmarks/peers.json`.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

const DEFAULT_SET: &str = "groupgate, default set";
const POLICY_ALONE: &str = "groupgate, policy alone";
const FRESH: &str = "groupgate, default set, fresh";
const REGO: &str = "Rego (regorus)";
const CEDAR_BUILT: &str = "Cedar, entities built per call";
const CEDAR_PREBUILT: &str = "Cedar, entities prebuilt";
const NATIVE: &str = "native Rust";

/// One workload: a timed request, further requests the engines must agree
/// on, and the engines that decide it.
struct Workload {
    name: String,
    /// The word-list size, for the message workloads.
    words: Option<usize>,
    timed: Input,
    variants: Vec<Input>,
    engines: Vec<(&'static str, Box<dyn Engine>)>,
    /// Engines that hold only part of the rules (one policy alone), checked
    /// on the timed request only.
    partial: &'static [&'static str],
    /// Engines too slow to check on every variant.
    timed_only: &'static [&'static str],
}

#[derive(Serialize)]
struct Row {
    workload: String,
    words: Option<usize>,
    engine: &'static str,
    decision: String,
    evaluations: u64,
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    /// Mean against native Rust's on the same workload, in the same run.
    vs_native: f64,
}

#[derive(Serialize)]
struct Target {
    target: &'static str,
    measured: String,
    met: bool,
}

#[derive(Serialize)]
struct Results {
    date: String,
    machine: Machine,
    duration_per_cell_ms: u128,
    rows: Vec<Row>,
    threads: Vec<BenchReport>,
    targets: Vec<Target>,
}

#[derive(Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    os: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let root = repo_root();
    let default_dir = root.join("policies/default");
    let all_words = inputs::words(*WORD_COUNTS.iter().max().expect("word counts"));
    // Folders the sets are loaded from stay until the end of the run.
    let mut folders = Vec::new();

    let mut workloads = Vec::new();
    let wanted = |name: &str| args.only.as_ref().is_none_or(|only| name.contains(only.as_str()));
    for n in WORD_COUNTS {
        if !wanted(&format!("message 1 KB, {n} words")) {
            continue;
        }
        let words = &all_words[..n];
        let with_words = default_with_words(&default_dir, words, false)?;
        let fresh = default_with_words(&default_dir, words, true)?;
        let alone = policy_alone(words)?;
        let lists = Lists::read(with_words.path())?;
        for matched in [false, true] {
            let (text, what) = match matched {
                false => (inputs::text_1kb(), "no match"),
                true => (inputs::text_1kb_with(&words[n / 2]), "a match"),
            };
            workloads.push(Workload {
                name: format!("message 1 KB, {n} words, {what}"),
                words: Some(n),
                timed: inputs::message(&text),
                // Variants once per list size, with entries of every list of
                // the set (the benchmark's words, `severe`, `watch`) put in.
                variants: if matched {
                    Vec::new()
                } else {
                    let listed: Vec<String> = lists.deny.iter().chain(&lists.watch).cloned().collect();
                    inputs::message_variants(args.variants, &listed)
                },
                engines: vec![
                    (DEFAULT_SET, Box::new(Groupgate(load(with_words.path())?))),
                    (POLICY_ALONE, Box::new(Groupgate(load(alone.path())?))),
                    (FRESH, Box::new(Groupgate(load(fresh.path())?))),
                    (REGO, Box::new(Rego::new(&lists)?)),
                    (NATIVE, Box::new(Native::new(&lists)?)),
                ],
                partial: &[POLICY_ALONE],
                timed_only: if n > 100 { &[FRESH, REGO] } else { &[] },
            });
        }
        folders.extend([with_words, fresh, alone]);
    }
    let fresh_default = default_with_words(&default_dir, &[], true)?;
    let default = default_with_words(&default_dir, &[], false)?;
    let lists = Lists::read(&default_dir)?;
    workloads.push(Workload {
        name: "membership".into(),
        words: None,
        timed: inputs::membership(),
        variants: inputs::membership_variants(args.variants),
        engines: vec![
            (DEFAULT_SET, Box::new(Groupgate(load(default.path())?))),
            (FRESH, Box::new(Groupgate(load(fresh_default.path())?))),
            (REGO, Box::new(Rego::new(&lists)?)),
            (CEDAR_BUILT, Box::new(Cedar::new(&lists, false)?)),
            (CEDAR_PREBUILT, Box::new(Cedar::new(&lists, true)?)),
            (NATIVE, Box::new(Native::new(&lists)?)),
        ],
        partial: &[],
        timed_only: &[],
    });
    workloads.push(Workload {
        name: "group creation".into(),
        words: None,
        timed: inputs::group_creation(),
        variants: inputs::creation_variants(args.variants),
        engines: vec![
            (DEFAULT_SET, Box::new(Groupgate(load(default.path())?))),
            (FRESH, Box::new(Groupgate(load(fresh_default.path())?))),
            (REGO, Box::new(Rego::new(&lists)?)),
            (NATIVE, Box::new(Native::new(&lists)?)),
        ],
        partial: &[],
        timed_only: &[],
    });

    // The message workloads not wanted were never built; the others are chosen here.
    workloads.retain(|w| wanted(&w.name));
    if workloads.is_empty() {
        bail!("no workload's name contains `{}`", args.only.as_deref().unwrap_or_default());
    }
    cross_check(&mut workloads)?;

    let mut rows = Vec::new();
    for w in &mut workloads {
        let mut cells = Vec::new();
        for (engine, decide) in &mut w.engines {
            let (histogram, answer) = time(decide.as_mut(), &w.timed, args.warmup, args.duration);
            eprintln!("{:<40} {:<32} mean {:>10.2} µs", w.name, engine, histogram.mean() / 1000.0);
            cells.push((*engine, histogram, answer));
        }
        let native_mean = cells.iter().find(|c| c.0 == NATIVE).map_or(f64::NAN, |c| c.1.mean());
        for (engine, h, answer) in cells {
            rows.push(Row {
                workload: w.name.clone(),
                words: w.words,
                engine,
                decision: answer.to_string(),
                evaluations: h.len(),
                mean_us: h.mean() / 1000.0,
                p50_us: h.value_at_quantile(0.5) as f64 / 1000.0,
                p99_us: h.value_at_quantile(0.99) as f64 / 1000.0,
                vs_native: h.mean() / native_mean,
            });
        }
    }

    // The default set on a 1 KB message through `groupgate bench`'s loop, on
    // one thread and on two, from 1,000 senders per thread in turn, so that
    // its counting policies see ordinary traffic rather than one flood.
    let set = load(&default_dir)?;
    let message = inputs::message(&inputs::text_1kb());
    let threads: Vec<BenchReport> = [1, 2]
        .into_iter()
        .map(|threads| {
            let options = BenchOptions::new(args.duration * 3, args.warmup, threads).senders(1_000);
            groupgate_cli::bench::run(&set, &message.request, &options).context("bench the default set")
        })
        .collect::<Result<_>>()?;

    let targets = targets(&rows, &threads);
    let results = Results {
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        machine: machine(),
        duration_per_cell_ms: args.duration.as_millis(),
        rows,
        threads,
        targets,
    };
    print_tables(&results);
    if let Some(json) = &args.json {
        let json = root.join(json);
        if let Some(parent) = json.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&json, serde_json::to_string_pretty(&results)? + "\n")
            .with_context(|| format!("cannot write `{}`", json.display()))?;
        eprintln!("wrote {}", json.display());
    }
    drop(folders);
    Ok(())
}

/// Runs every engine on every workload's timed request and variants, and
/// fails naming each request on which an engine disagrees with native Rust
/// (or, for a partial engine, with the others on the timed request).
fn cross_check(workloads: &mut [Workload]) -> Result<()> {
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for w in workloads.iter_mut() {
        let inputs: Vec<&Input> = std::iter::once(&w.timed).chain(&w.variants).collect();
        for (index, input) in inputs.iter().enumerate() {
            let mut answers: Vec<(&str, Answer)> = Vec::new();
            for (engine, decide) in &mut w.engines {
                let skip = index > 0 && (w.partial.contains(engine) || w.timed_only.contains(engine));
                if !skip {
                    answers.push((engine, decide.prepare(input)()));
                }
            }
            let reference = &answers.iter().find(|a| a.0 == NATIVE).expect("native Rust decides every workload").1;
            for (engine, answer) in answers.iter().filter(|a| a.0 != NATIVE) {
                checked += 1;
                if answer != reference {
                    disagreements.push(format!(
                        "{} (request {index}: {}): {engine} decided {answer}, native Rust {reference}",
                        w.name, input.json
                    ));
                }
            }
        }
    }
    if !disagreements.is_empty() {
        for d in &disagreements {
            eprintln!("disagreement: {d}");
        }
        bail!("the engines disagree on {} of {checked} decisions: nothing was timed", disagreements.len());
    }
    eprintln!("cross-check: {checked} decisions against native Rust's, every engine agrees");
    Ok(())
}

/// Calls the engine on `input` for the warm-up, then for `duration`,
/// recording each call's latency in nanoseconds.
fn time(engine: &mut dyn Engine, input: &Input, warmup: Duration, duration: Duration) -> (Histogram<u64>, Answer) {
    let mut decide = engine.prepare(input);
    let answer = decide();
    let go = Instant::now() + warmup;
    while Instant::now() < go {
        black_box(decide());
    }
    let mut histogram = Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds");
    let stop = Instant::now() + duration;
    let mut now = Instant::now();
    while now < stop {
        black_box(decide());
        let end = Instant::now();
        histogram.saturating_record(u64::try_from((end - now).as_nanos()).unwrap_or(u64::MAX));
        now = end;
    }
    (histogram, answer)
}

fn targets(rows: &[Row], threads: &[BenchReport]) -> Vec<Target> {
    let mean = |workload: &str, engine: &str| {
        rows.iter().find(|r| r.workload == workload && r.engine == engine).map_or(f64::NAN, |r| r.mean_us)
    };
    let words = "message 1 KB, 10000 words, no match";
    let alone = mean(words, POLICY_ALONE);
    let vs_native = alone / mean(words, NATIVE);
    // Rego runs the default set's message rules, so it is set against set.
    let vs_rego = mean(words, REGO) / mean(words, DEFAULT_SET);
    let member = mean("membership", DEFAULT_SET);
    let vs_regorus = member / mean("membership", REGO);
    let vs_cedar = member / mean("membership", CEDAR_BUILT);
    let p50 = threads[0].p50_us;
    let scaling = threads[1].evals_per_sec / threads[0].evals_per_sec;
    vec![
        Target {
            target: "prohibited-content, 10,000 words, 1 KB: at most 1.3x native Aho-Corasick",
            measured: format!("{vs_native:.2}x ({alone:.2} µs)"),
            met: vs_native <= 1.3,
        },
        Target {
            target: "prohibited-content, 10,000 words, 1 KB: at least 100x faster than regorus",
            measured: format!("{vs_rego:.0}x (the default set against the same rules in Rego)"),
            met: vs_rego >= 100.0,
        },
        Target {
            target: "membership through the default set: no slower than regorus",
            measured: format!("{vs_regorus:.2}x regorus ({member:.2} µs)"),
            met: vs_regorus <= 1.0,
        },
        Target {
            target: "membership through the default set: no slower than Cedar with entity building",
            measured: format!("{vs_cedar:.2}x Cedar"),
            met: vs_cedar <= 1.0,
        },
        Target {
            target: "1 KB message through the default set: p50 at most 20 µs",
            measured: format!("{p50:.2} µs"),
            met: p50 <= 20.0,
        },
        Target {
            target: "two threads: at least 1.8x the decisions per second of one",
            measured: format!("{scaling:.2}x"),
            met: scaling >= 1.8,
        },
    ]
    .into_iter()
    // A run of some workloads (`--only`) measures some targets.
    .filter(|t| !t.measured.contains("NaN"))
    .collect()
}

fn print_tables(results: &Results) {
    println!("{} · {} · {} cores", results.date, results.machine.cpu, results.machine.cores);
    let mut workload = "";
    for r in &results.rows {
        if r.workload != workload {
            workload = &r.workload;
            println!("\n### {workload}\n");
            println!("| engine | mean µs | p50 µs | p99 µs | × native | decision |");
            println!("|---|---:|---:|---:|---:|---|");
        }
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            r.engine, r.mean_us, r.p50_us, r.p99_us, r.vs_native, r.decision
        );
    }
    println!("\n### The default set on a 1 KB message, `groupgate bench`\n");
    println!("| threads | decisions/s | mean µs | p50 µs | p99 µs |");
    println!("|---:|---:|---:|---:|---:|");
    for t in &results.threads {
        println!("| {} | {:.0} | {:.2} | {:.2} | {:.2} |", t.threads, t.evals_per_sec, t.mean_us, t.p50_us, t.p99_us);
    }
    println!("\n### Targets\n");
    println!("| target | measured | met |");
    println!("|---|---|---|");
    for t in &results.targets {
        println!("| {} | {} | {} |", t.target, t.measured, if t.met { "yes" } else { "no" });
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, v)| v.trim()))
        .unwrap_or("unknown")
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Machine { cpu, cores, os: std::env::consts::OS.to_owned() }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

fn load(dir: &Path) -> Result<PolicySet> {
    static RUNTIME: std::sync::OnceLock<groupgate::Runtime> = std::sync::OnceLock::new();
    let runtime = RUNTIME
        .get_or_init(|| groupgate_builtins::register(&mut groupgate::Runtime::builder()).build().expect("a runtime"));
    PolicySet::load_dir(runtime, dir).with_context(|| format!("cannot load `{}`", dir.display()))
}

/// A copy of the default set whose `words` list holds `words` (when given),
/// with every policy's instances fresh per call if `fresh`.
fn default_with_words(default: &Path, words: &[String], fresh: bool) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    copy_dir(default, dir.path())?;
    if !words.is_empty() {
        std::fs::write(dir.path().join("prohibited-content/words.txt"), words.join("\n"))?;
    }
    // Without the policies that count over time (flood-control,
    // repeat-offender, group-violations, complaints): the peers model no
    // counters, and
    // one request timed over and over would soon be a flood. What they cost
    // is measured by `scripts/bench-state.py`.
    let toml = dir.path().join("groupgate.toml");
    let mut text = std::fs::read_to_string(&toml)?;
    for counting in ["flood-control", "repeat-offender", "group-violations", "complaints"] {
        let line = text.lines().find(|l| l.trim_start().starts_with(&format!("\"{counting}\","))).map(str::to_owned);
        let Some(line) = line else {
            bail!("`{}` no longer lists `{counting}`: update the peers benchmark", toml.display());
        };
        text = text.replace(&format!("{line}\n"), "");
    }
    if fresh {
        if !text.contains("memory_mb = 64\n") {
            bail!(
                "`{}` no longer sets `memory_mb = 64` under `[defaults]`: update the peers benchmark",
                toml.display()
            );
        }
        text = text.replace("memory_mb = 64\n", "memory_mb = 64\nisolation = \"fresh\"\n");
        // A fresh instance runs `init` inside the call's deadline, and
        // building a 10,000-word automaton takes longer than the shipped 50
        // ms: the shipped set would fail closed. The deadline is raised here
        // so that the cost is measured rather than the failure.
        let policy = dir.path().join("prohibited-content/policy.toml");
        let text = std::fs::read_to_string(&policy)?;
        if !text.contains("timeout_ms = 50\n") {
            bail!("`{}` no longer sets `timeout_ms = 50`: update the peers benchmark", policy.display());
        }
        std::fs::write(&policy, text.replace("timeout_ms = 50\n", "timeout_ms = 2000\n"))?;
    }
    std::fs::write(&toml, text)?;
    Ok(dir)
}

/// A set holding only prohibited-content with `words` as its one list.
fn policy_alone(words: &[String]) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("groupgate.toml"), "")?;
    let policy = dir.path().join("prohibited-content");
    std::fs::create_dir(&policy)?;
    std::fs::write(
        policy.join("policy.toml"),
        "name = \"prohibited-content\"\nversion = \"0.1.0\"\nmodule = \"builtin:prohibited-content\"\n\
         hooks = [\"message\", \"group-creation\"]\nreasons = [\"prohibited-content\"]\n[data]\nwords = \"words.txt\"\n",
    )?;
    std::fs::write(policy.join("words.txt"), words.join("\n"))?;
    Ok(dir)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
