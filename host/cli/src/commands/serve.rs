//! `groupgate serve`: the HTTP sidecar.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use groupgate::Runtime;

use super::positive_duration;

/// Flags of `serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy set folder (the one holding `groupgate.toml`).
    #[arg(long, value_name = "DIR")]
    pub policies: PathBuf,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8750")]
    pub listen: std::net::SocketAddr,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = groupgate_server::Options::DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Longest a client may take to send a request's headers, and again
    /// its body (e.g. `10s`, `500ms`): a slower body gets 408, slower
    /// headers (or a connection idle that long) are closed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub read_timeout: std::time::Duration,
    /// Log lines as human-readable text or as JSON objects.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Do not watch the folder; reload only on SIGHUP or POST /v1/reload.
    #[arg(long)]
    pub no_watch: bool,
}

impl Args {
    /// Whether log lines are JSON objects.
    pub fn json_logs(&self) -> bool {
        self.log_format == "json"
    }
}

pub const HELP: &str = "Routes: POST /v1/evaluate/{message,group-creation,membership} (the decision, with decision_id and generation); GET /v1/policies; POST /v1/reload; GET /healthz, /readyz, /metrics. Errors are JSON {\"error\": ...}.

Reload: a change in the folder (debounced), SIGHUP, or POST /v1/reload loads the folder, initialises every policy and runs every test case; the new set is activated only if all of that succeeds, otherwise the previous one keeps serving and the error shows in /v1/policies. A set that cannot load at start (or a folder that does not exist yet) leaves the server unready (503) until a good one appears. A folder replaced wholesale is watched anew within a second.

SIGTERM or Ctrl-C: stop accepting, answer the requests in flight (for at most 30 s), exit 0.";

pub fn run(runtime: Runtime, args: Args) -> Result<u8> {
    let mut options = groupgate_server::Options::new(&args.policies);
    options.max_body = args.max_body;
    options.read_timeout = args.read_timeout;
    let state = groupgate_server::ServerState::new(runtime, options);
    let listen = args.listen;
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        groupgate_server::serve(state, listener, !args.no_watch).await.context("serving")
    })?;
    Ok(0)
}
