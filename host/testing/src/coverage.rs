//! Coverage: which of each policy's declared hooks and reason codes the
//! cases exercised, so a reviewer sees what no case tests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use groupgate::{Hook, POLICY_ERROR, PolicySet};

use crate::CaseResult;

/// Which of a policy's hooks and reason codes the cases exercised.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyCoverage {
    /// The policy.
    pub policy: String,
    /// Each hook the policy declares, with the number of cases that ran the
    /// policy on it.
    pub hooks: Vec<HookCoverage>,
    /// Each reason code the policy declares (`reasons = [...]`) or gave in
    /// some case (but not `policy-error`, which the host gives).
    pub reasons: Vec<ReasonCoverage>,
    /// Cases of the policy's own (in its `tests` folder) that ran.
    pub own_cases: usize,
}

/// One declared hook's coverage.
#[derive(Debug, Clone, Serialize)]
pub struct HookCoverage {
    /// The hook.
    pub hook: Hook,
    /// Cases that ran the policy on it.
    pub cases: usize,
}

/// One reason code's coverage. A code is tested when some case in which the
/// policy gave it also expects it.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonCoverage {
    /// The code.
    pub code: String,
    /// Whether the manifest declares it.
    pub declared: bool,
    /// Cases in which the policy gave it.
    pub given: usize,
    /// Of those, cases that expect it.
    pub expected: usize,
}

impl PolicyCoverage {
    /// Declared hooks that no case ran the policy on.
    pub fn untested_hooks(&self) -> impl Iterator<Item = Hook> + '_ {
        self.hooks.iter().filter(|h| h.cases == 0).map(|h| h.hook)
    }

    /// Reason codes that no case both produced and expected.
    pub fn untested_reasons(&self) -> impl Iterator<Item = &ReasonCoverage> + '_ {
        self.reasons.iter().filter(|r| r.expected == 0)
    }
}

/// The coverage of each policy of `set` named in `covered`, by `cases`.
pub(crate) fn coverage(set: &PolicySet, covered: &[String], cases: &[CaseResult]) -> Vec<PolicyCoverage> {
    let mut out = Vec::new();
    for m in set.policies().filter(|m| covered.contains(&m.name)) {
        let ran = |c: &&CaseResult| c.decision.policies.iter().any(|p| *p.name == *m.name);
        let hooks = m
            .hooks
            .iter()
            .map(|&hook| HookCoverage { hook, cases: cases.iter().filter(ran).filter(|c| c.hook == hook).count() })
            .collect();
        let mut reasons: BTreeMap<String, ReasonCoverage> = m
            .reasons
            .iter()
            .map(|code| (code.clone(), ReasonCoverage { code: code.clone(), declared: true, given: 0, expected: 0 }))
            .collect();
        for case in cases {
            let given: BTreeSet<&str> = case
                .decision
                .reasons
                .iter()
                .filter(|r| r.policy == m.name && r.code != POLICY_ERROR)
                .map(|r| r.code.as_str())
                .collect();
            for code in given {
                let entry = reasons.entry(code.to_owned()).or_insert_with(|| ReasonCoverage {
                    code: code.to_owned(),
                    declared: false,
                    given: 0,
                    expected: 0,
                });
                entry.given += 1;
                if case
                    .expected
                    .reasons
                    .iter()
                    .any(|r| r.code == code && r.policy.as_ref().is_none_or(|p| *p == m.name))
                {
                    entry.expected += 1;
                }
            }
        }
        let own_cases = cases.iter().filter(|c| c.policy.as_deref() == Some(&m.name)).count();
        out.push(PolicyCoverage { policy: m.name.clone(), hooks, reasons: reasons.into_values().collect(), own_cases });
    }
    out
}
