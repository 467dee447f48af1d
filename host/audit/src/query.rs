//! Choosing decision records, as `groupgate audit query` does for an
//! inspector or a report: by hook, outcome, policy, user, group and time.

use std::path::Path;

use groupgate::{Hook, Outcome, Target};
use serde_json::Value;

use crate::read::{LoggedDecision, ReadError, decisions};
use crate::record::DecisionRecord;

/// The fields of a request that name a user.
const USER_FIELDS: [&str; 4] = ["sender", "founder", "subject", "inviter"];

/// Which decision records to choose: a record matches when it passes every
/// filter that is set; the default chooses every record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Query {
    /// Only this hook.
    pub hook: Option<Hook>,
    /// Only this outcome.
    pub outcome: Option<Outcome>,
    /// Only decisions in which this policy gave a reason or a measure.
    pub policy: Option<String>,
    /// Only decisions about this user: the request's sender, founder,
    /// subject or inviter, or a measure's target.
    pub user: Option<String>,
    /// Only decisions about this group: the request's group, or a measure's
    /// target.
    pub group: Option<String>,
    /// Only decisions recorded at or after this time, in Unix milliseconds.
    pub since_ms: Option<u64>,
    /// Only decisions recorded before this time, in Unix milliseconds.
    pub until_ms: Option<u64>,
}

impl Query {
    /// Whether `record` passes every filter. A record that kept only its
    /// request's digest is about a user or group only through its measures.
    pub fn matches(&self, record: &DecisionRecord) -> bool {
        let request = record.request_json().unwrap_or(&Value::Null);
        let targets = |wanted: &dyn Fn(&Target) -> bool| record.measures.iter().any(|m| wanted(&m.target));
        self.hook.is_none_or(|h| record.hook == h)
            && self.outcome.is_none_or(|o| record.outcome == o)
            && self.policy.as_ref().is_none_or(|p| {
                record.reasons.iter().any(|r| r.policy == *p) || record.measures.iter().any(|m| m.policy == *p)
            })
            && self.user.as_ref().is_none_or(|u| {
                USER_FIELDS.iter().any(|k| request[k]["id"] == u.as_str())
                    || targets(&|t| matches!(t, Target::User(id) if id == u))
            })
            && self.group.as_ref().is_none_or(|g| {
                request["group"]["id"] == g.as_str() || targets(&|t| matches!(t, Target::Group(id) if id == g))
            })
            && self.since_ms.is_none_or(|s| record.time_ms >= s)
            && self.until_ms.is_none_or(|u| record.time_ms < u)
    }

    /// The records in the log at `dir` that match, oldest first.
    pub fn find(&self, dir: &Path) -> Result<Vec<LoggedDecision>, ReadError> {
        Ok(decisions(dir)?.into_iter().filter(|d| self.matches(&d.record)).collect())
    }
}

#[cfg(test)]
mod tests {
    use groupgate::{DecisionMeasure, DecisionReason, MeasureKind};

    use super::*;
    use crate::record::{RecordedRequest, example};

    /// A denied message from `usr-42` in `grp-7`, warning `usr-9`.
    fn denied() -> DecisionRecord {
        let mut r = example("d1", "zorblax");
        r.request = RecordedRequest::Full(serde_json::json!({
            "sender": { "id": "usr-42" }, "group": { "id": "grp-7" }, "text": "zorblax"
        }));
        r.outcome = Outcome::Deny;
        r.reasons.push(DecisionReason {
            policy: "prohibited-content".into(),
            code: "prohibited-content".into(),
            message: "the message contains prohibited content".into(),
            article: None,
            evidence: None,
        });
        r.measures.push(DecisionMeasure {
            policy: "credit-levels".into(),
            kind: MeasureKind::Warn,
            target: Target::User("usr-9".into()),
            duration_secs: None,
            amount: None,
        });
        r
    }

    fn query(set: impl FnOnce(&mut Query)) -> Query {
        let mut q = Query::default();
        set(&mut q);
        q
    }

    #[test]
    fn each_filter_chooses_by_its_field() {
        let r = denied();
        assert!(Query::default().matches(&r));
        assert!(query(|q| q.hook = Some(Hook::Message)).matches(&r));
        assert!(!query(|q| q.hook = Some(Hook::Membership)).matches(&r));
        assert!(query(|q| q.outcome = Some(Outcome::Deny)).matches(&r));
        assert!(!query(|q| q.outcome = Some(Outcome::Allow)).matches(&r));
        // A policy that gave a reason, or only a measure.
        assert!(query(|q| q.policy = Some("prohibited-content".into())).matches(&r));
        assert!(query(|q| q.policy = Some("credit-levels".into())).matches(&r));
        assert!(!query(|q| q.policy = Some("blacklist".into())).matches(&r));
        // The sender, or a measure's target.
        assert!(query(|q| q.user = Some("usr-42".into())).matches(&r));
        assert!(query(|q| q.user = Some("usr-9".into())).matches(&r));
        assert!(!query(|q| q.user = Some("usr-1".into())).matches(&r));
        assert!(query(|q| q.group = Some("grp-7".into())).matches(&r));
        assert!(!query(|q| q.group = Some("usr-9".into())).matches(&r), "a user target is not a group");
        assert!(query(|q| q.since_ms = Some(r.time_ms)).matches(&r));
        assert!(!query(|q| q.until_ms = Some(r.time_ms)).matches(&r));
        let mut both = query(|q| q.outcome = Some(Outcome::Deny));
        both.hook = Some(Hook::GroupCreation);
        assert!(!both.matches(&r), "every filter set must pass");
    }

    #[test]
    fn a_digest_record_is_about_a_user_only_through_its_measures() {
        let mut r = denied();
        r.request = RecordedRequest::Digest("ab".repeat(32));
        assert!(!query(|q| q.user = Some("usr-42".into())).matches(&r));
        assert!(query(|q| q.user = Some("usr-9".into())).matches(&r));
        assert!(!query(|q| q.group = Some("grp-7".into())).matches(&r));
    }
}
