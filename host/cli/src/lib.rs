//! The `groupgate` command: a thin layer over the groupgate crates that
//! parses flags, calls them, and turns errors into exit code 2. Each command
//! lives in a module of its own under `commands/`; `main.rs` only calls
//! [`main`]. [`bench`] measures a set's decisions for `groupgate bench` and
//! for the peers benchmark.

#![deny(missing_docs)]

pub mod bench;
mod commands;
mod runtime;

use std::process::ExitCode;

use clap::Parser;

use commands::Command;

/// Run WebAssembly content policies for group-chat platforms.
#[derive(Parser)]
#[command(
    name = "groupgate",
    version,
    about,
    after_help = "Exit status: 0 on success (for `eval`, whatever the decision), 2 when the request or the policy set is invalid; `test` exits 1 when a case fails, `verify` when the set does not verify.\nLog level: RUST_LOG (default `warn`; `error` for `test`, `info` for `serve`); policy log lines use the target `groupgate::guest`.\nProfiling: GROUPGATE_PERF_MAP=1 names compiled policy code in /tmp/perf-PID.map for `perf`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    cache: runtime::CacheArgs,
}

/// Parses the command line, runs the command and returns its exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A test run's report says which policies failed; their log lines would
    // only repeat it, so `test` logs errors alone unless RUST_LOG says more.
    let (default_level, json_logs) = match &cli.command {
        Command::Test(_) => ("error", false),
        // A server says when it starts, reloads and stops.
        Command::Serve(args) => ("info", args.json_logs()),
        _ => ("warn", false),
    };
    // An empty RUST_LOG counts as unset.
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => tracing_subscriber::EnvFilter::new(v),
        _ => tracing_subscriber::EnvFilter::new(default_level),
    };
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(colour).with_env_filter(filter);
    if json_logs {
        logs.json().init();
    } else {
        logs.init();
    }
    let result = runtime::make(cli.cache, cli.command.policies(), cli.command.default_cache_dir())
        .and_then(|runtime| cli.command.run(runtime));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
