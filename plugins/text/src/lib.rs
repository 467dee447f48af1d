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

/// Combining marks that NFKC leaves standing (it composes the common Latin
/// ones into their letters).
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0900..=0x097F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
        && !c.is_alphanumeric()
}
