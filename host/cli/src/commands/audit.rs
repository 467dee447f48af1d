//! `groupgate audit`: check and search the decision log.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use groupgate::Hook;

use super::parse_hook;

/// The subcommands of `audit`.
#[derive(clap::Subcommand)]
pub enum Command {
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
    Ok(groupgate::time::unix_millis(t))
}

pub fn run(command: Command) -> Result<u8> {
    match command {
        Command::Query { dir, hook, outcome, policy, user, group, since, until, json } => {
            let records = groupgate_audit::decisions(&dir)
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
        Command::Verify { dir } => {
            if !dir.is_dir() {
                anyhow::bail!("`{}` is not a folder", dir.display());
            }
            match groupgate_audit::verify(&dir) {
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
    }
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
