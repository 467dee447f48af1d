//! `groupgate check`: load a policy set and list what it holds.

use std::path::PathBuf;

use anyhow::Result;
use groupgate::{PolicySet, Runtime};

/// Flags of `check`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy set folder (the one holding `groupgate.toml`).
    #[arg(long, value_name = "DIR")]
    pub policies: PathBuf,
}

pub fn run(runtime: &Runtime, Args { policies }: Args) -> Result<u8> {
    let set = PolicySet::load_dir(runtime, &policies)?;
    let count = set.policies().count();
    println!("policy set `{}`: {count} {}", policies.display(), if count == 1 { "policy" } else { "policies" });
    for p in set.policies() {
        let hooks: Vec<&str> = p.hooks.iter().map(|h| h.as_str()).collect();
        let scope = describe_scope(&p.scope);
        println!(
            "  {} {}  module {}  hooks {}  mode {}  on_error {}  timeout {} ms  init {} ms  memory {} MiB  \
             isolation {}  scope {scope}",
            p.name,
            p.version,
            p.module,
            hooks.join(","),
            p.mode.as_str(),
            p.on_error.as_str(),
            p.limits.timeout_ms,
            p.limits.init_timeout_ms,
            p.limits.memory_mb,
            p.limits.isolation.as_str(),
        );
    }
    Ok(0)
}

fn describe_scope(scope: &groupgate::Scope) -> String {
    let part = |what: &str, list: &[String]| {
        if list.is_empty() { None } else { Some(format!("{what} {}", list.join(","))) }
    };
    let parts: Vec<String> =
        [part("regions", &scope.regions), part("categories", &scope.categories)].into_iter().flatten().collect();
    if parts.is_empty() { "all".into() } else { parts.join("; ") }
}
