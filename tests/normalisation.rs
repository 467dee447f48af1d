//! The text skeleton every policy matches on (`plugins/text`), tested
//! natively: evasions by width, case, invisible characters and separators
//! all reduce to the same letters.

use groupgate_text::{skeleton, skeleton_bytes_into, skeleton_into};

#[test]
fn separators_between_letters_are_ignored() {
    assert_eq!(skeleton("b.a.d"), "bad");
    assert_eq!(skeleton("b a d"), "bad");
    assert_eq!(skeleton("b-a_d!"), "bad");
}

#[test]
fn full_width_and_case_fold_to_plain_lower_case() {
    assert_eq!(skeleton("ＢＡＤ"), "bad");
    assert_eq!(skeleton("Ｂ ＡＤ"), "bad");
    assert_eq!(skeleton("BaD"), "bad");
}

#[test]
fn zero_width_and_format_characters_vanish() {
    assert_eq!(skeleton("b\u{200b}ad"), "bad");
    assert_eq!(skeleton("b\u{200d}a\u{feff}d\u{2060}"), "bad");
    assert_eq!(skeleton("b\u{00ad}ad"), "bad");
}

#[test]
fn chinese_text_keeps_its_characters() {
    assert_eq!(skeleton("禁　词"), "禁词");
    assert_eq!(skeleton("禁\u{200b}词。"), "禁词");
}

#[test]
fn the_ascii_fast_path_agrees_with_the_unicode_path() {
    let ascii = "Hello, World 42 -- x.y.z";
    let forced: String = ascii.chars().chain(['\u{200b}']).collect();
    assert_eq!(skeleton(ascii), skeleton(&forced));
}

#[test]
fn buffers_are_cleared_and_reused() {
    let mut s = String::from("left over");
    skeleton_into("A b", &mut s);
    assert_eq!(s, "ab");
    let mut b = b"left over".to_vec();
    skeleton_bytes_into("Ｃ d", &mut b);
    assert_eq!(b, b"cd");
}

#[test]
fn combining_marks_that_only_disguise_a_word_are_dropped() {
    assert_eq!(skeleton("zor\u{034F}blax"), "zorblax", "combining grapheme joiner");
    assert_eq!(skeleton("z\u{0337}o\u{0337}r\u{0337}b"), "zorb", "overlay strokes");
    assert_eq!(skeleton("b\u{20E3}ad"), "bad", "keycap");
    assert_eq!(skeleton("cafe\u{0301}"), "café", "a real accent composes and stays");
}

#[test]
fn devanagari_keeps_its_vowel_signs_but_not_its_punctuation() {
    assert_eq!(skeleton("बम"), "बम");
    assert_eq!(skeleton("ब।म"), "बम");
    assert_eq!(skeleton("किताब"), "किताब");
}
