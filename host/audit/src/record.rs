//! The record of one decision, as the log keeps it (Art. 11, 13): what was
//! asked (or its SHA-256), what was decided and why, and which build of each
//! policy decided it.

use std::time::SystemTime;

use groupgate::time::unix_millis;
use groupgate::{
    Decision, DecisionMeasure, DecisionReason, Hook, Outcome, PolicyReport, PolicySet, RecordContent, Request,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The record of one decision: its id and time, the hook and the set's
/// generation, the request (or its SHA-256, with `record_content =
/// "digest"`), the outcome, reasons and measures, and each policy that ran
/// with its version and module SHA-256.
///
/// In the log it is a JSON object with `"kind": "decision"`, written through
/// [`to_map`](Self::to_map) so that its keys are sorted as the chain hashes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// The kind is written, not checked when read: the reader picks decision
// lines by their kind before it parses them.
#[serde(tag = "kind", rename = "decision")]
#[non_exhaustive]
pub struct DecisionRecord {
    /// The decision's id, as answered to the platform.
    pub id: String,
    /// When it was recorded, in Unix milliseconds.
    pub time_ms: u64,
    /// The hook asked.
    pub hook: Hook,
    /// The generation of the set that decided.
    pub generation: u64,
    /// The request, or its SHA-256.
    #[serde(flatten)]
    pub request: RecordedRequest,
    /// The merged outcome.
    pub outcome: Outcome,
    /// Every enforcing policy's reasons, in policy order.
    pub reasons: Vec<DecisionReason>,
    /// Every enforcing policy's measures, in policy order.
    pub measures: Vec<DecisionMeasure>,
    /// One entry per policy evaluated, enforcing or auditing.
    pub policies: Vec<RecordedPolicy>,
}

/// What a record keeps of its request, as `[audit] record_content` asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RecordedRequest {
    /// The whole request, as its JSON wire format, under `request`: it can
    /// be replayed.
    #[serde(rename = "request")]
    Full(Value),
    /// Only the SHA-256 (hex) of the request's JSON, under `request_sha256`,
    /// for platforms that must not store message text.
    #[serde(rename = "request_sha256")]
    Digest(String),
}

/// How one policy fared, and which build of it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedPolicy {
    /// The policy's report, as the decision gave it. Its `position` is not
    /// recorded: read back, it is 0.
    #[serde(flatten)]
    pub report: PolicyReport,
    /// The SHA-256 (hex) of the module the policy ran, or empty if the set
    /// had no policy of that name.
    pub module_sha256: String,
}

impl DecisionRecord {
    /// The record of `decision`, made now by the set of `generation` for
    /// `request`, keeping of the request what `content` says.
    pub fn new(
        id: impl Into<String>,
        generation: u64,
        request: &Request,
        decision: &Decision,
        set: &PolicySet,
        content: RecordContent,
    ) -> DecisionRecord {
        let json = request.to_value();
        let recorded = match content {
            RecordContent::Digest => {
                let canonical = serde_json::to_vec(&json).expect("a request serialises");
                RecordedRequest::Digest(format!("{:x}", Sha256::digest(&canonical)))
            }
            _ => RecordedRequest::Full(json),
        };
        // A digest record keeps no message text, and what a failing policy
        // wrote (a panic, a traceback) may quote it.
        let digest = matches!(content, RecordContent::Digest);
        let cut = |text: &str| -> String {
            if digest { groupgate::without_policy_output(text).into_owned() } else { text.to_owned() }
        };
        let policies = decision
            .policies
            .iter()
            .map(|report| {
                let module_sha256 = set.module_sha256(&report.name).unwrap_or_default().to_owned();
                let mut report = report.clone();
                report.error = report.error.as_deref().map(cut);
                RecordedPolicy { report, module_sha256 }
            })
            .collect();
        let mut reasons = decision.reasons.clone();
        for reason in reasons.iter_mut().filter(|r| r.code == groupgate::POLICY_ERROR) {
            reason.message = cut(&reason.message);
        }
        DecisionRecord {
            id: id.into(),
            time_ms: unix_millis(SystemTime::now()),
            hook: request.hook(),
            generation,
            request: recorded,
            outcome: decision.outcome,
            reasons,
            measures: decision.measures.clone(),
            policies,
        }
    }

    /// The request as its JSON wire format, if the record kept it.
    pub fn request_json(&self) -> Option<&Value> {
        match &self.request {
            RecordedRequest::Full(json) => Some(json),
            RecordedRequest::Digest(_) => None,
        }
    }

    /// The record as the JSON object the log appends (see
    /// [`AuditLog::append`](crate::AuditLog::append)): keys sorted, at every
    /// level.
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => unreachable!("a decision record serialises to a JSON object"),
        }
    }
}

/// A record of decision `id` on a message whose text is `text`, for tests.
#[cfg(test)]
pub(crate) fn example(id: &str, text: &str) -> DecisionRecord {
    DecisionRecord {
        id: id.into(),
        time_ms: 1_764_316_800_000,
        hook: Hook::Message,
        generation: 1,
        request: RecordedRequest::Full(serde_json::json!({ "text": text, "sender": { "id": "usr-42" } })),
        outcome: Outcome::Allow,
        reasons: Vec::new(),
        measures: Vec::new(),
        policies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_a_decision_object_with_the_request_or_its_digest() {
        let full = example("d1", "hello").to_map();
        let keys: Vec<&str> = full.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["generation", "hook", "id", "kind", "measures", "outcome", "policies", "reasons", "request", "time_ms"]
        );
        assert_eq!(full["kind"], "decision");
        assert_eq!(full["hook"], "message");

        let mut digest = example("d2", "hello");
        digest.request = RecordedRequest::Digest("ab".repeat(32));
        let map = digest.to_map();
        assert!(!map.contains_key("request"));
        assert_eq!(map["request_sha256"], "ab".repeat(32));
        let back: DecisionRecord = serde_json::from_value(Value::Object(map)).unwrap();
        assert_eq!(back, digest);
    }
}
