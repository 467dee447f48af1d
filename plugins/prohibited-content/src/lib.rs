//! Art. 10 prohibited content: denies a message whose text or attachment
//! names, or a group whose name or description, contains a word from the
//! policy's lists, matched on the text's skeleton (see `groupgate_text`) so
//! that width, case, invisible characters and separators do not hide it.
//!
//! Config (`[config]` in the manifest):
//! - `lists`: which `[data]` files are word lists (default: all of them).
//!
//! Each list file holds one entry per line; `#` starts a comment.

use std::cell::RefCell;

use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::nfa::contiguous::NFA;
use groupgate_sdk::{
    ASCII_SKELETON, DataFile, GroupCreation, Measure, MeasureKind, Message, Policy, Reason, Verdict, entries,
    parse_config, skeleton, skeleton_bytes_into,
};
use serde::Deserialize;

/// At most this many distinct matches are named in a reason's evidence.
const MAX_EVIDENCE: usize = 5;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    lists: Option<Vec<String>>,
}

struct Entry {
    list: String,
    word: String,
}

struct ProhibitedContent {
    /// Every list entry's skeleton, driven byte by byte in [`feed`].
    matcher: Matcher,
    entries: Vec<Entry>,
    /// Reused across calls so a scan allocates nothing once warm.
    scratch: RefCell<Vec<u8>>,
}

impl Policy for ProhibitedContent {
    fn init(config: &str, data: Vec<DataFile>) -> Result<Self, String> {
        let config: Config = parse_config(config)?;
        let wanted = config.lists.unwrap_or_else(|| data.iter().map(|d| d.name.clone()).collect());
        let mut patterns = Vec::new();
        let mut entries_out = Vec::new();
        for list in &wanted {
            let file = data
                .iter()
                .find(|d| &d.name == list)
                .ok_or_else(|| format!("config key `lists`: no data file named `{list}`"))?;
            for word in entries(&file.contents).map_err(|e| format!("data file `{list}`: {e}"))? {
                let pattern = skeleton(word);
                if pattern.is_empty() {
                    return Err(format!("data file `{list}`: entry `{word}` has no letters or digits to match"));
                }
                patterns.push(pattern);
                entries_out.push(Entry { list: list.clone(), word: word.to_owned() });
            }
        }
        let matcher = Matcher::build(&patterns)?;
        Ok(ProhibitedContent { matcher, entries: entries_out, scratch: RefCell::new(Vec::new()) })
    }

    fn message(&self, message: &Message) -> Verdict {
        let mut found = Vec::new();
        self.scan(&message.text, "text", &mut found);
        for attachment in &message.attachments {
            self.scan(&attachment.name, "attachment name", &mut found);
        }
        self.verdict(found, "the message contains prohibited content", &message.sender.id)
    }

    fn group_creation(&self, creation: &GroupCreation) -> Verdict {
        let mut found = Vec::new();
        self.scan(&creation.name, "group name", &mut found);
        self.scan(&creation.description, "group description", &mut found);
        self.verdict(found, "the group's name or description contains prohibited content", &creation.founder.id)
    }
}

impl ProhibitedContent {
    /// Appends `(field, entry index)` for each distinct entry found in `text`.
    ///
    /// ASCII text (most chat) is mapped to its skeleton and fed to the
    /// automaton in the same pass, sixteen bytes per loop turn: a sandboxed loop
    /// pays for a deadline check on every turn, so fewer turns matter. Other
    /// text is reduced to its skeleton first.
    fn scan(&self, text: &str, field: &'static str, found: &mut Vec<(&'static str, usize)>) {
        if found.len() >= MAX_EVIDENCE {
            return;
        }
        if text.is_ascii() {
            self.matcher.feed(text.as_bytes(), &ASCII_SKELETON, field, found);
        } else {
            let mut scratch = self.scratch.borrow_mut();
            skeleton_bytes_into(text, &mut scratch);
            self.matcher.feed(&scratch, &IDENTITY, field, found);
        }
    }

    fn verdict(&self, found: Vec<(&'static str, usize)>, message: &str, user_id: &str) -> Verdict {
        if found.is_empty() {
            return Verdict::allow();
        }
        let evidence = found
            .iter()
            .map(|&(field, i)| {
                let entry = &self.entries[i];
                format!("{field}: list `{}` entry `{}`", entry.list, entry.word)
            })
            .collect::<Vec<_>>()
            .join("; ");
        Verdict::deny(Reason::new("prohibited-content", message).article("Art. 10").evidence(evidence))
            .with_measure(Measure::on_user(MeasureKind::Warn, user_id))
    }
}

groupgate_sdk::policy!(ProhibitedContent);

/// The word lists as one automaton over skeleton bytes.
enum Matcher {
    /// One table lookup per byte; chosen while its table stays small.
    Dfa(DFA),
    /// Smaller but slower (failure transitions) for very large lists.
    Nfa(NFA),
}

/// Largest transition table, in bytes, for which the DFA is used.
const MAX_DFA_BYTES: usize = 24 * 1024 * 1024;

impl Matcher {
    fn build(patterns: &[String]) -> Result<Self, String> {
        let err = |e: aho_corasick::BuildError| format!("cannot build the word matcher: {e}");
        // A DFA has one state per trie node and one column per byte class.
        let states: usize = patterns.iter().map(String::len).sum::<usize>() + 2;
        let mut seen = [false; 256];
        patterns.iter().flat_map(|p| p.bytes()).for_each(|b| seen[b as usize] = true);
        // The table's rows are padded to a power of two of classes.
        let classes = (seen.iter().filter(|&&s| s).count() + 1).next_power_of_two();
        if states.saturating_mul(classes).saturating_mul(4) <= MAX_DFA_BYTES {
            aho_corasick::dfa::Builder::new().build(patterns).map(Matcher::Dfa).map_err(err)
        } else {
            aho_corasick::nfa::contiguous::Builder::new().build(patterns).map(Matcher::Nfa).map_err(err)
        }
    }

    fn feed(&self, bytes: &[u8], map: &[u8; 256], field: &'static str, found: &mut Vec<(&'static str, usize)>) {
        match self {
            Matcher::Dfa(dfa) => feed(dfa, bytes, map, field, found),
            Matcher::Nfa(nfa) => feed(nfa, bytes, map, field, found),
        }
    }
}

/// Runs `aut` over `bytes` mapped through `map` (0 = skip), sixteen bytes per
/// loop turn: a sandboxed loop pays for a deadline check on every turn.
fn feed<A: Automaton>(
    aut: &A,
    bytes: &[u8],
    map: &[u8; 256],
    field: &'static str,
    found: &mut Vec<(&'static str, usize)>,
) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else { return };
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let before = sid;
        let mut hit = false;
        for &byte in chunk {
            let mapped = map[byte as usize];
            if mapped != 0 {
                sid = aut.next_state(Anchored::No, sid, mapped);
                hit |= aut.is_match(sid);
            }
        }
        if hit {
            // Rare: step through the chunk again to collect what matched.
            sid = before;
            if !collect(aut, chunk, map, &mut sid, field, found) {
                return;
            }
        }
    }
    collect(aut, chunks.remainder(), map, &mut sid, field, found);
}

/// Steps `sid` over `bytes`, recording every entry that matches; false once
/// the evidence is full.
fn collect<A: Automaton>(
    aut: &A,
    bytes: &[u8],
    map: &[u8; 256],
    sid: &mut StateID,
    field: &'static str,
    found: &mut Vec<(&'static str, usize)>,
) -> bool {
    for &byte in bytes {
        let mapped = map[byte as usize];
        if mapped == 0 {
            continue;
        }
        *sid = aut.next_state(Anchored::No, *sid, mapped);
        if !aut.is_match(*sid) {
            continue;
        }
        for i in 0..aut.match_len(*sid) {
            if found.len() >= MAX_EVIDENCE {
                return false;
            }
            let index = aut.match_pattern(*sid, i).as_usize();
            if !found.iter().any(|&(_, seen)| seen == index) {
                found.push((field, index));
            }
        }
    }
    true
}

/// For text already reduced to its skeleton: every byte stays.
const IDENTITY: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b as u8;
        b += 1;
    }
    table
};
