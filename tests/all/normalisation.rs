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
    assert_eq!(skeleton("cafe\u{0301}"), "cafe", "an accent is folded away");
}

#[test]
fn diacritics_and_case_forms_of_latin_greek_and_cyrillic_fold_away() {
    assert_eq!(skeleton("zo\u{0308}rblax"), "zorblax", "a combining diaeresis");
    assert_eq!(skeleton("ZÖRBLÄX"), "zorblax", "precomposed");
    assert_eq!(skeleton("QWEXİUM"), "qwexium", "dotted capital I lower-cases to i and a dot");
    assert_eq!(skeleton("Ｚｏ\u{0301}ｒｂｌａｘ"), "zorblax", "full-width with an accent");
    assert_eq!(skeleton("ἄλφα"), "αλφα");
    assert_eq!(skeleton("йод"), "иод", "Cyrillic short i loses its breve");
}

#[test]
fn other_scripts_keep_their_composed_letters() {
    assert_eq!(skeleton("한국어"), "한국어", "Hangul syllables stay whole");
    assert_eq!(skeleton("がっこう"), "がっこう", "voiced kana stay voiced");
    assert_eq!(skeleton("ガ"), "ガ", "half-width kana compose under NFKC");
}

#[test]
fn breaks_mark_where_spaces_and_punctuation_stood() {
    let mut out = Vec::new();
    let mut breaks = Vec::new();
    groupgate_text::skeleton_with_breaks_into("Zorblax. Free-dom!", &mut out, &mut breaks);
    assert_eq!(out, b"zorblaxfreedom");
    let at: Vec<usize> = breaks.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect();
    assert_eq!(at, [0, 7, 11, 14]);
    // Invisible characters and disguising marks are not breaks.
    groupgate_text::skeleton_with_breaks_into("zor\u{200b}bl\u{0337}ax 紫星草。ok", &mut out, &mut breaks);
    assert_eq!(String::from_utf8(out.clone()).unwrap(), "zorblax紫星草ok");
    let at: Vec<usize> = breaks.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect();
    assert_eq!(at, [0, 7, 16, 18]);
    // The same skeleton as the plain function.
    for text in ["Ｂ.A\u{200b}d", "QWEXİUM", "a b", "", "!!"] {
        groupgate_text::skeleton_with_breaks_into(text, &mut out, &mut breaks);
        assert_eq!(out, groupgate_text::skeleton(text).into_bytes());
        assert_eq!(breaks.len(), out.len() + 1);
    }
}

#[test]
fn devanagari_keeps_its_vowel_signs_but_not_its_punctuation() {
    assert_eq!(skeleton("बम"), "बम");
    assert_eq!(skeleton("ब।म"), "बम");
    assert_eq!(skeleton("किताब"), "किताब");
}

/// The folding steps against disguise, through `groupgate-text`'s public
/// API (its own unit tests run in the plugins' workspace, which `cargo
/// test` here does not build).
mod folding {
    use groupgate_text::{Disguises, Sink, fold, fold_bytes_into, fold_entry, fold_if_ascii, pinyin};

    fn folded(text: &str) -> String {
        fold(text, Disguises::STEPS).text
    }

    #[test]
    fn each_step_undoes_its_disguise() {
        assert_eq!(folded("黑雲劵"), "黑云券");
        assert_eq!(folded("z\u{43e}rblax"), folded("zorblax"));
        assert_eq!(folded("z0rbl@x"), folded("zorblax"));
        assert_eq!(folded("zzoorrbbllaaxx"), folded("zorblax"));
        assert_eq!(folded("room 101"), "rom101");
        assert_eq!(folded("\u{43f}\u{440}\u{438}\u{432}\u{435}\u{442}"), "\u{43f}\u{440}\u{438}\u{432}\u{435}\u{442}");
        assert_eq!(pinyin("黑雲券").as_deref(), Some("hei yun quan"));
        let forms: Vec<String> = fold_entry("1989", Disguises::STEPS).into_iter().map(|f| f.text).collect();
        assert_eq!(forms, ["1989", "i989"]);
    }

    /// ASCII text is folded by a path of its own (table lookups, one pass);
    /// a Han character after it sends the same text down the general path
    /// (NFKC, a run at a time). Both must fold alike, byte for byte, with
    /// the same sources, disguises and breaks.
    #[test]
    fn ascii_folds_as_any_text_does() {
        let alphabets: [&[u8]; 2] = [b"aAlLi1I0o34@$5 7.-\t9xZ", b"aAlLiIoO .-\t9xZz2'"];
        let mut seed = 0x2545_f491_u32;
        let mut bytes = Vec::new();
        let mut scratch = groupgate_text::Folded::default();
        for round in 0..10_000 {
            let alphabet = alphabets[round % 2];
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let mut pick = seed;
            for _ in 0..(seed % 14) {
                pick = pick.rotate_left(5).wrapping_mul(0x9e37_79b9);
                text.push(char::from(alphabet[(pick >> 16) as usize % alphabet.len()]));
            }
            for steps in [Disguises::STEPS, Disguises::NONE, Disguises::LEET, Disguises::REPEAT] {
                let ascii = fold(&text, steps);
                let general = fold(&format!("{text}一"), steps);
                let n = ascii.text.len();
                assert_eq!(format!("{}一", ascii.text), general.text, "{text:?} {steps:?}");
                assert_eq!(ascii.before[..], general.before[..n], "{text:?} {steps:?}");
                assert_eq!(ascii.disguises[..], general.disguises[..n], "{text:?} {steps:?}");
                assert_eq!(ascii.source[..], general.source[..n], "{text:?} {steps:?}");
                assert_eq!(ascii.breaks[..n], general.breaks[..n], "{text:?} {steps:?}");
                fold_bytes_into(&text, steps, &mut bytes, &mut scratch);
                assert_eq!(bytes, ascii.text.as_bytes(), "{text:?} {steps:?}");
                // Checked for ASCII as it folds: the same bytes, and
                // nothing at all once a byte that is not ASCII follows.
                let mut sink = Bytes(b"kept".to_vec());
                assert!(fold_if_ascii(text.as_bytes(), steps, &mut sink), "{text:?} {steps:?}");
                assert_eq!(&sink.0[4..], ascii.text.as_bytes(), "{text:?} {steps:?}");
                for tail in ["é", "一", "\u{80}"] {
                    let mut sink = Bytes(b"kept".to_vec());
                    assert!(!fold_if_ascii(format!("{text}{tail}").as_bytes(), steps, &mut sink), "{text:?}{tail}");
                    assert_eq!(sink.0, b"kept", "{text:?}{tail} {steps:?}");
                }
            }
        }
    }

    /// A sink that keeps the folded bytes alone.
    struct Bytes(Vec<u8>);

    impl Sink for Bytes {
        type Mark = usize;
        fn push(&mut self, byte: u8, _: u8, _: usize, _: Disguises) {
            self.0.push(byte);
        }
        fn repeat(&mut self, _: usize, _: Disguises) {}
        fn separator(&mut self) {}
        fn mark(&self) -> usize {
            self.0.len()
        }
        fn rewind(&mut self, mark: usize) {
            self.0.truncate(mark);
        }
    }
}
