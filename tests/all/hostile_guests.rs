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
    groupgate_tests::load(set.path()).unwrap_or_else(|e| panic!("set should load: {e}"))
}

fn report<'a>(decision: &'a Decision, policy: &str) -> &'a groupgate::PolicyReport {
    decision.policies.iter().find(|p| &*p.name == policy).unwrap_or_else(|| panic!("no report for `{policy}`"))
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
    let clean = set.evaluate_message(&message("hello")).unwrap();
    assert_contained(&clean, "trap", Outcome::Review, "trapped");
    assert_eq!(clean.outcome, Outcome::Review);

    // The guest's own words come with the trap: the panic's message and
    // where it panicked, not Rust's hint about backtraces.
    let error = report(&clean, "trap").error.clone().unwrap();
    let (trap, said) =
        error.split_once(&format!("\n{}\n", groupgate::OUTPUT_HEADER)).unwrap_or_else(|| panic!("{error}"));
    assert!(trap.starts_with("trapped: "), "{error}");
    assert!(said.contains("panicked at") && said.contains("src/lib.rs:12:9"), "{error}");
    assert!(said.ends_with("policy bug on message `msg-1`"), "{error}");
    assert!(!error.contains("RUST_BACKTRACE"), "{error}");

    let listed = set.evaluate_message(&message("buy zorblax")).unwrap();
    assert_contained(&listed, "trap", Outcome::Review, "trapped");
    assert_eq!(listed.outcome, Outcome::Deny, "the neighbour's deny still counts");
    assert!(listed.reasons.iter().any(|r| r.policy == "words" && r.code == "prohibited-content"));
}

#[test]
fn a_looping_guest_is_stopped_at_its_deadline() {
    let set = load(&set_with("spin", guests::SPIN, "[limits]\ntimeout_ms = 50"));
    for _ in 0..5 {
        let start = Instant::now();
        let decision = set.evaluate_message(&message("hello")).unwrap();
        let elapsed = start.elapsed();
        assert_contained(&decision, "spin", Outcome::Deny, "timed out");
        assert!(elapsed < Duration::from_millis(50 + 50), "took {elapsed:?}, deadline 50 ms");
    }
}

#[test]
fn a_memory_bomb_hits_its_cap() {
    let set = load(&set_with("memory-bomb", guests::MEMORY_BOMB, "[limits]\nmemory_mb = 16"));
    let decision = set.evaluate_message(&message("hello")).unwrap();
    assert_contained(&decision, "memory-bomb", Outcome::Deny, "memory limit");
    assert!(report(&decision, "memory-bomb").error.as_deref().unwrap().contains("16 MiB"));
}

#[test]
fn a_verdict_with_a_million_reasons_is_refused() {
    // Enough memory and time to build the verdict, so the host must refuse it.
    let set = load(&set_with("huge-verdict", guests::HUGE_VERDICT, "[limits]\nmemory_mb = 512\ntimeout_ms = 10000"));
    let decision = set.evaluate_message(&message("hello")).unwrap();
    // Refused before the host copies it: a million reasons is far over the copy budget.
    assert_contained(&decision, "huge-verdict", Outcome::Deny, "oversized verdict: more than 1024 KiB");
    assert!(decision.reasons.len() < 10, "none of the million reasons may reach the decision");
}

#[test]
fn a_log_flood_is_cut_off() {
    let set = load(&set_with("log-flood", guests::LOG_FLOOD, "[limits]\ntimeout_ms = 5000"));
    let decision = set.evaluate_message(&message("hello")).unwrap();
    assert_contained(&decision, "log-flood", Outcome::Deny, "log flood");
}

#[test]
fn the_sandbox_grants_no_files_env_network_or_clock() {
    let set = load(&set_with("sandbox-probe", guests::SANDBOX_PROBE, ""));
    let decision = set.evaluate_message(&message("hello")).unwrap();
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
    std::thread::spawn(move || tx.send(set.evaluate_message(&message("hello")).unwrap()));
    let decision = rx.recv_timeout(Duration::from_secs(5)).expect("the sleep blocked the host");
    assert!(start.elapsed() < Duration::from_millis(100), "took {:?}", start.elapsed());
    assert_eq!(report(&decision, "sleeper").error, None);
    assert_eq!(decision.outcome, Outcome::Allow);
}

fn load_error(set: &TempSet) -> LoadError {
    match groupgate_tests::load(set.path()) {
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
        let decision = set.evaluate_message(&message(&text)).unwrap();
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
    let decision = set.evaluate_membership(&groupgate_tests::membership()).unwrap();
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(report(&decision, "trap").error, None);
}

/// The `hostile` guest doing `act`, with `extra` manifest lines after its
/// `[config]` (so `extra` may only add keys to `[config]` or open tables).
fn hostile(act: &str, extra: &str) -> TempSet {
    set_with("hostile", guests::HOSTILE, &format!("on_error = \"review\"\n[config]\nact = \"{act}\"\n{extra}"))
}

/// Evaluates a message with `text` three times: the last decision, and the
/// fastest answer's time, so a scheduler hiccup on a busy machine is not
/// taken for the policy's doing.
fn fastest_of_three(set: &PolicySet, text: &str) -> (Decision, Duration) {
    let mut fastest = Duration::MAX;
    let mut decision = None;
    for _ in 0..3 {
        let start = Instant::now();
        decision = Some(set.evaluate_message(&message(text)).unwrap());
        fastest = fastest.min(start.elapsed());
    }
    (decision.unwrap(), fastest)
}

/// Evaluates a message, asserting that the answer came within the hostile
/// policy's deadline plus 50 ms (the fastest of three answers counts).
fn within_deadline(set: &PolicySet, deadline_ms: u64) -> Decision {
    let (decision, fastest) = fastest_of_three(set, "hello");
    assert!(fastest < Duration::from_millis(deadline_ms + 50), "took {fastest:?}, deadline {deadline_ms} ms");
    decision
}

#[test]
fn a_guest_that_aborts_fails_with_its_own_message_cut_and_printable_and_nothing_more() {
    let set = load(&hostile("abort-lies", ""));
    let decision = set.evaluate_message(&message("hello")).unwrap();
    assert_contained(&decision, "hostile", Outcome::Review, "fuel allocated for hostcalls");
    let report = report(&decision, "hostile");
    // Its words, not the host's: a trap, not an oversized verdict.
    assert_eq!(report.error_kind, Some(groupgate::ErrorKind::Trap), "{report:?}");
    let error = report.error.as_deref().unwrap();
    assert!(!error.contains('\u{1b}'), "{error:?}");
    assert!(error.len() < 1_200, "{} bytes kept", error.len());
}

#[test]
fn a_guest_that_explains_its_verdict_twice_fails_naming_the_contract() {
    let set = load(&hostile("explain-twice", ""));
    let decision = set.evaluate_message(&message("hello")).unwrap();
    assert_contained(&decision, "hostile", Outcome::Review, "`verdict.explain` twice in one call");
    assert!(decision.reasons.iter().all(|r| r.code != "explained"), "no reason of a failed call is kept: {decision:?}");
}

#[test]
fn a_guest_that_overflows_its_stack_gets_its_on_error_verdict() {
    let set = load(&hostile("recurse", ""));
    let decision = within_deadline(&set, 100);
    assert_contained(&decision, "hostile", Outcome::Review, "call stack exhausted");
    assert_eq!(report(&decision, "hostile").error_kind, Some(groupgate::ErrorKind::Trap));
    // The next call gets a new instance and overflows again, no worse.
    assert_contained(&within_deadline(&set, 100), "hostile", Outcome::Review, "call stack exhausted");

    // A Rust guest keeps large frames in its own memory, below its data: run
    // out of that and it traps on the first access below address zero.
    let set = load(&hostile("deep-frames", ""));
    let decision = within_deadline(&set, 100);
    assert_contained(&decision, "hostile", Outcome::Review, "out of bounds memory access");
    assert_eq!(report(&decision, "hostile").error_kind, Some(groupgate::ErrorKind::Trap));
}

#[test]
fn an_init_that_never_returns_is_stopped_at_the_init_deadline() {
    // Compiled once by an instance that behaves, so the timing below is init's.
    load(&hostile("none", ""));
    let set = hostile("init-spin", "[limits]\ninit_timeout_ms = 300\ntimeout_ms = 50");
    let start = Instant::now();
    let text = load_error(&set).to_string();
    let elapsed = start.elapsed();
    assert!(text.contains("policy `hostile`") && text.contains("init failed: timed out"), "{text}");
    assert!(text.contains("300 ms"), "the init deadline, not the call's 50 ms: {text}");
    assert!(elapsed >= Duration::from_millis(300), "stopped before its init deadline: {elapsed:?}");
    assert!(elapsed < Duration::from_millis(300 + 1000), "took {elapsed:?}");
}

#[test]
fn an_init_may_allocate_up_to_the_memory_cap_and_no_further() {
    let fits = load(&hostile("init-alloc", "mb = 56\n[limits]\nmemory_mb = 64"));
    let decision = within_deadline(&fits, 100);
    assert_eq!(report(&decision, "hostile").error, None);
    assert_eq!(decision.outcome, Outcome::Allow);

    let text = load_error(&hostile("init-alloc", "mb = 80\n[limits]\nmemory_mb = 64")).to_string();
    assert!(text.contains("policy `hostile`") && text.contains("init failed: memory limit"), "{text}");
    assert!(text.contains("64 MiB"), "{text}");
}

#[test]
fn a_data_file_over_max_data_bytes_is_refused_at_load_by_name() {
    let words = "zorblax\n".repeat(200);
    let set = TempSet::new("[limits]\nmax_data_bytes = 1024\n").prohibited_content("words", &words, "");
    let text = load_error(&set).to_string();
    assert!(text.contains("words.txt") && text.contains("key `data.words`"), "{text}");
    assert!(text.contains("larger than the set's `max_data_bytes` of 1024 bytes"), "{text}");
    // At the limit, it loads.
    let set = TempSet::new("[limits]\nmax_data_bytes = 1600\n").prohibited_content("words", &words, "");
    load(&set);
}

#[test]
fn a_verdict_with_huge_strings_gets_the_on_error_verdict() {
    let set = load(&hostile("huge-strings", "[limits]\nmemory_mb = 64"));
    let decision = within_deadline(&set, 100);
    assert_contained(&decision, "hostile", Outcome::Review, "oversized verdict");
    assert!(report(&decision, "hostile").error.as_deref().unwrap().contains("bytes of text"), "{decision:?}");
    assert!(decision.reasons.iter().all(|r| r.message.len() < 1024), "no huge string reaches the decision");
}

#[test]
fn a_guest_built_for_another_contract_version_is_refused_naming_both() {
    let text = load_error(&set_with("newer", guests::OTHER_CONTRACT, "")).to_string();
    assert!(text.contains("policy `newer`"), "{text}");
    assert!(text.contains("groupgate:policy@0.3.0") && text.contains(groupgate::CONTRACT), "{text}");
    assert!(text.contains("groupgate:policy@0.1.0"), "every version served is named: {text}");
}

#[test]
fn a_reused_instance_keeps_state_across_calls_and_a_fresh_one_does_not() {
    // The default: one warm instance answers call after call, so a policy can
    // carry one request's text into the next (documented in the WIT and README).
    let reused = load(&hostile("remember", ""));
    reused.evaluate_message(&message("first secret")).unwrap();
    let second = reused.evaluate_message(&message("second")).unwrap();
    let leaked = second.reasons.iter().find(|r| r.code == "remembered").expect("the reused instance remembers");
    assert_eq!(leaked.evidence.as_deref(), Some("first secret"));

    // `isolation = "fresh"`: a new instance per call, so nothing carries over.
    let fresh = load(&hostile("remember", "[limits]\nisolation = \"fresh\""));
    for text in ["first secret", "second", "third"] {
        let decision = fresh.evaluate_message(&message(text)).unwrap();
        assert_eq!(report(&decision, "hostile").error, None);
        assert!(decision.reasons.iter().all(|r| r.code != "remembered"), "{text}: {decision:?}");
        assert_eq!(decision.outcome, Outcome::Allow);
    }
}

#[test]
fn a_message_text_over_max_text_bytes_is_refused_before_any_policy_runs() {
    let set =
        TempSet::new("[limits]\nmax_text_bytes = 1000\n").guest("spin", guests::SPIN, "[limits]\ntimeout_ms = 2000");
    let set = load(&set);
    let start = Instant::now();
    let err = set.evaluate_message(&message(&"x".repeat(1001))).unwrap_err();
    // The spinning policy would have taken its 2 s deadline.
    assert!(start.elapsed() < Duration::from_secs(1), "a policy ran: {:?}", start.elapsed());
    assert!(err.is_too_large());
    assert!(
        err.to_string().contains("field `text`: 1001 bytes, more than the set's `max_text_bytes` of 1000"),
        "{err}"
    );
    // Every text field is held to it, not only a message's text.
    let mut creation = groupgate_tests::creation("ok");
    creation.description = "d".repeat(1001);
    let err = set.evaluate_group_creation(&creation).unwrap_err();
    assert!(err.to_string().contains("field `description`: 1001 bytes"), "{err}");
    let mut membership = groupgate_tests::membership();
    membership.subject.labels = vec!["short".into(), "l".repeat(2000)];
    let err = set.evaluate_membership(&membership).unwrap_err();
    assert!(err.to_string().contains("field `subject.labels[1]`: 2000 bytes"), "{err}");
    // The default limit is 64 KiB.
    let default = load(&set_with("allow", guests::ALLOW_ALL, ""));
    assert!(default.evaluate_message(&message(&"x".repeat(64 * 1024))).is_ok());
    assert!(default.evaluate_message(&message(&"x".repeat(10 << 20))).unwrap_err().is_too_large());
}

#[test]
fn every_hostile_guest_is_answered_within_its_deadline_plus_50_ms() {
    // Default limits (100 ms, 64 MiB): each hostile policy fails in its own
    // way, and the decision, with its neighbour's verdict, still arrives in time.
    let guests: &[(&str, &str, &str)] = &[
        ("trap", guests::TRAP, ""),
        ("spin", guests::SPIN, ""),
        ("memory-bomb", guests::MEMORY_BOMB, ""),
        ("huge-verdict", guests::HUGE_VERDICT, ""),
        ("log-flood", guests::LOG_FLOOD, ""),
        ("sleeper", guests::SLEEPER, ""),
        ("recurse", guests::HOSTILE, "[config]\nact = \"recurse\""),
        ("deep-frames", guests::HOSTILE, "[config]\nact = \"deep-frames\""),
        ("huge-strings", guests::HOSTILE, "[config]\nact = \"huge-strings\""),
    ];
    for (name, wasm, extra) in guests {
        let set = load(&set_with(name, wasm, extra));
        for text in ["hello", "buy zorblax"] {
            let (decision, fastest) = fastest_of_three(&set, text);
            assert!(fastest < Duration::from_millis(150), "`{name}` took {fastest:?}");
            let words = report(&decision, "words");
            assert_eq!(words.error, None, "{name}");
            let expected = if text == "hello" { Outcome::Allow } else { Outcome::Deny };
            assert_eq!(words.outcome, expected, "`{name}`: the neighbour decides as usual");
        }
    }
}

#[test]
fn an_init_made_during_a_call_is_held_to_the_call_deadline() {
    // An `init` that takes far longer than a call may, but returns within
    // `init_timeout_ms`, so the set loads; every call then traps, so each
    // next call must make a new instance on the request path.
    let set = hostile(
        "slow-init-trap",
        "rounds = 400_000_000\n[limits]\ninit_timeout_ms = 30000\ntimeout_ms = 50\nisolation = \"fresh\"",
    );
    let start = Instant::now();
    let set = load(&set);
    let init = start.elapsed();
    assert!(init > Duration::from_millis(300), "the premise: init takes long ({init:?})");
    for _ in 0..3 {
        let start = Instant::now();
        let decision = set.evaluate_message(&message("hello")).unwrap();
        let elapsed = start.elapsed();
        assert_contained(&decision, "hostile", Outcome::Review, "timed out: ran past its 50 ms deadline");
        assert!(elapsed < init / 2, "the call waited for init: {elapsed:?} (init alone took {init:?})");
    }
}
