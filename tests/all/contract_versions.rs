//! Two contract versions served side by side: components built for
//! `groupgate:policy@0.1.0` (checked in as the previous release built them,
//! in `tests/data/contract-0.1.0/`) load and decide exactly as the same
//! policies built for 0.2.0; and the counters of 0.2.0 are read, written and
//! refused as manifests declare. Time is the requests' own, so a day passes
//! between two calls.

use std::sync::Arc;

use groupgate::state::{Recorded, StateStore};
use groupgate::{Decision, ErrorKind, Message, Outcome, PolicySet, Request};
use groupgate_tests::{TempSet, creation, load, membership, message, repo_root, user};

const HOOKS: &str = "hooks = [\"message\", \"group-creation\", \"membership\"]";

/// A set running standard plugin `policy` twice, with the same `files`: as
/// the 0.1.0 component checked in (`old`), and as built now (`new`).
fn old_and_new(policy: &str, extra: &str, files: &[(&str, &[u8])]) -> PolicySet {
    let wasm = std::fs::read(repo_root().join(format!("tests/data/contract-0.1.0/{policy}.wasm"))).unwrap();
    let mut old_files = files.to_vec();
    old_files.push(("policy.wasm", &wasm));
    let set = TempSet::new("")
        .policy(
            "old",
            &format!("name = \"old\"\nversion = \"1\"\nmodule = \"policy.wasm\"\n{HOOKS}\n{extra}"),
            &old_files,
        )
        .policy(
            "new",
            &format!("name = \"new\"\nversion = \"2\"\nmodule = \"builtin:{policy}\"\n{HOOKS}\n{extra}"),
            files,
        );
    load(set.path()).unwrap()
}

/// A policy's outcome, reasons and measures in `decision`.
fn verdict_of(decision: &Decision, name: &str) -> impl PartialEq + std::fmt::Debug {
    let reasons: Vec<_> = decision
        .reasons
        .iter()
        .filter(|r| r.policy == name)
        .map(|r| (r.code.clone(), r.message.clone(), r.article.clone(), r.evidence.clone()))
        .collect();
    let measures: Vec<_> = decision
        .measures
        .iter()
        .filter(|m| m.policy == name)
        .map(|m| (m.kind, m.target.clone(), m.duration_secs, m.amount))
        .collect();
    let outcome = decision.policies.iter().find(|p| &*p.name == name).map(|p| (p.outcome, p.error.clone()));
    (outcome, reasons, measures)
}

fn requests() -> Vec<Request> {
    let mut requests = Vec::new();
    for level in 0..5 {
        let mut m = message("hello");
        m.sender.credit_level = level;
        requests.push(Request::Message(m.clone()));
        m.group.category = "news".into();
        m.sender.id = "usr-666".into();
        requests.push(Request::Message(m));
        let mut c = creation("A club");
        c.founder.credit_level = level;
        requests.push(Request::GroupCreation(c.clone()));
        c.founder.id = "usr-666".into();
        requests.push(Request::GroupCreation(c));
        let mut j = membership();
        j.subject.credit_level = level;
        requests.push(Request::Membership(j.clone()));
        j.inviter = Some(user("usr-666"));
        requests.push(Request::Membership(j));
    }
    requests
}

#[test]
fn components_built_for_0_1_0_decide_as_the_same_policies_built_for_0_2_0() {
    let credit = old_and_new("credit-levels", "", &[]);
    let blacklist = old_and_new(
        "blacklist",
        "[data]\nusers = \"users.txt\"\ngroups = \"groups.txt\"\n",
        &[("users.txt", b"usr-666\n"), ("groups.txt", b"grp-13\n")],
    );
    for set in [credit, blacklist] {
        let mut outcomes = std::collections::BTreeSet::new();
        for request in requests() {
            let decision = set.evaluate(&request).unwrap();
            assert_eq!(verdict_of(&decision, "old"), verdict_of(&decision, "new"), "{request:?}");
            outcomes.insert(decision.outcome);
        }
        assert!(outcomes.contains(&Outcome::Allow) && outcomes.contains(&Outcome::Deny), "both outcomes exercised");
    }
}

/// A message from `sender` at `secs` seconds of request time.
fn from(sender: &str, secs: u64) -> Request {
    let mut m: Message = message("See you at the gate.");
    m.sender.id = sender.into();
    m.sent_at = 1_764_316_800_000 + secs * 1000;
    Request::Message(m)
}

fn codes(decision: &Decision) -> Vec<&str> {
    decision.reasons.iter().map(|r| r.code.as_str()).collect()
}

const FLOOD: &str = r#"name = "flood-control"
version = "1"
module = "builtin:flood-control"
hooks = ["message"]
[counters.messages]
of = "sender"
host = { hook = "message" }
windows = ["60s"]
[config]
max_messages = 2
window_secs = 60
"#;

/// The `counter` test guest, which adds 1 to its own counter `events` on
/// every message, with `declared` as that counter's table.
fn counter_guest(declared: &str) -> TempSet {
    TempSet::new("").guest("counter", groupgate_tests::guests::COUNTER, &format!("[counters.events]\n{declared}"))
}

#[test]
fn a_counter_counts_within_its_window_of_request_time() {
    let set = TempSet::new("").policy("flood", FLOOD, &[]);
    let set = load(set.path()).unwrap();
    let outcomes: Vec<Outcome> =
        [0, 1, 2, 3].iter().map(|&s| set.evaluate(&from("usr-a", s)).unwrap().outcome).collect();
    assert_eq!(outcomes, [Outcome::Allow, Outcome::Allow, Outcome::Deny, Outcome::Deny]);
    let denied = set.evaluate(&from("usr-a", 4)).unwrap();
    assert_eq!(codes(&denied), ["flood"]);
    assert_eq!(denied.policies[0].counts.get("messages", "60s"), Some(Some(4)), "the counts read are reported");
    // Another sender has a count of its own.
    assert_eq!(set.evaluate(&from("usr-b", 4)).unwrap().outcome, Outcome::Allow);
    // A minute later (in request time) the window is empty again.
    assert_eq!(set.evaluate(&from("usr-a", 70)).unwrap().outcome, Outcome::Allow);
    // Given counts are used instead of the store's, and nothing is added.
    let mut zero = groupgate::state::PolicyCounts::new();
    zero.insert("messages", "60s", Some(0));
    let given = Recorded::new([("flood-control".into(), zero)].into());
    assert_eq!(set.evaluate_with_counts(&from("usr-a", 4), &given).unwrap().outcome, Outcome::Allow);
}

#[test]
fn a_policy_adds_to_its_own_counter_and_reads_it_back() {
    let set = load(counter_guest("of = \"sender\"\nwindows = [\"60s\"]").path()).unwrap();
    let outcomes: Vec<Outcome> = (0..4).map(|s| set.evaluate(&from("usr-o", s)).unwrap().outcome).collect();
    assert_eq!(outcomes, [Outcome::Allow, Outcome::Allow, Outcome::Deny, Outcome::Deny]);
    let denied = set.evaluate(&from("usr-o", 4)).unwrap();
    assert_eq!(denied.policies[0].counts.get("events", "60s"), Some(Some(4)), "denied messages add too");
    assert_eq!(set.evaluate(&from("usr-p", 4)).unwrap().outcome, Outcome::Allow, "another sender's count");
}

/// FLOOD with `call_from` for its counter.
fn flood_from(call_from: &str) -> String {
    FLOOD.replace("windows = [\"60s\"]", &format!("windows = [\"60s\"]\ncall_from = {call_from}"))
}

#[test]
fn below_call_from_a_policy_is_not_called_and_its_answer_taken_as_allow() {
    let set = load(TempSet::new("").policy("flood", &flood_from("\"max_messages\""), &[]).path()).unwrap();
    let decisions: Vec<Decision> = (0..4).map(|s| set.evaluate(&from("usr-s", s)).unwrap()).collect();
    let called: Vec<bool> = decisions.iter().map(|d| !d.policies[0].below_call_from).collect();
    assert_eq!(called, [false, false, true, true], "called from the second count on (max_messages = 2)");
    let outcomes: Vec<Outcome> = decisions.iter().map(|d| d.outcome).collect();
    assert_eq!(outcomes, [Outcome::Allow, Outcome::Allow, Outcome::Deny, Outcome::Deny]);
    // A skipped policy's report still carries the counts it read (a replay
    // decides the same), says so in JSON, and took no time.
    let first = &decisions[0].policies[0];
    assert_eq!(first.counts.get("messages", "60s"), Some(Some(0)));
    assert_eq!(first.duration, std::time::Duration::ZERO);
    assert!(decisions[0].to_json().contains("\"below_call_from\":true"), "{}", decisions[0].to_json());
    assert!(!decisions[2].to_json().contains("below_call_from"), "{}", decisions[2].to_json());
    // Counts that could not be read: called, so it can say so.
    let unread = set.evaluate_with_counts(&from("usr-s", 0), &Recorded::unavailable()).unwrap();
    assert!(!unread.policies[0].below_call_from);
    assert_eq!(codes(&unread), ["counts-unavailable"]);
    // Tested alone, a policy is always called.
    let alone = set.evaluate_policy("flood-control", &from("usr-s", 0)).unwrap().unwrap();
    assert!(!alone.policies[0].below_call_from);
    // Nothing to check when call_from keeps its promise.
    assert!(set.check_call_from(&from("usr-s", 0), &Recorded::default()).unwrap().is_empty());
}

#[test]
fn a_call_from_above_the_policys_own_threshold_is_caught_by_the_check() {
    let set = load(TempSet::new("").policy("flood", &flood_from("5"), &[]).path()).unwrap();
    let mut three = groupgate::state::PolicyCounts::new();
    three.insert("messages", "60s", Some(3));
    let given = Recorded::new([("flood-control".into(), three)].into());
    // The host skips it at 3, though it would deny: the promise is broken,
    // and the check says so.
    assert_eq!(set.evaluate_with_counts(&from("usr-t", 0), &given).unwrap().outcome, Outcome::Allow);
    let broken = set.check_call_from(&from("usr-t", 0), &given).unwrap();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("policy `flood-control` answered `deny` (flood)"), "{}", broken[0]);
    assert!(broken[0].contains("messages 60s = 3"), "{}", broken[0]);
}

#[test]
fn a_policy_is_called_on_a_hook_where_it_has_nobody_to_count_and_reads_a_counter_only_on_its_hooks() {
    // flood-control answering group creations too, where a sender counter
    // has nobody to count: called there (its answer is its own), skipped
    // on an ordinary message.
    let both =
        flood_from("\"max_messages\"").replace("hooks = [\"message\"]", "hooks = [\"message\", \"group-creation\"]");
    let set = load(TempSet::new("").policy("flood", &both, &[]).path()).unwrap();
    let created = set.evaluate(&Request::GroupCreation(creation("A club"))).unwrap();
    assert!(!created.policies[0].below_call_from, "{created:?}");
    assert_eq!(created.policies[0].counts.get("messages", "60s"), Some(None));
    assert!(set.evaluate(&from("usr-h", 0)).unwrap().policies[0].below_call_from);

    // Read on messages only: a group creation reads nothing, and the policy
    // is called there.
    let narrowed = both.replace("call_from = \"max_messages\"", "call_from = \"max_messages\"\nhooks = [\"message\"]");
    let set = load(TempSet::new("").policy("flood", &narrowed, &[]).path()).unwrap();
    let created = set.evaluate(&Request::GroupCreation(creation("A club"))).unwrap();
    assert!(created.policies[0].counts.is_empty(), "{created:?}");
    assert!(!created.policies[0].below_call_from);
    assert!(set.evaluate(&from("usr-h", 0)).unwrap().policies[0].below_call_from);

    for (hooks, says) in [
        ("[]", "lists no hook"),
        ("[\"membership\"]", "`membership` is not one of the hooks the policy answers"),
        ("[\"group-creation\"]", "a `group-creation` request has no `sender`"),
    ] {
        let bad = both.replace("call_from = \"max_messages\"", &format!("hooks = {hooks}"));
        let err = load(TempSet::new("").policy("flood", &bad, &[]).path()).err().expect(says).to_string();
        assert!(err.contains(says), "{says}: {err}");
    }
}

#[test]
fn a_host_counter_without_outcome_counts_every_decision_once_for_whom_the_set_reads() {
    let store = Arc::new(groupgate::state::Memory::new());
    let set = TempSet::new("policies = [\"words\", \"flood\"]\n").prohibited_content("words", "zorblax\n", "").policy(
        "flood",
        FLOOD,
        &[],
    );
    let set = load(set.path()).unwrap().with_state(store.clone());
    let namespace = set.state_namespace().to_owned();
    let mut denied = from("usr-k", 0);
    if let Request::Message(m) = &mut denied {
        m.text = "zorblax".into();
    }
    assert_eq!(set.evaluate(&denied).unwrap().outcome, Outcome::Deny);
    assert_eq!(set.evaluate(&from("usr-k", 1)).unwrap().outcome, Outcome::Allow);
    let window = groupgate::state::Window::parse("60s").unwrap();
    let count = |kind: &str, id: &str| {
        let series = groupgate::state::series_key(&namespace, "host/message/any/*", kind, id);
        let read = groupgate::state::Read::events(&series, &window, 1_764_316_800_000 + 2_000);
        store.read(&[read], 0).unwrap()[0]
    };
    assert_eq!(count("user", "usr-k"), 2, "a denied message and an allowed one, each once");
    let Request::Message(m) = from("usr-k", 0) else { unreachable!() };
    assert_eq!(count("group", &m.group.id), 0, "no policy of the set reads it of groups");
}

#[test]
fn call_from_is_checked_when_the_set_loads() {
    for (bad, says) in [
        (flood_from("\"max_mesages\""), "names `[config]` key `max_mesages`, which the manifest does not set"),
        (flood_from("0"), "0 must be at least 1"),
        (flood_from("1.5"), "a whole number, the name of a `[config]` key, or a table of window to either"),
        (flood_from("{ \"1m\" = 3 }"), "names window `1m`, which `windows` does not list (60s)"),
        (flood_from("{}"), "gives no threshold for window `60s`"),
        (flood_from("\"max_messages\"").replace("max_messages = 2", "max_messages = \"two\""), "is a string"),
        (
            format!("{}[counters.other]\nof = \"sender\"\nwindows = [\"1h\"]\n", flood_from("2")),
            "counters.other.call_from",
        ),
        (
            FLOOD.replace("host = { hook = \"message\" }", "host = { hook = \"message\", outcome = \"allow\" }"),
            "not `allow`",
        ),
        (
            FLOOD.replace("host = { hook = \"message\" }", "host = { hook = \"message\", articles = [\"Art. 7\"] }"),
            "filters the reasons of an `outcome`",
        ),
    ] {
        let err = load(TempSet::new("").policy("flood", &bad, &[]).path()).err().expect(says).to_string();
        assert!(err.contains(says), "{says}: {err}");
    }
}

/// repeat-offender reading the host's denials with `filter` (e.g.
/// `, articles = [...]`) after its `outcome`, suspending after `suspend_after`.
fn repeat_offender(filter: &str, suspend_after: u32) -> String {
    format!(
        r#"name = "repeat-offender"
version = "1"
module = "builtin:repeat-offender"
hooks = ["message", "group-creation"]
[counters.message_denials]
of = "sender"
host = {{ hook = "message", outcome = "deny"{filter} }}
windows = ["24h", "30d"]
[counters.creation_denials]
of = "founder"
host = {{ hook = "group-creation", outcome = "deny"{filter} }}
windows = ["30d"]
[config]
suspend_after = {suspend_after}
"#
    )
}

#[test]
fn the_host_counts_denials_by_article_so_flood_denials_do_not_make_a_repeat_offender() {
    let repeat = repeat_offender(", articles = [\"Art. 9\", \"Art. 10\"]", 2);
    let set = TempSet::new("policies = [\"words\", \"flood\", \"repeat\"]\n")
        .prohibited_content("words", "zorblax\n", "")
        .policy("flood", FLOOD, &[])
        .policy("repeat", &repeat, &[]);
    let set = load(set.path()).unwrap();
    let mut prohibited = from("usr-c", 0);
    if let Request::Message(m) = &mut prohibited {
        m.text = "zorblax".into();
    }
    // Two floods (Art. 7): not violations the repeat-offender counts.
    for s in 0..4 {
        set.evaluate(&from("usr-f", s)).unwrap();
    }
    let flooded = set.evaluate(&from("usr-f", 100)).unwrap();
    assert!(!codes(&flooded).contains(&"repeat-offender"), "{flooded:?}");
    // Two denials for prohibited content (Art. 10), an hour apart: the next
    // clean message, a day later but within 24 h of the second, is denied.
    set.evaluate(&prohibited).unwrap();
    if let Request::Message(m) = &mut prohibited {
        m.sent_at += 3_600_000;
    }
    assert_eq!(set.evaluate(&prohibited).unwrap().outcome, Outcome::Deny);
    let next = set.evaluate(&from("usr-c", 23 * 3600)).unwrap();
    assert_eq!(codes(&next), ["repeat-offender"], "{next:?}");
    assert_eq!(
        next.policies.iter().find(|p| &*p.name == "repeat-offender").unwrap().counts.get("message_denials", "24h"),
        Some(Some(2))
    );
    // Two days on, the 24-hour window has forgotten them.
    assert_eq!(set.evaluate(&from("usr-c", 48 * 3600)).unwrap().outcome, Outcome::Allow);
}

#[test]
fn counters_a_manifest_does_not_declare_are_refused() {
    // Read: the counter is declared under another name.
    let misnamed = FLOOD.replace("[counters.messages]", "[counters.msgs]");
    let set = load(TempSet::new("").policy("flood", &misnamed, &[]).path()).unwrap();
    let decision = set.evaluate(&from("usr-d", 0)).unwrap();
    let report = &decision.policies[0];
    assert_eq!(report.error_kind, Some(ErrorKind::Trap), "{report:?}");
    assert!(report.error.as_deref().unwrap().contains("counter `messages` over `60s` is not declared"), "{report:?}");
    assert_eq!(decision.outcome, Outcome::Deny, "on_error deny");

    // Write: the counter is one the host keeps, not the policy's own.
    let hosts = counter_guest("of = \"sender\"\nhost = { hook = \"message\" }\nwindows = [\"60s\"]");
    let set = load(hosts.path()).unwrap();
    let decision = set.evaluate(&from("usr-d", 0)).unwrap();
    let report = &decision.policies[0];
    assert_eq!(report.error_kind, Some(ErrorKind::Contract), "{report:?}");
    assert!(report.error.as_deref().unwrap().contains("adds to counter `events`"), "{report:?}");

    // Load: a counter of nobody in the policy's hooks, a bad window.
    for (bad, says) in [
        (FLOOD.replace("of = \"sender\"", "of = \"subject\""), "`subject` is in none of the hooks"),
        (FLOOD.replace("\"60s\"", "\"60\""), "window `60`"),
        (FLOOD.replace("windows = [\"60s\"]", "windows = []"), "at least one window"),
    ] {
        let err = load(TempSet::new("").policy("flood", &bad, &[]).path()).err().expect(says).to_string();
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn when_counts_cannot_be_read_a_policy_gets_none_or_fails_as_its_manifest_says() {
    let set = load(TempSet::new("").policy("flood", FLOOD, &[]).path()).unwrap();
    let decision = set.evaluate_with_counts(&from("usr-e", 0), &Recorded::unavailable()).unwrap();
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(codes(&decision), ["counts-unavailable"]);
    assert_eq!(decision.policies[0].counts.get("messages", "60s"), Some(None));

    let strict = FLOOD
        .replace("hooks = [\"message\"]", "hooks = [\"message\"]\non_state_error = \"error\"\non_error = \"review\"");
    let set = load(TempSet::new("").policy("flood", &strict, &[]).path()).unwrap();
    let decision = set.evaluate_with_counts(&from("usr-e", 0), &Recorded::unavailable()).unwrap();
    assert_eq!(decision.outcome, Outcome::Review);
    assert_eq!(decision.policies[0].error_kind, Some(ErrorKind::State));
}

#[test]
fn a_policy_that_failed_feeds_no_host_counter() {
    let repeat = repeat_offender("", 1);
    let set = TempSet::new("policies = [\"trap\", \"repeat\"]\n")
        .guest("trap", groupgate_tests::guests::TRAP, "on_error = \"deny\"")
        .policy("repeat", &repeat, &[]);
    let set = load(set.path()).unwrap();
    let first = set.evaluate(&from("usr-t", 0)).unwrap();
    assert_eq!(first.outcome, Outcome::Deny, "the trap's on_error: {first:?}");
    let second = set.evaluate(&from("usr-t", 10)).unwrap();
    let report = second.policies.iter().find(|p| &*p.name == "repeat-offender").unwrap();
    assert_eq!(report.counts.get("message_denials", "24h"), Some(Some(0)), "{second:?}");
    assert!(!codes(&second).contains(&"repeat-offender"), "{second:?}");
}

#[test]
fn a_0_1_0_component_listing_the_report_hook_is_refused_at_load() {
    let wasm = std::fs::read(repo_root().join("tests/data/contract-0.1.0/blacklist.wasm")).unwrap();
    let manifest = "name = \"old\"\nversion = \"1\"\nmodule = \"policy.wasm\"\nhooks = [\"message\", \"report\"]\n";
    let set = TempSet::new("").policy(
        "old",
        manifest,
        &[("policy.wasm", &wasm), ("users.txt", b"usr-666\n"), ("groups.txt", b"")],
    );
    let err = load(set.path()).err().expect("a 0.1.0 component has no report hook").to_string();
    assert!(err.contains("hook `report`") && err.contains("groupgate:policy@0.1.0"), "{err}");
}

#[test]
fn distinct_and_platform_counters_are_checked_at_load() {
    const COMPLAINTS: &str =
        "name = \"c\"\nversion = \"1\"\nmodule = \"builtin:complaints\"\nhooks = [\"report\", \"message\"]\n";
    for (counters, says) in [
        (
            "[counters.x]\nof = \"target\"\ndistinct = \"target\"\nhost = { hook = \"report\" }\nwindows = [\"24h\"]",
            "counts `target` by itself",
        ),
        (
            "[counters.x]\nof = \"group\"\ndistinct = \"reporter\"\nhost = { hook = \"message\" }\nwindows = [\"24h\"]",
            "`reporter` is in none of the requests the counter is written on with its `of` (`message`)",
        ),
        (
            "[counters.x]\nof = \"reporter\"\nplatform = true\nhost = { hook = \"report\" }\nwindows = [\"30d\"]",
            "only a policy's own counter takes the platform's additions",
        ),
        (
            "[counters.x]\nof = \"target\"\ndistinct = \"reporter\"\nplatform = true\nwindows = [\"30d\"]",
            "leave out `distinct` or `platform`",
        ),
        ("[counters.x]\nof = \"subject\"\nwindows = [\"30d\"]", "`subject` is in none of the hooks"),
        (
            "[counters.x]\nof = \"sender\"\ndistinct = \"reporter\"\nwindows = [\"30d\"]",
            "`reporter` is in none of the requests the counter is written on with its `of` (`message`)",
        ),
        (
            "[counters.x]\nof = \"founder\"\ndistinct = \"sender\"\nhost = { hook = \"message\" }\nwindows = [\"1d\"]",
            "would only ever be them",
        ),
        (
            "[counters.x]\nof = \"target\"\nhost = { hook = \"message\" }\nwindows = [\"1d\"]\nhooks = [\"report\"]",
            "has no report target to count",
        ),
        (
            "[counters.x]\nof = \"sender\"\nhost = { hook = \"message\", outcome = \"deny\", articles = [\"a/b\"] }\nwindows = [\"1d\"]",
            "without `,`, `|`, `%` or `/`",
        ),
    ] {
        let set = TempSet::new("").policy("c", &format!("{COMPLAINTS}{counters}\n"), &[]);
        let err = load(set.path()).err().expect(says).to_string();
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn the_platform_adds_only_to_a_counter_declared_platform_true() {
    let set = load(groupgate_tests::default_set()).unwrap();
    let store = groupgate::state::Memory::new();
    let set = set.with_state(std::sync::Arc::new(store));
    set.add_to_counter("complaints", "rejected", "usr-1", 6, 1_764_316_800_000).unwrap();
    for (policy, counter, says) in [
        ("complaints", "reporters", "has no counter `reporters` that the platform may add to"),
        ("flood-control", "messages", "those it has: none"),
        ("nobody", "x", "no policy named `nobody`"),
    ] {
        let err = set.add_to_counter(policy, counter, "usr-1", 1, 0).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    // The six rejections make the reporter's next report `reporter-unreliable`.
    let text = std::fs::read_to_string(groupgate_tests::default_set().join("tests/report.json")).unwrap();
    let mut report: serde_json::Value = serde_json::from_str(&text).unwrap();
    report["reporter"]["id"] = "usr-1".into();
    let report = Request::from_value(groupgate::Hook::Report, report).unwrap();
    let decision = set.evaluate(&report).unwrap();
    assert_eq!((decision.outcome, codes(&decision)), (Outcome::Allow, vec!["reporter-unreliable"]));
    // Nor do their reports count among the target's reporters: two others
    // after them are two, a third three.
    let by = |reporter: &str| {
        let Request::Report(mut r) = report.clone() else { unreachable!() };
        r.reporter.id = reporter.into();
        set.evaluate(&Request::Report(r)).unwrap()
    };
    assert_eq!(by("usr-2").outcome, Outcome::Allow);
    assert_eq!(by("usr-3").outcome, Outcome::Allow);
    let third = by("usr-4");
    assert_eq!((third.outcome, codes(&third)), (Outcome::Review, vec!["reported-by-many"]));
}
