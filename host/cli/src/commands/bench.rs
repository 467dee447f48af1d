//! `groupgate bench`: measure how fast a set decides one request.

use std::path::Path;

use anyhow::Result;
use groupgate::{Hook, PolicySet, Runtime};

use super::{RequestArgs, positive_duration};
use crate::bench::{BenchOptions, BenchReport};

/// Flags of `bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: RequestArgs,
    /// How long to measure, after the warm-up (e.g. `10s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub duration: std::time::Duration,
    /// How long every thread evaluates before measuring starts.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub warmup: std::time::Duration,
    /// Threads evaluating at once, each in a loop.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
    /// Spread the requests over N users: the request's own (sender,
    /// founder or subject) with a number appended to its id, in turn, each
    /// sending once every 10 s of request time, so that a set counting per
    /// user (flood-control) measures ordinary traffic, not one user's flood.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub senders: u32,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub const HELP: &str = "Every thread calls the same evaluation as the server (limits check, every matching policy, merge) in a loop; a policy's time covers taking a warm instance, copying the request in, its hook, and copying the verdict out. Times are per decision, in microseconds.

--json prints one object: evaluations, seconds, evals_per_sec, threads, mean_us, p50_us, p90_us, p99_us, max_us, outcome, host_us (time outside every policy: limits check and merge), and policies: [{name, mean_us, share, errors}] in evaluation order, errors counting the calls in which the policy failed (trap, timeout, ...) and gave its on_error verdict.

--warmup 0s also times the first calls, which make each thread's instances and run their init.

Counters are read from and added to the store --state names, as the server does. A set with flood-control denies one sender's 21st message in a minute, so measure it with --senders (e.g. 1000: a thousand users on each thread, each sending every 10 s of request time).";

pub fn run(runtime: &Runtime, args: Args) -> Result<u8> {
    let request = args.request.request()?;
    let set = PolicySet::load_dir(runtime, &args.request.policies)?;
    let options =
        BenchOptions::new(args.duration, args.warmup, usize::from(args.threads)).senders(args.senders as usize);
    let report = crate::bench::run(&set, &request, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_bench(&args.request.policies, args.request.hook, &options, &report);
    }
    Ok(0)
}

fn print_bench(dir: &Path, hook: Hook, options: &BenchOptions, r: &BenchReport) {
    let threads = if r.threads == 1 { "1 thread".to_owned() } else { format!("{} threads", r.threads) };
    println!(
        "{} · {hook} · {threads} · {} after {} of warm-up",
        dir.display(),
        humantime::format_duration(options.duration),
        humantime::format_duration(options.warmup)
    );
    println!("decision     {}", r.outcome);
    println!("evaluations  {} ({:.0} per second)", r.evaluations, r.evals_per_sec);
    println!(
        "latency      mean {:.2} µs · p50 {:.2} · p90 {:.2} · p99 {:.2} · max {:.1}",
        r.mean_us, r.p50_us, r.p90_us, r.p99_us, r.max_us
    );
    let width = r.policies.iter().map(|p| p.name.len()).chain([22]).max().unwrap_or(22);
    println!("{:width$}  {:>8}  {:>5}", "policy", "mean µs", "share");
    for p in &r.policies {
        let failed = match p.errors {
            0 => String::new(),
            n => format!("  failed in {n} calls: its time is its failure's"),
        };
        println!("{:width$}  {:>8.2}  {:>4.0}%{failed}", p.name, p.mean_us, p.share * 100.0);
    }
    let host_share = if r.mean_us > 0.0 { r.host_us / r.mean_us * 100.0 } else { 0.0 };
    println!("{:width$}  {:>8.2}  {:>4.0}%", "host (limits, merge)", r.host_us, host_share);
}
