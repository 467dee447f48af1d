//! Checking a decision against what its case expects, and how long its
//! policy calls took against their deadlines. Every message says what was
//! expected and what was decided, so a failure reads without the case file.

use groupgate::{Decision, MeasureKind, Target};

use crate::report::micros;
use crate::{Expect, SLOW_SHARE_OF_DEADLINE};

/// Every expectation that `decision` does not meet.
pub(crate) fn check(expect: &Expect, decision: &Decision) -> Vec<String> {
    let mut failures = Vec::new();
    let reasons = || {
        let each = decision.reasons.iter().map(|r| match &r.article {
            Some(article) => format!("`{}` ({}, {article})", r.code, r.policy),
            None => format!("`{}` ({})", r.code, r.policy),
        });
        list_or_none(each.collect())
    };
    if decision.outcome != expect.outcome {
        failures.push(format!(
            "expected outcome {}, decided {} (reasons: {})",
            expect.outcome.as_str(),
            decision.outcome.as_str(),
            reasons()
        ));
    }
    for want in &expect.reasons {
        let found = decision.reasons.iter().any(|r| {
            r.code == want.code
                && want.policy.as_ref().is_none_or(|p| *p == r.policy)
                && want.article.as_ref().is_none_or(|a| r.article.as_ref() == Some(a))
        });
        if !found {
            failures.push(format!("expected reason {want}, decided reasons: {}", reasons()));
        }
    }
    for code in &expect.absent_reasons {
        if let Some(r) = decision.reasons.iter().find(|r| &r.code == code) {
            failures.push(format!("expected no reason `{code}`, but policy `{}` gave it: {}", r.policy, r.message));
        }
    }
    for want in &expect.measures {
        let found = decision.measures.iter().any(|m| {
            m.kind == want.kind
                && m.target == want.target
                && want.duration_secs.is_none_or(|d| m.duration_secs == Some(d))
                && want.amount.is_none_or(|a| m.amount == Some(a))
        });
        if !found {
            let decided = decision.measures.iter().map(|m| measure_text(m.kind, &m.target, m.duration_secs, m.amount));
            failures.push(format!(
                "expected measure {}, decided measures: {}",
                measure_text(want.kind, &want.target, want.duration_secs, want.amount),
                list_or_none(decided.collect())
            ));
        }
    }
    if let Some(needle) = &expect.evidence
        && !decision.reasons.iter().any(|r| r.evidence.as_deref().is_some_and(|e| e.contains(needle.as_str())))
    {
        let decided = decision.reasons.iter().filter_map(|r| r.evidence.as_ref().map(|e| format!("`{e}`")));
        failures.push(format!(
            "expected evidence containing `{needle}`, decided evidence: {}",
            list_or_none(decided.collect())
        ));
    }
    for (name, want) in &expect.policy_outcomes {
        match decision.policies.iter().find(|p| *p.name == **name) {
            Some(p) if p.outcome != *want => failures.push(format!(
                "expected policy `{name}` to decide {}, it decided {}",
                want.as_str(),
                p.outcome.as_str()
            )),
            Some(_) => {}
            None => failures.push(format!(
                "expected policy `{name}` to decide {}, but it did not run (its hooks or scope do not match)",
                want.as_str()
            )),
        }
    }
    for name in &expect.skipped {
        match decision.policies.iter().find(|p| *p.name == **name) {
            Some(p) if p.below_call_from => failures.push(format!(
                "expected policy `{name}` to be skipped, but its hooks and scope match: it was only not called, \
                 its counts being below its `call_from`"
            )),
            Some(p) => failures
                .push(format!("expected policy `{name}` to be skipped, but it ran and decided {}", p.outcome.as_str())),
            None => {}
        }
    }
    failures
}

/// A measure as a failure message names it: ``suspend_publication on user `u1` for 86400 s``.
fn measure_text(kind: MeasureKind, target: &Target, duration: Option<u64>, amount: Option<u32>) -> String {
    let kind = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mut text = format!("{kind} on {}", target);
    if let Some(d) = duration {
        text.push_str(&format!(" for {d} s"));
    }
    if let Some(a) = amount {
        text.push_str(&format!(" by {a}"));
    }
    text
}

fn list_or_none(items: Vec<String>) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

/// A note when a call took more than [`SLOW_SHARE_OF_DEADLINE`] of its deadline.
pub(crate) fn slow_note(policy: &str, duration_us: u64, deadline_us: u64) -> Option<String> {
    let slow = deadline_us > 0 && duration_us as f64 > deadline_us as f64 * SLOW_SHARE_OF_DEADLINE;
    slow.then(|| format!("policy `{policy}` took {} of its {} deadline", micros(duration_us), micros(deadline_us)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_over_half_its_deadline_is_slow() {
        assert_eq!(slow_note("p", 50_000, 100_000), None);
        assert_eq!(
            slow_note("p", 50_001, 100_000).as_deref(),
            Some("policy `p` took 50.0 ms of its 100.0 ms deadline")
        );
        assert_eq!(slow_note("p", 900, 1_000).as_deref(), Some("policy `p` took 900 µs of its 1.0 ms deadline"));
    }
}
