//! The contract's `text` interface (`groupgate:policy/text@0.2.0`): a policy
//! folds text through the host, as `groupgate-text` folds it, and gets one
//! offset per character of the folded text pointing at the original's
//! characters; a runtime that does not offer the interface refuses such a
//! policy at load. The `text-fold` test guest hands back what the host gave
//! it: the folded text as a reason's message, the offsets as its evidence.

use groupgate::{Decision, ErrorKind, Log, Outcome, PolicySet, Runtime, TEXT_MAX_BYTES};
use groupgate_tests::{TempSet, guests, message};
use groupgate_text::Disguises;

/// A set of the `text-fold` guest folding with `steps`.
fn set(steps: &[&str]) -> TempSet {
    let steps: Vec<String> = steps.iter().map(|s| format!("{s:?}")).collect();
    TempSet::new("").guest("fold", guests::TEXT_FOLD, &format!("[config]\nsteps = [{}]", steps.join(", ")))
}

fn load(set: &TempSet) -> PolicySet {
    groupgate_tests::load(set.path()).unwrap_or_else(|e| panic!("set should load: {e}"))
}

/// What the guest was given for `text`: the folded text, its offsets, and
/// the text's pinyin (`none` for none).
fn folded(set: &PolicySet, text: &str) -> (String, Vec<u32>, String) {
    let decision: Decision = set.evaluate_message(&message(text)).unwrap();
    assert_eq!(decision.policies[0].error, None, "{decision:?}");
    assert_eq!(decision.outcome, Outcome::Review);
    let reason = |code: &str| decision.reasons.iter().find(|r| r.code == code).unwrap_or_else(|| panic!("{code}"));
    let fold = reason("folded");
    let offsets = fold.evidence.as_deref().unwrap_or_default();
    let offsets = offsets.split(',').filter(|o| !o.is_empty()).map(|o| o.parse().unwrap()).collect();
    (fold.message.clone(), offsets, reason("pinyin").message.clone())
}

#[test]
fn a_policy_folds_through_the_host_with_an_offset_per_character() {
    let set = load(&set(&["traditional", "confusable", "leet"]));
    // `Ｚ` takes three bytes, the Cyrillic `о` two, `黑` and `雲` three each:
    // the offsets count characters of both texts, never bytes.
    let original = "Ｚ.\u{43e}r b\u{200b}l4x 黑雲";
    let (text, offsets, _) = folded(&set, original);
    assert_eq!(text, "zorbiax黑云");
    assert_eq!(offsets, [0, 2, 3, 5, 7, 8, 9, 11, 12]);
    let chars: Vec<char> = original.chars().collect();
    let sources: String = offsets.iter().map(|&o| chars[o as usize]).collect();
    assert_eq!(sources, "Ｚ\u{43e}rbl4x黑雲", "each folded character's original");
    assert_eq!(offsets.len(), text.chars().count());
    // A character composed with the marks after it keeps its own place.
    assert_eq!(folded(&set, "xe\u{301}y").1, [0, 1, 3]);
}

#[test]
fn the_host_folds_as_groupgate_text_does_for_every_step() {
    // Greek capitals, and Cyrillic look-alikes in a Latin word and alone.
    let texts = [
        "Z0RRBL@X 黑雲劵",
        "zz\u{43e}rbl4x, Ｂ.A\u{200b}d bäd",
        "\u{396}\u{39f}RBL\u{391}\u{3a7} \u{440}\u{43e}\u{440} привет",
        "room 101, 4 $",
        "",
    ];
    let steps = [
        (&[][..], Disguises::NONE),
        (&["traditional"][..], Disguises::TRADITIONAL),
        (&["confusable"][..], Disguises::CONFUSABLE),
        (&["leet"][..], Disguises::LEET),
        (&["repeat"][..], Disguises::REPEAT),
        (&["traditional", "confusable", "leet", "repeat"][..], Disguises::STEPS),
    ];
    for (names, disguises) in steps {
        let set = load(&set(names));
        for text in texts {
            let want = groupgate_text::fold(text, disguises);
            let offsets: Vec<u32> = want.text.char_indices().map(|(at, _)| want.source[at]).collect();
            let (text_got, offsets_got, _) = folded(&set, text);
            assert_eq!((text_got, offsets_got), (want.text, offsets), "{text:?} {names:?}");
        }
    }
}

#[test]
fn a_policy_reads_pinyin_through_the_host() {
    let set = load(&set(&[]));
    assert_eq!(folded(&set, "买黑雲券").2, "mai hei yun quan");
    assert_eq!(folded(&set, "zorblax").2, "none", "no Han character, no pinyin");
}

#[test]
fn one_call_folds_at_most_64_kib_and_a_longer_text_fails_the_policy() {
    // A set whose texts may be longer than a fold takes.
    let set = TempSet::new("[limits]\nmax_text_bytes = 200000\n").guest("fold", guests::TEXT_FOLD, "");
    let set = load(&set);
    assert_eq!(TEXT_MAX_BYTES, 65_536);
    // The guest gives the lengths of so long a fold.
    let decision = set.evaluate_message(&message(&"a".repeat(TEXT_MAX_BYTES))).unwrap();
    assert_eq!(decision.policies[0].error, None, "{decision:?}");
    let fold = decision.reasons.iter().find(|r| r.code == "folded").unwrap();
    assert_eq!((fold.message.as_str(), fold.evidence.as_deref()), ("65536 bytes", Some("65536 offsets")));
    let decision = set.evaluate_message(&message(&"a".repeat(TEXT_MAX_BYTES + 1))).unwrap();
    let report = &decision.policies[0];
    assert_eq!(report.error_kind, Some(ErrorKind::Trap), "{decision:?}");
    let error = report.error.as_deref().unwrap();
    assert!(error.contains("text.fold was given 65537 bytes of text, more than the 64 KiB one call takes"), "{error}");
    assert_eq!(decision.outcome, Outcome::Deny, "on_error: deny, the default");
}

#[test]
fn text_is_offered_by_default_and_a_runtime_without_it_refuses_a_policy_that_imports_it() {
    assert!(groupgate_tests::runtime().host_interfaces().any(|i| i == "groupgate:policy/text"));
    let runtime = Runtime::builder().no_host_interfaces().host_interface(Log::default()).build().unwrap();
    assert_eq!(runtime.host_interfaces().collect::<Vec<_>>(), ["groupgate:policy/log"]);
    let set = set(&[]);
    let err = PolicySet::load_dir(&runtime, set.path()).err().expect("the policy imports `text`");
    let err = format!("{err:#}");
    assert!(err.contains("policy `fold`") && err.contains("groupgate:policy/text"), "{err}");
}
