//! Art. 10 prohibited content: denies (or holds for review) a message whose
//! text or attachment names, or a group whose name or description, contains
//! an entry of the policy's lists, matched on the text folded (see
//! `groupgate_text`) so that width, case, invisible characters and
//! separators do not hide it, nor Traditional characters, look-alike letters
//! of other scripts, leetspeak or repeated letters, nor a Han entry written
//! in pinyin.
//!
//! Config (`[config]` in the manifest):
//! - `lists`: one table per list, keyed by name. Each may set `file` (the
//!   `[data]` file of its entries; default: the list's name, when there is
//!   such a file), `patterns` (regular expressions matched on the skeleton),
//!   `severity` (`deny`, the default, or `review`), and for a deny list
//!   `escalate = true` with `suspend_secs` (default 86400). Its folding
//!   steps, each a bool named as the evidence names the disguise:
//!   `traditional`, `confusable`, `leet`, `repeat` (on unless set to false)
//!   and `pinyin` (off unless set to true: a Han entry of two characters or
//!   more also matches its toneless pinyin, as a whole word). Without
//!   `lists`, every `[data]` file not named in `allow_lists` is a deny list
//!   with every step but `pinyin`.
//! - `allow_lists`: `[data]` files of terms that never trigger: a listed
//!   entry or pattern match that lies inside an allowed term is ignored,
//!   where the term stands as a whole word in the text.
//!
//! Measures: a deny list warns the sender (or founder); an escalating list
//! suspends their publication for `suspend_secs` and reports them; a review
//! list asks for none, leaving it to the moderator.
//!
//! Each list file holds one entry per line; `#` starts a comment. An entry
//! written `<like this>` matches only as a whole word where it begins or
//! ends with a Latin letter or digit (a space, punctuation or another
//! script beside it), so a short word is not found inside longer ones.
//!
//! The text is folded once, by every step some list takes; a match that
//! needed a step its list does not take is ignored. Evidence names the
//! disguises a match undid: ``list `words` entry `zorblax` (leet)``.

use std::cell::RefCell;
use std::collections::BTreeMap;

use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::nfa::contiguous::NFA;
use groupgate_sdk::{
    DataFile, GroupCreation, Measure, MeasureKind, Message, Policy, Verdict, all, allow, data_file, deny, entries,
    parse_config, review,
};
use groupgate_text::{
    Disguises, Folded, Sink, fold, fold_bytes_into, fold_entry, fold_if_ascii, fold_into, is_han, pinyin,
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

#[derive(Deserialize)]
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
    #[serde(default = "on")]
    traditional: bool,
    #[serde(default = "on")]
    confusable: bool,
    #[serde(default = "on")]
    leet: bool,
    #[serde(default = "on")]
    repeat: bool,
    #[serde(default)]
    pinyin: bool,
}

fn on() -> bool {
    true
}

impl ListConfig {
    /// The disguises this list sees through.
    fn accepts(&self) -> Disguises {
        let mut accepts = Disguises::NONE;
        for (on, step) in [
            (self.traditional, Disguises::TRADITIONAL),
            (self.confusable, Disguises::CONFUSABLE),
            (self.leet, Disguises::LEET),
            (self.repeat, Disguises::REPEAT),
            (self.pinyin, Disguises::PINYIN),
        ] {
            if on {
                accepts |= step;
            }
        }
        accepts
    }
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Severity {
    #[default]
    Deny,
    Review,
}

impl Default for ListConfig {
    fn default() -> Self {
        ListConfig {
            file: None,
            patterns: Vec::new(),
            severity: Severity::Deny,
            escalate: false,
            suspend_secs: None,
            traditional: true,
            confusable: true,
            leet: true,
            repeat: true,
            pinyin: false,
        }
    }
}

/// A list, as configured.
struct List {
    name: String,
    severity: Severity,
    /// Suspension length when the list escalates.
    escalate: Option<u64>,
    /// The disguises a match of its entries may have undone.
    accepts: Disguises,
}

/// One string the automaton looks for: a folded form of an entry.
struct Needle {
    /// The entry's [`Rule`].
    rule: usize,
    /// Its length in bytes.
    len: usize,
    /// The entry as written, per byte (see [`Folded::disguises_against`]).
    before: Box<[char]>,
    disguises: Box<[Disguises]>,
    /// Whether a break must stand before it, and after it: a whole-word
    /// entry's Latin ends.
    whole: (bool, bool),
    /// Whether this is the entry's pinyin.
    pinyin: bool,
    /// Whether the text must have written `before` as it stands: an entry
    /// without letters, whose digits a form reads as letters.
    literal: bool,
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
    /// The folding steps the text takes: every step some list takes.
    steps: Disguises,
    /// Every entry's folded forms, one automaton.
    matcher: Option<Matcher>,
    /// What each of the automaton's strings is.
    needles: Vec<Needle>,
    /// Patterns, as one set for the per-request check and one by one for spans.
    patterns: Option<(RegexSet, Vec<Regex>)>,
    /// Allowed terms folded, their lengths, and where each has a break.
    allow: Option<(Matcher, Vec<usize>, Vec<Vec<bool>>)>,
    scratch: RefCell<Scratch>,
}

/// A rule that matched, in which field, and the disguises it undid.
type Found = Vec<(&'static str, usize, Disguises)>;

/// Buffers reused across calls so a scan allocates nothing once warm.
#[derive(Default)]
struct Scratch {
    bytes: Vec<u8>,
    folded: Folded,
    /// The text folded by no step, for patterns.
    skeleton: Folded,
}

/// Allowed spans, as the first and last character of the text each covers,
/// sorted by start, each with the furthest end of any span starting at or
/// before it: whether a match lies inside one is then a binary search,
/// however many there are.
struct Allowed {
    spans: Vec<(u32, u32)>,
}

impl Needle {
    fn new(rule: usize, form: &Folded, whole: bool, pinyin: bool, literal: bool) -> Self {
        // Whole-word ends matter for Latin letters and digits, which other
        // words continue; Han text has no spaces to stand between words.
        let latin = |b: Option<&u8>| whole && b.is_some_and(u8::is_ascii);
        let bytes = form.text.as_bytes();
        Needle {
            rule,
            len: bytes.len(),
            before: form.before.clone().into_boxed_slice(),
            disguises: form.disguises.clone().into_boxed_slice(),
            whole: (latin(bytes.first()), latin(bytes.last())),
            pinyin,
            literal,
        }
    }
}

impl Allowed {
    fn new(mut spans: Vec<(u32, u32)>) -> Self {
        spans.sort_unstable();
        let mut furthest = 0;
        for span in &mut spans {
            furthest = furthest.max(span.1);
            span.1 = furthest;
        }
        Allowed { spans }
    }

    /// Whether some allowed span holds characters `start..=end`.
    fn covers(&self, start: u32, end: u32) -> bool {
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

        // The text is folded by every step some list takes, and so is every
        // entry, so that they meet; a list refuses what it does not take.
        let steps =
            configured.values().fold(Disguises::NONE, |steps, list| steps | list.accepts()).without(Disguises::PINYIN);

        let mut lists = Vec::new();
        let mut list_files = Vec::new();
        let mut rules = Vec::new();
        let mut needles = Vec::new();
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
                for line in entries(&file.contents).map_err(|e| format!("data file `{}`: {e}", file.name))? {
                    let (word, whole) = match line.strip_prefix('<').and_then(|l| l.strip_suffix('>')) {
                        Some(word) => (word.trim(), true),
                        None => (line, false),
                    };
                    let rule = rules.len();
                    let forms = fold_entry(word, steps);
                    if forms.is_empty() {
                        return Err(format!("data file `{}`: entry `{word}` has no letters or digits", file.name));
                    }
                    let literal = !fold(word, Disguises::NONE).text.chars().any(char::is_alphabetic);
                    for form in forms {
                        needles.push(Needle::new(rule, &form, whole, false, literal));
                        words.push(form.text);
                    }
                    // Pinyin for entries of two Han characters or more: one
                    // syllable (`bing`) is too short a word to stand for one.
                    let han = word.chars().filter(|&c| is_han(c)).count();
                    if list.pinyin
                        && han >= 2
                        && let Some(spoken) = pinyin(word)
                    {
                        // Pinyin is Latin letters: a whole word, or `hei` would
                        // be found in `their`.
                        for form in fold_entry(&spoken, steps) {
                            needles.push(Needle::new(rule, &form, true, true, false));
                            words.push(form.text);
                        }
                    }
                    rules.push(Rule { list: index, label: format!("entry `{line}`") });
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
            lists.push(List { name, severity: list.severity, escalate, accepts: list.accepts() });
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
                let folded = fold(term, steps);
                if folded.text.is_empty() {
                    return Err(format!("data file `{name}`: term `{term}` has no letters or digits"));
                }
                allowed.push(folded.text);
                term_breaks.push(folded.breaks);
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
            steps,
            matcher,
            needles,
            patterns,
            allow,
            scratch: RefCell::new(Scratch::default()),
        })
    }

    fn message(&self, message: &Message) -> Verdict {
        let mut found = Vec::new();
        self.scan(message.text_bytes(), "text", &mut found);
        for attachment in message.attachments() {
            self.scan(attachment.name().as_bytes(), "attachment name", &mut found);
        }
        // The sender is read only when a measure needs their id.
        if found.is_empty() {
            return allow();
        }
        self.verdict(&found, "the message contains prohibited content", message.sender().id())
    }

    fn group_creation(&self, creation: &GroupCreation) -> Verdict {
        let mut found = Vec::new();
        self.scan(creation.name().as_bytes(), "group name", &mut found);
        self.scan(creation.description().as_bytes(), "group description", &mut found);
        if found.is_empty() {
            return allow();
        }
        self.verdict(&found, "the group's name or description contains prohibited content", creation.founder().id())
    }
}

impl ProhibitedContent {
    /// Appends `(field, rule index, disguises)` for each distinct rule that
    /// matches in `text`, as its list allows, and is not inside an allowed
    /// term.
    ///
    /// The common case, no match, is a single pass: ASCII text (most chat)
    /// is folded by table lookups and fed to the automaton byte by byte as
    /// it is folded; other text is folded in full first. Only when something matches, or
    /// patterns are configured, is the text folded with what a match needs
    /// (where each byte came from and what changed it, where words break).
    ///
    /// `raw` is the text's bytes as the request holds them: ASCII is UTF-8,
    /// so the common path checks for ASCII as it folds, in the same pass, and
    /// only other text is checked to be UTF-8 (by `text`, as the SDK checks
    /// every string it reads).
    fn scan(&self, raw: &[u8], field: &'static str, found: &mut Found) {
        let text = || match std::str::from_utf8(raw) {
            Ok(text) => text,
            Err(_) => panic!("the request's {field} is not UTF-8 (a host bug)"),
        };
        let mut scratch = self.scratch.borrow_mut();
        let Scratch { bytes, folded, skeleton } = &mut *scratch;
        let mut ready = false;
        let hit = match &self.matcher {
            Some(matcher) => matcher.any_folding(raw, self.steps).unwrap_or_else(|| {
                fold_bytes_into(text(), self.steps, bytes, folded);
                ready = true;
                matcher.any(bytes)
            }),
            None => false,
        };
        // Patterns are matched on the skeleton: folded text has no `l`, no
        // doubled letter and no digit beside a letter, which they may name.
        let patterns_hit = self.patterns.as_ref().is_some_and(|(set, _)| {
            fold_into(text(), Disguises::NONE, skeleton);
            set.is_match(&skeleton.text)
        });
        if !hit && !patterns_hit {
            return;
        }
        if !ready {
            fold_into(text(), self.steps, folded);
        }
        let folded = &*folded;
        // Matches and allowed terms compare by place in the text, counted in
        // characters, as patterns and entries are found in two foldings.
        let allowed = self.allowed_spans(folded);
        let mut record = |rule: usize, first: u32, last: u32, disguises: Disguises| {
            if !allowed.covers(first, last) {
                self.record(found, field, rule, disguises);
            }
        };
        if hit && let Some(matcher) = &self.matcher {
            matcher.spans(
                folded.text.as_bytes(),
                |n| self.needles[n].len,
                |needle, start, end| {
                    let needle = &self.needles[needle];
                    let (before, after) = needle.whole;
                    if (before && !folded.breaks[start]) || (after && !folded.breaks[end]) {
                        return;
                    }
                    // An entry without letters, read as letters (`14` as
                    // `ia`), only where the text wrote the same digits.
                    if needle.literal && folded.before[start..end] != *needle.before {
                        return;
                    }
                    let mut disguises = folded.disguises_against(start, &needle.before, &needle.disguises);
                    if needle.pinyin {
                        disguises |= Disguises::PINYIN;
                    }
                    if self.lists[self.rules[needle.rule].list].accepts.contains(disguises) {
                        record(needle.rule, folded.source[start], folded.source[end - 1], disguises);
                    }
                },
            );
        }
        if patterns_hit && let Some((set, each)) = &self.patterns {
            let first = self.rules.len() - each.len();
            for i in set.matches(&skeleton.text).iter() {
                for m in each[i].find_iter(&skeleton.text).filter(|m| !m.is_empty()) {
                    record(first + i, skeleton.source[m.start()], skeleton.source[m.end() - 1], Disguises::NONE);
                }
            }
        }
    }

    /// Adds `rule` to `found` unless it is there (then only its disguises),
    /// or its list already names [`MAX_EVIDENCE`] matches. Every list that
    /// matches is found, however many matches other lists have: a list
    /// decides its own outcome and measures.
    fn record(&self, found: &mut Found, field: &'static str, rule: usize, disguises: Disguises) {
        let list = self.rules[rule].list;
        if let Some(seen) = found.iter_mut().find(|(_, seen, _)| *seen == rule) {
            seen.2 |= disguises;
            return;
        }
        if found.iter().filter(|&&(_, seen, _)| self.rules[seen].list == list).count() >= MAX_EVIDENCE {
            return;
        }
        found.push((field, rule, disguises));
    }

    /// Where allowed terms stand in the folded text as whole words: starting
    /// and ending at a break, with no break inside where the term has none
    /// (so `zorblax ian` is not the allowed `zorblaxian`).
    fn allowed_spans(&self, folded: &Folded) -> Allowed {
        let mut spans = Vec::new();
        let breaks = &folded.breaks;
        if let Some((matcher, lens, term_breaks)) = &self.allow {
            matcher.spans(
                folded.text.as_bytes(),
                |t| lens[t],
                |term, start, end| {
                    let whole = breaks[start] && breaks[end];
                    let inner = (start + 1..end).all(|i| !breaks[i] || term_breaks[term][i - start]);
                    if whole && inner {
                        spans.push((folded.source[start], folded.source[end - 1]));
                    }
                },
            );
        }
        Allowed::new(spans)
    }

    /// One reason per list that matched, in list order; the outcome is the
    /// most severe list's.
    fn verdict(&self, found: &Found, message: &str, user_id: &str) -> Verdict {
        let verdicts = self.lists.iter().enumerate().filter_map(|(index, list)| {
            let evidence: Vec<String> = found
                .iter()
                .filter(|&&(_, rule, _)| self.rules[rule].list == index)
                .map(|&(field, rule, disguises)| {
                    let mut line = format!("{field}: list `{}` {}", list.name, self.rules[rule].label);
                    if !disguises.is_empty() {
                        line.push_str(&format!(" ({})", disguises.names().collect::<Vec<_>>().join(", ")));
                    }
                    line
                })
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

    /// Whether any entry occurs in `text` folded by `steps`, folding and
    /// matching in one pass, when `text` is ASCII; `None` when it is not.
    fn any_folding(&self, text: &[u8], steps: Disguises) -> Option<bool> {
        fn run<A: Automaton>(aut: &A, text: &[u8], steps: Disguises) -> Option<bool> {
            let Ok(sid) = aut.start_state(Anchored::No) else { return Some(false) };
            let mut scan = Scan { aut, sid, hit: false };
            fold_if_ascii(text, steps, &mut scan).then_some(scan.hit)
        }
        match self {
            Matcher::Dfa(dfa) => run(dfa, text, steps),
            Matcher::Nfa(nfa) => run(nfa, text, steps),
        }
    }

    /// Whether any entry occurs in the folded `bytes`.
    fn any(&self, bytes: &[u8]) -> bool {
        match self {
            Matcher::Dfa(dfa) => any(dfa, bytes),
            Matcher::Nfa(nfa) => any(nfa, bytes),
        }
    }

    /// Calls `each(pattern, start, end)` for every occurrence of every entry
    /// in the folded `bytes`, overlapping ones included; `len` gives each
    /// pattern's length.
    fn spans(&self, bytes: &[u8], len: impl Fn(usize) -> usize, each: impl FnMut(usize, usize, usize)) {
        match self {
            Matcher::Dfa(dfa) => spans(dfa, bytes, len, each),
            Matcher::Nfa(nfa) => spans(nfa, bytes, len, each),
        }
    }
}

/// An automaton stepped over folded bytes as they come.
struct Scan<'a, A> {
    aut: &'a A,
    sid: StateID,
    hit: bool,
}

impl<A: Automaton> Sink for Scan<'_, A> {
    type Mark = (StateID, bool);
    #[inline]
    fn push(&mut self, byte: u8, _: u8, _: usize, _: Disguises) {
        self.sid = self.aut.next_state(Anchored::No, self.sid, byte);
        self.hit |= self.aut.is_match(self.sid);
    }
    #[inline]
    fn repeat(&mut self, _: usize, _: Disguises) {}
    #[inline]
    fn separator(&mut self) {}
    #[inline]
    fn mark(&self) -> (StateID, bool) {
        (self.sid, self.hit)
    }
    #[inline]
    fn rewind(&mut self, (sid, hit): (StateID, bool)) {
        (self.sid, self.hit) = (sid, hit);
    }
}

/// Runs `aut` over `bytes`, sixteen bytes per loop turn, and says whether
/// anything matched: a sandboxed loop pays for a deadline check on every
/// turn, and this is the path every request takes.
fn any<A: Automaton>(aut: &A, bytes: &[u8]) -> bool {
    let Ok(mut sid) = aut.start_state(Anchored::No) else { return false };
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let mut hit = false;
        for &byte in chunk {
            sid = aut.next_state(Anchored::No, sid, byte);
            hit |= aut.is_match(sid);
        }
        if hit {
            return true;
        }
    }
    chunks.remainder().iter().any(|&byte| {
        sid = aut.next_state(Anchored::No, sid, byte);
        aut.is_match(sid)
    })
}

/// Every occurrence of every pattern of `aut` in `bytes`, as (pattern, start,
/// end); `len` gives each pattern's length.
fn spans<A: Automaton>(aut: &A, bytes: &[u8], len: impl Fn(usize) -> usize, mut each: impl FnMut(usize, usize, usize)) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else { return };
    for (at, &byte) in bytes.iter().enumerate() {
        sid = aut.next_state(Anchored::No, sid, byte);
        if aut.is_match(sid) {
            for i in 0..aut.match_len(sid) {
                let pattern = aut.match_pattern(sid, i).as_usize();
                let end = at + 1;
                each(pattern, end - len(pattern), end);
            }
        }
    }
}
