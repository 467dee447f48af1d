//! Folding: the skeleton, and on top of it the disguises people use to get a
//! listed word past a filter, each undone by a step that can be switched off.
//!
//! | step | undoes | e.g. |
//! |---|---|---|
//! | [`Disguises::TRADITIONAL`] | Traditional characters and variant forms, folded to Simplified | `黑雲劵` → `黑云券` |
//! | [`Disguises::CONFUSABLE`] | letters of other scripts that look like Latin ones (UTS #39) | `zоrblax` (Cyrillic `о`) → `zorblax` |
//! | [`Disguises::LEET`] | digits and symbols for letters, inside a run that has Latin letters; `l` and `i` one letter | `z0rbl4x` → `zorbiax` |
//! | [`Disguises::REPEAT`] | a letter (not a Han character) written several times in a row | `zzoorrbbllaaxx` → `zorbiax` |
//!
//! [`Disguises::PINYIN`] is not a step on the text: a listed Han entry is
//! also listed as its toneless [`pinyin`], which the text is matched against.
//!
//! Text and entries are folded by the same steps, so they meet in the middle;
//! what a match had to undo is then told apart by
//! [`Folded::disguises_against`], comparing the text with the entry as each
//! was written, so a list can refuse a match that needed a step it does not
//! take, and evidence can name the disguise.
//!
//! Folding loses information on purpose, and so can equate clean words with
//! listed ones: with [`Disguises::REPEAT`], `hell` folds to `hel`, found in
//! `help`; with [`Disguises::LEET`], `l` and `i` are one letter (`1` stands
//! for either). Short entries in Latin letters should be matched as whole
//! words. And where a run of `i`, `l` and `1` folds to one letter, only its
//! first says how it was written: `piils` and `pi11s` match `pills` as
//! written, even for a list that turned leetspeak off.

use std::ops::{BitOr, BitOrAssign};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

use crate::tables::{CONFUSABLES, PINYIN, PINYIN_START, SYLLABLES, TRADITIONAL};
use crate::{base_fold, is_break};

/// A set of disguises: the folding steps to apply, or those a match needed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Disguises(u8);

impl Disguises {
    /// None: the plain skeleton.
    pub const NONE: Disguises = Disguises(0);
    /// Traditional Han characters and variant forms, as Simplified.
    pub const TRADITIONAL: Disguises = Disguises(1);
    /// Letters of other scripts that look like Latin letters, as those.
    pub const CONFUSABLE: Disguises = Disguises(2);
    /// Digits and symbols standing for letters (`0` `1` `3` `4` `5` `7` `@`
    /// `$`), inside a run that has letters; `l` and `i` are then one letter.
    pub const LEET: Disguises = Disguises(4);
    /// A letter repeated, as one.
    pub const REPEAT: Disguises = Disguises(8);
    /// A Han entry written in toneless pinyin (a matcher's, not a step).
    pub const PINYIN: Disguises = Disguises(16);
    /// Every step [`fold`] can apply.
    pub const STEPS: Disguises = Disguises(1 | 2 | 4 | 8);
    /// Every disguise.
    pub const ALL: Disguises = Disguises(31);

    const NAMES: [(Disguises, &'static str); 5] = [
        (Disguises::TRADITIONAL, "traditional"),
        (Disguises::CONFUSABLE, "confusable"),
        (Disguises::LEET, "leet"),
        (Disguises::REPEAT, "repeat"),
        (Disguises::PINYIN, "pinyin"),
    ];

    /// Whether every disguise of `other` is in `self`.
    pub fn contains(self, other: Disguises) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether there is none.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `self` without the disguises of `other`.
    pub fn without(self, other: Disguises) -> Disguises {
        Disguises(self.0 & !other.0)
    }

    /// The names of the disguises in the set, in a fixed order:
    /// `traditional`, `confusable`, `leet`, `repeat`, `pinyin`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.into_iter().filter(move |(d, _)| self.contains(*d)).map(|(_, name)| name)
    }

    /// The disguise of that name (as [`Disguises::names`] gives it).
    pub fn from_name(name: &str) -> Option<Disguises> {
        Self::NAMES.into_iter().find(|(_, n)| *n == name).map(|(d, _)| d)
    }
}

impl BitOr for Disguises {
    type Output = Disguises;
    fn bitor(self, other: Disguises) -> Disguises {
        Disguises(self.0 | other.0)
    }
}

impl BitOrAssign for Disguises {
    fn bitor_assign(&mut self, other: Disguises) {
        self.0 |= other.0;
    }
}

/// A folded text, with what a matcher needs to tell a match's disguises and
/// where it stands: one entry per byte of `text` in `before`, `disguises` and
/// `source`, and one per byte boundary in `breaks`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// The folded text (UTF-8).
    pub text: String,
    /// Whether a word break stands before each byte (and after the last):
    /// a space or punctuation, or a change between ASCII and other letters.
    /// The first and last are always true.
    pub breaks: Vec<bool>,
    /// The steps that changed the character each byte comes from.
    pub disguises: Vec<Disguises>,
    /// That character as the skeleton has it, before any step changed it.
    pub before: Vec<char>,
    /// That character's place in the original text, counted in characters
    /// (Unicode scalar values) from 0: where the character, or the
    /// character and marks that NFKC combined into it, began.
    pub source: Vec<u32>,
}

impl Folded {
    fn clear(&mut self) {
        self.text.clear();
        self.breaks.clear();
        self.disguises.clear();
        self.before.clear();
        self.source.clear();
    }

    /// The disguises a match of an entry (folded by the same steps) at byte
    /// `start` of this text needed, given the entry's `before` and
    /// `disguises` (its [`Folded`]'s): the steps that changed the text's
    /// characters where the entry's, as written, were not changed the same
    /// way, and the entry's where the text's were not (an entry written in
    /// Traditional matched by Simplified text is a `traditional` match too).
    ///
    /// # Panics
    /// If the entry does not fit in the text at `start`.
    pub fn disguises_against(&self, start: usize, before: &[char], disguises: &[Disguises]) -> Disguises {
        let mut found = Disguises::NONE;
        let text = start..start + before.len();
        for ((&td, &tb), (&ed, &eb)) in
            self.disguises[text.clone()].iter().zip(&self.before[text]).zip(disguises.iter().zip(before))
        {
            // A repeat on one side only; a character written otherwise, and
            // what made the two one (a repeat is the other side's own).
            found |= Disguises(td.0 ^ ed.0);
            if tb != eb {
                found |= (td | ed).without(Disguises::REPEAT);
            }
        }
        found
    }

    /// Whether `start..end` stands as a whole word: a break before and after.
    pub fn is_whole_word(&self, start: usize, end: usize) -> bool {
        self.breaks[start] && self.breaks[end]
    }
}

/// Folds `text` by `steps` (the skeleton, then each step of
/// [`Disguises::STEPS`] in `steps`).
///
/// ```
/// use groupgate_text::{Disguises, fold};
/// assert_eq!(fold("Z0RRBL@X!", Disguises::STEPS).text, "zorbiax");
/// assert_eq!(fold("pi11s", Disguises::STEPS).text, "pis");
/// assert_eq!(fold("黑雲券", Disguises::STEPS).text, "黑云券");
/// assert_eq!(fold("Z0RRBL@X!", Disguises::NONE).text, "z0rrblx");
/// ```
pub fn fold(text: &str, steps: Disguises) -> Folded {
    let mut out = Folded::default();
    fold_into(text, steps, &mut out);
    out
}

/// [`fold`] into a caller's [`Folded`] (cleared first).
pub fn fold_into(text: &str, steps: Disguises, out: &mut Folded) {
    out.clear();
    if text.is_ascii() {
        let len = text.len();
        out.text.reserve(len);
        out.breaks.reserve(len + 1);
        out.disguises.reserve(len);
        out.before.reserve(len);
        out.source.reserve(len);
        fold_ascii(text.as_bytes(), steps, &mut FoldedSink { out, pending_break: false });
        frame(out);
        return;
    }
    fold_general(text, steps, out);
    frame(out);
}

/// Makes the first break and the one after the last byte true.
fn frame(out: &mut Folded) {
    if let Some(first) = out.breaks.first_mut() {
        *first = true;
    }
    out.breaks.push(true);
}

/// [`fold_into`] for any text, through NFKC, a run at a time.
fn fold_general(text: &str, steps: Disguises, out: &mut Folded) {
    fold_general_with(text, steps, false, out);
}

/// [`fold_general`]; with `all_lettered`, leetspeak reads every run as one
/// with letters (for [`fold_entry`]).
fn fold_general_with(text: &str, steps: Disguises, all_lettered: bool, out: &mut Folded) {
    let mut folder = Folder {
        steps,
        out,
        all_lettered,
        last: None,
        last_before: None,
        pending_break: false,
        run: Vec::new(),
        items: Vec::new(),
    };
    let leet = steps.contains(Disguises::LEET);
    let push = |folder: &mut Folder<'_>, c: char, index: u32| {
        if is_break(c) && !(leet && is_leet_symbol(c)) {
            folder.flush();
            folder.pending_break = true;
        } else {
            folder.run.push((c, index));
        }
    };
    let mut index = 0u32;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // A character that NFKC leaves as it is, with nothing after it that
        // NFKC would join to it: as it is (most text, ASCII and Han).
        if (c.is_ascii() || is_nfkc_char(c)) && chars.peek().is_none_or(|&n| !joins_previous(n)) {
            push(&mut folder, c, index);
            index = index.saturating_add(1);
            continue;
        }
        // A segment: the character and what NFKC may compose with it
        // (combining marks, conjoining jamo, a half-width voicing mark), so
        // that no character loses its place.
        let mut segment = String::from(c);
        while let Some(&n) = chars.peek()
            && joins_previous(n)
        {
            segment.push(n);
            chars.next();
        }
        for k in segment.nfkc() {
            push(&mut folder, k, index);
        }
        index = index.saturating_add(u32::try_from(segment.chars().count()).unwrap_or(u32::MAX));
    }
    folder.flush();
}

/// Whether NFKC may compose `c` with the character before it: a combining
/// mark, a character NFKC's quick check is unsure of (a conjoining jamo, a
/// two-part vowel sign), or one that NFKC maps to a combining mark.
fn joins_previous(c: char) -> bool {
    use unicode_normalization::IsNormalized;
    if c.is_ascii() {
        return false;
    }
    if canonical_combining_class(c) != 0 {
        return true;
    }
    match unicode_normalization::is_nfkc_quick(std::iter::once(c)) {
        IsNormalized::Yes => false,
        IsNormalized::Maybe => true,
        IsNormalized::No => std::iter::once(c).nfkc().next().is_some_and(|k| canonical_combining_class(k) != 0),
    }
}

/// Whether NFKC leaves `c` as it is, on its own.
fn is_nfkc_char(c: char) -> bool {
    unicode_normalization::is_nfkc_quick(std::iter::once(c)) == unicode_normalization::IsNormalized::Yes
}

/// A listed entry folded every way a text holding it may fold, so that a
/// matcher finds it whatever surrounds it: as written and, when `steps` has
/// [`Disguises::LEET`] and the entry has digits or `@`/`$`, with them read
/// as letters (as in a run with letters: `1989` in `in1989` folds to
/// `i989`) and as themselves (as in a run of their own: the `2000` of
/// `coin2000` in `coin 2000`). Distinct and not empty; none when the entry
/// has no letters or digits (`@` alone). A matcher should take the
/// letter-read form of an entry without letters only where the text wrote
/// the same digits (`14` read as `ia` is no reason to find it in `media`).
pub fn fold_entry(entry: &str, steps: Disguises) -> Vec<Folded> {
    let mut out: Vec<Folded> = Vec::new();
    let mut add = |folded: Folded| {
        if !folded.text.is_empty() && !out.iter().any(|o| o.text == folded.text) {
            out.push(folded);
        }
    };
    let plain = fold(entry, Disguises::NONE).text;
    if plain.is_empty() {
        return out;
    }
    add(fold(entry, steps));
    let has_leet = plain.chars().any(|c| leet(c).is_some()) || entry.chars().any(is_leet_symbol);
    if !steps.contains(Disguises::LEET) || !has_leet {
        return out;
    }
    // As letters: every run read as one with letters.
    let mut letters = Folded::default();
    fold_general_with(entry, steps, true, &mut letters);
    frame(&mut letters);
    add(letters);
    // As themselves: each run of digits apart from the letters.
    let mut apart = String::new();
    let mut previous: Option<bool> = None;
    for c in entry.chars() {
        let digit = c.is_numeric();
        if previous.is_some_and(|p| p != digit) {
            apart.push(' ');
        }
        previous = (!is_break(c) || is_leet_symbol(c)).then_some(digit);
        apart.push(c);
    }
    add(fold(&apart, steps));
    out
}

/// Whether [`Disguises::REPEAT`] folds `c` written twice: a letter, but
/// not a Han character, which Chinese doubles as grammar (`谢谢`, `看看`).
fn repeats(c: char) -> bool {
    c.is_alphabetic() && !is_han(c)
}

/// Latin letters and digits, for word breaks: between them and other
/// scripts a word ends (`卖meth`), within them it does not (`straße`).
fn is_latin(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF)
}

/// `@` and `$`: punctuation, but letters to leetspeak.
fn is_leet_symbol(c: char) -> bool {
    matches!(c, '@' | '$')
}

/// The letter a leetspeak digit or symbol stands for.
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '@' => 'a',
        '$' => 's',
        _ => return None,
    })
}

/// Whether `c` is a Han character of the ranges the tables cover.
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0x20000..=0x3134F)
}

/// The Simplified form of a Traditional or variant Han character.
pub fn simplified(c: char) -> Option<char> {
    if !is_han(c) {
        return None;
    }
    TRADITIONAL.binary_search_by_key(&c, |&(from, _)| from).ok().map(|i| TRADITIONAL[i].1)
}

/// The ASCII letters a letter of another script looks like (UTS #39).
pub fn confusable(c: char) -> Option<&'static str> {
    if c.is_ascii() {
        return None;
    }
    CONFUSABLES.binary_search_by_key(&c, |&(from, _)| from).ok().map(|i| CONFUSABLES[i].1)
}

/// The toneless pinyin of a Han character's most common reading (`ü` as
/// `ü`; the skeleton folds it to `u`).
pub fn pinyin_of(c: char) -> Option<&'static str> {
    let c = simplified(c).unwrap_or(c);
    let slot = (c as u32).checked_sub(PINYIN_START)?;
    let syllable = *PINYIN.get(usize::try_from(slot).ok()?)?;
    (syllable != 0).then(|| SYLLABLES[usize::from(syllable)])
}

/// The toneless pinyin of a text that has Han characters, syllables spaced
/// (`黑雲券` → `hei yun quan`), other letters and digits kept as they are;
/// none when it has no Han character or one without a reading.
///
/// Each character is read by its most common reading: an entry whose
/// characters read otherwise in it (a heteronym) is best listed in pinyin
/// by its author as well.
pub fn pinyin(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut any_han = false;
    for c in text.chars() {
        if is_han(c) {
            any_han = true;
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            out.push_str(pinyin_of(c)?);
            out.push(' ');
        } else if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    any_han.then(|| out.trim_end().to_owned())
}

/// Folds one run (the characters between two breaks) at a time: leetspeak
/// and confusables depend on what else the run holds.
struct Folder<'a> {
    steps: Disguises,
    out: &'a mut Folded,
    /// Whether leetspeak reads every run as one with letters.
    all_lettered: bool,
    /// The last letter written, for [`Disguises::REPEAT`]; carried across
    /// breaks, as the skeleton drops them.
    last: Option<char>,
    /// The last character folded into it, as the skeleton has it.
    last_before: Option<char>,
    /// Whether a break stood before the next byte written.
    pending_break: bool,
    /// NFKC characters of the run, with their place in the original.
    run: Vec<(char, u32)>,
    /// The run's characters folded to their skeleton, with their place and
    /// look-alike letters (kept to reuse its allocation).
    items: Vec<(char, u32, Option<&'static str>)>,
}

impl Folder<'_> {
    fn flush(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        let mut items = std::mem::take(&mut self.items);
        items.clear();
        let leet_step = self.steps.contains(Disguises::LEET);
        // The skeleton of each character (lower-cased, diacritics of Latin,
        // Greek and Cyrillic letters dropped), leetspeak symbols kept.
        // Each with its look-alike letters, if it has any: looked up before
        // lower-casing too, as a capital may look like a Latin letter where
        // its small letter does not (Greek `Ζ` is `Z`, `ζ` is no `z`).
        for &(c, source) in &run {
            if leet_step && is_leet_symbol(c) {
                items.push((c, source, None));
            } else {
                let first = items.len();
                base_fold(c, &mut |k| items.push((k, source, confusable(k))));
                if let [(_, _, prototype @ None)] = &mut items[first..] {
                    *prototype = confusable(c);
                }
            }
        }
        let has_ascii_letter = items.iter().any(|&(c, _, _)| c.is_ascii_alphabetic());
        let all_confusable =
            items.iter().filter(|&&(c, _, _)| c.is_alphabetic()).all(|&(c, _, p)| c.is_ascii() || p.is_some());
        let confusables = self.steps.contains(Disguises::CONFUSABLE) && (has_ascii_letter || all_confusable);
        // Leetspeak writes Latin words: a run's digits are letters only beside
        // Latin letters (or letters read as Latin), not in Chinese (`价格455元`).
        let has_letter = self.all_lettered
            || has_ascii_letter
            || (confusables && items.iter().any(|&(c, _, p)| c.is_alphabetic() && p.is_some()));
        let traditional = self.steps.contains(Disguises::TRADITIONAL);
        let mut buf = [0u8; 4];
        for &(c, source, prototype) in &items {
            let before = c;
            let mut disguises = Disguises::NONE;
            // What the character becomes: one character, or the up to
            // three letters of a confusable's prototype (`ɱ` → `m`, `ﬀ` → `ff`).
            let mut mapped = [c, '\0', '\0'];
            let mut len = 1;
            if traditional && let Some(s) = simplified(c) {
                mapped[0] = s;
                disguises |= Disguises::TRADITIONAL;
            } else if confusables
                && c.is_alphabetic()
                && let Some(prototype) = prototype
            {
                len = 0;
                for (slot, letter) in mapped.iter_mut().zip(prototype.chars()) {
                    *slot = letter;
                    len += 1;
                }
                disguises |= Disguises::CONFUSABLE;
            } else if leet_step && let Some(letter) = leet(c) {
                if has_letter {
                    mapped[0] = letter;
                    disguises |= Disguises::LEET;
                } else if is_leet_symbol(c) {
                    // A lone `@` or `$`: punctuation after all.
                    self.pending_break = true;
                    continue;
                }
            }
            for &k in &mapped[..len] {
                // `l` and `i` are one letter to leetspeak, which writes `1` for either.
                let (k, merged) = if leet_step && k == 'l' { ('i', Disguises::LEET) } else { (k, Disguises::NONE) };
                if self.steps.contains(Disguises::REPEAT) && repeats(k) && self.last == Some(k) {
                    // The letter again: one letter, with what this one
                    // undid; a repeat if it was written as the one before
                    // (not `l` after `i`, which is leetspeak's doing).
                    // (Across a word break it is two words, no disguise.)
                    let again = if self.last_before == Some(before) && !self.pending_break {
                        Disguises::REPEAT
                    } else {
                        Disguises::NONE
                    };
                    self.last_before = Some(before);
                    let at = self.out.text.len();
                    let len = self.out.text[..at].chars().next_back().map_or(0, char::len_utf8);
                    for d in &mut self.out.disguises[at - len..] {
                        *d |= again | disguises | merged;
                    }
                    // A word began at the letter (`am meth`): it begins a
                    // word too, and the break stays for the next letter.
                    if self.pending_break {
                        self.out.breaks[at - len] = true;
                    }
                    continue;
                }
                self.last = repeats(k).then_some(k);
                self.last_before = Some(before);
                let bytes = k.encode_utf8(&mut buf).as_bytes();
                let at = self.out.text.len();
                let script_change = self.out.text[..at].chars().next_back().is_some_and(|p| is_latin(p) != is_latin(k));
                self.out.breaks.push(self.pending_break || script_change);
                self.pending_break = false;
                self.out.breaks.extend(std::iter::repeat_n(false, bytes.len() - 1));
                self.out.text.push(k);
                for _ in 0..bytes.len() {
                    self.out.disguises.push(disguises | merged);
                    self.out.before.push(before);
                    self.out.source.push(source);
                }
            }
        }
        self.run = run;
        self.run.clear();
        self.items = items;
    }
}

/// [`fold`]'s text alone, as bytes into a caller's buffer (cleared first):
/// the path every request takes before anything matched, so plain ASCII
/// (most chat) is folded by table lookups in one pass ([`fold_ascii`]).
pub fn fold_bytes_into(text: &str, steps: Disguises, out: &mut Vec<u8>, scratch: &mut Folded) {
    out.clear();
    if !text.is_ascii() {
        fold_into(text, steps, scratch);
        out.extend_from_slice(scratch.text.as_bytes());
        return;
    }
    out.reserve(text.len());
    fold_ascii(text.as_bytes(), steps, &mut BytesSink(out));
}

/// Where [`fold_ascii`] writes what it folds: a buffer, a [`Folded`], or a
/// matcher that steps an automaton over the bytes as they come, so that
/// folding and matching are one pass.
pub trait Sink {
    /// A point [`Sink::rewind`] can go back to.
    type Mark: Copy;
    /// The next folded byte: from the text's byte `at`, which was
    /// `original`, with the disguises undone to make it.
    fn push(&mut self, byte: u8, original: u8, at: usize, disguises: Disguises);
    /// The text's byte `at` folded to the letter pushed last again, which
    /// [`Disguises::REPEAT`] writes once: the last byte also undid
    /// `disguises` (`REPEAT` among them when the byte was written as the
    /// one before it).
    fn repeat(&mut self, at: usize, disguises: Disguises);
    /// A word break before the next byte.
    fn separator(&mut self);
    /// Where the sink is now.
    fn mark(&self) -> Self::Mark;
    /// Back to `mark`, forgetting everything pushed since.
    fn rewind(&mut self, mark: Self::Mark);
}

/// Folds ASCII `text` by `steps` into `sink`, as [`fold`] does: the
/// skeleton by table lookup, leetspeak inside runs with letters, repeated
/// letters once. (Traditional characters and confusables are not ASCII.)
///
/// A run's leetspeak depends on whether it has a letter, maybe after its
/// digits (`4ever`): digits before a run's first letter are written as
/// digits, and when a letter comes the sink is rewound and the run folded
/// again from its start, which is rare.
pub fn fold_ascii<S: Sink>(text: &[u8], steps: Disguises, sink: &mut S) {
    // Most text has no digit or symbol that leetspeak reads as a letter:
    // one lookup a byte, no runs to follow. Else the careful way, from the
    // start (which also takes whatever a text that is not ASCII holds).
    let start = sink.mark();
    if fold_ascii_plain(text, steps, sink) == Plain::Done {
        return;
    }
    sink.rewind(start);
    fold_ascii_runs(text, steps, sink);
}

/// [`fold_ascii`] of `text` if it is ASCII, which is checked as it is
/// folded; else false, with `sink` as it was. One pass over the bytes of an
/// ASCII text with no leetspeak digit or symbol, where checking for ASCII
/// first and folding after would make two: for a matcher fed as it folds a
/// request's text, before that text is known to be UTF-8.
pub fn fold_if_ascii<S: Sink>(text: &[u8], steps: Disguises, sink: &mut S) -> bool {
    let start = sink.mark();
    match fold_ascii_plain(text, steps, sink) {
        Plain::Done => true,
        Plain::NotAscii => {
            sink.rewind(start);
            false
        }
        // The plain pass stopped before the end, unchecked past it.
        Plain::Leet => {
            sink.rewind(start);
            if !text.is_ascii() {
                return false;
            }
            fold_ascii_runs(text, steps, sink);
            true
        }
    }
}

/// How far [`fold_ascii_plain`] went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plain {
    /// It folded the whole text.
    Done,
    /// It stopped at a digit or symbol that leetspeak may read as a letter.
    Leet,
    /// It stopped at a byte that is not ASCII.
    NotAscii,
}

/// [`fold_ascii`] of a text with no leetspeak digit or symbol (or without
/// the leetspeak step), having pushed part of it when it stops early: at the
/// first such digit or symbol, or the first byte that is not ASCII.
#[inline]
fn fold_ascii_plain<S: Sink>(text: &[u8], steps: Disguises, sink: &mut S) -> Plain {
    let leet_step = steps.contains(Disguises::LEET);
    let repeat = steps.contains(Disguises::REPEAT);
    let table = if leet_step { &ASCII_PLAIN_LEET } else { &ASCII_PLAIN };
    // `Last::emit`, written out: the path every ASCII request takes, which
    // measured 13% slower in the sandbox through the shared helper
    // (`groupgate-peers --only "10000 words"`, prohibited-content alone).
    let (mut last, mut last_before) = (0u8, 0u8);
    for (i, &b) in text.iter().enumerate() {
        let k = table[b as usize];
        if k == 0 {
            if separates(b, leet_step) {
                sink.separator();
            }
            continue;
        }
        if k >= NOT_ASCII_MARK {
            return if k == LEET_MARK { Plain::Leet } else { Plain::NotAscii };
        }
        let disguises = merged(k, b);
        let before = b.to_ascii_lowercase();
        // Digits sort before letters: only a letter repeats.
        if repeat && k == last && k >= b'a' {
            let again = if before == last_before { Disguises::REPEAT } else { Disguises::NONE };
            sink.repeat(i, again | disguises);
        } else {
            sink.push(k, b, i, disguises);
            last = k;
        }
        last_before = before;
    }
    Plain::Done
}

/// Whether ASCII byte `b` ends a run: a space or punctuation, which `@`
/// and `$` are unless leetspeak reads them.
#[inline]
fn separates(b: u8, leet_step: bool) -> bool {
    let kind = ASCII_KIND[b as usize];
    kind == SEPARATOR || (kind == LEET_SYMBOL && !leet_step)
}

/// The last byte [`fold_ascii`] pushed, and the last byte of the text folded
/// into it (lower-cased), which the next letter is compared with.
#[derive(Clone, Copy, Default)]
struct Last {
    byte: u8,
    before: u8,
}

impl Last {
    /// Pushes `k`, folded from the text's byte `b` at `at` by undoing
    /// `disguises`, or, with [`Disguises::REPEAT`], folds it into the letter
    /// pushed last when it is that letter again: a repeat if written as the
    /// byte before it (`ll`), else not (`il`, which leetspeak made one
    /// letter).
    #[inline(always)]
    fn emit<S: Sink>(&mut self, sink: &mut S, repeat: bool, k: u8, b: u8, at: usize, disguises: Disguises) {
        let before = b.to_ascii_lowercase();
        // Digits sort before letters: only a letter repeats.
        if repeat && k == self.byte && k >= b'a' {
            let again = if before == self.before { Disguises::REPEAT } else { Disguises::NONE };
            sink.repeat(at, again | disguises);
        } else {
            sink.push(k, b, at, disguises);
            self.byte = k;
        }
        self.before = before;
    }
}

/// What folding the letter `b` to `k` undid: leetspeak's `l` as `i`, or
/// nothing.
#[inline(always)]
fn merged(k: u8, b: u8) -> Disguises {
    if k == b'i' && (b | 0x20) == b'l' { Disguises::LEET } else { Disguises::NONE }
}

/// [`fold_ascii`] run by run, for text with leetspeak digits or symbols.
fn fold_ascii_runs<S: Sink>(text: &[u8], steps: Disguises, sink: &mut S) {
    let leet_step = steps.contains(Disguises::LEET);
    let repeat = steps.contains(Disguises::REPEAT);
    let (plain, lettered) =
        if leet_step { (&ASCII_MERGED, &ASCII_LEET) } else { (&crate::ASCII_SKELETON, &crate::ASCII_SKELETON) };
    let mut last = Last::default();
    // Where the run began (in the text and the sink), and `last` then.
    let (mut run_start, mut run_mark, mut run_last) = (0, sink.mark(), last);
    let (mut has_letter, mut pending) = (false, false);
    // The letters alone, for the loop's common case.
    let letters = if leet_step { &ASCII_LETTERS_MERGED } else { &ASCII_LETTERS };
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        // Most bytes: a letter in a run that has one already.
        let k = letters[b as usize];
        if has_letter && k != 0 {
            last.emit(sink, repeat, k, b, i, merged(k, b));
            i += 1;
            continue;
        }
        if separates(b, leet_step) {
            sink.separator();
            (has_letter, pending) = (false, false);
            (run_start, run_mark, run_last) = (i + 1, sink.mark(), last);
            i += 1;
            continue;
        }
        match ASCII_KIND[b as usize] {
            LETTER if !has_letter => {
                has_letter = true;
                if pending {
                    pending = false;
                    sink.rewind(run_mark);
                    (i, last) = (run_start, run_last);
                    continue;
                }
            }
            LEET_SYMBOL if !has_letter => {
                // Punctuation after all, unless a letter follows in the run.
                pending = true;
                sink.separator();
                i += 1;
                continue;
            }
            LEET_DIGIT if !has_letter => pending = true,
            _ => {}
        }
        let k = if has_letter { lettered[b as usize] } else { plain[b as usize] };
        if k != 0 {
            let disguises = if k == crate::ASCII_SKELETON[b as usize] { Disguises::NONE } else { Disguises::LEET };
            last.emit(sink, repeat, k, b, i, disguises);
        }
        i += 1;
    }
}

/// The folded bytes alone.
struct BytesSink<'a>(&'a mut Vec<u8>);

impl Sink for BytesSink<'_> {
    type Mark = usize;
    #[inline]
    fn push(&mut self, byte: u8, _: u8, _: usize, _: Disguises) {
        self.0.push(byte);
    }
    #[inline]
    fn repeat(&mut self, _: usize, _: Disguises) {}
    #[inline]
    fn separator(&mut self) {}
    #[inline]
    fn mark(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn rewind(&mut self, mark: usize) {
        self.0.truncate(mark);
    }
}

/// A whole [`Folded`], with a break pending before the next byte.
struct FoldedSink<'a> {
    out: &'a mut Folded,
    pending_break: bool,
}

impl Sink for FoldedSink<'_> {
    type Mark = (usize, bool);
    fn push(&mut self, byte: u8, original: u8, at: usize, disguises: Disguises) {
        let out = &mut *self.out;
        out.breaks.push(std::mem::take(&mut self.pending_break));
        out.text.push(char::from(byte));
        out.disguises.push(disguises);
        // The character as the skeleton has it: `@` and `$` as themselves.
        let skeleton = crate::ASCII_SKELETON[original as usize];
        out.before.push(char::from(if skeleton == 0 { original } else { skeleton }));
        out.source.push(u32::try_from(at).unwrap_or(u32::MAX));
    }
    fn repeat(&mut self, _: usize, disguises: Disguises) {
        // Across a word break it is two words, no disguise.
        let disguises = if self.pending_break { disguises.without(Disguises::REPEAT) } else { disguises };
        if let Some(last) = self.out.disguises.last_mut() {
            *last |= disguises;
        }
        // A word began at the letter (`am meth`): it begins a word too, and
        // the break stays for the next letter.
        if self.pending_break
            && let Some(at) = self.out.breaks.len().checked_sub(1)
        {
            self.out.breaks[at] = true;
        }
    }
    fn separator(&mut self) {
        self.pending_break = true;
    }
    fn mark(&self) -> (usize, bool) {
        (self.out.text.len(), self.pending_break)
    }
    fn rewind(&mut self, (len, pending_break): (usize, bool)) {
        let out = &mut *self.out;
        out.text.truncate(len);
        out.breaks.truncate(len);
        out.disguises.truncate(len);
        out.before.truncate(len);
        out.source.truncate(len);
        self.pending_break = pending_break;
    }
}

const OTHER: u8 = 0;
const LETTER: u8 = 1;
const SEPARATOR: u8 = 2;
const LEET_SYMBOL: u8 = 3;
const LEET_DIGIT: u8 = 4;

/// What each ASCII byte is to a run: a letter, a separator (a break), `@`
/// or `$`, or anything else (a digit, or a control character the skeleton
/// drops).
const ASCII_KIND: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() {
            LETTER
        } else if c == b'@' || c == b'$' {
            LEET_SYMBOL
        } else if matches!(c, b'0' | b'1' | b'3' | b'4' | b'5' | b'7') {
            LEET_DIGIT
        } else if c.is_ascii_whitespace() || c.is_ascii_punctuation() || c == 0x0b {
            SEPARATOR
        } else {
            OTHER
        };
        b += 1;
    }
    table
};

/// [`crate::ASCII_SKELETON`] with `l` as `i`, as leetspeak has it outside a
/// run with letters (digits stay digits, `@` and `$` go).
const ASCII_MERGED: [u8; 256] = {
    let mut table = crate::ASCII_SKELETON;
    table[b'l' as usize] = b'i';
    table[b'L' as usize] = b'i';
    table
};

/// What [`fold_ascii_plain`] makes of each byte without the leetspeak step:
/// the skeleton ([`crate::ASCII_SKELETON`]) of an ASCII byte, and
/// [`NOT_ASCII_MARK`] for the others.
const ASCII_PLAIN: [u8; 256] = {
    let mut table = crate::ASCII_SKELETON;
    let mut b = 128;
    while b < 256 {
        table[b] = NOT_ASCII_MARK;
        b += 1;
    }
    table
};

/// What [`fold_ascii_plain`] makes of each byte with the leetspeak step:
/// letters lower-cased (`l` as `i`), digits that leetspeak does not read
/// as themselves, [`LEET_MARK`] for those it does and for `@` and `$`,
/// [`NOT_ASCII_MARK`] for bytes that are not ASCII, and 0 for the rest.
const ASCII_PLAIN_LEET: [u8; 256] = {
    let mut table = ASCII_MERGED;
    let mut b = 0;
    while b < 256 {
        if b >= 128 {
            table[b] = NOT_ASCII_MARK;
        } else if matches!(ASCII_KIND[b], LEET_DIGIT | LEET_SYMBOL) {
            table[b] = LEET_MARK;
        }
        b += 1;
    }
    table
};

/// A byte leetspeak may read as a letter, depending on its run.
const LEET_MARK: u8 = 0xFF;

/// A byte that is not ASCII; the one other mark, below [`LEET_MARK`], so
/// that one comparison tells a mark from a folded byte.
const NOT_ASCII_MARK: u8 = 0xFE;

/// The lower-case form of each ASCII letter, else 0.
const ASCII_LETTERS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        if (b as u8).is_ascii_alphabetic() {
            table[b] = (b as u8).to_ascii_lowercase();
        }
        b += 1;
    }
    table
};

/// [`ASCII_LETTERS`] with `l` as `i`, as leetspeak has it.
const ASCII_LETTERS_MERGED: [u8; 256] = {
    let mut table = ASCII_LETTERS;
    table[b'l' as usize] = b'i';
    table[b'L' as usize] = b'i';
    table
};

/// [`crate::ASCII_SKELETON`] in a run that has letters, with leetspeak.
const ASCII_LEET: [u8; 256] = {
    let mut table = ASCII_MERGED;
    table[b'0' as usize] = b'o';
    table[b'1' as usize] = b'i';
    table[b'3' as usize] = b'e';
    table[b'4' as usize] = b'a';
    table[b'5' as usize] = b's';
    table[b'7' as usize] = b't';
    table[b'@' as usize] = b'a';
    table[b'$' as usize] = b's';
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> String {
        fold(text, Disguises::STEPS).text
    }

    #[test]
    fn each_step_undoes_its_disguise() {
        assert_eq!(folded("黑雲劵"), folded("黑云券"));
        assert_eq!(folded("zоrblax"), "zorbiax", "Cyrillic о");
        assert_eq!(folded("ΖΟRBLΑΧ"), "zorbiax", "Greek capitals");
        assert_eq!(folded("z0rbl4x"), "zorbiax");
        assert_eq!(folded("z0rbl@x"), "zorbiax");
        assert_eq!(folded("pa$$word"), "pasword");
        assert_eq!(folded("zzoorrbbllaaxx"), "zorbiax");
        assert_eq!(folded("pi11s"), folded("pills"));
        assert_eq!(folded("Z O R B L A X"), "zorbiax");
        // Digits without letters in their run are digits.
        assert_eq!(folded("room 101, 4 $"), "rom1014");
        assert_eq!(folded("in1989"), "ini989");
        // A Russian word is not made Latin; a Latin word with a Cyrillic letter is.
        assert_eq!(folded("привет"), "привет");
        assert_eq!(folded("рор"), "pop", "every letter has a Latin look-alike");
    }

    #[test]
    fn no_step_is_the_skeleton() {
        for text in ["Ｂ.A\u{200b}d", "zor-blax 紫星草。ok", "bäd İstanbul", "e\u{301}te\u{301}", "z0rbl@x", ""]
        {
            assert_eq!(fold(text, Disguises::NONE).text, crate::skeleton(text), "{text:?}");
        }
    }

    /// The ASCII path of `fold_bytes_into` folds as `fold` does, whatever
    /// the steps, on every ASCII byte and around runs of every kind.
    #[test]
    fn ascii_path_folds_as_the_general_path() {
        let every_byte: String = (0u8..128).map(char::from).collect();
        let texts = [
            "Zorblax. Free-dom!",
            "z0rbl4x zzoorrbbllaaxx kr0n1kcoin2000 b00k k33per",
            "me @ home, $5 or 5$; a@b $x$ x@",
            "  ll il li 1l l1 111 lll  ",
            "a\tb\nc\u{7f}d\u{0}e\u{b}f",
            "",
            every_byte.as_str(),
        ];
        let mut scratch = Folded::default();
        for steps in 0..16 {
            let steps = Disguises(steps);
            for text in texts {
                let mut fast = Vec::new();
                fold_bytes_into(text, steps, &mut fast, &mut scratch);
                assert_eq!(String::from_utf8(fast).unwrap(), fold(text, steps).text, "{text:?} {steps:?}");
                assert_eq!(fold(text, steps), general(text, steps), "{text:?} {steps:?}");
            }
        }
    }

    /// The same on many short texts of the bytes that matter to runs.
    #[test]
    fn ascii_path_folds_as_the_general_path_on_many_texts() {
        // With leetspeak's digits and symbols, and without (another path).
        let alphabets: [&[u8]; 2] = [b"aAlLi1I0o34@$5 7.-\t9x", b"aAlLiIoO .-\t9xZz2'"];
        let mut seed = 0x9e37_79b9_u32;
        let mut scratch = Folded::default();
        for round in 0..10_000 {
            let alphabet = alphabets[round % 2];
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let mut pick = seed;
            for _ in 0..(seed % 12) {
                pick = pick.rotate_left(5).wrapping_mul(0x9e37_79b9);
                text.push(char::from(alphabet[(pick >> 16) as usize % alphabet.len()]));
            }
            let mut fast = Vec::new();
            fold_bytes_into(&text, Disguises::STEPS, &mut fast, &mut scratch);
            assert_eq!(String::from_utf8(fast).unwrap(), fold(&text, Disguises::STEPS).text, "{text:?}");
            assert_eq!(fold(&text, Disguises::STEPS), general(&text, Disguises::STEPS), "{text:?}");
        }
    }

    /// `fold` through the general path, as text that is not ASCII takes it.
    fn general(text: &str, steps: Disguises) -> Folded {
        let mut out = Folded::default();
        fold_general(text, steps, &mut out);
        frame(&mut out);
        out
    }

    #[test]
    fn a_match_names_what_it_undid() {
        let entry = fold("zorblax", Disguises::STEPS);
        let check = |text: &str| {
            let t = fold(text, Disguises::STEPS);
            let start = t.text.find(&entry.text).expect("matches");
            t.disguises_against(start, &entry.before, &entry.disguises).names().collect::<Vec<_>>()
        };
        assert!(check("a zorblax").is_empty());
        assert_eq!(check("z0rblax"), ["leet"]);
        assert_eq!(check("zоrblax"), ["confusable"]);
        assert_eq!(check("zorrblax"), ["repeat"]);
        assert_eq!(check("zzоrbl4x"), ["confusable", "leet", "repeat"]);
        assert_eq!(check("zorbiax"), ["leet"], "`i` for `l`");
        let han = fold("黑云券", Disguises::STEPS);
        let t = fold("买黑雲劵", Disguises::STEPS);
        assert_eq!(t.disguises_against(3, &han.before, &han.disguises).names().collect::<Vec<_>>(), ["traditional"]);
        let t = fold("黑云券", Disguises::STEPS);
        assert!(t.disguises_against(0, &han.before, &han.disguises).is_empty());
        // An entry written in Traditional, matched by Simplified text.
        let traditional = fold("黑雲券", Disguises::STEPS);
        assert_eq!(
            t.disguises_against(0, &traditional.before, &traditional.disguises).names().collect::<Vec<_>>(),
            ["traditional"]
        );
        // `i` for `l` counts as leetspeak, a letter less as a repeat.
        let pills = fold("pills", Disguises::STEPS);
        let against = |text: &str| {
            let t = fold(text, Disguises::STEPS);
            t.disguises_against(0, &pills.before, &pills.disguises).names().collect::<Vec<_>>()
        };
        assert!(against("PILLS").is_empty());
        assert_eq!(against("pils"), ["repeat"]);
        assert_eq!(against("p1lls"), ["leet"]);
        // The limit: where `i`, `l` and `1` fold into one letter, only the
        // first says how it was written, and a letter doubled in the entry
        // is doubled however often it is in the text.
        assert!(against("pi11s").is_empty());
        assert!(against("piiiils").is_empty());
        assert!(against("piils").is_empty());
        // An entry with a double letter, written so.
        let book = fold("bookkeeper", Disguises::STEPS);
        assert!(fold("bookkeeper", Disguises::STEPS).disguises_against(0, &book.before, &book.disguises).is_empty());
    }

    #[test]
    fn breaks_and_sources_point_back_at_the_text() {
        let t = fold("Zor blax, 黑雲", Disguises::STEPS);
        assert_eq!(t.text, "zorbiax黑云");
        let breaks: Vec<usize> = (0..=t.text.len()).filter(|&i| t.breaks[i]).collect();
        // Start, the space, the comma (and script change), the end.
        assert_eq!(breaks, [0, 3, 7, 13]);
        assert_eq!(t.source[3], 4, "`b` is the fifth character");
        assert_eq!(t.source[10], 11, "`云` comes from `雲`, the twelfth");
        // NFKC's compositions keep the place of the character they start at.
        let t = fold("xe\u{301}y", Disguises::NONE);
        assert_eq!((t.text.as_str(), t.source.as_slice()), ("xey", &[0, 1, 3][..]));
    }

    #[test]
    fn an_entry_with_digits_is_found_in_either_kind_of_run() {
        let texts =
            |entry: &str| -> Vec<String> { fold_entry(entry, Disguises::STEPS).into_iter().map(|f| f.text).collect() };
        assert_eq!(texts("zorblax"), ["zorbiax"]);
        assert_eq!(texts("1989"), ["1989", "i989"]);
        assert_eq!(texts("coin2000"), ["coin2o", "coin2000"]);
        assert_eq!(texts("kr0nikcoin"), ["kronikcoin", "kr0nikcoin"]);
        assert!(texts("!!").is_empty());
        assert!(texts("@").is_empty(), "no letters or digits");
        assert_eq!(texts("@home"), ["ahome"], "`@` beside letters is one of them");
        assert_eq!(texts("жо1"), ["жо1", "жоi"], "a Cyrillic word stays Cyrillic, its digit read either way");
        for (text, entry) in [("in1989", "1989"), ("1989", "1989"), ("coin 2000", "coin2000"), ("coin2000", "coin2000")]
        {
            let folded = fold(text, Disguises::STEPS).text;
            assert!(texts(entry).iter().any(|e| folded.contains(e.as_str())), "{entry:?} in {text:?}");
        }
    }

    #[test]
    fn pinyin_reads_han_entries_toneless() {
        assert_eq!(pinyin("黑雲券").as_deref(), Some("hei yun quan"));
        assert_eq!(pinyin("买QQ号").as_deref(), Some("mai QQ hao"));
        assert_eq!(pinyin("zorblax"), None);
        assert_eq!(folded(&pinyin("绿").unwrap()), "iu", "ü is u, and l is i");
    }
}
