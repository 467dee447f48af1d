//! Art. 11 group violations: a group in which messages keep being denied for
//! violations is watched more closely, and its founder, who is responsible
//! for managing it, answers for it. Once a group has had `review_after` (10)
//! messages denied in the last 24 hours, each further message is held for
//! review, `group-violations`, with a `warn` measure against the group and a
//! `lower-credit` measure of `lower_credit_by` (1) levels against its
//! founder.
//!
//! Config: `review_after` (10, at least 1), `lower_credit_by` (1; `0` asks
//! for no `lower-credit` measure).
//!
//! The denials are counted by the host, in a counter the manifest declares
//! as follows (name and window exactly so):
//!
//! ```toml
//! hooks = ["message"]
//! reasons = ["group-violations", "counts-unavailable"]
//!
//! [counters.group_denials]
//! of = "group"
//! host = { hook = "message", outcome = "deny", articles = ["Art. 9", "Art. 10"] }
//! windows = ["24h"]
//! ```
//!
//! Only final denials citing Art. 9 or Art. 10 (incivility, prohibited
//! content) count, whoever sent the message; this policy's own reviews are
//! not denials and do not feed it. When the count cannot be read
//! (`on_state_error = "no_counts"`, the default) the message is allowed with
//! the reason `counts-unavailable`; with `on_state_error = "error"` the
//! policy fails instead and its `on_error` decides.

use groupgate_sdk::{DataFile, Measure, MeasureKind, Message, Policy, Reason, Verdict, allow, parse_config, review};
use serde::Deserialize;

/// Host counter: the group's denied messages.
const GROUP_DENIALS: &str = "group_denials";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct GroupViolations {
    review_after: u64,
    lower_credit_by: u32,
}

impl Default for GroupViolations {
    fn default() -> Self {
        GroupViolations { review_after: 10, lower_credit_by: 1 }
    }
}

impl Policy for GroupViolations {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        let config: GroupViolations = parse_config(config)?;
        if config.review_after == 0 {
            return Err("config key `review_after`: must be at least 1".into());
        }
        Ok(config)
    }

    fn message(&self, m: &Message) -> Verdict {
        let Some(denied) = m.count(GROUP_DENIALS, "24h") else {
            return allow().with_reason(Reason::new(
                "counts-unavailable",
                "group-violations could not read the group's denial counter, so the message was not checked against it",
            ).article("Art. 11"));
        };
        if denied < self.review_after {
            return allow();
        }
        let group = m.group();
        let verdict = review("group-violations")
            .message(format!(
                "group `{}` has had {denied} messages denied for violations of Art. 9 or 10 in the last 24 hours; \
                 from {} on, its messages are reviewed",
                group.id(),
                self.review_after
            ))
            .article("Art. 11")
            .evidence(format!("{denied} denied messages in 24h"))
            .measure(Measure::on_group(MeasureKind::Warn, group.id()));
        if self.lower_credit_by == 0 {
            return verdict;
        }
        verdict.measure(Measure::on_user(MeasureKind::LowerCredit, group.founder_id()).by(self.lower_credit_by))
    }
}

groupgate_sdk::policy!(GroupViolations);
