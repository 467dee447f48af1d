//! A decision's counters: which counts each policy reads for a request, and
//! what the decision adds to them once it is final. The keys are worked out
//! once, when the set loads; a request only appends the id it counts.

use std::sync::Arc;

use crate::decision::Decision;
use crate::manifest::{HostCounter, Party, PolicyManifest};
use crate::request::RequestRef;
use crate::sandbox::CountSlot;
use crate::state::{Increment, PolicyCounts, Read, Recorded, StateStore, Window, escape_into, series_key};
use crate::wire::Outcome;

/// Where a decision's counts come from.
#[derive(Clone, Copy)]
pub(crate) enum Counts<'a> {
    /// Read from a store, and increments applied to it.
    Store(&'a dyn StateStore),
    /// Given beforehand (a test case, a replayed record); nothing is applied.
    Recorded(&'a Recorded),
}

/// The id of `party` in `request`, if it has one.
pub(crate) fn party_id(request: RequestRef<'_>, party: Party) -> Option<&str> {
    match (request, party) {
        (RequestRef::Message(m), Party::Sender) => Some(&m.sender.id),
        (RequestRef::Message(m), Party::Group) => Some(&m.group.id),
        (RequestRef::Message(m), Party::Founder) => Some(&m.group.founder_id),
        (RequestRef::GroupCreation(c), Party::Founder) => Some(&c.founder.id),
        (RequestRef::Membership(m), Party::Subject) => Some(&m.subject.id),
        (RequestRef::Membership(m), Party::Inviter) => m.inviter.as_ref().map(|u| u.id.as_str()),
        (RequestRef::Membership(m), Party::Group) => Some(&m.group.id),
        (RequestRef::Membership(m), Party::Founder) => Some(&m.group.founder_id),
        _ => None,
    }
}

/// The request's own time, unix milliseconds.
pub(crate) fn request_time(request: RequestRef<'_>) -> u64 {
    match request {
        RequestRef::Message(m) => m.sent_at,
        RequestRef::GroupCreation(c) => c.requested_at,
        RequestRef::Membership(m) => m.requested_at,
    }
}

/// A series key without its id: `namespace|counter|kind|`.
#[derive(Debug, Clone)]
struct Prefix(String);

impl Prefix {
    fn new(namespace: &str, counter: &str, kind: &str) -> Prefix {
        let mut key = series_key(namespace, counter, kind, "");
        debug_assert!(key.ends_with('|'));
        key.shrink_to_fit();
        Prefix(key)
    }

    /// The series of `id`.
    fn key(&self, id: &str) -> String {
        let mut key = String::with_capacity(self.0.len() + id.len());
        key.push_str(&self.0);
        escape_into(&mut key, id);
        key
    }
}

/// One `[counters.NAME]` of a policy, its keys worked out.
#[derive(Debug, Clone)]
struct Counter {
    name: Arc<str>,
    of: Party,
    /// Whether the policy adds to it (not the host).
    own: bool,
    prefix: Prefix,
    windows: Vec<(Arc<str>, Window)>,
}

/// A policy's counters, their keys worked out when the set loads.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyCounters {
    counters: Vec<Counter>,
}

impl PolicyCounters {
    pub(crate) fn new(m: &PolicyManifest, namespace: &str) -> PolicyCounters {
        let counters = m
            .counters
            .iter()
            .map(|spec| {
                let series = match &spec.host {
                    Some(host) => host.series_name(),
                    None => format!("policy/{}/{}", m.name, spec.name),
                };
                Counter {
                    name: spec.name.as_str().into(),
                    of: spec.of,
                    own: spec.host.is_none(),
                    prefix: Prefix::new(namespace, &series, spec.of.kind()),
                    windows: spec.windows.iter().map(|w| (w.as_str().into(), w.clone())).collect(),
                }
            })
            .collect();
        PolicyCounters { counters }
    }

    /// The increment of the policy's own counter `counter` by `amount`, for
    /// whom it counts in `request` (none if the request has nobody it counts).
    pub(crate) fn increment(&self, counter: &str, amount: u32, request: RequestRef<'_>) -> Option<Increment> {
        let c = self.counters.iter().find(|c| &*c.name == counter && c.own)?;
        let id = party_id(request, c.of)?;
        Some(Increment { series: c.prefix.key(id), amount: u64::from(amount), at_ms: request_time(request) })
    }
}

/// The reads one policy makes for a request: its slots, in declaration order,
/// and for each live one the index of its read in the batch.
pub(crate) struct Plan {
    pub(crate) slots: Vec<CountSlot>,
    reads: Vec<Option<usize>>,
    /// Whether some count could not be read.
    failed: bool,
}

impl Plan {
    /// Plans policy `name`'s reads for `request`: given counts are filled in
    /// at once; reads from a store are pushed onto `batch`.
    pub(crate) fn new(
        name: &str,
        counters: &PolicyCounters,
        request: RequestRef<'_>,
        counts: Counts<'_>,
        batch: &mut Vec<Read>,
    ) -> Plan {
        let mut plan = Plan { slots: Vec::new(), reads: Vec::new(), failed: false };
        if counters.counters.is_empty() {
            return plan;
        }
        let at_ms = request_time(request);
        for c in &counters.counters {
            let id = party_id(request, c.of);
            // One key per counter, shared by its windows.
            let key = match (id, counts) {
                (Some(id), Counts::Store(_)) => Some(c.prefix.key(id)),
                _ => None,
            };
            for (text, window) in &c.windows {
                let (count, read) = match (id, counts) {
                    (None, _) => (None, None),
                    (Some(_), Counts::Recorded(given)) => {
                        let count = given.get(name, &c.name, text).unwrap_or(Some(0));
                        plan.failed |= count.is_none();
                        (count, None)
                    }
                    (Some(_), Counts::Store(_)) => {
                        let series = key.clone().expect("a key for a store read");
                        batch.push(Read { series, window: window.clone(), at_ms });
                        (None, Some(batch.len() - 1))
                    }
                };
                plan.slots.push(CountSlot { counter: c.name.clone(), window: text.clone(), count });
                plan.reads.push(read);
            }
        }
        plan
    }

    /// Fills in the counts the store answered (`None` if it failed).
    pub(crate) fn fill(&mut self, answered: Option<&[u64]>) {
        for (slot, read) in self.slots.iter_mut().zip(&self.reads) {
            if let Some(i) = read {
                slot.count = answered.map(|counts| counts[*i]);
                self.failed |= answered.is_none();
            }
        }
    }

    /// Whether some count could not be read (not merely: nobody to count).
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// The counts read, for the decision's report.
    pub(crate) fn report(&self) -> PolicyCounts {
        let mut counts = PolicyCounts::new();
        for slot in &self.slots {
            counts.entry(slot.counter.to_string()).or_default().insert(slot.window.to_string(), slot.count);
        }
        counts
    }
}

/// A counter the host keeps for the set, its key prefixes worked out.
#[derive(Debug, Clone)]
pub(crate) struct KeptCounter {
    counter: HostCounter,
    user: Prefix,
    group: Prefix,
}

impl KeptCounter {
    /// Every distinct host counter the set's policies read.
    pub(crate) fn all<'a>(manifests: impl Iterator<Item = &'a PolicyManifest>, namespace: &str) -> Vec<KeptCounter> {
        let mut kept: Vec<KeptCounter> = Vec::new();
        for counter in manifests.flat_map(|m| &m.counters).filter_map(|c| c.host.as_ref()) {
            let name = counter.series_name();
            if kept.iter().all(|k| k.counter.series_name() != name) {
                kept.push(KeptCounter {
                    counter: counter.clone(),
                    user: Prefix::new(namespace, &name, Party::Sender.kind()),
                    group: Prefix::new(namespace, &name, Party::Group.kind()),
                });
            }
        }
        kept
    }
}

/// What the host adds to the counters it keeps for a final `decision` on
/// `request`: for every distinct host counter the set's policies read whose
/// hook and outcome are the request's and the decision's, and whose articles
/// a reason of that outcome cites, one event for the user who acted (the
/// sender, the founder, the subject) and one for the group, where there is one.
pub(crate) fn host_increments(kept: &[KeptCounter], request: RequestRef<'_>, decision: &Decision) -> Vec<Increment> {
    if decision.outcome == Outcome::Allow || kept.is_empty() {
        return Vec::new();
    }
    let hook = request.hook();
    // The articles of the reasons given by the policies whose own outcome is
    // the decision's.
    let articles = || {
        decision.reasons.iter().filter_map(|r| {
            let outcome = decision.policies.iter().find(|p| p.name == r.policy).map(|p| p.outcome);
            (outcome == Some(decision.outcome)).then_some(r.article.as_deref()).flatten()
        })
    };
    let actor = match request {
        RequestRef::Message(_) => Party::Sender,
        RequestRef::GroupCreation(_) => Party::Founder,
        RequestRef::Membership(_) => Party::Subject,
    };
    let at_ms = request_time(request);
    let mut increments = Vec::new();
    for k in kept {
        let c = &k.counter;
        if c.hook != hook || c.outcome != decision.outcome || !c.matches(articles()) {
            continue;
        }
        for (party, prefix) in [(actor, &k.user), (Party::Group, &k.group)] {
            if let Some(id) = party_id(request, party) {
                increments.push(Increment { series: prefix.key(id), amount: 1, at_ms });
            }
        }
    }
    increments
}
