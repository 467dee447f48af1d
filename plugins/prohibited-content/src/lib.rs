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

use aho_corasick::AhoCorasick;
use groupgate_sdk::{
    DataFile, GroupCreation, Measure, MeasureKind, Message, Policy, Reason, Verdict, entries, parse_config, skeleton,
    skeleton_bytes_into,
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
    matcher: AhoCorasick,
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
        let matcher = AhoCorasick::new(&patterns).map_err(|e| format!("cannot build the word matcher: {e}"))?;
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
    fn scan(&self, text: &str, field: &'static str, found: &mut Vec<(&'static str, usize)>) {
        let mut scratch = self.scratch.borrow_mut();
        skeleton_bytes_into(text, &mut scratch);
        for m in self.matcher.find_iter(scratch.as_slice()) {
            let index = m.pattern().as_usize();
            if found.len() >= MAX_EVIDENCE {
                break;
            }
            if !found.iter().any(|&(_, i)| i == index) {
                found.push((field, index));
            }
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
