//! `groupgate audit`: check and search the decision log.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use groupgate::{Hook, Outcome};

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
        #[arg(long, value_name = "OUTCOME", value_parser = outcome_parser())]
        outcome: Option<Outcome>,
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
    if t < std::time::UNIX_EPOCH {
        return Err(format!("`{s}` is before 1970, when no decision was recorded"));
    }
    Ok(groupgate::time::unix_millis(t))
}

/// The outcomes by name, offered as clap's possible values.
fn outcome_parser() -> impl clap::builder::TypedValueParser<Value = Outcome> {
    const OUTCOMES: [Outcome; 3] = [Outcome::Allow, Outcome::Review, Outcome::Deny];
    PossibleValuesParser::new(OUTCOMES.map(Outcome::as_str))
        .map(|name| OUTCOMES.into_iter().find(|o| o.as_str() == name).expect("clap offers only these names"))
}

pub fn run(command: Command) -> Result<u8> {
    match command {
        Command::Query { dir, hook, outcome, policy, user, group, since, until, json } => {
            let mut query = groupgate_audit::Query::default();
            query.hook = hook;
            query.outcome = outcome;
            query.policy = policy;
            query.user = user;
            query.group = group;
            query.since_ms = since;
            query.until_ms = until;
            let found =
                query.find(&dir).with_context(|| format!("cannot read the decision log in `{}`", dir.display()))?;
            for logged in &found {
                let r = &logged.record;
                if json {
                    println!("{}", serde_json::to_string(&logged.to_map())?);
                } else {
                    let when = humantime::format_rfc3339_millis(
                        std::time::UNIX_EPOCH + std::time::Duration::from_millis(r.time_ms),
                    );
                    let codes: Vec<String> = r.reasons.iter().map(|x| format!("{}/{}", x.policy, x.code)).collect();
                    println!("{when}  {}  {}  {}  {}", r.id, r.hook, r.outcome, codes.join(" "));
                }
            }
            if !json {
                println!("{} decisions", found.len());
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
