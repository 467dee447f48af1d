//! Art. 11 repeat offenders: a user whose requests keep being denied for
//! violations loses group services step by step. Denies `repeat-offender`:
//! - a message from a sender with `suspend_after` (3) or more messages
//!   denied in the last 24 hours, suspending their publication for
//!   `suspend_secs` (86400);
//! - a message from a sender with `blacklist_after` (5) or more messages
//!   denied in the last 30 days, putting them on the black list and
//!   reporting them (with the suspension too when both hold);
//! - a group creation by a founder with `revoke_founding_after` (5) or more
//!   group creations denied in the last 30 days, revoking their right to
//!   found groups.
//!
//! Config: `suspend_after` (3), `suspend_secs` (86400), `blacklist_after`
//! (5), `revoke_founding_after` (5); each threshold at least 1.
//!
//! The denials are counted by the host, in two counters the manifest
//! declares as follows (names and windows exactly so):
//!
//! ```toml
//! hooks = ["message", "group-creation"]
//! reasons = ["repeat-offender", "counts-unavailable"]
//!
//! [counters.message_denials]
//! of = "sender"
//! host = { hook = "message", outcome = "deny", articles = ["Art. 9", "Art. 10"] }
//! windows = ["24h", "30d"]
//!
//! [counters.creation_denials]
//! of = "founder"
//! host = { hook = "group-creation", outcome = "deny", articles = ["Art. 9", "Art. 10"] }
//! windows = ["30d"]
//! ```
//!
//! Only final denials citing Art. 9 or Art. 10 (incivility, prohibited
//! content) count: a user is not a repeat offender for having sent
//! messages too fast (flood control, Art. 7) or for having been refused as
//! a repeat offender (this policy, Art. 11), so its own denials do not feed
//! it, unless the same request also broke Art. 9 or 10. When the counts
//! cannot be read (`on_state_error = "no_counts"`, the default) the request
//! is allowed with the reason `counts-unavailable`; with
//! `on_state_error = "error"` the policy fails instead and its `on_error`
//! decides.

use groupgate_sdk::{
    DataFile, GroupCreation, Measure, MeasureKind, Message, Policy, Reason, Verdict, allow, deny, parse_config,
};
use serde::Deserialize;

/// Host counter: the sender's denied messages.
const MESSAGE_DENIALS: &str = "message_denials";
/// Host counter: the founder's denied group creations.
const CREATION_DENIALS: &str = "creation_denials";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RepeatOffender {
    suspend_after: u64,
    suspend_secs: u64,
    blacklist_after: u64,
    revoke_founding_after: u64,
}

impl Default for RepeatOffender {
    fn default() -> Self {
        RepeatOffender { suspend_after: 3, suspend_secs: 86_400, blacklist_after: 5, revoke_founding_after: 5 }
    }
}

/// Allow, saying the denial counters could not be read.
fn counts_unavailable() -> Verdict {
    allow().with_reason(
        Reason::new(
            "counts-unavailable",
            "repeat-offender could not read its denial counters, so the request was not checked against them",
        )
        .article("Art. 11"),
    )
}

impl Policy for RepeatOffender {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        let config: RepeatOffender = parse_config(config)?;
        for (key, value) in [
            ("suspend_after", config.suspend_after),
            ("blacklist_after", config.blacklist_after),
            ("revoke_founding_after", config.revoke_founding_after),
        ] {
            if value == 0 {
                return Err(format!("config key `{key}`: must be at least 1"));
            }
        }
        Ok(config)
    }

    fn message(&self, m: &Message) -> Verdict {
        let (Some(day), Some(month)) = (m.count(MESSAGE_DENIALS, "24h"), m.count(MESSAGE_DENIALS, "30d")) else {
            return counts_unavailable();
        };
        let suspend = day >= self.suspend_after;
        let blacklist = month >= self.blacklist_after;
        if !suspend && !blacklist {
            return allow();
        }
        let sender = m.sender().id();
        let mut broken = Vec::with_capacity(2);
        if suspend {
            broken.push(format!("{day} in the last 24 hours ({} suspend publication)", self.suspend_after));
        }
        if blacklist {
            broken.push(format!("{month} in the last 30 days ({} put them on the black list)", self.blacklist_after));
        }
        let mut verdict = deny("repeat-offender")
            .message(format!(
                "user `{sender}` has had messages denied for violations of Art. 9 or 10: {}",
                broken.join("; ")
            ))
            .article("Art. 11")
            .evidence(format!("{day} denied messages in 24h, {month} in 30d"));
        if suspend {
            verdict =
                verdict.measure(Measure::on_user(MeasureKind::SuspendPublication, sender).for_secs(self.suspend_secs));
        }
        if blacklist {
            verdict = verdict
                .measure(Measure::on_user(MeasureKind::Blacklist, sender))
                .measure(Measure::on_user(MeasureKind::Report, sender));
        }
        verdict
    }

    fn group_creation(&self, c: &GroupCreation) -> Verdict {
        let Some(month) = c.count(CREATION_DENIALS, "30d") else {
            return counts_unavailable();
        };
        if month < self.revoke_founding_after {
            return allow();
        }
        let founder = c.founder().id();
        deny("repeat-offender")
            .message(format!(
                "user `{founder}` has had {month} group creations denied for violations of Art. 9 or 10 \
                 in the last 30 days ({} revoke the right to found groups)",
                self.revoke_founding_after
            ))
            .article("Art. 11")
            .evidence(format!("{month} denied group creations in 30d"))
            .measure(Measure::on_user(MeasureKind::RevokeFounding, founder))
    }
}

groupgate_sdk::policy!(RepeatOffender);
