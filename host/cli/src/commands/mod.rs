//! One module per command: its flags, as a `clap::Args`, and its `run`.

mod audit;
mod bench;
mod build;
mod check;
mod eval;
mod fleet;
mod new;
mod replay;
mod serve;
mod test;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use groupgate::{Hook, Runtime};

/// The commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Load and validate a policy set, and list what it holds.
    Check(check::Args),
    /// Decide one request and print the decision as JSON.
    Eval(eval::Args),
    /// Measure how fast a policy set decides one request: decisions per
    /// second, latency percentiles, and the time spent in each policy.
    #[command(after_help = bench::HELP)]
    Bench(bench::Args),
    /// Serve decisions over HTTP, reloading the policy folder when it changes.
    #[command(after_help = serve::HELP)]
    Serve(serve::Args),
    /// Re-decide the requests of a decision log with a candidate policy set,
    /// and report the decisions that would change.
    Replay(replay::Args),
    /// Check and search the decision log.
    Audit {
        #[command(subcommand)]
        command: audit::Command,
    },
    /// Make a policy folder from a template, in Rust, JavaScript or
    /// Python: manifest, source, lock file and cases that pass.
    #[command(after_help = new::HELP)]
    New(new::Args),
    /// Build the components of policies written in Rust, JavaScript or
    /// Python from their source, skipping those up to date.
    #[command(after_help = build::HELP)]
    Build(build::Args),
    /// Run policy test cases (`tests/*.toml`) and report what failed.
    #[command(after_help = test::HELP)]
    Test(test::Args),
    /// Sign a policy set: list every file's SHA-256 in `groupgate.sum`
    /// and sign it with an SSH key.
    #[command(after_help = fleet::SIGN_HELP)]
    Sign(fleet::SignArgs),
    /// Check a set's signature against trusted keys: who signed it, or
    /// exactly what does not match.
    #[command(after_help = fleet::VERIFY_HELP)]
    Verify(fleet::VerifyArgs),
    /// Store a signed policy set in an OCI registry.
    #[command(after_help = fleet::PUSH_HELP)]
    Push(fleet::PushArgs),
    /// Fetch a policy set from an OCI registry into a folder, verified.
    Pull(fleet::PullArgs),
    /// Print the HTTP API as an OpenAPI 3.1 document: what `serve` answers
    /// at `GET /openapi.json`, for generating clients without a server.
    Openapi,
}

impl Command {
    /// The policy set, or folder of sets, the command loads; `None` for the
    /// commands that load none.
    pub fn policies(&self) -> Option<&Path> {
        match self {
            Command::Check(args) => Some(&args.policies),
            Command::Eval(args) => Some(&args.request.policies),
            Command::Bench(args) => Some(&args.request.policies),
            Command::Serve(args) => match &args.policies {
                fleet::SetArg::Folder(dir) => Some(dir),
                // The sets pulled are kept in the state folder.
                fleet::SetArg::Oci(_) => Some(Path::new(".")),
            },
            Command::Replay(args) => Some(&args.policies),
            Command::Test(args) => args.paths.first().map(PathBuf::as_path),
            Command::Audit { .. }
            | Command::New(_)
            | Command::Build(_)
            | Command::Sign(_)
            | Command::Verify(_)
            | Command::Push(_)
            | Command::Pull(_)
            | Command::Openapi => None,
        }
    }

    /// The compile cache a command keeps when no flag names one and its
    /// policies do not say: a server's sets from a registry keep theirs in
    /// the state folder.
    pub fn default_cache_dir(&self) -> Option<PathBuf> {
        match self {
            Command::Serve(args) if matches!(args.policies, fleet::SetArg::Oci(_)) => {
                args.data_dir().ok().map(|d| d.join("cache"))
            }
            _ => None,
        }
    }

    /// Runs the command on `runtime` (present when [`Command::policies`]
    /// is) and returns its exit code; errors exit with 2.
    pub fn run(self, runtime: Option<Runtime>) -> Result<u8> {
        let runtime = || runtime.clone().context("no runtime for a command that loads policies");
        match self {
            Command::Check(args) => check::run(&runtime()?, args),
            Command::Eval(args) => eval::run(&runtime()?, args),
            Command::Bench(args) => bench::run(&runtime()?, args),
            Command::Serve(args) => serve::run(runtime()?, args),
            Command::Replay(args) => replay::run(&runtime()?, args),
            Command::Audit { command } => audit::run(command),
            Command::Test(args) => test::run(&runtime()?, args),
            Command::New(args) => new::run(args),
            Command::Build(args) => build::run(args),
            Command::Openapi => {
                print!("{}", groupgate_server::openapi::document());
                Ok(0)
            }
            Command::Sign(args) => fleet::sign(args),
            Command::Verify(args) => fleet::verify(args),
            Command::Push(args) => fleet::push(args),
            Command::Pull(args) => fleet::pull(args),
        }
    }
}

/// A policy set and one request to it, as `eval` and `bench` take them.
#[derive(clap::Args)]
pub struct RequestArgs {
    /// The policy set folder (the one holding `groupgate.toml`).
    #[arg(long, value_name = "DIR")]
    pub policies: PathBuf,
    /// Which question the request asks.
    #[arg(long, value_parser = parse_hook, value_name = "message|group-creation|membership|report")]
    pub hook: Hook,
    /// The request as JSON; `-` or nothing reads standard input.
    #[arg(value_name = "FILE|-")]
    pub input: Option<PathBuf>,
}

impl RequestArgs {
    /// The request, decoded for its hook.
    pub fn request(&self) -> Result<groupgate::Request> {
        Ok(groupgate::Request::from_json(self.hook, &read_input(self.input.as_deref())?)?)
    }
}

pub fn parse_hook(s: &str) -> Result<Hook, String> {
    s.parse().map_err(|e: groupgate::UnknownHook| e.to_string())
}

/// A duration such as `10s` or `500ms`, more than zero.
pub fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (write it like `10s` or `500ms`)")),
    }
}

/// The request file, or standard input for `-` or no file.
fn read_input(input: Option<&Path>) -> Result<Vec<u8>> {
    match input {
        Some(p) if p != Path::new("-") => std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display())),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).context("cannot read standard input")?;
            Ok(buf)
        }
    }
}
