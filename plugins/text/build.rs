//! Compiles the folding tables of `groupgate_text` from maintained data, so
//! that a policy carries only the few tens of kilobytes it looks up:
//!
//! - Traditional → Simplified, one character for one: `zhconv`'s conversion
//!   to `zh-Hans` (OpenCC's and MediaWiki's tables) applied to each Han
//!   character, with the variant forms of `data/variants.txt` on top;
//! - cross-script confusables: Unicode's `confusables.txt` (UTS #39), through
//!   `unicode-security`'s skeleton, kept where a letter that is not ASCII has
//!   ASCII letters as its prototype (Cyrillic `о` → `o`, `ℤ` → `z`);
//! - toneless pinyin: the `pinyin` crate's most common reading of each Han
//!   character of the CJK Unified Ideographs and Extension A.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Han characters whose Simplified form is looked up (CJK Unified Ideographs,
/// Extension A, and the supplementary-plane extensions).
const HAN: [std::ops::RangeInclusive<u32>; 3] = [0x3400..=0x4DBF, 0x4E00..=0x9FFF, 0x20000..=0x3134F];
/// The range the pinyin table covers, as one array indexed from its start.
const PINYIN_RANGE: std::ops::RangeInclusive<u32> = 0x3400..=0x9FFF;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=data/variants.txt");
    let mut out = String::new();
    traditional(&mut out);
    confusables(&mut out);
    pinyin(&mut out);
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("tables.rs");
    std::fs::write(path, out).expect("OUT_DIR is writable");
}

fn traditional(out: &mut String) {
    let mut map = BTreeMap::new();
    for c in HAN.into_iter().flatten().filter_map(char::from_u32) {
        let s = c.to_string();
        let simplified = zhconv::zhconv(&s, zhconv::Variant::ZhHans);
        let mut chars = simplified.chars();
        if let (Some(to), None) = (chars.next(), chars.next())
            && to != c
        {
            map.insert(c, to);
        }
    }
    let variants = std::fs::read_to_string("data/variants.txt").expect("data/variants.txt is readable");
    for (n, line) in variants.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let pair: Vec<char> = line.split_whitespace().flat_map(str::chars).collect();
        let [from, to] = pair[..] else { panic!("data/variants.txt:{}: not one `VARIANT STANDARD` pair", n + 1) };
        map.insert(from, to);
    }
    // A variant of a Traditional character goes all the way to Simplified.
    let resolved: Vec<(char, char)> = map
        .iter()
        .map(|(&from, &to)| {
            let mut to = to;
            for _ in 0..4 {
                match map.get(&to) {
                    Some(&next) if next != to => to = next,
                    _ => break,
                }
            }
            (from, to)
        })
        .collect();
    writeln!(out, "/// Traditional (or variant) Han character → Simplified, sorted.").unwrap();
    writeln!(out, "pub(crate) static TRADITIONAL: [(char, char); {}] = [", resolved.len()).unwrap();
    for (from, to) in resolved {
        writeln!(out, "    ('\\u{{{:x}}}', '\\u{{{:x}}}'),", from as u32, to as u32).unwrap();
    }
    writeln!(out, "];").unwrap();
}

fn confusables(out: &mut String) {
    let mut rows = Vec::new();
    for c in (0x80u32..=0x10FFFF).filter_map(char::from_u32) {
        if !c.is_alphabetic() {
            continue;
        }
        let prototype: String = unicode_security::confusable_detection::skeleton(&c.to_string()).collect();
        if prototype != c.to_string()
            && !prototype.is_empty()
            && prototype.len() <= 3
            && prototype.bytes().all(|b| b.is_ascii_alphabetic())
        {
            rows.push((c, prototype.to_ascii_lowercase()));
        }
    }
    writeln!(out, "/// Letter that is not ASCII → its ASCII prototype (UTS #39), sorted.").unwrap();
    writeln!(out, "pub(crate) static CONFUSABLES: [(char, &str); {}] = [", rows.len()).unwrap();
    for (c, prototype) in rows {
        writeln!(out, "    ('\\u{{{:x}}}', {prototype:?}),", c as u32).unwrap();
    }
    writeln!(out, "];").unwrap();
}

fn pinyin(out: &mut String) {
    use pinyin::ToPinyin;
    let mut syllables: Vec<&'static str> = vec![""];
    let mut index: BTreeMap<&'static str, u16> = BTreeMap::new();
    let mut table = Vec::new();
    for cp in PINYIN_RANGE {
        let reading = char::from_u32(cp).and_then(|c| c.to_pinyin()).map(|p| p.plain());
        let slot = match reading {
            None => 0,
            Some(s) => *index.entry(s).or_insert_with(|| {
                syllables.push(s);
                u16::try_from(syllables.len() - 1).expect("fewer than 65,536 syllables")
            }),
        };
        table.push(slot);
    }
    writeln!(out, "/// Toneless pinyin syllables; the first is none.").unwrap();
    writeln!(out, "pub(crate) static SYLLABLES: [&str; {}] = {syllables:?};", syllables.len()).unwrap();
    writeln!(out, "/// First code point of [`PINYIN`].").unwrap();
    writeln!(out, "pub(crate) const PINYIN_START: u32 = {:#x};", PINYIN_RANGE.start()).unwrap();
    writeln!(out, "/// Each Han character's most common reading, as an index into [`SYLLABLES`].").unwrap();
    writeln!(out, "pub(crate) static PINYIN: [u16; {}] = {table:?};", table.len()).unwrap();
}
