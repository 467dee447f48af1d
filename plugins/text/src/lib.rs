//! Text normalisation for content matching (Art. 10). Policies compare the
//! *skeleton* of a text against the skeletons of listed words, so that width,
//! case, invisible characters and separators between letters do not hide a
//! word: `b.a.d`, `Ｂ ＡＤ` and `b\u{200b}ad` all have the skeleton `bad`.
//!
//! ```
//! assert_eq!(groupgate_text::skeleton("Ｂ.A\u{200b}d"), "bad");
//! ```

use unicode_normalization::UnicodeNormalization;

/// Reduces `text` to the letters and digits it shows, in one canonical form:
/// Unicode NFKC (full-width and compatibility forms become plain ones),
/// lower-cased, with everything that is not a letter, digit or mark removed:
/// spaces, punctuation, symbols, zero-width and other format characters.
///
/// Because separators vanish, a listed word matches wherever its letters stand
/// in a row, also across word boundaries; lists are written with that in mind.
pub fn skeleton(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    skeleton_into(text, &mut out);
    out
}

/// [`skeleton`] into a caller's buffer (cleared first), so a hot path can
/// reuse one allocation across calls.
pub fn skeleton_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        // Plain ASCII is already NFKC: skip the decomposition machinery.
        out.extend(text.bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_lowercase() as char));
        return;
    }
    for c in text.nfkc() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if is_mark(c) {
            // Combining marks belong to the letter before them (e.g. Devanagari vowel signs).
            out.push(c);
        }
    }
}

/// Combining marks that NFKC leaves standing (it composes the common Latin
/// ones into their letters).
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0900..=0x097F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
        && !c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::skeleton;

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
    fn ascii_fast_path_agrees_with_the_unicode_path() {
        let ascii = "Hello, World 42 -- x.y.z";
        let forced: String = ascii.chars().chain(['\u{200b}']).collect();
        assert_eq!(skeleton(ascii), skeleton(&forced));
    }
}
