//! Counters for `GET /metrics`, in the Prometheus text format. Everything on
//! the request path is an atomic add: each policy's counters are found by
//! name once, when its set is activated, and a decision reaches them by the
//! policy's position in that set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use groupgate::{Decision, ErrorKind, Hook, Outcome, PolicySet};

use crate::state::Active;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

const OUTCOMES: [Outcome; 3] = [Outcome::Allow, Outcome::Review, Outcome::Deny];
const ERROR_KINDS: [ErrorKind; 8] = ErrorKind::ALL;
const HOOK_COUNT: usize = Hook::ALL.len();

fn outcome_index(o: Outcome) -> usize {
    OUTCOMES.iter().position(|x| *x == o).expect("every outcome is listed")
}

fn hook_index(h: Hook) -> usize {
    h.index()
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// One policy's counters, kept by its name for as long as the server runs.
#[derive(Default)]
pub(crate) struct PolicyCounters {
    verdicts: [AtomicU64; 3],
    errors: [AtomicU64; ERROR_KINDS.len()],
}

impl PolicyCounters {
    /// Whether the policy has decided anything yet: counters are made when
    /// a set is activated, but a policy is shown once it has run.
    fn seen(&self) -> bool {
        self.verdicts.iter().any(|v| v.load(Relaxed) > 0)
    }
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    evaluations: [[AtomicU64; 3]; HOOK_COUNT],
    latency: [Histogram; HOOK_COUNT],
    /// Every policy's counters by name, across generations: a policy that
    /// stays in the next set keeps counting. Locked only to activate a set
    /// and to render.
    policies: Mutex<BTreeMap<String, Arc<PolicyCounters>>>,
    rejected: AtomicU64,
    batches: AtomicU64,
    batch_items: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    generation: AtomicU64,
}

impl Metrics {
    /// Counts one decision that `active`'s set made, and its latency.
    pub fn record(&self, active: &Active, hook: Hook, decision: &Decision, elapsed: Duration) {
        let h = hook_index(hook);
        self.evaluations[h][outcome_index(decision.outcome)].fetch_add(1, Relaxed);
        self.latency[h].observe(elapsed);
        for report in &decision.policies {
            // Resolved for the set that made the decision, in policy order.
            let Some(counters) = active.counters.get(report.position()) else { continue };
            counters.verdicts[outcome_index(report.outcome)].fetch_add(1, Relaxed);
            if let Some(kind) = report.error_kind {
                let i = ERROR_KINDS.iter().position(|k| *k == kind).expect("every kind is listed");
                counters.errors[i].fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts a request refused before any policy ran (bad JSON, too large).
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    /// Counts a batch of `items` requests (each is counted as a decision
    /// or a refusal too).
    pub fn batch(&self, items: usize) {
        self.batches.fetch_add(1, Relaxed);
        self.batch_items.fetch_add(items as u64, Relaxed);
    }

    /// Counts a reload attempt, and the generation now active.
    pub fn reload(&self, ok: bool, generation: u64) {
        if ok {
            self.reloads_ok.fetch_add(1, Relaxed);
        } else {
            self.reloads_failed.fetch_add(1, Relaxed);
        }
        self.generation.store(generation, Relaxed);
    }

    /// The counters of each policy of `set`, in policy order, made for the
    /// names not seen before: for the set's [`Active`], when it is activated.
    pub(crate) fn policy_counters(&self, set: &PolicySet) -> Vec<Arc<PolicyCounters>> {
        let mut map = self.policies.lock().unwrap_or_else(|e| e.into_inner());
        set.policies().map(|p| map.entry(p.name.clone()).or_default().clone()).collect()
    }

    /// Every counter, in the Prometheus text exposition format, with the
    /// runtime's own: guest log lines dropped over the per-call cap, by
    /// policy, and what compiling components cost.
    pub fn render(&self, runtime: &groupgate::Runtime) -> String {
        let log_lines_dropped = runtime.log_lines_dropped();
        let mut out = String::new();
        let hooks = Hook::ALL;
        out.push_str("# HELP groupgate_evaluations_total Requests decided, by hook and outcome.\n");
        out.push_str("# TYPE groupgate_evaluations_total counter\n");
        for hook in hooks {
            for outcome in OUTCOMES {
                let n = self.evaluations[hook_index(hook)][outcome_index(outcome)].load(Relaxed);
                let _ = writeln!(
                    out,
                    "groupgate_evaluations_total{{hook=\"{hook}\",outcome=\"{}\"}} {n}",
                    outcome.as_str()
                );
            }
        }
        out.push_str("# HELP groupgate_evaluation_seconds Time to decide a request, by hook.\n");
        out.push_str("# TYPE groupgate_evaluation_seconds histogram\n");
        for hook in hooks {
            let h = &self.latency[hook_index(hook)];
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Relaxed);
                let _ =
                    writeln!(out, "groupgate_evaluation_seconds_bucket{{hook=\"{hook}\",le=\"{bound}\"}} {cumulative}");
            }
            let count = h.count.load(Relaxed);
            let _ = writeln!(out, "groupgate_evaluation_seconds_bucket{{hook=\"{hook}\",le=\"+Inf\"}} {count}");
            let sum = h.sum_ns.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "groupgate_evaluation_seconds_sum{{hook=\"{hook}\"}} {sum}");
            let _ = writeln!(out, "groupgate_evaluation_seconds_count{{hook=\"{hook}\"}} {count}");
        }
        let all = self.policies.lock().unwrap_or_else(|e| e.into_inner());
        let policies: Vec<(&String, &Arc<PolicyCounters>)> = all.iter().filter(|(_, c)| c.seen()).collect();
        out.push_str("# HELP groupgate_policy_verdicts_total Verdicts, by policy and its own outcome.\n");
        out.push_str("# TYPE groupgate_policy_verdicts_total counter\n");
        for (name, c) in &policies {
            for outcome in OUTCOMES {
                let n = c.verdicts[outcome_index(outcome)].load(Relaxed);
                let _ = writeln!(
                    out,
                    "groupgate_policy_verdicts_total{{policy=\"{}\",outcome=\"{}\"}} {n}",
                    label(name),
                    outcome.as_str()
                );
            }
        }
        out.push_str("# HELP groupgate_policy_errors_total Policies that gave no verdict, by policy and kind.\n");
        out.push_str("# TYPE groupgate_policy_errors_total counter\n");
        for (name, c) in &policies {
            for (i, kind) in ERROR_KINDS.iter().enumerate() {
                let n = c.errors[i].load(Relaxed);
                let _ = writeln!(
                    out,
                    "groupgate_policy_errors_total{{policy=\"{}\",kind=\"{}\"}} {n}",
                    label(name),
                    kind.as_str()
                );
            }
        }
        drop(policies);
        drop(all);
        out.push_str(
            "# HELP groupgate_policy_log_lines_dropped_total Guest log lines over the per-call cap, dropped, by policy (test cases run at reload included).\n",
        );
        out.push_str("# TYPE groupgate_policy_log_lines_dropped_total counter\n");
        for (name, n) in &log_lines_dropped {
            let _ = writeln!(out, "groupgate_policy_log_lines_dropped_total{{policy=\"{}\"}} {n}", label(name));
        }
        let simple = [
            ("groupgate_requests_rejected_total", "Requests refused before any policy ran.", "counter", &self.rejected),
            (
                "groupgate_batches_total",
                "Batches of requests answered (POST /v1/evaluate/batch).",
                "counter",
                &self.batches,
            ),
            (
                "groupgate_batch_items_total",
                "Requests that came in batches, each also counted as a decision or a refusal.",
                "counter",
                &self.batch_items,
            ),
            ("groupgate_reloads_ok_total", "Policy sets activated.", "counter", &self.reloads_ok),
            (
                "groupgate_reloads_failed_total",
                "Reloads refused; the previous set kept serving.",
                "counter",
                &self.reloads_failed,
            ),
            (
                "groupgate_active_generation",
                "The generation of the policy set serving requests.",
                "gauge",
                &self.generation,
            ),
        ];
        let compiling = [
            (
                "groupgate_components_compiled_total",
                "Components compiled (module files and standard plugins), found neither in memory nor in the compile cache.",
                runtime.components_compiled(),
            ),
            (
                "groupgate_compile_cache_hits_total",
                "Components loaded from the compile cache instead of compiled.",
                runtime.cache_hits(),
            ),
            (
                "groupgate_compile_cache_rejected_total",
                "Compile cache entries that failed a check (corrupt, or from another engine) and were compiled again.",
                runtime.cache_rejected(),
            ),
        ];
        let state = runtime.state().metrics();
        let counters = [
            (
                "groupgate_state_errors_total",
                "Reads or applies of counters that failed (store down, slower than `[state] timeout_ms`); the requests were still decided.",
                "counter",
                Some(state.errors),
            ),
            (
                "groupgate_state_increments_dropped_total",
                "Counter increments given up: over the buffer kept while the store is down.",
                "counter",
                Some(state.increments_dropped),
            ),
            (
                "groupgate_state_increments_pending",
                "Counter increments waiting for the store to come back.",
                "gauge",
                Some(state.increments_pending),
            ),
            ("groupgate_state_series", "Counter series the memory store holds.", "gauge", state.series),
            (
                "groupgate_state_series_limit",
                "The most counter series the memory store holds; past it, the least recently written tenth is forgotten.",
                "gauge",
                state.series_limit,
            ),
            (
                "groupgate_state_series_evicted_total",
                "Counter series the memory store forgot to stay within its bound (their counts read zero since).",
                "counter",
                state.series_evicted,
            ),
        ];
        let simple = simple.into_iter().map(|(name, help, kind, value)| (name, help, kind, value.load(Relaxed)));
        let compiling = compiling.into_iter().map(|(name, help, value)| (name, help, "counter", value));
        let counters =
            counters.into_iter().filter_map(|(name, help, kind, value)| value.map(|v| (name, help, kind, v)));
        for (name, help, kind, value) in simple.chain(compiling).chain(counters) {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}

/// A label value, escaped as the text format asks.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use crate::fixtures::{message, runtime, write_set};
    use crate::state::{Options, ServerState};

    use super::*;

    /// Decides the example message with the active set, and counts it.
    fn decide(state: &ServerState) {
        let active = state.active().unwrap();
        let decision = active.set.evaluate(&message()).unwrap();
        state.metrics.record(&active, Hook::Message, &decision, Duration::from_micros(3));
    }

    /// Each policy's count of `allow` verdicts, in the order `/metrics` shows them.
    fn allowed(state: &ServerState) -> Vec<(String, u64)> {
        let text = state.metrics.render(state.runtime());
        text.lines()
            .filter_map(|l| l.strip_prefix("groupgate_policy_verdicts_total{policy=\""))
            .filter_map(|l| l.split_once("\",outcome=\"allow\"} "))
            .map(|(name, n)| (name.to_owned(), n.parse().unwrap()))
            .collect()
    }

    #[test]
    fn a_policy_kept_by_a_reload_keeps_counting_where_it_was() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), &["a", "b"], "");
        let state = ServerState::new(runtime(), Options::new(dir.path()));
        assert!(state.reload("start").ok);
        assert_eq!(allowed(&state), [], "a policy is shown once it has run");
        decide(&state);
        assert_eq!(allowed(&state), [("a".into(), 1), ("b".into(), 1)]);

        // `b` moves to the front, `c` is new, `a` leaves.
        write_set(dir.path(), &["b", "c"], "");
        let report = state.reload("test");
        assert!(report.ok, "{report:?}");
        assert_eq!(allowed(&state), [("a".into(), 1), ("b".into(), 1)]);
        decide(&state);
        decide(&state);
        assert_eq!(allowed(&state), [("a".into(), 1), ("b".into(), 3), ("c".into(), 2)]);
    }
}
