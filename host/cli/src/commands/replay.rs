//! `groupgate replay`: re-decide a decision log with a candidate set.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use groupgate::{PolicySet, Runtime};

/// Flags of `replay`.
#[derive(clap::Args)]
pub struct Args {
    /// The candidate policy set folder.
    #[arg(long, value_name = "DIR")]
    pub policies: PathBuf,
    /// The decision log's folder (`[audit] dir`).
    #[arg(value_name = "AUDIT_DIR")]
    pub audit: PathBuf,
    /// Exit 1 when any decision would change.
    #[arg(long)]
    pub fail_on_change: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(runtime: &Runtime, Args { policies, audit, fail_on_change, json }: Args) -> Result<u8> {
    let set = PolicySet::load_dir(runtime, &policies)?;
    let report = groupgate_audit::replay(&set, &audit)
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
