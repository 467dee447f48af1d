//! Merging verdicts into one decision: the most severe outcome of the
//! enforcing policies wins (deny > review > allow); every reason and measure
//! is kept and tagged with the policy that gave it; audit-mode policies are
//! reported under `policies` but do not count.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::Mode;
use crate::state::PolicyCounts;
use crate::wire::{MeasureKind, Outcome, Target, Verdict};

/// The answer to one request, as the JSON that `groupgate eval` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Decision {
    /// The merged outcome.
    pub outcome: Outcome,
    /// Every enforcing policy's reasons, in policy order.
    pub reasons: Vec<DecisionReason>,
    /// Every enforcing policy's measures, in policy order.
    pub measures: Vec<DecisionMeasure>,
    /// One entry per policy evaluated, enforcing or auditing.
    pub policies: Vec<PolicyReport>,
}

/// A reason, tagged with its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DecisionReason {
    /// The policy that gave it.
    pub policy: String,
    /// Stable code, e.g. `prohibited-content` or `policy-error`.
    pub code: String,
    /// A sentence for a moderator or the user.
    pub message: String,
    /// The regulation article, or null.
    pub article: Option<String>,
    /// What triggered it, or null.
    pub evidence: Option<String>,
}

/// A measure, tagged with its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DecisionMeasure {
    /// The policy that asked for it.
    pub policy: String,
    /// What to do.
    pub kind: MeasureKind,
    /// To whom: `{"user": id}` or `{"group": id}`.
    pub target: Target,
    /// How long, where it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// How much, where it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u32>,
}

/// How one policy fared on this request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct PolicyReport {
    /// The policy's name (shared with the loaded policy: a report costs no
    /// copy of it).
    #[cfg_attr(feature = "schema", schemars(description = "The policy's name."))]
    pub name: Arc<str>,
    /// The policy's version.
    pub version: Arc<str>,
    /// Enforce or audit.
    pub mode: Mode,
    /// Its own outcome (its `on_error` outcome if it failed).
    pub outcome: Outcome,
    /// Why it failed, or null.
    pub error: Option<String>,
    /// What kind of failure that was, or null.
    pub error_kind: Option<ErrorKind>,
    /// Time spent in the policy; serialised as whole microseconds in
    /// `duration_us`. Kept exact here: a warm call takes about one
    /// microsecond, so whole microseconds would lose most of it.
    #[serde(rename = "duration_us", with = "micros")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "u64", description = "Time spent in the policy, in whole microseconds.")
    )]
    pub duration: Duration,
    /// The counts the policy read (`[counters]` in its manifest): counter →
    /// window → count, null where the store could not be read. Absent for
    /// a policy that reads none.
    #[serde(default, skip_serializing_if = "PolicyCounts::is_empty")]
    pub counts: PolicyCounts,
    /// The policy was not called: each of its counts was below its
    /// `call_from`, so its answer is taken to be allow. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub below_call_from: bool,
    /// The policy's place in its set: not serialised.
    #[serde(skip)]
    pub(crate) position: usize,
}

impl PolicyReport {
    /// The policy's place in the set that made the decision (0 for the
    /// first), for whoever keeps something per policy of a set. A report
    /// read back from JSON has lost it: 0.
    pub fn position(&self) -> usize {
        self.position
    }
}

/// A duration as whole microseconds in JSON.
mod micros {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(crate::time::whole_micros(*d))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_micros)
    }
}

/// Why a policy gave no verdict, as a stable name for reports and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The policy trapped (a panic, `unreachable`, a stack overflow, ...).
    Trap,
    /// The call ran past its deadline.
    Timeout,
    /// The policy tried to grow its memory past its cap.
    Memory,
    /// The policy wrote more log lines than one call may.
    LogFlood,
    /// The verdict was larger than the host accepts.
    Oversized,
    /// A new instance's `init` refused the policy's config or data.
    Init,
    /// The verdict breaks the contract: it adds to a counter the policy's
    /// manifest does not declare as its own. (Exports that do not match the
    /// contract are refused when the set loads.)
    Contract,
    /// The policy's counts could not be read and its manifest says
    /// `on_state_error = "error"`: it was not called.
    State,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Trap,
        ErrorKind::Timeout,
        ErrorKind::Memory,
        ErrorKind::LogFlood,
        ErrorKind::Oversized,
        ErrorKind::Init,
        ErrorKind::Contract,
        ErrorKind::State,
    ];

    /// The kind's name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Trap => "trap",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Memory => "memory",
            ErrorKind::LogFlood => "log-flood",
            ErrorKind::Oversized => "oversized",
            ErrorKind::Init => "init",
            ErrorKind::Contract => "contract",
            ErrorKind::State => "state",
        }
    }

    /// Whether the policy ran into one of the host's limits (deadline,
    /// memory, log lines, verdict size) rather than failing on its own.
    pub fn is_limit(self) -> bool {
        matches!(self, ErrorKind::Timeout | ErrorKind::Memory | ErrorKind::LogFlood | ErrorKind::Oversized)
    }
}

impl Default for Decision {
    /// A decision no policy has spoken in yet: allow.
    fn default() -> Self {
        Decision { outcome: Outcome::Allow, reasons: Vec::new(), measures: Vec::new(), policies: Vec::new() }
    }
}

impl Decision {
    /// A decision no policy has spoken in yet: allow.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds one policy's verdict; it is merged when `counts`, and only
    /// reported otherwise.
    pub(crate) fn add(&mut self, report: PolicyReport, verdict: Verdict, counts: bool) {
        if counts {
            self.outcome = self.outcome.max(verdict.outcome);
            self.reasons.extend(verdict.reasons.into_iter().map(|r| DecisionReason {
                policy: report.name.to_string(),
                code: r.code,
                message: r.message,
                article: r.article,
                evidence: r.evidence,
            }));
            self.measures.extend(verdict.measures.into_iter().map(|m| DecisionMeasure {
                policy: report.name.to_string(),
                kind: m.kind,
                target: m.target,
                duration_secs: m.duration_secs,
                amount: m.amount,
            }));
        }
        self.policies.push(report);
    }

    /// The decision as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a decision always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Measure, Reason};

    fn report(name: &str, mode: Mode, outcome: Outcome) -> PolicyReport {
        PolicyReport {
            name: name.into(),
            version: "1".into(),
            mode,
            outcome,
            error: None,
            error_kind: None,
            duration: Duration::from_micros(1),
            counts: PolicyCounts::new(),
            below_call_from: false,
            position: 0,
        }
    }

    fn verdict(outcome: Outcome, code: &str) -> Verdict {
        Verdict {
            outcome,
            reasons: vec![Reason { code: code.into(), message: code.into(), article: None, evidence: None }],
            measures: vec![Measure {
                kind: MeasureKind::Warn,
                target: Target::User("u".into()),
                duration_secs: None,
                amount: None,
            }],
        }
    }

    #[test]
    fn the_most_severe_enforcing_outcome_wins() {
        let mut d = Decision::new();
        d.add(report("a", Mode::Enforce, Outcome::Review), verdict(Outcome::Review, "r"), true);
        d.add(report("b", Mode::Enforce, Outcome::Deny), verdict(Outcome::Deny, "d"), true);
        d.add(report("c", Mode::Enforce, Outcome::Allow), verdict(Outcome::Allow, "a"), true);
        assert_eq!(d.outcome, Outcome::Deny);
        assert_eq!(d.reasons.iter().map(|r| r.policy.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(d.measures.len(), 3);
    }

    #[test]
    fn audit_policies_are_reported_but_do_not_count() {
        let mut d = Decision::new();
        d.add(report("audit", Mode::Audit, Outcome::Deny), verdict(Outcome::Deny, "d"), false);
        assert_eq!(d.outcome, Outcome::Allow);
        assert!(d.reasons.is_empty() && d.measures.is_empty());
        assert_eq!(d.policies.len(), 1);
        assert_eq!(d.policies[0].outcome, Outcome::Deny);
    }

    #[test]
    fn json_has_exactly_the_wire_fields() {
        let mut d = Decision::new();
        d.add(report("p", Mode::Enforce, Outcome::Deny), verdict(Outcome::Deny, "x"), true);
        let v: serde_json::Value = serde_json::from_str(&d.to_json()).unwrap();
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&v), ["measures", "outcome", "policies", "reasons"]);
        assert_eq!(keys(&v["reasons"][0]), ["article", "code", "evidence", "message", "policy"]);
        assert_eq!(keys(&v["measures"][0]), ["kind", "policy", "target"]);
        assert_eq!(v["measures"][0]["target"], serde_json::json!({"user": "u"}));
        assert_eq!(
            keys(&v["policies"][0]),
            ["duration_us", "error", "error_kind", "mode", "name", "outcome", "version"]
        );
        assert_eq!(v["outcome"], "deny");
    }
}
