//! The runtime every command loads policy sets on: the standard plugins
//! registered, the compile cache and the counters' store the flags ask for,
//! and `perf` names when `GROUPGATE_PERF_MAP=1`. The library reads no flag or variable itself:
//! this is where the command decides them.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use anyhow::Result;
use groupgate::Runtime;
use groupgate::state::StateStore;

/// Set to `1`, names compiled policy code for `perf` (see the README).
pub const PERF_MAP_VAR: &str = "GROUPGATE_PERF_MAP";

/// The compile cache flags, global to every command.
#[derive(clap::Args)]
pub struct CacheArgs {
    /// Keep compiled components in DIR, so the next run (or a reload) that
    /// loads the same component skips compiling it [default:
    /// `.groupgate-cache` next to the policy set folder, not inside it; none
    /// for a folder holding several sets].
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component afresh and keep nothing on disk.
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// Where policies' counters are kept: `memory` (in this process, lost
    /// when it stops) or `redis://HOST:PORT[/DB]` (shared by every groupgate
    /// that names the same server; one that is down or slow does not stop a
    /// request from being decided, see `[state]` in the README).
    #[arg(long, global = true, value_name = "STORE", default_value = "memory", value_parser = parse_state)]
    state: StateArg,
}

/// A `--state` value.
#[derive(Clone, Debug)]
pub enum StateArg {
    /// In this process.
    Memory,
    /// In a Redis server, by URL.
    Redis(String),
}

fn parse_state(value: &str) -> Result<StateArg, String> {
    if value == "memory" {
        return Ok(StateArg::Memory);
    }
    if value.starts_with("redis://") {
        // Checked here, so a typo is named before anything loads.
        groupgate_redis::RedisState::connect(value).map_err(|e| e.message)?;
        return Ok(StateArg::Redis(value.to_owned()));
    }
    Err(format!("`{value}` is neither `memory` nor `redis://HOST:PORT[/DB]`"))
}

/// The runtime for a command that loads the policy set (or sets)
/// `policies`; `None` for a command that loads none. Its compile cache is
/// `--cache-dir`, or else `default_cache`, or else `.groupgate-cache` next to the policy set
/// `policies` is or lies in (none when it is in no set: a folder of sets,
/// or a path that does not exist). A folder named on the command line that
/// cannot be used is an error; the default one only costs a warning, and
/// the run compiles without a cache.
pub fn make(args: CacheArgs, policies: Option<&Path>, default_cache: Option<PathBuf>) -> Result<Option<Runtime>> {
    let Some(policies) = policies else { return Ok(None) };
    let state: Arc<dyn StateStore> = match &args.state {
        StateArg::Memory => Arc::new(groupgate::state::Memory::new()),
        StateArg::Redis(url) => {
            let store = groupgate_redis::RedisState::connect(url).map_err(|e| anyhow::anyhow!("--state: {e}"))?;
            tracing::info!(store = %store.describe(), "counters");
            Arc::new(store)
        }
    };
    let builder = |dir: Option<&Path>| {
        let mut b = builder(dir);
        b.shared_state(state.clone());
        b
    };
    let cache_dir = match (args.no_cache, args.cache_dir) {
        (true, _) => None,
        (false, Some(dir)) => {
            let runtime = builder(Some(&dir)).build().map_err(|e| anyhow::anyhow!("--cache-dir: {e}"))?;
            tracing::info!(dir = %dir.display(), "compile cache");
            return Ok(Some(runtime));
        }
        (false, None) => default_cache.or_else(|| default_cache_dir(policies)),
    };
    if let Some(dir) = cache_dir {
        match builder(Some(&dir)).build() {
            Ok(runtime) => {
                tracing::info!(dir = %dir.display(), "compile cache");
                return Ok(Some(runtime));
            }
            Err(e) => tracing::warn!("{e}; compiling without a cache (--cache-dir names another folder)"),
        }
    }
    Ok(Some(builder(None).build()?))
}

/// The runtime's settings: the standard plugins, the cache, `perf` names.
fn builder(cache_dir: Option<&Path>) -> groupgate::RuntimeBuilder {
    let mut builder = Runtime::builder();
    groupgate_builtins::register(&mut builder);
    if let Some(dir) = cache_dir {
        builder.cache_dir(dir);
    }
    builder.perf_map(std::env::var_os(PERF_MAP_VAR).is_some_and(|v| v == "1"));
    builder
}

/// `.groupgate-cache` beside the policy set that `path` is or lies in, so a
/// server watching the set never sees the cache change.
fn default_cache_dir(path: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let set = groupgate::source::enclosing_set(&path)?;
    Some(set.parent()?.join(".groupgate-cache"))
}
