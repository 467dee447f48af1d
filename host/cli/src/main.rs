//! The `groupgate` command: a thin layer over the `groupgate` library that
//! parses flags, calls it, and turns errors into exit code 2.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use groupgate::testing::{self, RunOptions};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use groupgate::{Hook, PolicySet, Request};

/// Run WebAssembly content policies for group-chat platforms.
#[derive(Parser)]
#[command(
    name = "groupgate",
    version,
    about,
    after_help = "Exit status: 0 on success (for `eval`, whatever the decision), 2 when the request or the policy set is invalid; `test` exits 1 when a case fails.\nLog level: RUST_LOG (default `warn`; `error` for `test`, `info` for `serve`); policy log lines use the target `groupgate::guest`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Keep compiled components in DIR, so the next run (or a reload) that
    /// loads the same component skips compiling it [default:
    /// `.groupgate-cache` next to the policy set folder, not inside it; none
    /// for a folder holding several sets].
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component afresh and keep nothing on disk.
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl Command {
    /// The policy set, or set of sets, the command loads; `None` for the
    /// commands that load none.
    fn policies(&self) -> Option<&Path> {
        match self {
            Command::Check { policies }
            | Command::Eval { request: RequestArgs { policies, .. }, .. }
            | Command::Bench { request: RequestArgs { policies, .. }, .. }
            | Command::Serve { policies, .. }
            | Command::Replay { policies, .. } => Some(policies),
            Command::Test { paths, .. } => paths.first().map(PathBuf::as_path),
            Command::Audit { .. } => None,
        }
    }
}

/// A policy set and one request to it, as `eval` and `bench` take them.
#[derive(clap::Args)]
struct RequestArgs {
    /// The policy set folder (the one holding `groupgate.toml`).
    #[arg(long, value_name = "DIR")]
    policies: PathBuf,
    /// Which question the request asks.
    #[arg(long, value_parser = parse_hook, value_name = "message|group-creation|membership")]
    hook: Hook,
    /// The request as JSON; `-` or nothing reads standard input.
    #[arg(value_name = "FILE|-")]
    input: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate a policy set, and list what it holds.
    Check {
        /// The policy set folder (the one holding `groupgate.toml`).
        #[arg(long, value_name = "DIR")]
        policies: PathBuf,
    },
    /// Decide one request and print the decision as JSON.
    Eval {
        #[command(flatten)]
        request: RequestArgs,
        /// Print the decision on one line instead of indented.
        #[arg(long)]
        compact: bool,
    },
    /// Measure how fast a policy set decides one request: decisions per
    /// second, latency percentiles, and the time spent in each policy.
    #[command(after_help = BENCH_HELP)]
    Bench {
        #[command(flatten)]
        request: RequestArgs,
        /// How long to measure, after the warm-up (e.g. `10s`, `500ms`).
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
        duration: std::time::Duration,
        /// How long every thread evaluates before measuring starts.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
        warmup: std::time::Duration,
        /// Threads evaluating at once, each in a loop.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: u16,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Serve decisions over HTTP, reloading the policy folder when it changes.
    #[command(after_help = SERVE_HELP)]
    Serve {
        /// The policy set folder (the one holding `groupgate.toml`).
        #[arg(long, value_name = "DIR")]
        policies: PathBuf,
        /// Address and port to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8750")]
        listen: std::net::SocketAddr,
        /// Largest request body accepted, in bytes; larger ones get 413.
        #[arg(long, value_name = "BYTES", default_value_t = groupgate_server::Options::DEFAULT_MAX_BODY)]
        max_body: usize,
        /// Longest a client may take to send a request's headers, and again
        /// its body (e.g. `10s`, `500ms`): a slower body gets 408, slower
        /// headers (or a connection idle that long) are closed.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
        read_timeout: std::time::Duration,
        /// Log lines as human-readable text or as JSON objects.
        #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
        /// Do not watch the folder; reload only on SIGHUP or POST /v1/reload.
        #[arg(long)]
        no_watch: bool,
    },
    /// Re-decide the requests of a decision log with a candidate policy set,
    /// and report the decisions that would change.
    Replay {
        /// The candidate policy set folder.
        #[arg(long, value_name = "DIR")]
        policies: PathBuf,
        /// The decision log's folder (`[audit] dir`).
        #[arg(value_name = "AUDIT_DIR")]
        audit: PathBuf,
        /// Exit 1 when any decision would change.
        #[arg(long)]
        fail_on_change: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check and search the decision log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run policy test cases (`tests/*.toml`) and report what failed.
    #[command(after_help = TEST_HELP)]
    Test {
        /// Policy sets, policy folders, `tests` folders or case files; a
        /// folder holding several sets tests each of them.
        #[arg(value_name = "PATH", default_value = ".")]
        paths: Vec<PathBuf>,
        /// Run only the cases whose name matches this regular expression.
        #[arg(long, value_name = "REGEX")]
        filter: Option<regex::Regex>,
        /// Also write the results as JUnit XML to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print the results as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Exit 1 when no case ran at all (a filter that matches nothing, a folder without cases).
        #[arg(long)]
        fail_on_empty: bool,
        /// List, per policy, the hooks and reason codes that no case exercises.
        #[arg(long)]
        coverage: bool,
        /// Print a line for every case, with the time spent in policy calls.
        #[arg(short, long)]
        verbose: bool,
    },
}

const SERVE_HELP: &str = "Routes: POST /v1/evaluate/{message,group-creation,membership} (the decision, with decision_id and generation); GET /v1/policies; POST /v1/reload; GET /healthz, /readyz, /metrics. Errors are JSON {\"error\": ...}.

Reload: a change in the folder (debounced), SIGHUP, or POST /v1/reload loads the folder, initialises every policy and runs every test case; the new set is activated only if all of that succeeds, otherwise the previous one keeps serving and the error shows in /v1/policies. A set that cannot load at start (or a folder that does not exist yet) leaves the server unready (503) until a good one appears. A folder replaced wholesale is watched anew within a second.

SIGTERM or Ctrl-C: stop accepting, answer the requests in flight (for at most 30 s), exit 0.";

const BENCH_HELP: &str = "Every thread calls the same evaluation as the server (limits check, every matching policy, merge) in a loop; a policy's time covers taking a warm instance, copying the request in, its hook, and copying the verdict out. Times are per decision, in microseconds.

--json prints one object: evaluations, seconds, evals_per_sec, threads, mean_us, p50_us, p90_us, p99_us, max_us, outcome, host_us (time outside every policy: limits check and merge), and policies: [{name, mean_us, share, errors}] in evaluation order, errors counting the calls in which the policy failed (trap, timeout, ...) and gave its on_error verdict.

--warmup 0s also times the first calls, which make each thread's instances and run their init.";

const TEST_HELP: &str = "Cases in a policy folder's `tests/` run against that policy alone; cases in the set's own `tests/` (next to groupgate.toml) run against the whole set. The case file format is described in the README.

Output: a line per failed case (FAIL), per policy that hit a limit or trapped (LIMIT), and per policy call that took more than half its deadline (SLOW), then `N passed, N failed`.

Exit status: 0 when every case passed; 1 when a case failed (or none ran, with --fail-on-empty); 2 when a path, a case file or the policy set is invalid.";

#[derive(Subcommand)]
enum AuditCommand {
    /// The decision records an inspector or a report needs, oldest first.
    Query {
        /// The log's folder (`[audit] dir`).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Only this hook.
        #[arg(long, value_parser = parse_hook, value_name = "HOOK")]
        hook: Option<Hook>,
        /// Only this outcome.
        #[arg(long, value_name = "OUTCOME", value_parser = ["allow", "review", "deny"])]
        outcome: Option<String>,
        /// Only decisions in which this policy gave a reason or a measure.
        #[arg(long, value_name = "NAME")]
        policy: Option<String>,
        /// Only decisions about this user (sender, founder, subject, inviter, or a measure's target).
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        /// Only decisions about this group (the request's group, or a measure's target).
        #[arg(long, value_name = "ID")]
        group: Option<String>,
        /// Only decisions at or after this time (RFC 3339, e.g. 2026-11-28T00:00:00Z).
        #[arg(long, value_parser = parse_time, value_name = "TIME")]
        since: Option<u64>,
        /// Only decisions before this time (RFC 3339).
        #[arg(long, value_parser = parse_time, value_name = "TIME")]
        until: Option<u64>,
        /// Print each record as a JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Check every record's hash and the links between segments; exit 1 and
    /// name the first broken record (segment and line) if the chain breaks.
    Verify {
        /// The log's folder (`[audit] dir`).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

fn parse_time(s: &str) -> Result<u64, String> {
    let t = humantime::parse_rfc3339_weak(s).map_err(|e| format!("`{s}` is not an RFC 3339 time: {e}"))?;
    let ms = t.duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_millis();
    u64::try_from(ms).map_err(|e| e.to_string())
}

fn parse_hook(s: &str) -> Result<Hook, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A test run's report says which policies failed; their log lines would
    // only repeat it, so `test` logs errors alone unless RUST_LOG says more.
    let (default_level, json_logs) = match &cli.command {
        Command::Test { .. } => ("error", false),
        // A server says when it starts, reloads and stops.
        Command::Serve { log_format, .. } => ("info", log_format == "json"),
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
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the command and returns its exit code; errors exit with 2.
fn run(cli: Cli) -> Result<u8> {
    if let Some(policies) = cli.command.policies()
        && !cli.no_cache
    {
        use_compile_cache(policies, cli.cache_dir)?;
    }
    match cli.command {
        Command::Check { policies } => check(&policies).map(|()| 0),
        Command::Replay { policies, audit, fail_on_change, json } => {
            let set = PolicySet::load(&policies)?;
            let report = groupgate::audit::replay(&set, &audit)
                .with_context(|| format!("cannot read the decision log in `{}`", audit.display()))?;
            if json {
                let body = serde_json::json!({
                    "replayed": report.replayed,
                    "skipped": report.skipped,
                    "changed": report.changes.len(),
                    "by_outcome": report.by_outcome(),
                    "by_policy": report.by_policy(),
                    "changes": report.changes,
                });
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                println!(
                    "replayed {} decisions ({} recorded without their request, skipped): {} would change",
                    report.replayed,
                    report.skipped,
                    report.changes.len()
                );
                for (change, n) in report.by_outcome() {
                    println!("  {change}: {n}");
                }
                for (policy, n) in report.by_policy() {
                    println!("  policy {policy}: {n}");
                }
                for c in report.changes.iter().take(10) {
                    let added = c.added.iter().map(|r| format!(" +{r}"));
                    let removed = c.removed.iter().map(|r| format!(" -{r}"));
                    println!(
                        "  e.g. {} ({}): {} → {}:{}",
                        c.id,
                        c.hook,
                        c.old,
                        c.new,
                        added.chain(removed).collect::<String>()
                    );
                }
            }
            Ok(if fail_on_change && !report.changes.is_empty() { 1 } else { 0 })
        }
        Command::Audit {
            command: AuditCommand::Query { dir, hook, outcome, policy, user, group, since, until, json },
        } => {
            let records = groupgate::audit::decisions(&dir)
                .with_context(|| format!("cannot read the decision log in `{}`", dir.display()))?;
            let wanted = Query { hook, outcome, policy, user, group, since, until };
            let mut count = 0;
            for r in records.iter().filter(|r| wanted.matches(r)) {
                count += 1;
                if json {
                    println!("{}", serde_json::to_string(r)?);
                } else {
                    let field = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                    let time = r.get("time_ms").and_then(|v| v.as_u64()).unwrap_or(0);
                    let when = humantime::format_rfc3339_millis(
                        std::time::UNIX_EPOCH + std::time::Duration::from_millis(time),
                    );
                    let codes: Vec<String> = r
                        .get("reasons")
                        .and_then(|v| v.as_array())
                        .into_iter()
                        .flatten()
                        .map(|x| format!("{}/{}", x["policy"].as_str().unwrap_or(""), x["code"].as_str().unwrap_or("")))
                        .collect();
                    println!("{when}  {}  {}  {}  {}", field("id"), field("hook"), field("outcome"), codes.join(" "));
                }
            }
            if !json {
                println!("{count} decisions");
            }
            Ok(0)
        }
        Command::Audit { command: AuditCommand::Verify { dir } } => {
            if !dir.is_dir() {
                anyhow::bail!("`{}` is not a folder", dir.display());
            }
            match groupgate::audit::verify(&dir) {
                Ok(v) => {
                    println!("{} segments, {} lines: the chain holds", v.segments, v.lines);
                    for (segment, line) in &v.torn_tails {
                        println!("  torn tail (a write cut short by a crash): {segment}, line {line}");
                    }
                    if let Some(hash) = &v.last_hash {
                        println!("  last hash: {hash}");
                    }
                    Ok(0)
                }
                Err(broken) => {
                    println!("broken: {broken}");
                    Ok(1)
                }
            }
        }
        Command::Serve { policies, listen, max_body, read_timeout, log_format: _, no_watch } => {
            let options = groupgate_server::Options { policies, max_body, read_timeout };
            serve(options, listen, !no_watch).map(|()| 0)
        }
        Command::Eval { request: RequestArgs { policies, hook, input }, compact } => {
            eval(&policies, hook, input.as_deref(), compact).map(|()| 0)
        }
        Command::Bench { request: RequestArgs { policies, hook, input }, duration, warmup, threads, json } => {
            let request = Request::from_json(hook, &read_input(input.as_deref())?)?;
            let set = PolicySet::load(&policies)?;
            let options = groupgate::bench::BenchOptions { duration, warmup, threads: usize::from(threads) };
            let report = groupgate::bench::run(&set, &request, &options)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_bench(&policies, hook, &options, &report);
            }
            Ok(0)
        }
        Command::Test { paths, filter, junit, json, fail_on_empty, coverage, verbose } => {
            let options = RunOptions { filter };
            let run = testing::run(&paths, &options);
            for (root, error) in run.errors() {
                eprintln!("error: `{}`: {error}", root.display());
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&run.to_json())?);
            } else {
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
            // Written after the results are shown, so a bad path loses nothing.
            if let Some(path) = &junit {
                std::fs::write(path, run.to_junit()).with_context(|| format!("cannot write `{}`", path.display()))?;
            }
            Ok(run.exit_code(fail_on_empty))
        }
    }
}

/// Makes the process-wide runtime keep compiled components on disk: in
/// `explicit`, or else next to the policy set `policies` is or lies in (none
/// when it is in no set: a folder of sets, or a path that does not exist). A
/// folder named on the command line that cannot be used is an error; the
/// default one only costs a warning, and the run compiles without a cache.
fn use_compile_cache(policies: &Path, explicit: Option<PathBuf>) -> Result<()> {
    let named = explicit.is_some();
    let Some(dir) = explicit.or_else(|| default_cache_dir(policies)) else {
        return Ok(());
    };
    let runtime = match groupgate::Runtime::with_cache(&dir) {
        Ok(runtime) => runtime,
        Err(e) if named => anyhow::bail!("--cache-dir: {e}"),
        Err(e) => {
            tracing::warn!("{e}; compiling without a cache (--cache-dir names another folder)");
            return Ok(());
        }
    };
    tracing::info!(dir = %dir.display(), "compile cache");
    // Nothing has loaded a set yet, so the shared runtime is not made.
    let _ = groupgate::Runtime::set_shared(runtime);
    Ok(())
}

/// `.groupgate-cache` beside the policy set that `path` is or lies in, so a
/// server watching the set never sees the cache change.
fn default_cache_dir(path: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let set = path.ancestors().find(|a| a.join(groupgate::manifest::SET_FILE).is_file())?;
    Some(set.parent()?.join(".groupgate-cache"))
}

fn serve(options: groupgate_server::Options, listen: std::net::SocketAddr, watch: bool) -> Result<()> {
    let state = groupgate_server::ServerState::new(options).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        groupgate_server::serve(state, listener, watch).await.context("serving")
    })
}

/// The filters of `audit query`.
struct Query {
    hook: Option<Hook>,
    outcome: Option<String>,
    policy: Option<String>,
    user: Option<String>,
    group: Option<String>,
    since: Option<u64>,
    until: Option<u64>,
}

impl Query {
    fn matches(&self, r: &serde_json::Map<String, serde_json::Value>) -> bool {
        let text = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let time = r.get("time_ms").and_then(|v| v.as_u64()).unwrap_or(0);
        let request = r.get("request").cloned().unwrap_or_default();
        let measures: Vec<&serde_json::Value> =
            r.get("measures").and_then(|v| v.as_array()).into_iter().flatten().collect();
        let targets = |kind: &str, id: &str| measures.iter().any(|m| m["target"][kind] == id);
        let users = ["sender", "founder", "subject", "inviter"];
        self.hook.is_none_or(|h| text("hook") == h.as_str())
            && self.outcome.as_ref().is_none_or(|o| text("outcome") == o)
            && self.policy.as_ref().is_none_or(|p| {
                let gave = |k: &str| {
                    r.get(k).and_then(|v| v.as_array()).is_some_and(|a| a.iter().any(|x| x["policy"] == p.as_str()))
                };
                gave("reasons") || gave("measures")
            })
            && self
                .user
                .as_ref()
                .is_none_or(|u| users.iter().any(|k| request[k]["id"] == u.as_str()) || targets("user", u))
            && self.group.as_ref().is_none_or(|g| request["group"]["id"] == g.as_str() || targets("group", g))
            && self.since.is_none_or(|s| time >= s)
            && self.until.is_none_or(|u| time < u)
    }
}

fn check(dir: &Path) -> Result<()> {
    let set = PolicySet::load(dir)?;
    let count = set.policies().count();
    println!("policy set `{}`: {count} {}", dir.display(), if count == 1 { "policy" } else { "policies" });
    for p in set.policies() {
        let module = match &p.module {
            groupgate::manifest::ModuleSource::Builtin(name) => format!("builtin:{name}"),
            groupgate::manifest::ModuleSource::File(path) => path.display().to_string(),
        };
        let hooks: Vec<&str> = p.hooks.iter().map(|h| h.as_str()).collect();
        let scope = describe_scope(&p.scope);
        println!(
            "  {} {}  module {module}  hooks {}  mode {}  on_error {}  timeout {} ms  init {} ms  memory {} MiB  \
             isolation {}  scope {scope}",
            p.name,
            p.version,
            hooks.join(","),
            p.mode.as_str(),
            p.on_error.as_str(),
            p.limits.timeout_ms,
            p.limits.init_timeout_ms,
            p.limits.memory_mb,
            p.limits.isolation.as_str(),
        );
    }
    Ok(())
}

/// A duration such as `10s` or `500ms`, more than zero.
fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (write it like `10s` or `500ms`)")),
    }
}

fn describe_scope(scope: &groupgate::Scope) -> String {
    let part = |what: &str, list: &[String]| {
        if list.is_empty() { None } else { Some(format!("{what} {}", list.join(","))) }
    };
    let parts: Vec<String> =
        [part("regions", &scope.regions), part("categories", &scope.categories)].into_iter().flatten().collect();
    if parts.is_empty() { "all".into() } else { parts.join("; ") }
}

fn eval(dir: &Path, hook: Hook, input: Option<&Path>, compact: bool) -> Result<()> {
    let request = Request::from_json(hook, &read_input(input)?)?;
    let set = PolicySet::load(dir)?;
    let decision = set.evaluate(&request)?;
    let out = if compact { serde_json::to_string(&decision)? } else { serde_json::to_string_pretty(&decision)? };
    println!("{out}");
    Ok(())
}

/// The request file, or standard input for `-` or no file.
fn read_input(input: Option<&Path>) -> Result<Vec<u8>> {
    match input {
        None => read_stdin(),
        Some(p) if p == Path::new("-") => read_stdin(),
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display())),
    }
}

fn print_bench(dir: &Path, hook: Hook, options: &groupgate::bench::BenchOptions, r: &groupgate::bench::BenchReport) {
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

fn read_stdin() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).context("cannot read standard input")?;
    Ok(buf)
}
