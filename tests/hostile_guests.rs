//! Hostile and broken policy components: each gets its specific outcome (an
//! error at load, or its `on_error` verdict at call) and never costs another
//! policy its verdict or the host its ability to serve.

use std::time::{Duration, Instant};

use groupgate::{Decision, LoadError, Outcome, POLICY_ERROR, PolicySet};
use groupgate_tests::{TempSet, guests, message};

const SET: &str = "[defaults]\non_error = \"deny\"\n";

/// A set with the hostile guest `name` first and a well-behaved
/// `prohibited-content` policy after it.
fn set_with(name: &str, wasm: &str, extra: &str) -> TempSet {
    TempSet::new(SET).guest(name, wasm, extra).prohibited_content("words", "zorblax\n", "")
}

fn load(set: &TempSet) -> PolicySet {
    PolicySet::load(set.path()).unwrap_or_else(|e| panic!("set should load: {e}"))
}

fn report<'a>(decision: &'a Decision, policy: &str) -> &'a groupgate::PolicyReport {
    decision.policies.iter().find(|p| p.name == policy).unwrap_or_else(|| panic!("no report for `{policy}`"))
}

/// The hostile policy failed with an error containing `what`, got its
/// `on_error` outcome, and the neighbour still gave its own verdict.
fn assert_contained(decision: &Decision, policy: &str, on_error: Outcome, what: &str) {
    let hostile = report(decision, policy);
    let error = hostile.error.as_deref().unwrap_or_else(|| panic!("`{policy}` should have failed: {decision:?}"));
    assert!(error.contains(what), "`{policy}` error `{error}` should mention `{what}`");
    assert_eq!(hostile.outcome, on_error);
    let reason = decision.reasons.iter().find(|r| r.policy == policy && r.code == POLICY_ERROR);
    let reason = reason.unwrap_or_else(|| panic!("no `{POLICY_ERROR}` reason for `{policy}`: {decision:?}"));
    assert!(reason.message.contains(what), "{}", reason.message);
    let neighbour = report(decision, "words");
    assert_eq!(neighbour.error, None);
}

#[test]
fn a_trapping_guest_gets_its_on_error_verdict() {
    let set = load(&set_with("trap", guests::TRAP, "on_error = \"review\""));
    let clean = set.evaluate_message(&message("hello"));
    assert_contained(&clean, "trap", Outcome::Review, "trapped");
    assert_eq!(clean.outcome, Outcome::Review);

    let listed = set.evaluate_message(&message("buy zorblax"));
    assert_contained(&listed, "trap", Outcome::Review, "trapped");
    assert_eq!(listed.outcome, Outcome::Deny, "the neighbour's deny still counts");
    assert!(listed.reasons.iter().any(|r| r.policy == "words" && r.code == "prohibited-content"));
}

#[test]
fn a_looping_guest_is_stopped_at_its_deadline() {
    let set = load(&set_with("spin", guests::SPIN, "[limits]\ntimeout_ms = 50"));
    for _ in 0..5 {
        let start = Instant::now();
        let decision = set.evaluate_message(&message("hello"));
        let elapsed = start.elapsed();
        assert_contained(&decision, "spin", Outcome::Deny, "timed out");
        assert!(elapsed < Duration::from_millis(50 + 50), "took {elapsed:?}, deadline 50 ms");
    }
}

#[test]
fn a_memory_bomb_hits_its_cap() {
    let set = load(&set_with("memory-bomb", guests::MEMORY_BOMB, "[limits]\nmemory_mb = 16"));
    let decision = set.evaluate_message(&message("hello"));
    assert_contained(&decision, "memory-bomb", Outcome::Deny, "memory limit");
    assert!(report(&decision, "memory-bomb").error.as_deref().unwrap().contains("16 MiB"));
}

#[test]
fn a_verdict_with_a_million_reasons_is_refused() {
    // Enough memory and time to build the verdict, so the host must refuse it.
    let set = load(&set_with("huge-verdict", guests::HUGE_VERDICT, "[limits]\nmemory_mb = 512\ntimeout_ms = 10000"));
    let decision = set.evaluate_message(&message("hello"));
    // Refused before the host copies it: a million reasons is far over the copy budget.
    assert_contained(&decision, "huge-verdict", Outcome::Deny, "oversized verdict: more than 1024 KiB");
    assert!(decision.reasons.len() < 10, "none of the million reasons may reach the decision");
}

#[test]
fn a_log_flood_is_cut_off() {
    let set = load(&set_with("log-flood", guests::LOG_FLOOD, "[limits]\ntimeout_ms = 5000"));
    let decision = set.evaluate_message(&message("hello"));
    assert_contained(&decision, "log-flood", Outcome::Deny, "log flood");
}

#[test]
fn the_sandbox_grants_no_files_env_network_or_clock() {
    let set = load(&set_with("sandbox-probe", guests::SANDBOX_PROBE, ""));
    let decision = set.evaluate_message(&message("hello"));
    assert_eq!(report(&decision, "sandbox-probe").error, None);
    let reason = decision.reasons.iter().find(|r| r.policy == "sandbox-probe").expect("the probe reports");
    let evidence = reason.evidence.as_deref().unwrap();
    assert_eq!(reason.code, "sandbox-held", "{evidence}");
    for probe in ["file", "dir", "env", "env-count", "args", "tcp", "clock"] {
        let line =
            evidence.lines().find(|l| l.starts_with(&format!("{probe}="))).unwrap_or_else(|| panic!("{evidence}"));
        assert!(line.contains("=denied"), "{line}");
    }
    assert_eq!(decision.outcome, Outcome::Allow);
}

#[test]
fn a_sleeping_guest_cannot_block_the_host() {
    // Time does not pass inside a policy: the hour-long sleep returns at once.
    let set = load(&set_with("sleeper", guests::SLEEPER, "[limits]\ntimeout_ms = 50"));
    let (tx, rx) = std::sync::mpsc::channel();
    let start = Instant::now();
    // On its own thread, so a regression fails here instead of hanging.
    std::thread::spawn(move || tx.send(set.evaluate_message(&message("hello"))));
    let decision = rx.recv_timeout(Duration::from_secs(5)).expect("the sleep blocked the host");
    assert!(start.elapsed() < Duration::from_millis(100), "took {:?}", start.elapsed());
    assert_eq!(report(&decision, "sleeper").error, None);
    assert_eq!(decision.outcome, Outcome::Allow);
}

fn load_error(set: &TempSet) -> LoadError {
    match PolicySet::load(set.path()) {
        Ok(_) => panic!("the set should not load"),
        Err(e) => e,
    }
}

#[test]
fn a_core_module_is_refused_at_load() {
    let err = load_error(&set_with("core", guests::CORE_MODULE, ""));
    let text = err.to_string();
    assert!(text.contains("policy `core`") && text.contains("core WebAssembly module, not a component"), "{text}");
    assert!(text.contains("policy.toml"), "{text}");
}

#[test]
fn a_guest_importing_an_unknown_interface_is_refused_at_load() {
    let err = load_error(&set_with("greedy", guests::UNKNOWN_IMPORT, ""));
    let text = err.to_string();
    assert!(text.contains("policy `greedy`") && text.contains("test:extra/secrets"), "{text}");
}

#[test]
fn a_thousand_hostile_calls_leave_the_host_serving_correct_verdicts() {
    let set = TempSet::new(SET)
        .guest("trap", guests::TRAP, "on_error = \"review\"")
        .guest("memory-bomb", guests::MEMORY_BOMB, "on_error = \"allow\"\n[limits]\nmemory_mb = 8")
        .prohibited_content("words", "zorblax\n", "");
    let set = load(&set);
    for i in 0..1_000 {
        let listed = i % 2 == 0;
        let text = if listed { format!("call {i}: zorblax") } else { format!("call {i}: hello") };
        let decision = set.evaluate_message(&message(&text));
        assert_contained(&decision, "trap", Outcome::Review, "trapped");
        assert_contained(&decision, "memory-bomb", Outcome::Allow, "memory limit");
        let expected = if listed { Outcome::Deny } else { Outcome::Review };
        assert_eq!(decision.outcome, expected, "call {i}: {decision:?}");
        assert_eq!(report(&decision, "words").outcome, if listed { Outcome::Deny } else { Outcome::Allow });
    }
}

#[test]
fn hooks_a_guest_does_not_break_still_answer() {
    // The trap guest only traps on messages; its other hooks allow.
    let set = load(&set_with("trap", guests::TRAP, ""));
    let decision = set.evaluate_membership(&groupgate_tests::membership());
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(report(&decision, "trap").error, None);
}
