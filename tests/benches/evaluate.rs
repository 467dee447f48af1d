//! What one evaluation costs: a message through (a) a policy that allows
//! everything, (b) `prohibited-content` with 10,000 words on 1 KB of text that
//! matches none of them, and (c) the same normalisation and Aho-Corasick scan
//! done natively with the crate's own search loop and the automaton kind the
//! plugin picks for this list (a DFA), as the baseline for (b); and (d) the
//! whole default set (`policies/default`: six policies, four of which answer
//! messages) on the same message, what a platform pays per message on day one;
//! (e) and (f) are (a) and (b) with `isolation = "fresh"`: a new instance,
//! and so an `init`, per call, against (a) and (b) reusing warm instances.
//!
//! Run with `cargo bench -p groupgate-tests --bench evaluate`.

use std::hint::black_box;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use criterion::{Criterion, criterion_group, criterion_main};
use groupgate::Outcome;
use groupgate_tests::{TempSet, default_set, guests, message};

const WORDS: usize = 10_000;

/// Deterministic pseudo-words (fixed seed) that never occur in the text.
fn word_list() -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..WORDS)
        .map(|_| {
            let len = 7 + (next() % 5) as usize;
            (0..len).map(|_| b"bcdfghjkmnpqrstvwxzq"[(next() % 20) as usize] as char).collect()
        })
        .collect()
}

/// About 1 KB of ordinary chat text.
fn text_1kb() -> String {
    let sentence = "Saturday's ride starts at the north gate at eight, bring water and a spare tube. ";
    sentence.repeat(1024 / sentence.len() + 1)[..1024].to_string()
}

fn bench(c: &mut Criterion) {
    let words = word_list();
    let msg = message(&text_1kb());

    let allow_all = TempSet::new("").guest("allow-all", guests::ALLOW_ALL, "");
    let allow_all = groupgate_tests::load(allow_all.path()).expect("allow-all set");
    assert_eq!(allow_all.evaluate_message(&msg).unwrap().outcome, Outcome::Allow);

    let listed = TempSet::new("").prohibited_content("words", &words.join("\n"), "");
    let listed = groupgate_tests::load(listed.path()).expect("prohibited-content set");
    assert_eq!(listed.evaluate_message(&msg).unwrap().outcome, Outcome::Allow, "the text must match no word");
    let mut hit = msg.clone();
    hit.text.push_str(&words[WORDS / 2]);
    assert_eq!(listed.evaluate_message(&hit).unwrap().outcome, Outcome::Deny, "the list must be live");

    // The plugin's steps, natively: fold each word (every step its lists
    // take by default), build a DFA over them, fold the text, scan it.
    let steps = groupgate_text::Disguises::STEPS;
    let patterns: Vec<String> =
        words.iter().flat_map(|w| groupgate_text::fold_entry(w, steps)).map(|f| f.text).collect();
    let matcher = AhoCorasick::builder().kind(Some(AhoCorasickKind::DFA)).build(&patterns).unwrap();
    let (mut scratch, mut folded) = (Vec::new(), groupgate_text::Folded::default());

    let default = groupgate_tests::load(default_set()).expect("the default set");
    assert_eq!(default.evaluate_message(&msg).unwrap().outcome, Outcome::Allow, "the text must pass the default set");

    let fresh = "[limits]\nisolation = \"fresh\"";
    let allow_all_fresh = TempSet::new("").guest("allow-all", guests::ALLOW_ALL, fresh);
    let allow_all_fresh = groupgate_tests::load(allow_all_fresh.path()).expect("allow-all set, fresh");
    let listed_fresh = TempSet::new("").prohibited_content("words", &words.join("\n"), fresh);
    let listed_fresh = groupgate_tests::load(listed_fresh.path()).expect("prohibited-content set, fresh");
    assert_eq!(listed_fresh.evaluate_message(&hit).unwrap().outcome, Outcome::Deny, "the list must be live");

    let mut group = c.benchmark_group("message_1kb");
    group.bench_function("a_allow_all_policy", |b| {
        b.iter(|| black_box(allow_all.evaluate_message(black_box(&msg)).unwrap()))
    });
    group.bench_function("b_prohibited_content_10k_words", |b| {
        b.iter(|| black_box(listed.evaluate_message(black_box(&msg)).unwrap()))
    });
    group.bench_function("c_native_aho_corasick_10k_words", |b| {
        b.iter(|| {
            groupgate_text::fold_bytes_into(black_box(&msg.text), steps, &mut scratch, &mut folded);
            black_box(matcher.find_iter(scratch.as_slice()).count())
        })
    });
    // Messages from 1,000 senders in turn, each sending once every 10 s of
    // request time, so the counting policies see ordinary traffic: the same
    // sender timed over and over would be a flood after its twentieth.
    let mut senders: Vec<_> = (0..1_000)
        .map(|k| {
            let mut m = msg.clone();
            m.sender.id = format!("usr-bench-{k}");
            m
        })
        .collect();
    let mut next = 0;
    group.bench_function("d_default_set", |b| {
        b.iter(|| {
            next = (next + 1) % senders.len();
            if next == 0 {
                senders.iter_mut().for_each(|m| m.sent_at += 10_000);
            }
            black_box(default.evaluate_message(black_box(&senders[next])).unwrap())
        })
    });
    group.bench_function("e_allow_all_fresh_instance", |b| {
        b.iter(|| black_box(allow_all_fresh.evaluate_message(black_box(&msg)).unwrap()))
    });
    group.bench_function("f_prohibited_content_10k_words_fresh_instance", |b| {
        b.iter(|| black_box(listed_fresh.evaluate_message(black_box(&msg)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
