//! Replaying a log: every recorded request decided again by a candidate
//! policy set, and the decisions that would change reported, as the
//! regression test of a policy change against real traffic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use groupgate::state::Recorded;
use groupgate::{DecisionMeasure, DecisionReason, PolicySet, Request};
use serde_json::Value;

use crate::read::{ReadError, decisions};

/// One recorded decision that a candidate set decides differently.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// The recorded decision's id.
    pub id: String,
    /// The hook.
    pub hook: String,
    /// The recorded outcome.
    pub old: String,
    /// The candidate set's outcome.
    pub new: String,
    /// Reasons the candidate gives that the record lacks, as `policy: code (evidence)`.
    pub added: Vec<String>,
    /// Reasons the record has that the candidate does not give.
    pub removed: Vec<String>,
}

/// What replaying a log against a candidate set found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Replay {
    /// Decisions re-evaluated.
    pub replayed: usize,
    /// Decisions skipped: recorded as a digest, without the request.
    pub skipped: usize,
    /// Decisions whose outcome or reasons would change.
    pub changes: Vec<Change>,
}

impl Replay {
    /// Changes counted by `old → new` outcome.
    pub fn by_outcome(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.changes {
            *counts.entry(format!("{} → {}", c.old, c.new)).or_default() += 1;
        }
        counts
    }

    /// Changes counted by each policy whose reasons changed.
    pub fn by_policy(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.changes {
            let policies: BTreeSet<&str> =
                c.added.iter().chain(&c.removed).filter_map(|r| r.split(':').next()).collect();
            for p in policies {
                *counts.entry(p.to_owned()).or_default() += 1;
            }
        }
        counts
    }
}

/// Re-evaluates every recorded request (those kept in full) with `set`, and
/// reports the decisions whose outcome or reasons would change: the
/// regression test of a policy change against real traffic.
pub fn replay(set: &PolicySet, dir: &Path) -> Result<Replay, ReadError> {
    let mut report = Replay::default();
    for logged in decisions(dir)? {
        let record = logged.record;
        let hook = record.hook;
        let Some(Ok(request)) = record.request_json().map(|json| Request::from_value(hook, json.clone())) else {
            report.skipped += 1;
            continue;
        };
        report.replayed += 1;
        let old_outcome = record.outcome.as_str().to_owned();
        // The counts the decision read, so a stateful decision is reproduced
        // without the store it read them from.
        let counts = Recorded::new(
            record.policies.iter().map(|p| (p.report.name.to_string(), p.report.counts.clone())).collect(),
        );
        let decision = match set.evaluate_with_counts(&request, &counts) {
            Ok(decision) => decision,
            // The new set's limits refuse what the old one decided.
            Err(e) => {
                report.changes.push(Change {
                    id: record.id,
                    hook: hook.as_str().to_owned(),
                    old: old_outcome,
                    new: "refused".into(),
                    added: vec![e.to_string()],
                    removed: Vec::new(),
                });
                continue;
            }
        };
        let new_outcome = decision.outcome.as_str().to_owned();
        let recorded_policies = record.policies.iter().map(|p| (&*p.report.name, p.report.outcome.as_str()));
        let mut old_reasons = reason_keys(&record.reasons);
        old_reasons.extend(other_keys(&record.measures, recorded_policies));
        let mut new_reasons = reason_keys(&decision.reasons);
        new_reasons
            .extend(other_keys(&decision.measures, decision.policies.iter().map(|p| (&*p.name, p.outcome.as_str()))));
        if old_outcome != new_outcome || old_reasons != new_reasons {
            report.changes.push(Change {
                id: record.id,
                hook: hook.as_str().to_owned(),
                old: old_outcome,
                new: new_outcome,
                added: new_reasons.iter().filter(|r| !old_reasons.contains(r)).cloned().collect(),
                removed: old_reasons.iter().filter(|r| !new_reasons.contains(r)).cloned().collect(),
            });
        }
    }
    Ok(report)
}

/// The reasons of a decision (recorded or new) as comparable strings,
/// `policy: code (evidence)`, sorted.
fn reason_keys(reasons: &[DecisionReason]) -> Vec<String> {
    let mut keys: Vec<String> = reasons
        .iter()
        .map(|r| match r.evidence.as_deref() {
            None | Some("") => format!("{}: {}", r.policy, r.code),
            Some(evidence) => format!("{}: {} ({evidence})", r.policy, r.code),
        })
        .collect();
    keys.sort();
    keys
}

/// A decision's measures and each policy's own outcome (audit-mode policies
/// included), as comparable strings led by the policy's name, sorted. A
/// measure is its JSON without `policy`.
fn other_keys<'a>(measures: &[DecisionMeasure], policies: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut keys: Vec<String> = measures
        .iter()
        .map(|m| {
            let mut rest = serde_json::to_value(m).expect("a measure serialises");
            if let Value::Object(o) = &mut rest {
                o.remove("policy");
            }
            format!("{}: measure {rest}", m.policy)
        })
        .collect();
    keys.extend(policies.map(|(name, outcome)| format!("{name}: decided {outcome}")));
    keys.sort();
    keys
}
