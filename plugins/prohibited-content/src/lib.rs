//! Art. 10 prohibited content: denies (or holds for review) a message whose
//! text or attachment names, or a group whose name or description, contains
//! an entry of the policy's lists, matched on the text's skeleton (see
//! `groupgate_text`) so that width, case, invisible characters and separators
//! do not hide it.
//!
//! Config (`[config]` in the manifest):
//! - `lists`: one table per list, keyed by name. Each may set `file` (the
//!   `[data]` file of its entries; default: the list's name, when there is
//!   such a file), `patterns` (regular expressions matched on the skeleton),
//!   `severity` (`deny`, the default, or `review`), and for a deny list
//!   `escalate = true` with `suspend_secs` (default 86400). Without `lists`,
//!   every `[data]` file not named in `allow_lists` is a deny list.
//! - `allow_lists`: `[data]` files of terms that never trigger: a listed
//!   entry or pattern match that lies inside an allowed term is ignored,
//!   where the term stands as a whole word in the text.
//!
//! Measures: a deny list warns the sender (or founder); an escalating list
//! suspends their publication for `suspend_secs` and reports them; a review
//! list asks for none, leaving it to the moderator.
//!
//! Each list file holds one entry per line; `#` starts a comment.

use std::cell::RefCell;
use std::collections::BTreeMap;

use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::nfa::contiguous::NFA;
use groupgate_sdk::{
    ASCII_SKELETON, DataFile, GroupCreation, Measure, MeasureKind, Message, Policy, Verdict, all, allow, data_file,
    deny, entries, parse_config, review, skeleton, skeleton_bytes_into, skeleton_with_breaks_into,
};
use regex::{Regex, RegexSet};
use serde::Deserialize;

/// At most this many distinct matches are named in the evidence.
const MAX_EVIDENCE: usize = 5;
/// Default suspension of an escalating list, in seconds: one day.
const DEFAULT_SUSPEND_SECS: u64 = 86_400;
/// Compiled size limit of each pattern, so a config cannot exhaust memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    lists: Option<BTreeMap<String, ListConfig>>,
    #[serde(default)]
    allow_lists: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListConfig {
    file: Option<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    severity: Severity,
    #[serde(default)]
    escalate: bool,
    suspend_secs: Option<u64>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Severity {
    #[default]
    Deny,
    Review,
}

/// A list, as configured.
struct List {
    name: String,
    severity: Severity,
    /// Suspension length when the list escalates.
    escalate: Option<u64>,
}

/// Something a list matches: an entry (a word, through the automaton) or a
/// pattern (through the regex set). Entries come first, so an automaton
/// pattern id is an index here; patterns follow.
struct Rule {
    list: usize,
    /// `entry `zorblax`` or `pattern `z[o0]rblax``, for the evidence.
    label: String,
}

struct ProhibitedContent {
    lists: Vec<List>,
    rules: Vec<Rule>,
    /// Every entry's skeleton, driven byte by byte in [`feed`].
    matcher: Option<Matcher>,
    /// Skeleton length of each entry, to turn a match's end into a span.
    entry_lens: Vec<usize>,
    /// Patterns, as one set for the per-request check and one by one for spans.
    patterns: Option<(RegexSet, Vec<Regex>)>,
    /// Allowed terms' skeletons, their lengths, and where each has a break.
    allow: Option<(Matcher, Vec<usize>, Vec<Vec<bool>>)>,
    scratch: RefCell<Scratch>,
}

/// A rule that matched, and in which field.
type Found = Vec<(&'static str, usize)>;

/// Buffers reused across calls so a scan allocates nothing once warm.
#[derive(Default)]
struct Scratch {
    skeleton: Vec<u8>,
    breaks: Vec<bool>,
}

/// Allowed spans, sorted by start, each with the furthest end of any span
/// starting at or before it: whether a match lies inside one is then a
/// binary search, however many there are.
struct Allowed {
    spans: Vec<(usize, usize)>,
}

impl Allowed {
    fn new(mut spans: Vec<(usize, usize)>) -> Self {
        spans.sort_unstable();
        let mut furthest = 0;
        for span in &mut spans {
            furthest = furthest.max(span.1);
            span.1 = furthest;
        }
        Allowed { spans }
    }

    /// Whether some allowed span holds all of `start..end`.
    fn covers(&self, start: usize, end: usize) -> bool {
        let starting_before = self.spans.partition_point(|&(s, _)| s <= start);
        starting_before > 0 && self.spans[starting_before - 1].1 >= end
    }
}

impl Policy for ProhibitedContent {
    fn init(config: &str, data: Vec<DataFile>) -> Result<Self, String> {
        let config: Config = parse_config(config)?;
        for name in &config.allow_lists {
            data_file(&data, name).map_err(|e| format!("config key `allow_lists`: {e}"))?;
        }
        let configured = match config.lists {
            Some(lists) => lists,
            None => data
                .iter()
                .filter(|d| !config.allow_lists.contains(&d.name))
                .map(|d| (d.name.clone(), ListConfig::default()))
                .collect(),
        };

        let mut lists = Vec::new();
        let mut list_files = Vec::new();
        let mut rules = Vec::new();
        let mut words = Vec::new();
        let mut pattern_rules = Vec::new();
        let mut pattern_sources = Vec::new();
        for (index, (name, list)) in configured.into_iter().enumerate() {
            let key = |sub: &str| format!("config key `lists.{name}{sub}`");
            if list.severity == Severity::Review && list.escalate {
                return Err(format!("{}: only a list with severity `deny` escalates", key(".escalate")));
            }
            if list.suspend_secs.is_some() && !list.escalate {
                return Err(format!("{}: applies only with `escalate = true`", key(".suspend_secs")));
            }
            let file = match &list.file {
                Some(file) => Some(data_file(&data, file).map_err(|e| format!("{}: {e}", key(".file")))?),
                None => data.iter().find(|d| d.name == name),
            };
            if file.is_none() && list.patterns.is_empty() {
                return Err(format!("{}: no `[data]` file named `{name}`, and no `file` or `patterns` given", key("")));
            }
            if let Some(file) = file {
                list_files.push(file.name.clone());
                for word in entries(&file.contents).map_err(|e| format!("data file `{}`: {e}", file.name))? {
                    let pattern = skeleton(word);
                    if pattern.is_empty() {
                        return Err(format!("data file `{}`: entry `{word}` has no letters or digits", file.name));
                    }
                    words.push(pattern);
                    rules.push(Rule { list: index, label: format!("entry `{word}`") });
                }
            }
            for source in &list.patterns {
                let compiled =
                    regex::RegexBuilder::new(source).size_limit(PATTERN_SIZE_LIMIT).build().map_err(|e| {
                        format!("{}: pattern `{source}` does not compile: {}", key(".patterns"), one_line(&e))
                    })?;
                check_pattern(source, &compiled)
                    .map_err(|e| format!("{}: pattern `{source}` {e}", key(".patterns")))?;
                pattern_rules.push(Rule { list: index, label: format!("pattern `{source}`") });
                pattern_sources.push(source.clone());
            }
            let escalate = list.escalate.then(|| list.suspend_secs.unwrap_or(DEFAULT_SUSPEND_SECS));
            lists.push(List { name, severity: list.severity, escalate });
        }
        // With lists configured, a data file no list reads is a mistake.
        if let Some(other) =
            data.iter().find(|d| !config.allow_lists.contains(&d.name) && !list_files.contains(&d.name))
        {
            return Err(format!(
                "data file `{}` is neither a list's file (config key `lists`) nor in `allow_lists`",
                other.name
            ));
        }
        let entry_lens = words.iter().map(String::len).collect();
        let matcher = if words.is_empty() { None } else { Some(Matcher::build(&words)?) };
        rules.extend(pattern_rules);
        let patterns = if pattern_sources.is_empty() {
            None
        } else {
            let set = regex::RegexSetBuilder::new(&pattern_sources)
                .size_limit(PATTERN_SIZE_LIMIT * pattern_sources.len())
                .build()
                .map_err(|e| format!("config key `lists`: the patterns together do not compile: {e}"))?;
            let each = pattern_sources
                .iter()
                .map(|p| regex::RegexBuilder::new(p).size_limit(PATTERN_SIZE_LIMIT).build().expect("checked above"))
                .collect();
            Some((set, each))
        };

        let mut allowed = Vec::new();
        let mut term_breaks = Vec::new();
        for name in &config.allow_lists {
            let file = data_file(&data, name).expect("checked above");
            for term in entries(&file.contents).map_err(|e| format!("data file `{name}`: {e}"))? {
                let (mut pattern, mut breaks) = (Vec::new(), Vec::new());
                skeleton_with_breaks_into(term, &mut pattern, &mut breaks);
                if pattern.is_empty() {
                    return Err(format!("data file `{name}`: term `{term}` has no letters or digits"));
                }
                allowed.push(String::from_utf8(pattern).expect("a skeleton is UTF-8"));
                term_breaks.push(breaks);
            }
        }
        let allow = if allowed.is_empty() {
            None
        } else {
            Some((Matcher::build(&allowed)?, allowed.iter().map(String::len).collect(), term_breaks))
        };

        Ok(ProhibitedContent {
            lists,
            rules,
            matcher,
            entry_lens,
            patterns,
            allow,
            scratch: RefCell::new(Scratch::default()),
        })
    }

    fn message(&self, message: &Message) -> Verdict {
        let mut found = Vec::new();
        self.scan(message.text(), "text", &mut found);
        for attachment in message.attachments() {
            self.scan(attachment.name(), "attachment name", &mut found);
        }
        // The sender is read only when a measure needs their id.
        if found.is_empty() {
            return allow();
        }
        self.verdict(&found, "the message contains prohibited content", message.sender().id())
    }

    fn group_creation(&self, creation: &GroupCreation) -> Verdict {
        let mut found = Vec::new();
        self.scan(creation.name(), "group name", &mut found);
        self.scan(creation.description(), "group description", &mut found);
        if found.is_empty() {
            return allow();
        }
        self.verdict(&found, "the group's name or description contains prohibited content", creation.founder().id())
    }
}

impl ProhibitedContent {
    /// Appends `(field, rule index)` for each distinct rule that matches in
    /// `text` and is not inside an allowed term.
    ///
    /// The common case, no match, is a single pass: ASCII text (most chat) is
    /// mapped to its skeleton and fed to the automaton in the same pass,
    /// sixteen bytes per loop turn (a sandboxed loop pays for a deadline check
    /// on every turn, so fewer turns matter); other text is reduced to its
    /// skeleton first. Only when something matches, or patterns are
    /// configured, is the skeleton kept and searched for spans.
    fn scan(&self, text: &str, field: &'static str, found: &mut Found) {
        let mut scratch = self.scratch.borrow_mut();
        let Scratch { skeleton, breaks } = &mut *scratch;
        let mut hit = false;
        let mut ready = false;
        if let Some(matcher) = &self.matcher {
            if text.is_ascii() {
                hit = matcher.any(text.as_bytes(), &ASCII_SKELETON);
            } else {
                skeleton_bytes_into(text, skeleton);
                ready = true;
                hit = matcher.any(skeleton, &IDENTITY);
            }
        }
        if !hit && self.patterns.is_none() {
            return;
        }
        if !ready {
            skeleton_bytes_into(text, skeleton);
        }
        let patterns_hit = self
            .patterns
            .as_ref()
            .is_some_and(|(set, _)| set.is_match(std::str::from_utf8(skeleton).expect("a skeleton is UTF-8")));
        if !hit && !patterns_hit {
            return;
        }
        // Something matched (rare): allowed terms must stand as whole words,
        // so only now is the skeleton rebuilt with its word breaks.
        if self.allow.is_some() {
            skeleton_with_breaks_into(text, skeleton, breaks);
        }
        let allowed = self.allowed_spans(skeleton, breaks);
        let mut record = |rule: usize, start: usize, end: usize| {
            if !allowed.covers(start, end) {
                self.record(found, field, rule);
            }
        };
        if hit && let Some(matcher) = &self.matcher {
            matcher.spans(skeleton, &self.entry_lens, &mut record);
        }
        if patterns_hit && let Some((set, each)) = &self.patterns {
            // Patterns see the skeleton as text; it is built from whole characters.
            let text = std::str::from_utf8(skeleton).expect("a skeleton is UTF-8");
            let first = self.entry_lens.len();
            for i in set.matches(text).iter() {
                for m in each[i].find_iter(text) {
                    record(first + i, m.start(), m.end());
                }
            }
        }
    }

    /// Adds `rule` to `found` unless it is there, or its list already names
    /// [`MAX_EVIDENCE`] matches. Every list that matches is found, however
    /// many matches other lists have: a list decides its own outcome and
    /// measures.
    fn record(&self, found: &mut Found, field: &'static str, rule: usize) {
        let list = self.rules[rule].list;
        if found.iter().any(|&(_, seen)| seen == rule) {
            return;
        }
        if found.iter().filter(|&&(_, seen)| self.rules[seen].list == list).count() >= MAX_EVIDENCE {
            return;
        }
        found.push((field, rule));
    }

    /// Where allowed terms stand in `skeleton` as whole words: starting and
    /// ending at a break, with no break inside where the term has none (so
    /// `zorblax ian` is not the allowed `zorblaxian`).
    fn allowed_spans(&self, skeleton: &[u8], breaks: &[bool]) -> Allowed {
        let mut spans = Vec::new();
        if let Some((matcher, lens, term_breaks)) = &self.allow {
            matcher.spans(skeleton, lens, |term, start, end| {
                let whole = breaks[start] && breaks[end];
                let inner = (start + 1..end).all(|i| !breaks[i] || term_breaks[term][i - start]);
                if whole && inner {
                    spans.push((start, end));
                }
            });
        }
        Allowed::new(spans)
    }

    /// One reason per list that matched, in list order; the outcome is the
    /// most severe list's.
    fn verdict(&self, found: &Found, message: &str, user_id: &str) -> Verdict {
        let verdicts = self.lists.iter().enumerate().filter_map(|(index, list)| {
            let evidence: Vec<String> = found
                .iter()
                .filter(|&&(_, rule)| self.rules[rule].list == index)
                .map(|&(field, rule)| format!("{field}: list `{}` {}", list.name, self.rules[rule].label))
                .collect();
            if evidence.is_empty() {
                return None;
            }
            let verdict = match list.severity {
                Severity::Deny => deny("prohibited-content"),
                Severity::Review => review("prohibited-content"),
            };
            let verdict = verdict.message(message).article("Art. 10").evidence(evidence.join("; "));
            Some(match (list.severity, list.escalate) {
                (Severity::Review, _) => verdict,
                (Severity::Deny, None) => verdict.measure(Measure::on_user(MeasureKind::Warn, user_id)),
                (Severity::Deny, Some(secs)) => verdict
                    .measure(Measure::on_user(MeasureKind::SuspendPublication, user_id).for_secs(secs))
                    .measure(Measure::on_user(MeasureKind::Report, user_id)),
            })
        });
        all(verdicts)
    }
}

groupgate_sdk::policy!(ProhibitedContent);

/// Refuses a pattern that could never match a skeleton as its author means
/// it, or that matches everything.
fn check_pattern(source: &str, compiled: &Regex) -> Result<(), String> {
    if compiled.is_match("") {
        return Err("matches empty text, so it would match every message".into());
    }
    // Outside escapes (`\d`, `\p{Han}`, `\x{4E00}`) and group names, what a
    // skeleton cannot hold.
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('b' | 'B') => {
                    return Err("uses `\\b`, but a skeleton has no word boundaries but its ends".into());
                }
                Some(_) if chars.peek() == Some(&'{') => {
                    chars.by_ref().take_while(|&c| c != '}').for_each(drop);
                }
                _ => {}
            },
            // `(?P<name>`: the `P` is syntax.
            '?' if chars.peek() == Some(&'P') => {
                chars.next();
            }
            '<' => {
                // `(?P<name>` or `(?<name>`: a group's name, not text.
                chars.by_ref().take_while(|&c| c != '>').for_each(drop);
            }
            c if c.is_uppercase() => {
                return Err(format!(
                    "has the upper-case `{c}`, but it is matched on the skeleton, which is lower-case"
                ));
            }
            c if c.is_whitespace() => {
                return Err("has a space, but it is matched on the skeleton, which has none".into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// A regex error on one line: its last line says what is wrong (the lines
/// before draw a caret under the pattern, which a one-line message cannot).
fn one_line(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    last.trim().trim_start_matches("error: ").to_owned()
}

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

    /// Whether any entry occurs in `bytes` mapped through `map`.
    fn any(&self, bytes: &[u8], map: &[u8; 256]) -> bool {
        match self {
            Matcher::Dfa(dfa) => any(dfa, bytes, map),
            Matcher::Nfa(nfa) => any(nfa, bytes, map),
        }
    }

    /// Calls `each(pattern, start, end)` for every occurrence of every entry
    /// in the skeleton `bytes`, overlapping ones included.
    fn spans(&self, bytes: &[u8], lens: &[usize], each: impl FnMut(usize, usize, usize)) {
        match self {
            Matcher::Dfa(dfa) => spans(dfa, bytes, lens, each),
            Matcher::Nfa(nfa) => spans(nfa, bytes, lens, each),
        }
    }
}

/// Runs `aut` over `bytes` mapped through `map` (0 = skip), sixteen bytes per
/// loop turn, and says whether anything matched: a sandboxed loop pays for a
/// deadline check on every turn, and this is the path every request takes.
fn any<A: Automaton>(aut: &A, bytes: &[u8], map: &[u8; 256]) -> bool {
    let Ok(mut sid) = aut.start_state(Anchored::No) else { return false };
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let mut hit = false;
        for &byte in chunk {
            let mapped = map[byte as usize];
            if mapped != 0 {
                sid = aut.next_state(Anchored::No, sid, mapped);
                hit |= aut.is_match(sid);
            }
        }
        if hit {
            return true;
        }
    }
    step(aut, chunks.remainder(), map, &mut sid)
}

/// Steps `sid` over `bytes`; true at the first match.
fn step<A: Automaton>(aut: &A, bytes: &[u8], map: &[u8; 256], sid: &mut StateID) -> bool {
    for &byte in bytes {
        let mapped = map[byte as usize];
        if mapped != 0 {
            *sid = aut.next_state(Anchored::No, *sid, mapped);
            if aut.is_match(*sid) {
                return true;
            }
        }
    }
    false
}

/// Every occurrence of every pattern of `aut` in `bytes`, as (pattern, start,
/// end); `lens` gives each pattern's length.
fn spans<A: Automaton>(aut: &A, bytes: &[u8], lens: &[usize], mut each: impl FnMut(usize, usize, usize)) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else { return };
    for (at, &byte) in bytes.iter().enumerate() {
        sid = aut.next_state(Anchored::No, sid, byte);
        if aut.is_match(sid) {
            for i in 0..aut.match_len(sid) {
                let pattern = aut.match_pattern(sid, i).as_usize();
                let end = at + 1;
                each(pattern, end - lens[pattern], end);
            }
        }
    }
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
