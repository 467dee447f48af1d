//! `groupgate serve`: the HTTP sidecar.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use groupgate::Runtime;
use groupgate_fleet::{OciSource, SignedFolder};
use groupgate_server::Provider;

use super::fleet::{RegistryArgs, SetArg};
use super::positive_duration;

/// Flags of `serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy set: a folder (the one holding `groupgate.toml`), or
    /// `oci://HOST[:PORT]/REPO:TAG`, a set pushed with `groupgate push`
    /// (needs --trusted-keys).
    #[arg(long, value_name = "DIR|oci://…", value_parser = SetArg::parse)]
    pub policies: SetArg,
    /// Serve only sets signed by these signers (an OpenSSH
    /// `allowed_signers` file, read again on every reload): a set unsigned,
    /// signed by another key, or changed since it was signed is refused.
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: Option<PathBuf>,
    /// How often to ask the registry for the tag's digest; a new one is
    /// pulled, verified and reloaded.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = positive_duration)]
    pub poll: std::time::Duration,
    /// Where a set pulled from a registry is kept once verified, so that a
    /// restart while the registry is down serves the last one activated
    /// [default: $STATE_DIRECTORY, else $XDG_STATE_HOME/groupgate, else
    /// ~/.local/state/groupgate].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
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
    /// Leave what a failing policy wrote as it failed (its panic message,
    /// traceback or stack) out of HTTP answers; logs and decision records
    /// keep it. For callers who should see that a policy failed, not why.
    #[arg(long)]
    pub hide_policy_output: bool,
    /// Do not watch the folder (nor poll the registry); reload only on
    /// SIGHUP or POST /v1/reload.
    #[arg(long)]
    pub no_watch: bool,
}

impl Args {
    /// Whether log lines are JSON objects.
    pub fn json_logs(&self) -> bool {
        self.log_format == "json"
    }

    /// The state folder: `--data-dir` or the default.
    pub fn data_dir(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        // systemd's StateDirectory= sets STATE_DIRECTORY (colon-separated
        // when it names several: the first is ours).
        if let Some(dirs) = var("STATE_DIRECTORY") {
            let first = dirs.to_string_lossy().split(':').next().unwrap_or_default().to_owned();
            return Ok(first.into());
        }
        if let Some(state) = var("XDG_STATE_HOME") {
            return Ok(state.join("groupgate"));
        }
        match var("HOME") {
            Some(home) => Ok(home.join(".local/state/groupgate")),
            None => bail!("no --data-dir, and neither STATE_DIRECTORY, XDG_STATE_HOME nor HOME is set to find one"),
        }
    }

    /// Where the set comes from on each reload.
    fn provider(&self) -> Result<Arc<dyn Provider>> {
        if let Some(file) = &self.trusted_keys {
            // Checked now, so a typo stops the start rather than every reload.
            super::fleet::trusted_keys(file)?;
        }
        Ok(match (&self.policies, &self.trusted_keys) {
            (SetArg::Folder(dir), None) => Arc::new(groupgate_server::Plain(Arc::new(groupgate::Folder::new(dir)))),
            (SetArg::Folder(dir), Some(keys)) => Arc::new(SignedFolder::new(dir, keys)),
            (SetArg::Oci(reference), Some(keys)) => Arc::new(OciSource::new(
                reference.clone(),
                &self.registry.options()?,
                keys,
                &self.data_dir()?,
                self.poll,
            )?),
            (SetArg::Oci(_), None) => {
                bail!(
                    "--policies oci://… needs --trusted-keys: a set from a registry is served only when a trusted key signed it"
                )
            }
        })
    }
}

pub const HELP: &str = "Routes: POST /v1/evaluate/{message,group-creation,membership,report} (the decision, with decision_id and generation); POST /v1/evaluate/batch (up to 100 requests of any hooks, a result each); POST /v1/counters/POLICY/COUNTER (the platform adds {\"id\", \"amount\", \"at\"} to a counter declared `platform = true`); GET /v1/policies (the set, its source, digest and signer); POST /v1/reload; GET /healthz, /readyz, /metrics; GET /openapi.json (this API as OpenAPI 3.1, as `groupgate openapi` prints it). Errors are JSON {\"error\": ...}.

Decisions: a set is decided on a blocking thread for its first 1,000 decisions, then on the thread that read the request, unless more than 100 of those first decisions took over 2 ms of CPU time, or its slow decisions inline spend more than 20 ms of CPU time (refilled by 1 µs a decision): then on blocking threads until the next reload (/v1/policies says where). A set that records decisions ([audit]), counts in Redis or has a policy with timeout_ms over 100 is always decided on blocking threads.

Reload: a change in the folder (debounced), SIGHUP, or POST /v1/reload loads the folder, initialises every policy and runs every test case; the new set is activated only if all of that succeeds, otherwise the previous one keeps serving and the error shows in /v1/policies. A set that cannot load at start (or a folder that does not exist yet) leaves the server unready (503) until a good one appears. A folder replaced wholesale is watched anew within a second.

Signed sets: with --trusted-keys, a set is read whole, its signature checked (see `groupgate sign`), and only then compiled; an unsigned or tampered set, or one signed by an untrusted key, is refused like any broken set, the cause in /v1/policies. From a registry (--policies oci://HOST[:PORT]/REPO:TAG), the tag's digest is asked for every --poll, a new one pulled, verified and reloaded, and each set activated kept under --data-dir: a restart while the registry is down serves it (/readyz and /v1/policies say `last_known_good`, and why) until the registry answers again. Plain HTTP only to loopback addresses and --allow-http hosts.

SIGTERM or Ctrl-C: stop accepting, answer the requests in flight (for at most 30 s), exit 0.";

pub fn run(runtime: Runtime, args: Args) -> Result<u8> {
    let mut options = groupgate_server::Options::with_provider(args.provider()?);
    options.max_body = args.max_body;
    options.read_timeout = args.read_timeout;
    options.hide_policy_output = args.hide_policy_output;
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
