//! A policy set: an immutable snapshot of compiled policies loaded from a
//! [`SetSource`], which evaluates requests and merges the verdicts.

mod counts;
mod load;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::decision::{Decision, PolicyReport};
use crate::error::{ConfigError, CounterError, LoadError};
use crate::manifest::{AuditSettings, Mode, OnStateError, PolicyManifest, SetLimits};
use crate::policy::{Answer, Failure, LoadedPolicy};
use crate::request::{Request, RequestError, RequestRef};
use crate::sandbox::Runtime;
use crate::source::{Folder, SetSource};
use crate::state::{Recorded, StateStore};
use crate::wire::{GroupCreation, Membership, Message, Reason, Report, Verdict};
use counts::{Batch, Counts, KeptCounter, Plan, PolicyCounters};

/// The reason code of a policy that failed to give a verdict.
pub const POLICY_ERROR: &str = "policy-error";

/// Policies loaded from one source, ready to evaluate requests. A set never
/// changes once loaded; a reload builds a new one.
pub struct PolicySet {
    root: PathBuf,
    /// `[audit]` from `groupgate.toml`, its `dir` resolved.
    audit: Option<AuditSettings>,
    /// `[limits]` from `groupgate.toml`.
    limits: SetLimits,
    policies: Vec<LoadedPolicy>,
    /// Each policy's module SHA-256, in hex, in policy order.
    hashes: Vec<String>,
    /// Where counters live: the runtime's store.
    state: Arc<dyn StateStore>,
    /// Prefixes the set's counter keys (`[state] namespace`).
    namespace: String,
    /// The longest a read or apply of counters may take.
    state_timeout_ms: u64,
    /// Each policy's counters, their keys worked out, in policy order.
    counters: Vec<PolicyCounters>,
    /// Every counter the host keeps for the set's policies, once each.
    host_counters: Vec<KeptCounter>,
}

impl PolicySet {
    /// Loads the set that `source` yields: reads every manifest, compiles
    /// each module once, and runs each policy's `init`. Any error leaves
    /// nothing loaded.
    pub fn load(runtime: &Runtime, source: &dyn SetSource) -> Result<PolicySet, LoadError> {
        load::load(runtime, source)
    }

    /// Loads the set in the folder `dir` (see [`Folder`]).
    pub fn load_dir(runtime: &Runtime, dir: impl AsRef<Path>) -> Result<PolicySet, LoadError> {
        PolicySet::load(runtime, &Folder::new(dir.as_ref()))
    }

    /// The decision log settings (`[audit]` in `groupgate.toml`), if any.
    pub fn audit_settings(&self) -> Option<&AuditSettings> {
        self.audit.as_ref()
    }

    /// The set-wide limits (`[limits]` in `groupgate.toml`).
    pub fn limits(&self) -> &SetLimits {
        &self.limits
    }

    /// Checks a request against the set-wide limits, which every `evaluate`
    /// does before any policy runs: a message text over `max_text_bytes` is
    /// refused, so an oversized input costs no policy its deadline.
    pub fn check(&self, request: &Request) -> Result<(), RequestError> {
        self.check_ref(request.as_ref())
    }

    fn check_ref(&self, request: RequestRef<'_>) -> Result<(), RequestError> {
        let max = self.limits.max_text_bytes;
        let mut over = None;
        crate::request::each_string(request, &mut |field, text| {
            if over.is_none() && text.len() as u64 > max {
                over = Some((field(), text.len()));
            }
        });
        match over {
            None => Ok(()),
            Some((field, len)) => Err(RequestError::too_large(
                request.hook(),
                format!("field `{field}`: {len} bytes, more than the set's `max_text_bytes` of {max}"),
            )),
        }
    }

    /// The folder the set was loaded from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SHA-256 (hex) of the module that policy `name` runs: what an
    /// operator compares to know which build is live.
    pub fn module_sha256(&self, name: &str) -> Option<&str> {
        Some(&self.hashes[self.position(name)?])
    }

    /// Every policy's module SHA-256 (hex), in evaluation order.
    pub fn module_hashes(&self) -> impl Iterator<Item = &str> {
        self.hashes.iter().map(String::as_str)
    }

    /// The policies' manifests, in evaluation order.
    pub fn policies(&self) -> impl Iterator<Item = &PolicyManifest> {
        self.policies.iter().map(|p| &p.manifest)
    }

    /// Decides a request: runs every policy whose hooks and scope match, in
    /// order, and merges their verdicts.
    ///
    /// `Err` when the request breaks the set's `[limits]` (see
    /// [`PolicySet::check`]); no policy has run then.
    pub fn evaluate(&self, request: &Request) -> Result<Decision, RequestError> {
        self.evaluate_ref(request.as_ref())
    }

    /// Decides a request with counts given beforehand instead of read from
    /// the store, and applies nothing: how a test case gives a request its
    /// prior counts, and how a replay reproduces a recorded decision.
    pub fn evaluate_with_counts(&self, request: &Request, counts: &Recorded) -> Result<Decision, RequestError> {
        self.check(request)?;
        Ok(self.decide(request.as_ref(), None, Counts::Recorded(counts)))
    }

    /// [`PolicySet::evaluate_policy`] with counts given beforehand, as
    /// [`PolicySet::evaluate_with_counts`].
    pub fn evaluate_policy_with_counts(
        &self,
        name: &str,
        request: &Request,
        counts: &Recorded,
    ) -> Option<Result<Decision, RequestError>> {
        let index = self.position(name)?;
        Some(self.check(request).map(|()| self.decide(request.as_ref(), Some(index), Counts::Recorded(counts))))
    }

    /// The same set keeping its counters in `store` instead of the
    /// runtime's: for a set whose counts must stay apart from every other
    /// set's, such as one under test.
    pub fn with_state(mut self, store: Arc<dyn StateStore>) -> PolicySet {
        self.state = store;
        self
    }

    /// Whether deciding may wait on something outside the process: the
    /// set counts (a policy reads counters, or the host keeps some for
    /// it) in a store that [waits](StateStore::waits), such as Redis.
    pub fn waits(&self) -> bool {
        let counts = self.policies.iter().any(|p| !p.manifest.counters.is_empty()) || !self.host_counters.is_empty();
        counts && self.state.waits()
    }

    /// Adds `amount` events at `at_ms` (unix milliseconds) to counter
    /// `counter` of policy `policy`, for user or group `id`: what the
    /// platform knows and groupgate does not, such as a moderator rejecting
    /// a user's report (Art. 12). Only a counter its manifest declares with
    /// `platform = true` takes them; the increment goes to the set's store
    /// at once, as a decision's would.
    pub fn add_to_counter(
        &self,
        policy: &str,
        counter: &str,
        id: &str,
        amount: u64,
        at_ms: u64,
    ) -> Result<(), CounterError> {
        let index = self.position(policy).ok_or_else(|| CounterError::NoPolicy(policy.to_owned()))?;
        let counters = &self.counters[index];
        let increment = counters.platform_increment(counter, id, amount, at_ms).ok_or_else(|| {
            let open: Vec<String> = counters.platform_counters().map(|c| format!("`{c}`")).collect();
            CounterError::NotOpen {
                policy: policy.to_owned(),
                counter: counter.to_owned(),
                open: if open.is_empty() { "none".into() } else { open.join(", ") },
            }
        })?;
        if amount == 0 {
            return Ok(());
        }
        self.state.apply(&[increment], self.state_timeout_ms).map_err(CounterError::State)
    }

    /// The namespace the set's counter keys begin with (`[state] namespace`
    /// in `groupgate.toml`, or the set folder's name).
    pub fn state_namespace(&self) -> &str {
        &self.namespace
    }

    /// Decides a request by one policy alone, as its own test cases do: the
    /// policy runs only if its hooks and scope match, and its verdict is the
    /// decision even in audit mode, so an audit policy can be tested before
    /// it enforces. Like a test case it touches no store: its counts read
    /// zero and nothing is added (give counts with
    /// [`PolicySet::evaluate_policy_with_counts`]). `None` when the set has
    /// no policy of that name.
    pub fn evaluate_policy(&self, name: &str, request: &Request) -> Option<Result<Decision, RequestError>> {
        self.evaluate_policy_with_counts(name, request, &Recorded::default())
    }

    /// A set holding only policy `name`, its `init` given `config` (a JSON
    /// object) instead of its manifest's `[config]`, as a policy test case's
    /// `config` asks.
    pub fn with_policy_config(&self, name: &str, config: &serde_json::Value) -> Result<PolicySet, ConfigError> {
        let index = self.position(name).ok_or_else(|| ConfigError::NoPolicy(name.to_owned()))?;
        let variant = self.policies[index]
            .with_config(config.to_string())
            .map_err(|cause| ConfigError::Refused { policy: name.to_owned(), cause })?;
        Ok(PolicySet {
            root: self.root.clone(),
            audit: self.audit.clone(),
            limits: self.limits,
            policies: vec![variant],
            hashes: vec![self.hashes[index].clone()],
            state: self.state.clone(),
            namespace: self.namespace.clone(),
            state_timeout_ms: self.state_timeout_ms,
            // Its `call_from` was read from the manifest's `[config]`.
            counters: vec![self.counters[index].clone().always_called()],
            host_counters: self.host_counters.clone(),
        })
    }

    /// The index of policy `name`.
    fn position(&self, name: &str) -> Option<usize> {
        self.policies.iter().position(|p| p.manifest.name == name)
    }

    /// Decides `request` as [`PolicySet::evaluate`] does, its counts read
    /// from and added to `store` instead of the set's own: a test case's
    /// store, which starts empty and sees the case's earlier requests.
    pub fn evaluate_on(&self, request: &Request, store: &dyn StateStore) -> Result<Decision, RequestError> {
        self.check(request)?;
        Ok(self.decide(request.as_ref(), None, Counts::Store(store)))
    }

    fn evaluate_ref(&self, request: RequestRef<'_>) -> Result<Decision, RequestError> {
        self.check_ref(request)?;
        Ok(self.decide(request, None, Counts::Store(&*self.state)))
    }

    /// The policies that decide `request`, by index: every one whose hooks
    /// and scope match, or only the one at `only`.
    fn chosen(&self, request: RequestRef<'_>, only: Option<usize>) -> Vec<usize> {
        let hook = request.hook();
        let (region, category) = request.scope_keys();
        (0..self.policies.len())
            .filter(|&index| {
                let m = &self.policies[index].manifest;
                only.is_none_or(|i| i == index) && m.hooks.contains(&hook) && m.scope.matches(region, category)
            })
            .collect()
    }

    /// The counts each of `chosen` reads: given ones filled in, a store's
    /// added to `batch`.
    fn plans<'s>(
        &'s self,
        chosen: &[usize],
        request: RequestRef<'_>,
        counts: Counts<'_>,
        batch: &mut Batch<'s>,
    ) -> Vec<Plan> {
        chosen
            .iter()
            .enumerate()
            .map(|(n, &i)| Plan::new(n, &self.policies[i].manifest.name, &self.counters[i], request, counts, batch))
            .collect()
    }

    /// Checks the promise of `call_from` on one request with given counts:
    /// each policy the host would not call (every count below its
    /// `call_from`) is called with those counts, and again with every count
    /// it reads one below its `call_from` (the most it is skipped at), and
    /// each that then answers anything but a plain allow (no reasons, no
    /// measures, nothing added to its counters), or fails, is named with what
    /// it answered. Test cases run it, so a `call_from` set higher than the
    /// policy's own threshold fails a case instead of letting requests
    /// through in production.
    pub fn check_call_from(&self, request: &Request, counts: &Recorded) -> Result<Vec<String>, RequestError> {
        self.check(request)?;
        let request = request.as_ref();
        let hook = request.hook();
        let chosen = self.chosen(request, None);
        let mut batch = Batch::default();
        let plans = self.plans(&chosen, request, Counts::Recorded(counts), &mut batch);
        let mut broken = Vec::new();
        let mut encoded = None;
        for (&index, plan) in chosen.iter().zip(&plans) {
            let counters = &self.counters[index];
            let (true, Some(thresholds)) = (counters.below_call_from(hook, plan), counters.call_from(hook)) else {
                continue;
            };
            let mut highest = plan.counts.clone();
            for (count, &from) in highest.counts_mut().iter_mut().zip(thresholds) {
                if count.is_some() {
                    *count = Some(from - 1);
                }
            }
            let policy = &self.policies[index];
            for probe in [&plan.counts, &highest] {
                let answered = match policy.evaluate(request, &mut encoded, probe).0 {
                    Ok(answer) if answer.is_plain_allow() => continue,
                    Ok(Answer { verdict, increments }) => {
                        let codes: Vec<&str> = verdict.reasons.iter().map(|r| r.code.as_str()).collect();
                        let mut said = format!("`{}`", verdict.outcome);
                        if !codes.is_empty() {
                            said.push_str(&format!(" ({})", codes.join(", ")));
                        }
                        if !verdict.measures.is_empty() {
                            said.push_str(&format!(" with {} measure(s)", verdict.measures.len()));
                        }
                        if !increments.is_empty() {
                            said.push_str(&format!(" adding to {} counter(s)", increments.len()));
                        }
                        said
                    }
                    Err(failure) => format!("nothing: it {failure}"),
                };
                let counts: Vec<String> = probe
                    .iter()
                    .zip(thresholds)
                    .map(|((c, w, n), from)| {
                        format!("{c} {w} = {} (call_from {from})", n.map_or("none".into(), |n| n.to_string()))
                    })
                    .collect();
                broken.push(format!(
                    "policy `{}` answered {answered} with counts {}, each below its `call_from`: the host does not \
                     call it there and takes its answer to be allow, so its `call_from` must be lower",
                    policy.name,
                    counts.join(", ")
                ));
                break;
            }
        }
        Ok(broken)
    }

    /// Runs every matching policy, or only the one at index `only`: reads
    /// their counts in one batch, calls each, merges the verdicts, and then
    /// applies every increment, and the host's own counts of the decision, in
    /// one batch.
    fn decide(&self, request: RequestRef<'_>, only: Option<usize>, counts: Counts<'_>) -> Decision {
        let hook = request.hook();
        let chosen = self.chosen(request, only);
        let mut batch = Batch::default();
        let mut plans = self.plans(&chosen, request, counts, &mut batch);
        let mut state_error = None;
        if let Counts::Store(store) = counts
            && !batch.is_empty()
            && let Err(e) = batch.run(store, counts::request_time(request), self.state_timeout_ms, &mut plans)
        {
            tracing::warn!(%hook, "counts could not be read: {e}");
            state_error = Some(e.to_string());
        }

        // The request in the request encoding: made once, and only for a
        // policy on the 0.2 contract.
        let mut encoded = None;
        let mut decision = Decision::new();
        decision.policies.reserve_exact(chosen.len());
        let mut increments = Vec::new();
        for (&index, plan) in chosen.iter().zip(plans) {
            let policy = &self.policies[index];
            let m = &policy.manifest;
            // A policy tested alone is always called: its own cases test
            // what it answers, not whether the host may skip it.
            let below_call_from = only.is_none() && self.counters[index].below_call_from(hook, &plan);
            let (result, elapsed) = if below_call_from {
                (Ok(Answer::allow()), std::time::Duration::ZERO)
            } else if m.on_state_error == OnStateError::Error && plan.failed() {
                let why = state_error.clone().unwrap_or_else(|| "the counts were given as unavailable".into());
                (Err(Failure::State(why)), std::time::Duration::ZERO)
            } else {
                policy.evaluate(request, &mut encoded, &plan.counts)
            };
            let (verdict, error, error_kind) = match result {
                Ok(Answer { verdict, increments: own }) => {
                    if let Counts::Store(_) = counts {
                        let keys = &self.counters[index];
                        increments
                            .extend(own.iter().filter_map(|inc| keys.increment(&inc.counter, inc.amount, request)));
                    }
                    (verdict, None, None)
                }
                Err(failure) => {
                    // One log line: what the policy wrote may look like others.
                    tracing::warn!(policy = %m.name, %hook, "policy failed: {}", crate::printable(&failure.to_string()));
                    let message = format!("policy `{}` {failure}", m.name);
                    let reason = Reason { code: POLICY_ERROR.into(), message, article: None, evidence: None };
                    let verdict = Verdict { outcome: m.on_error.into(), reasons: vec![reason], measures: Vec::new() };
                    (verdict, Some(failure.to_string()), Some(failure.kind()))
                }
            };
            let report = PolicyReport {
                name: policy.name.clone(),
                version: policy.version.clone(),
                mode: m.mode,
                outcome: verdict.outcome,
                error,
                error_kind,
                duration: elapsed,
                counts: plan.counts,
                below_call_from,
                position: index,
            };
            let merged = only.is_some() || m.mode == Mode::Enforce;
            decision.add(report, verdict, merged);
        }

        if let Counts::Store(store) = counts {
            if only.is_none() {
                increments.extend(counts::host_increments(&self.host_counters, request, &decision));
            }
            if !increments.is_empty()
                && let Err(e) = store.apply(&increments, self.state_timeout_ms)
            {
                tracing::warn!(%hook, "counts could not be added to: {e}");
            }
        }
        decision
    }

    /// May this message be published?
    pub fn evaluate_message(&self, message: &Message) -> Result<Decision, RequestError> {
        self.evaluate_ref(RequestRef::Message(message))
    }

    /// May this group be created?
    pub fn evaluate_group_creation(&self, creation: &GroupCreation) -> Result<Decision, RequestError> {
        self.evaluate_ref(RequestRef::GroupCreation(creation))
    }

    /// May this user join, or be invited into, this group?
    pub fn evaluate_membership(&self, membership: &Membership) -> Result<Decision, RequestError> {
        self.evaluate_ref(RequestRef::Membership(membership))
    }

    /// What should become of this report from the public (Art. 12)?
    pub fn evaluate_report(&self, report: &Report) -> Result<Decision, RequestError> {
        self.evaluate_ref(RequestRef::Report(report))
    }
}
