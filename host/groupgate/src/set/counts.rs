//! A decision's counters: which counts each policy reads for a request, and
//! what the decision adds to them once it is final. The keys are worked out
//! once, when the set loads; a request only appends the id it counts.

use std::borrow::Cow;
use std::sync::Arc;

use crate::decision::Decision;
use crate::hook::Hook;
use crate::manifest::{HostCounter, Party, PolicyManifest};
use crate::request::RequestRef;
use crate::state::counts::Names;
use crate::state::{Distinct, Increment, PolicyCounts, Read, Recorded, StateStore, Window, escape_into, series_key};
use crate::wire::{Outcome, ReportTarget};

/// Where a decision's counts come from.
#[derive(Clone, Copy)]
pub(crate) enum Counts<'a> {
    /// Read from a store, and increments applied to it.
    Store(&'a dyn StateStore),
    /// Given beforehand (a test case, a replayed record); nothing is applied.
    Recorded(&'a Recorded),
}

/// The id of `party` in `request`, if it has one. A report's target is
/// named with its kind, `message:ID`, `user:ID` or `group:ID`, so that no
/// two targets share a count.
pub(crate) fn party_id(request: RequestRef<'_>, party: Party) -> Option<Cow<'_, str>> {
    let id: &str = match (request, party) {
        (RequestRef::Message(m), Party::Sender) => &m.sender.id,
        (RequestRef::Message(m), Party::Group) => &m.group.id,
        (RequestRef::Message(m), Party::Founder) => &m.group.founder_id,
        (RequestRef::GroupCreation(c), Party::Founder) => &c.founder.id,
        (RequestRef::Membership(m), Party::Subject) => &m.subject.id,
        (RequestRef::Membership(m), Party::Inviter) => &m.inviter.as_ref()?.id,
        (RequestRef::Membership(m), Party::Group) => &m.group.id,
        (RequestRef::Membership(m), Party::Founder) => &m.group.founder_id,
        (RequestRef::Report(r), Party::Reporter) => &r.reporter.id,
        (RequestRef::Report(r), Party::Group) => match &r.target {
            ReportTarget::Group(g) => &g.id,
            _ => return None,
        },
        (RequestRef::Report(r), Party::Target) => {
            return Some(Cow::Owned(format!("{}:{}", r.target.kind(), r.target.id())));
        }
        _ => return None,
    };
    Some(Cow::Borrowed(id))
}

/// The request's own time, unix milliseconds.
pub(crate) fn request_time(request: RequestRef<'_>) -> u64 {
    match request {
        RequestRef::Message(m) => m.sent_at,
        RequestRef::GroupCreation(c) => c.requested_at,
        RequestRef::Membership(m) => m.requested_at,
        RequestRef::Report(r) => r.reported_at,
    }
}

/// The longest id kept as it is in a series key; longer ones are hashed,
/// behind `%sha256:`, which no escaped id can hold (an id's `%` is escaped
/// as `%25`), so no id can be chosen to land on a hashed one's series.
const MAX_KEY_ID_BYTES: usize = 128;

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

    /// The series of `id`. An id longer than [`MAX_KEY_ID_BYTES`] is
    /// replaced by its SHA-256, so no id makes a key (and a store's memory
    /// per series) larger than that.
    fn key(&self, id: &str) -> String {
        let mut key = String::with_capacity(self.0.len() + id.len().min(MAX_KEY_ID_BYTES + 8));
        self.key_into(&mut key, id);
        key
    }

    /// [`Prefix::key`], appended to `out`.
    fn key_into(&self, out: &mut String, id: &str) {
        out.push_str(&self.0);
        push_id(out, id);
    }
}

/// `id` as a key or a distinct value holds it: escaped, or past
/// [`MAX_KEY_ID_BYTES`] its SHA-256, so that no id a platform sends makes a
/// store keep more than that for it.
fn push_id(out: &mut String, id: &str) {
    if id.len() > MAX_KEY_ID_BYTES {
        use sha2::{Digest, Sha256};
        out.push_str("%sha256:");
        out.push_str(&crate::sandbox::hex(&Sha256::digest(id.as_bytes())));
    } else {
        escape_into(out, id);
    }
}

/// A distinct value as stores keep it (see [`push_id`]).
fn distinct_value(id: &str) -> String {
    let mut value = String::with_capacity(id.len().min(MAX_KEY_ID_BYTES + 8));
    push_id(&mut value, id);
    value
}

/// One `[counters.NAME]` of a policy, its keys worked out.
#[derive(Debug, Clone)]
struct Counter {
    name: Arc<str>,
    of: Party,
    /// The hooks it is read on.
    hooks: Vec<Hook>,
    /// Whether the policy adds to it (not the host).
    own: bool,
    /// Whether the platform may add to it too.
    platform: bool,
    /// Whose distinct ids it counts, if it counts distinct values.
    distinct: Option<Party>,
    prefix: Prefix,
    windows: Vec<Window>,
}

/// A policy's counters, their keys worked out when the set loads.
#[derive(Debug, Clone)]
pub(crate) struct PolicyCounters {
    counters: Vec<Counter>,
    /// What each hook the policy answers reads.
    hooks: Vec<(Hook, Reads)>,
}

/// The counts a policy reads on one hook.
#[derive(Debug, Clone)]
struct Reads {
    /// Every `(counter, window)` read, in declaration order: the table every
    /// decision's counts share.
    names: Names,
    /// The `call_from` of each of `names`, when the policy gives them.
    call_from: Option<Vec<u64>>,
}

impl PolicyCounters {
    pub(crate) fn new(m: &PolicyManifest, namespace: &str) -> PolicyCounters {
        let counters: Vec<Counter> = m
            .counters
            .iter()
            .map(|spec| {
                let series = match (&spec.host, spec.distinct) {
                    (Some(host), Some(values)) => host.distinct_series_name(values),
                    (Some(host), None) => host.series_name(),
                    (None, _) => format!("policy/{}/{}", m.name, spec.name),
                };
                Counter {
                    name: spec.name.as_str().into(),
                    of: spec.of,
                    hooks: spec.hooks.clone(),
                    own: spec.host.is_none(),
                    platform: spec.platform,
                    distinct: spec.distinct,
                    prefix: Prefix::new(namespace, &series, spec.of.kind()),
                    windows: spec.windows.clone(),
                }
            })
            .collect();
        let hooks = m
            .hooks
            .iter()
            .map(|&hook| {
                let read = || m.counters.iter().filter(move |spec| spec.hooks.contains(&hook));
                let names = read()
                    .flat_map(|spec| {
                        spec.windows.iter().map(|w| (Arc::from(spec.name.as_str()), Arc::from(w.as_str())))
                    })
                    .collect();
                // Every counter has `call_from` or none has (checked at
                // load). On a hook that reads none, the policy is called.
                let call_from = m
                    .counters
                    .first()
                    .is_some_and(|c| c.call_from.is_some())
                    .then(|| read().flat_map(|spec| spec.call_from.iter().flatten().copied()).collect::<Vec<u64>>())
                    .filter(|thresholds| !thresholds.is_empty());
                (hook, Reads { names, call_from })
            })
            .collect();
        PolicyCounters { counters, hooks }
    }

    /// The same counters, the policy called whatever its counts: for a
    /// variant given another `[config]` than the one its `call_from` was
    /// read from.
    pub(crate) fn always_called(mut self) -> PolicyCounters {
        for (_, reads) in &mut self.hooks {
            reads.call_from = None;
        }
        self
    }

    /// The `call_from` of each count the policy reads on `hook`, if it
    /// gives them.
    pub(crate) fn call_from(&self, hook: Hook) -> Option<&[u64]> {
        self.reads(hook).and_then(|r| r.call_from.as_deref())
    }

    /// What the policy reads on `hook`.
    fn reads(&self, hook: Hook) -> Option<&Reads> {
        self.hooks.iter().find(|(h, _)| *h == hook).map(|(_, reads)| reads)
    }

    /// Whether the policy can go uncalled on `hook` with `plan`'s counts: it
    /// has `call_from`, and every count it reads on the hook was read (the
    /// store answered, and the request has someone it counts) and is below
    /// its threshold. A count that is none says nothing of what the policy
    /// would answer, so it is called.
    pub(crate) fn below_call_from(&self, hook: Hook, plan: &Plan) -> bool {
        let Some(thresholds) = self.call_from(hook) else { return false };
        !plan.failed
            && plan.counts.counts().iter().zip(thresholds).all(|(count, &from)| count.is_some_and(|n| n < from))
    }

    /// The increment of the policy's own counter `counter` by `amount`, for
    /// whom it counts in `request` (none if the request has nobody it counts).
    pub(crate) fn increment(&self, counter: &str, amount: u32, request: RequestRef<'_>) -> Option<Increment> {
        if amount == 0 {
            return None;
        }
        let c = self.counters.iter().find(|c| &*c.name == counter && c.own)?;
        let id = party_id(request, c.of)?;
        let series = c.prefix.key(&id);
        let at_ms = request_time(request);
        match c.distinct {
            Some(values) => Some(Increment::distinct(series, distinct_value(&party_id(request, values)?), at_ms)),
            None => Some(Increment::events(series, u64::from(amount), at_ms)),
        }
    }

    /// The increment of `counter` by `amount` for `id` at `at_ms`, which the
    /// platform asks for: `None` unless the policy declares it with
    /// `platform = true`.
    pub(crate) fn platform_increment(&self, counter: &str, id: &str, amount: u64, at_ms: u64) -> Option<Increment> {
        let c = self.counters.iter().find(|c| &*c.name == counter && c.platform)?;
        Some(Increment::events(c.prefix.key(id), amount, at_ms))
    }

    /// The names of the counters the platform may add to.
    pub(crate) fn platform_counters(&self) -> impl Iterator<Item = &str> {
        self.counters.iter().filter(|c| c.platform).map(|c| &*c.name)
    }
}

/// The keys a decision reads, and which count each read fills: the batch is
/// made of borrowed keys once every policy's are known.
#[derive(Default)]
pub(crate) struct Batch<'s> {
    /// Every key, one after another (one allocation for them all).
    keys: String,
    /// Where each read's key lies in `keys`, the window, and the policy (in
    /// `chosen` order) and slot it fills.
    reads: Vec<(std::ops::Range<usize>, &'s Window, usize, usize)>,
    /// For a read of distinct values, where the request's own value lies
    /// in `keys` (an empty range when it has none), by read.
    distinct: Vec<Option<std::ops::Range<usize>>>,
}

impl Batch<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }

    /// Reads every count in one call to `store`, and fills them in `plans`
    /// (all `None` if the store failed: its error is returned).
    pub(crate) fn run(
        &self,
        store: &dyn StateStore,
        at_ms: u64,
        timeout_ms: u64,
        plans: &mut [Plan],
    ) -> Result<(), crate::state::StateError> {
        let reads: Vec<Read<'_>> = self
            .reads
            .iter()
            .zip(&self.distinct)
            .map(|((key, window, _, _), distinct)| Read {
                series: &self.keys[key.clone()],
                window,
                at_ms,
                distinct: distinct
                    .as_ref()
                    .map(|with| Distinct { with: (!with.is_empty()).then(|| &self.keys[with.clone()]) }),
            })
            .collect();
        let answered = store.read(&reads, timeout_ms).and_then(|counts| {
            if counts.len() == reads.len() {
                Ok(counts)
            } else {
                Err(crate::state::StateError {
                    store: store.describe(),
                    message: format!("answered {} counts for {} reads", counts.len(), reads.len()),
                })
            }
        });
        for (i, &(_, _, plan, slot)) in self.reads.iter().enumerate() {
            let plan = &mut plans[plan];
            plan.counts.counts_mut()[slot] = answered.as_ref().ok().map(|counts| counts[i]);
            plan.failed |= answered.is_err();
        }
        answered.map(drop)
    }
}

/// The counts one policy reads for a request, filled in as they arrive.
pub(crate) struct Plan {
    pub(crate) counts: PolicyCounts,
    /// Whether some count could not be read.
    failed: bool,
}

impl Plan {
    /// Plans the reads of the policy at `index` in `chosen` order, named
    /// `name`, for `request`: given counts are filled in at once; reads from
    /// a store are added to `batch`.
    pub(crate) fn new<'s>(
        index: usize,
        name: &str,
        counters: &'s PolicyCounters,
        request: RequestRef<'_>,
        counts: Counts<'_>,
        batch: &mut Batch<'s>,
    ) -> Plan {
        let hook = request.hook();
        let Some(reads) = counters.reads(hook) else {
            return Plan { counts: PolicyCounts::new(), failed: false };
        };
        let mut plan =
            Plan { counts: PolicyCounts::of(reads.names.clone(), vec![None; reads.names.len()]), failed: false };
        let mut slot = 0;
        // Counters not read on this hook have no slots.
        for c in counters.counters.iter().filter(|c| c.hooks.contains(&hook)) {
            let first = slot;
            slot += c.windows.len();
            // Nobody to count: the slots stay none.
            let Some(id) = party_id(request, c.of) else { continue };
            match counts {
                Counts::Recorded(given) => {
                    for (i, window) in c.windows.iter().enumerate() {
                        let count = given.get(name, &c.name, window.as_str()).unwrap_or(Some(0));
                        plan.failed |= count.is_none();
                        plan.counts.counts_mut()[first + i] = count;
                    }
                }
                Counts::Store(_) => {
                    // One key per counter, shared by its windows.
                    let start = batch.keys.len();
                    c.prefix.key_into(&mut batch.keys, &id);
                    let key = start..batch.keys.len();
                    let distinct = c.distinct.map(|values| {
                        let start = batch.keys.len();
                        if let Some(own) = party_id(request, values) {
                            push_id(&mut batch.keys, &own);
                        }
                        start..batch.keys.len()
                    });
                    for (i, window) in c.windows.iter().enumerate() {
                        batch.reads.push((key.clone(), window, index, first + i));
                        batch.distinct.push(distinct.clone());
                    }
                }
            }
        }
        plan
    }

    /// Whether some count could not be read (not merely: nobody to count).
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }
}

/// A counter the host keeps for the set, its key prefixes worked out: of
/// users, and of groups, where some policy of the set reads it of them.
#[derive(Debug, Clone)]
pub(crate) struct KeptCounter {
    counter: HostCounter,
    name: String,
    /// Whose distinct ids it counts, if it counts distinct values.
    distinct: Option<Party>,
    user: Option<Prefix>,
    group: Option<Prefix>,
    /// Of a report's target.
    target: Option<Prefix>,
}

impl KeptCounter {
    /// Every distinct host counter the set's policies read.
    pub(crate) fn all<'a>(manifests: impl Iterator<Item = &'a PolicyManifest>, namespace: &str) -> Vec<KeptCounter> {
        let mut kept: Vec<KeptCounter> = Vec::new();
        for spec in manifests.flat_map(|m| &m.counters) {
            let Some(counter) = &spec.host else { continue };
            let name = match spec.distinct {
                Some(values) => counter.distinct_series_name(values),
                None => counter.series_name(),
            };
            let k = match kept.iter().position(|k| k.name == name) {
                Some(i) => &mut kept[i],
                None => {
                    kept.push(KeptCounter {
                        counter: counter.clone(),
                        name,
                        distinct: spec.distinct,
                        user: None,
                        group: None,
                        target: None,
                    });
                    kept.last_mut().expect("just pushed")
                }
            };
            let prefix = match spec.of {
                Party::Group => &mut k.group,
                Party::Target => &mut k.target,
                _ => &mut k.user,
            };
            if prefix.is_none() {
                *prefix = Some(Prefix::new(namespace, &k.name, spec.of.kind()));
            }
        }
        kept
    }
}

/// What the host adds to the counters it keeps for a final `decision` on
/// `request`: for every distinct host counter the set's policies read whose
/// hook and outcome are the request's and the decision's, and whose articles
/// a reason of that outcome cites, one event for the user who acted (the
/// sender, the founder, the subject) and one for the group, where there is one
/// and some policy of the set reads the counter of them.
///
/// A counter of every decision (no `outcome`) counts each one, whatever it is.
pub(crate) fn host_increments(kept: &[KeptCounter], request: RequestRef<'_>, decision: &Decision) -> Vec<Increment> {
    let mut increments = Vec::new();
    if kept.is_empty() {
        return increments;
    }
    let hook = request.hook();
    let at_ms = request_time(request);
    let actor = crate::manifest::actor(hook);
    let mut count = |k: &KeptCounter| {
        // A counter of distinct values sees the request's value of that
        // party, if it has one; without one there is nothing to see.
        let value = match k.distinct {
            Some(values) => match party_id(request, values) {
                Some(value) => Some(distinct_value(&value)),
                None => return,
            },
            None => None,
        };
        for (party, prefix) in [(actor, &k.user), (Party::Group, &k.group), (Party::Target, &k.target)] {
            if let Some(prefix) = prefix
                && let Some(id) = party_id(request, party)
            {
                let series = prefix.key(&id);
                increments.push(match &value {
                    Some(value) => Increment::distinct(series, value.as_str(), at_ms),
                    None => Increment::events(series, 1, at_ms),
                });
            }
        }
    };
    for k in kept.iter().filter(|k| k.counter.hook == hook && k.counter.outcome.is_none()) {
        count(k);
    }
    if decision.outcome == Outcome::Allow {
        return increments;
    }
    // The articles of the reasons given by the policies whose own outcome is
    // the decision's.
    // A policy that failed gave its `on_error` verdict, not a finding: its
    // reasons count for nothing here, so an outage or a crashing policy
    // cannot make anyone a repeat offender.
    let articles = || {
        decision.reasons.iter().filter_map(|r| {
            let report = decision.policies.iter().find(|p| *p.name == *r.policy)?;
            let counts = report.outcome == decision.outcome && report.error.is_none();
            counts.then_some(r.article.as_deref()).flatten()
        })
    };
    let found = decision
        .policies
        .iter()
        .any(|p| p.outcome == decision.outcome && p.error.is_none() && p.mode == crate::manifest::Mode::Enforce);
    if !found {
        return increments;
    }
    for k in kept {
        let c = &k.counter;
        if c.hook == hook && c.outcome == Some(decision.outcome) && c.matches(articles()) {
            count(k);
        }
    }
    increments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_id_is_hashed_in_its_key() {
        let prefix = Prefix::new("default", "policy/flood-control/messages", "user");
        assert_eq!(prefix.key("usr-42"), "default|policy/flood-control/messages|user|usr-42");
        let long = "x".repeat(64 * 1024);
        let key = prefix.key(&long);
        assert!(key.len() < 200 && key.contains("|%sha256:"), "{key}");
        let hash = key.rsplit("%sha256:").next().unwrap();
        assert_ne!(prefix.key(&format!("%sha256:{hash}")), key, "no short id lands on a hashed one");
        assert_ne!(key, prefix.key(&"x".repeat(64 * 1024 - 1)), "distinct ids keep distinct keys");
        // An id exactly at the bound is kept as it is.
        assert!(prefix.key(&"y".repeat(MAX_KEY_ID_BYTES)).ends_with(&"y".repeat(MAX_KEY_ID_BYTES)));
    }
}
