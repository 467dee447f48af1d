//! `groupgate eval`: decide one request and print the decision.

use anyhow::Result;
use groupgate::{PolicySet, Runtime};

use super::RequestArgs;

/// Flags of `eval`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: RequestArgs,
    /// Print the decision on one line instead of indented.
    #[arg(long)]
    pub compact: bool,
}

pub fn run(runtime: &Runtime, Args { request, compact }: Args) -> Result<u8> {
    let decoded = request.request()?;
    let set = PolicySet::load_dir(runtime, &request.policies)?;
    let decision = set.evaluate(&decoded)?;
    let out = if compact { serde_json::to_string(&decision)? } else { serde_json::to_string_pretty(&decision)? };
    println!("{out}");
    Ok(0)
}
