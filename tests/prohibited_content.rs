//! The standard `prohibited-content` plugin (Art. 10) through the host:
//! matches wherever a word falls in the text, with either automaton, and
//! evidence that is bounded and names entries only.

use groupgate::{Outcome, PolicySet};
use groupgate_tests::{TempSet, message};

fn set_with_words(words: &str) -> PolicySet {
    let set = TempSet::new("").prohibited_content("words", words, "[limits]\ninit_timeout_ms = 30000");
    PolicySet::load(set.path()).unwrap_or_else(|e| panic!("{e}"))
}

fn assert_found_at_every_offset(set: &PolicySet, word: &str) {
    // The scan reads text in fixed-size chunks; a word must be found however
    // it straddles them, and at the very end.
    for offset in 0..48 {
        let text = format!("{}{word}", "x".repeat(offset));
        let d = set.evaluate_message(&message(&text));
        assert_eq!(d.outcome, Outcome::Deny, "`{word}` at offset {offset}: {d:?}");
        let text = format!("{}{word} and then some more words after it", ".".repeat(offset));
        assert_eq!(set.evaluate_message(&message(&text)).outcome, Outcome::Deny, "offset {offset}");
    }
}

#[test]
fn a_word_is_found_at_any_offset() {
    let set = set_with_words("zorblax\n");
    assert_found_at_every_offset(&set, "zorblax");
    assert_found_at_every_offset(&set, "Z-O-R-B-L-A-X");
    assert_found_at_every_offset(&set, "ｚｏｒｂｌａｘ");
    assert_eq!(set.evaluate_message(&message("zorbla x-ray")).outcome, Outcome::Deny, "separators are ignored");
    assert_eq!(set.evaluate_message(&message("zorbl ax")).outcome, Outcome::Deny);
    assert_eq!(set.evaluate_message(&message("zorbl")).outcome, Outcome::Allow);
}

#[test]
fn a_very_large_list_uses_the_compact_automaton_and_still_matches() {
    // 20,000 entries of three CJK characters: too many byte classes and
    // states for the DFA's table budget, so the plugin builds its NFA.
    let mut words = String::new();
    for i in 0..20_000u32 {
        for k in 0..3 {
            words.push(char::from_u32(0x4E00 + (i * 7 + k * 131) % 20_000).unwrap());
        }
        words.push('\n');
    }
    words.push_str("zorblax\n");
    let set = set_with_words(&words);
    let first: String = words.lines().next().unwrap().to_string();
    assert_found_at_every_offset(&set, "zorblax");
    assert_found_at_every_offset(&set, &first);
    assert_eq!(set.evaluate_message(&message("nothing listed here")).outcome, Outcome::Allow);
}

#[test]
fn evidence_is_capped_and_names_each_entry_once() {
    let set = set_with_words("alpha\nbravo\ncharlie\ndelta\necho\nfoxtrot\ngolf\n");
    let d = set.evaluate_message(&message("alpha alpha bravo charlie delta echo foxtrot golf"));
    let evidence = d.reasons[0].evidence.as_deref().unwrap();
    assert_eq!(evidence.matches("entry").count(), 5, "{evidence}");
    assert_eq!(evidence.matches("`alpha`").count(), 1, "{evidence}");
    assert_eq!(d.reasons.len(), 1);
}

#[test]
fn overlapping_and_nested_entries_are_all_reported() {
    let set = set_with_words("blax\nzorblax\norb\n");
    let d = set.evaluate_message(&message("zorblax"));
    let evidence = d.reasons[0].evidence.as_deref().unwrap();
    for entry in ["blax", "zorblax", "orb"] {
        assert!(evidence.contains(&format!("`{entry}`")), "{evidence}");
    }
}

#[test]
fn a_list_entry_without_letters_is_refused_at_load() {
    let set = TempSet::new("").prohibited_content("words", "zorblax\n!!!\n", "");
    let err = PolicySet::load(set.path()).err().expect("refused").to_string();
    assert!(err.contains("entry `!!!` has no letters or digits"), "{err}");
}

#[test]
fn evidence_stays_capped_across_many_attachments() {
    let set = set_with_words("alpha\nbravo\ncharlie\ndelta\necho\nfoxtrot\ngolf\nhotel\n");
    let mut m = message("alpha bravo charlie delta");
    for name in ["echo.png", "foxtrot.png", "golf.png", "hotel.png"] {
        m.attachments.push(groupgate::Attachment {
            name: name.into(),
            media_type: "image/png".into(),
            size: 1,
            sha256: "00".repeat(32),
        });
    }
    let d = set.evaluate_message(&m);
    assert_eq!(d.outcome, Outcome::Deny);
    let evidence = d.reasons[0].evidence.as_deref().unwrap();
    assert_eq!(evidence.matches("entry").count(), 5, "{evidence}");
}
