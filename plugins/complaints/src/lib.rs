//! Art. 12 complaints and reports from the public: a platform must handle
//! them promptly, so many people reporting the same thing reaches a
//! moderator, and reports that moderators keep rejecting stop doing so.
//!
//! - A report whose target (a message, a user or a group) has been reported
//!   by `review_from` (3) or more distinct reporters in the last 24 hours,
//!   this report's reporter included, is answered `review` with reason
//!   `reported-by-many` and a `report` measure against the target (the
//!   reported message's sender for a message), for the moderators' queue.
//!   One reporter reporting again does not count twice.
//! - A message to a group reported by `group_review_from` (10) or more
//!   distinct reporters in the last 24 hours is held for `review` with
//!   reason `group-reported`.
//! - A reporter with more than `unreliable_after` (5) reports rejected by
//!   moderators in the last 30 days has their reports answered `allow` with
//!   reason `reporter-unreliable` and no measure, and is not counted among
//!   the target's reporters: only reports the policy trusts add to its
//!   counters of reporters, so unreliable reporters cannot push a target,
//!   or a group's messages, to review. The platform counts the
//!   rejections: it adds one to this policy's `rejected` counter for the
//!   reporter (`POST /v1/counters/complaints/rejected`, or
//!   `PolicySet::add_to_counter`) each time a moderator rejects a report.
//!
//! Config: `review_from` (3), `group_review_from` (10), `unreliable_after`
//! (5); each at least 1.
//!
//! The counts, and the manifest that declares them (names and windows
//! exactly so):
//!
//! ```toml
//! hooks = ["report", "message"]
//!
//! [counters.reporters]          # distinct reporters of the report's target
//! of = "target"
//! distinct = "reporter"
//! windows = ["24h"]
//! hooks = ["report"]
//!
//! [counters.group_reporters]    # distinct reporters of a group
//! of = "group"
//! distinct = "reporter"
//! windows = ["24h"]
//! hooks = ["message"]           # read on messages, added to by reports of the group
//!
//! [counters.rejected]           # the reporter's reports moderators rejected
//! of = "reporter"
//! platform = true
//! windows = ["30d"]
//! hooks = ["report"]
//! ```
//!
//! When the counts cannot be read (`on_state_error = "no_counts"`) the
//! request is allowed with the reason `counts-unavailable`.

use groupgate_sdk::{
    DataFile, Measure, MeasureKind, Message, Policy, Reason, Report, ReportTarget, Verdict, allow, parse_config, review,
};
use serde::Deserialize;

/// Own counter: distinct reporters of a report's target.
const REPORTERS: &str = "reporters";
/// Own counter: distinct reporters of a group, read on its messages.
const GROUP_REPORTERS: &str = "group_reporters";
/// The platform's counter: a reporter's reports rejected by moderators.
const REJECTED: &str = "rejected";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Complaints {
    review_from: u64,
    group_review_from: u64,
    unreliable_after: u64,
}

impl Default for Complaints {
    fn default() -> Self {
        Complaints { review_from: 3, group_review_from: 10, unreliable_after: 5 }
    }
}

/// Allow, saying the counts could not be read.
fn counts_unavailable() -> Verdict {
    allow().with_reason(
        Reason::new("counts-unavailable", "complaints could not read its report counters, so nothing was weighed")
            .article("Art. 12"),
    )
}

impl Policy for Complaints {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        let config: Complaints = parse_config(config)?;
        for (key, value) in [
            ("review_from", config.review_from),
            ("group_review_from", config.group_review_from),
            ("unreliable_after", config.unreliable_after),
        ] {
            if value == 0 {
                return Err(format!("config key `{key}`: must be at least 1"));
            }
        }
        Ok(config)
    }

    fn report(&self, r: &Report) -> Verdict {
        let (Some(rejected), Some(reporters)) = (r.count(REJECTED, "30d"), r.count(REPORTERS, "24h")) else {
            return counts_unavailable();
        };
        let reporter = r.reporter().id();
        if rejected > self.unreliable_after {
            return allow().with_reason(
                Reason::new(
                    "reporter-unreliable",
                    format!(
                        "user `{reporter}` has had {rejected} reports rejected by moderators in the last 30 days \
                         (more than {}): this report is not queued",
                        self.unreliable_after
                    ),
                )
                .article("Art. 12")
                .evidence(format!("{rejected} rejected reports in 30d")),
            );
        }
        // A report trusted: its reporter counts among the target's (and
        // the group's, when a group is reported; the host adds nothing to
        // `group_reporters` for another target).
        let counted = |verdict: Verdict| verdict.increment(REPORTERS, 1).increment(GROUP_REPORTERS, 1);
        if reporters < self.review_from {
            return counted(allow());
        }
        let target = r.target();
        let (what, measure) = match target {
            ReportTarget::Message(m) => {
                (format!("message `{}`", m.id()), Measure::on_user(MeasureKind::Report, m.sender().id()))
            }
            ReportTarget::User(u) => (format!("user `{}`", u.id()), Measure::on_user(MeasureKind::Report, u.id())),
            ReportTarget::Group(g) => (format!("group `{}`", g.id()), Measure::on_group(MeasureKind::Report, g.id())),
        };
        counted(
            review("reported-by-many")
                .message(format!(
                    "{what} has been reported by {reporters} different users in the last 24 hours ({} send it to \
                     the moderators)",
                    self.review_from
                ))
                .article("Art. 12")
                .evidence(format!("{reporters} distinct reporters in 24h"))
                .measure(measure),
        )
    }

    fn message(&self, m: &Message) -> Verdict {
        let Some(reporters) = m.count(GROUP_REPORTERS, "24h") else {
            return counts_unavailable();
        };
        if reporters < self.group_review_from {
            return allow();
        }
        review("group-reported")
            .message(format!(
                "group `{}` has been reported by {reporters} different users in the last 24 hours ({} hold its \
                 messages for a moderator)",
                m.group().id(),
                self.group_review_from
            ))
            .article("Art. 12")
            .evidence(format!("{reporters} distinct reporters of the group in 24h"))
    }
}

groupgate_sdk::policy!(Complaints);
