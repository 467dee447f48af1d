//! Text normalisation for content matching (Art. 10). The *skeleton* of a
//! text is the first step, so that width, case, diacritics, invisible
//! characters and separators between letters do not hide a word: `b.a.d`,
//! `Ｂ ＡＤ`, `bäd` and `b\u{200b}ad` all have the skeleton `bad`. [`fold`]
//! adds the steps that undo disguises (Traditional characters, look-alike
//! letters, leetspeak, repeated letters), which `prohibited-content` matches
//! on.
//!
//! ```
//! assert_eq!(groupgate_text::skeleton("Ｂ.A\u{200b}d"), "bad");
//! ```

use unicode_normalization::UnicodeNormalization;

mod fold;
pub use fold::{
    Disguises, Folded, Sink, confusable, fold, fold_ascii, fold_bytes_into, fold_entry, fold_if_ascii, fold_into,
    is_han, pinyin, pinyin_of, simplified,
};

/// The folding tables, compiled from maintained data by `build.rs`.
#[allow(clippy::unreadable_literal)]
mod tables {
    include!(concat!(env!("OUT_DIR"), "/tables.rs"));
}

/// Reduces `text` to the letters and digits it shows, in one canonical form:
/// Unicode NFKC (full-width and compatibility forms become plain ones),
/// lower-cased, Latin, Greek and Cyrillic letters without their diacritics
/// (`ö` is `o`, `İ` is `i`), with everything that is not a letter, digit or
/// kept mark removed: spaces, punctuation, symbols, zero-width and other
/// format characters, and the combining marks that only decorate a letter.
///
/// Because separators vanish, a listed word matches wherever its letters stand
/// in a row, also across word boundaries, unless a matcher checks the word
/// breaks that [`skeleton_with_breaks_into`] and [`fold`] record.
pub fn skeleton(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    skeleton_into(text, &mut out);
    out
}

/// [`skeleton`] into a caller's buffer (cleared first), so a hot path can
/// reuse one allocation across calls.
pub fn skeleton_into(text: &str, out: &mut String) {
    let mut bytes = std::mem::take(out).into_bytes();
    skeleton_bytes_into(text, &mut bytes);
    *out = String::from_utf8(bytes).expect("a skeleton is built from whole characters");
}

/// [`skeleton`] as UTF-8 bytes into a caller's buffer (cleared first): the
/// form byte-oriented matchers such as Aho-Corasick scan fastest.
pub fn skeleton_bytes_into(text: &str, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(text.len());
    if text.is_ascii() {
        // Plain ASCII is already NFKC: one table lookup per byte, written
        // unconditionally and kept by advancing the cursor, so the loop has
        // no branch to mispredict.
        out.resize(text.len(), 0);
        let mut kept = 0;
        for &b in text.as_bytes() {
            let mapped = ASCII_SKELETON[b as usize];
            out[kept] = mapped;
            kept += usize::from(mapped != 0);
        }
        out.truncate(kept);
        return;
    }
    let mut buf = [0u8; 4];
    let mut push = |c: char| out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    for c in text.nfkc() {
        base_fold(c, &mut push);
    }
}

/// Like [`skeleton_bytes_into`], and also records where the text had a word
/// break: `breaks[i]` says whether a space or punctuation stood between
/// skeleton bytes `i - 1` and `i` (`breaks` has one entry per skeleton byte
/// plus one; the first and last are always true). Invisible characters and
/// disguising marks are not breaks, so they cannot fake one. A matcher uses
/// this to require that a match (an allowed term, say) is a whole word.
pub fn skeleton_with_breaks_into(text: &str, out: &mut Vec<u8>, breaks: &mut Vec<bool>) {
    with_breaks_framed(out, breaks, |out, breaks| {
        if text.is_ascii() {
            // Plain ASCII is already NFKC, and the NFKC iterator costs tens of
            // nanoseconds a character in a sandbox: a table lookup a byte instead.
            ascii_breaks(text.as_bytes(), out, breaks);
        } else {
            with_breaks(text.nfkc(), out, breaks);
        }
    });
}

/// Clears `out` and `breaks`, lets `fill` add the skeleton, and makes the
/// first and last break true.
fn with_breaks_framed(out: &mut Vec<u8>, breaks: &mut Vec<bool>, fill: impl FnOnce(&mut Vec<u8>, &mut Vec<bool>)) {
    out.clear();
    breaks.clear();
    breaks.push(true);
    fill(out, breaks);
    if let Some(last) = breaks.last_mut() {
        *last = true;
    }
}

/// The skeleton and breaks of ASCII bytes.
fn ascii_breaks(text: &[u8], out: &mut Vec<u8>, breaks: &mut Vec<bool>) {
    let mut pending = false;
    for &b in text {
        match ASCII_SKELETON[b as usize] {
            0 => pending |= is_break(char::from(b)),
            kept => {
                breaks[out.len()] |= pending;
                pending = false;
                out.push(kept);
                breaks.push(false);
            }
        }
    }
}

/// The skeleton and breaks of NFKC characters: any text.
fn with_breaks(chars: impl Iterator<Item = char>, out: &mut Vec<u8>, breaks: &mut Vec<bool>) {
    let mut pending = false;
    let mut buf = [0u8; 4];
    for c in chars {
        if is_break(c) {
            pending = true;
            continue;
        }
        let before = out.len();
        base_fold(c, &mut |k: char| out.extend_from_slice(k.encode_utf8(&mut buf).as_bytes()));
        if out.len() > before {
            // The break belongs before the first byte this character added.
            breaks[before] |= pending;
            pending = false;
            breaks.resize(out.len() + 1, false);
        }
    }
}

/// Appends the skeleton of one (NFKC) character: lower-cased letters and
/// digits, with the diacritics of Latin, Greek and Cyrillic letters folded
/// away, and the marks [`is_mark`] keeps.
pub(crate) fn base_fold(c: char, push: &mut impl FnMut(char)) {
    if is_mark(c) {
        // Combining marks belong to the letter before them (e.g. Devanagari vowel signs).
        push(c);
        return;
    }
    if !c.is_alphanumeric() {
        return;
    }
    for lower in c.to_lowercase() {
        if has_foldable_diacritics(lower) {
            // The base letter of its canonical decomposition; the marks go.
            unicode_normalization::char::decompose_canonical(lower, |d| {
                if d.is_alphanumeric() {
                    push(d);
                }
            });
        } else if lower.is_alphanumeric() || is_mark(lower) {
            // Lower-casing may add a mark (`İ` gives `i` and U+0307): dropped.
            push(lower);
        }
    }
}

/// Latin, Greek and Cyrillic letters that may carry diacritics, which only
/// decorate (or disguise) a word in these scripts. Other scripts keep their
/// composed forms: a Hangul syllable or a voiced kana is a letter of its own.
fn has_foldable_diacritics(c: char) -> bool {
    matches!(c as u32, 0x00C0..=0x024F | 0x0370..=0x03FF | 0x0400..=0x04FF | 0x1E00..=0x1FFF)
}

/// A space or punctuation: a word break. (Letters, digits, marks, and the
/// invisible format characters used to hide words are not.)
pub(crate) fn is_break(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || matches!(c as u32, 0x00A1..=0x00BF | 0x2010..=0x2027 | 0x2030..=0x205E | 0x3001..=0x3011 | 0x3014..=0x301F)
            && !c.is_alphanumeric()
}

/// The skeleton of each ASCII byte: its lower-case form if it is a letter or
/// digit, else 0 (dropped). Byte-at-a-time matchers can map through it.
pub const ASCII_SKELETON: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            table[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    table
};

/// Marks that are part of a letter and must be kept: the vowel signs and
/// other combining marks of Devanagari (U+0900–U+097F, without its danda
/// punctuation). Other combining marks left after NFKC (diacritics stacked
/// on Latin letters, overlays, keycaps, the grapheme joiner) only decorate or
/// disguise a word, so they are dropped.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957 | 0x0962..=0x0963)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII path of `skeleton_with_breaks_into` must decide as the NFKC
    /// path does, on every ASCII byte and around breaks of every kind.
    #[test]
    fn ascii_breaks_match_the_general_path() {
        let every_byte: String = (0u8..128).map(char::from).collect();
        let texts = [
            "Zorblax. Free-dom!",
            "  leading and trailing  ",
            "a\tb\nc\u{7f}d\u{0}e",
            "...",
            "",
            "x",
            "zor-blax, zorblax-free; (zorblax)",
            every_byte.as_str(),
        ];
        for text in texts {
            let (mut fast, mut fast_breaks) = (Vec::new(), Vec::new());
            skeleton_with_breaks_into(text, &mut fast, &mut fast_breaks);
            let (mut general, mut general_breaks) = (Vec::new(), Vec::new());
            // NFKC leaves ASCII as it is: the general path, as non-ASCII text takes it.
            with_breaks_framed(&mut general, &mut general_breaks, |o, b| with_breaks(text.nfkc(), o, b));
            assert_eq!((&fast, &fast_breaks), (&general, &general_breaks), "{text:?}");
            let mut plain = Vec::new();
            skeleton_bytes_into(text, &mut plain);
            assert_eq!(fast, plain, "{text:?}");
        }
    }
}
