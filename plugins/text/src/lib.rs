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
        if c.is_alphanumeric() {
            c.to_lowercase().for_each(&mut push);
        } else if is_mark(c) {
            // Combining marks belong to the letter before them (e.g. Devanagari vowel signs).
            push(c);
        }
    }
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
