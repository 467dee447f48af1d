//! Trusted signers: an OpenSSH `allowed_signers` file, as `ssh-keygen -Y
//! verify -f` reads it (see "ALLOWED SIGNERS" in ssh-keygen(1)):
//!
//! ```text
//! # principals  [options]  key
//! release@example.com  namespaces="groupgate"  ssh-ed25519 AAAAC3Nz… ci
//! alice@example.com,bob@example.com  ssh-ed25519 AAAAC3Nz…
//! old@example.com  valid-before="20270101Z"  ssh-ed25519 AAAAC3Nz…
//! ```
//!
//! A key signs for the `groupgate` namespace unless its `namespaces` option
//! names others only; `valid-after` and `valid-before` bound when it may be
//! used (`YYYYMMDD[HHMM[SS]]`, read as UTC). `cert-authority` lines are
//! skipped: sets are signed with plain keys, not certificates.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey};

/// The namespace every groupgate signature is made for.
pub const NAMESPACE: &str = "groupgate";

/// One line of the file.
#[derive(Debug, Clone)]
struct Entry {
    principals: String,
    key: KeyData,
    namespaces: Option<Vec<String>>,
    valid_after: Option<u64>,
    valid_before: Option<u64>,
}

/// The keys trusted to sign sets.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    file: String,
    entries: Vec<Entry>,
}

/// Why a key is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untrusted {
    /// No line names it.
    Unknown,
    /// Its lines are for other namespaces.
    Namespace,
    /// Its lines are valid at other times only: `before DATE` or `after
    /// DATE`.
    Expired(String),
}

impl TrustedKeys {
    /// Reads and parses the file `path`.
    pub fn load(path: &Path) -> Result<TrustedKeys, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("`{}`: {e}", path.display()))?;
        TrustedKeys::parse(&text, &path.display().to_string())
    }

    /// Parses `text`, naming it `file` in errors.
    pub fn parse(text: &str, file: &str) -> Result<TrustedKeys, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |why: String| format!("`{file}` line {}: {why}", n + 1);
            let words = split(line).map_err(at)?;
            let (principals, rest) = words.split_first().ok_or_else(|| at("empty".into()))?;
            // The options are there when the second word is not a key type.
            let (options, key_words) = match rest {
                [kind, key, ..] if PublicKey::from_openssh(&format!("{kind} {key}")).is_ok() => (None, &rest[..2]),
                [options, kind, key, ..] => (Some(options.as_str()), &[kind.clone(), key.clone()][..]),
                _ => return Err(at("expected `principals [options] key-type key`".into())),
            };
            let key = PublicKey::from_openssh(&key_words.join(" ")).map_err(|e| at(format!("the key: {e}")))?;
            let mut entry = Entry {
                principals: principals.clone(),
                key: key.key_data().clone(),
                namespaces: None,
                valid_after: None,
                valid_before: None,
            };
            let mut authority = false;
            for option in options.map(split_options).transpose().map_err(at)?.unwrap_or_default() {
                let (name, value) =
                    option.split_once('=').map_or((option.as_str(), None), |(n, v)| (n, Some(v.trim_matches('"'))));
                match (name.to_ascii_lowercase().as_str(), value) {
                    ("cert-authority", None) => authority = true,
                    ("namespaces", Some(v)) => entry.namespaces = Some(v.split(',').map(str::to_owned).collect()),
                    ("valid-after", Some(v)) => entry.valid_after = Some(timestamp(v).map_err(at)?),
                    ("valid-before", Some(v)) => entry.valid_before = Some(timestamp(v).map_err(at)?),
                    _ => return Err(at(format!("unknown option `{option}`"))),
                }
            }
            if authority {
                tracing::warn!(
                    "`{file}` line {}: a cert-authority line is skipped: sets are signed with plain keys",
                    n + 1
                );
                continue;
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(format!("`{file}` trusts no key: expected lines `principals [options] key-type key`"));
        }
        Ok(TrustedKeys { file: file.to_owned(), entries })
    }

    /// The file they were read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The principals of the line that trusts `key` to sign for groupgate
    /// at `now`.
    pub fn principals_for(&self, key: &KeyData, now: SystemTime) -> Result<&str, Untrusted> {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut why = Untrusted::Unknown;
        for entry in self.entries.iter().filter(|e| e.key == *key) {
            if entry.namespaces.as_ref().is_some_and(|ns| !ns.iter().any(|n| n == NAMESPACE)) {
                why = Untrusted::Namespace;
                continue;
            }
            if let Some(after) = entry.valid_after.filter(|&t| now < t) {
                why = Untrusted::Expired(format!("after {}", date(after)));
                continue;
            }
            if let Some(before) = entry.valid_before.filter(|&t| now >= t) {
                why = Untrusted::Expired(format!("before {}", date(before)));
                continue;
            }
            return Ok(&entry.principals);
        }
        Err(why)
    }
}

/// `ssh-ed25519 SHA256:…`: the key type and the fingerprint ssh-keygen shows.
pub fn describe_key(key: &KeyData) -> String {
    format!("{} {}", key.algorithm(), key.fingerprint(HashAlg::Sha256))
}

fn date(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string()
}

/// A line's words, a quoted part (options) kept whole.
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = split_outside_quotes(line, char::is_whitespace)?;
    words.retain(|w| !w.is_empty());
    Ok(words)
}

/// The options word split at commas outside quotes (an empty option is
/// kept, and refused as unknown).
fn split_options(options: &str) -> Result<Vec<String>, String> {
    split_outside_quotes(options, |c| c == ',')
}

/// `text` split at each character `at` names outside double quotes, the
/// quotes kept; an error when a quote is not closed.
fn split_outside_quotes(text: &str, at: impl Fn(char) -> bool) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && at(c) {
            parts.push(std::mem::take(&mut part));
        } else {
            part.push(c);
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    parts.push(part);
    Ok(parts)
}

/// `YYYYMMDD[HHMM[SS]][Z]` as seconds since the epoch, read as UTC.
fn timestamp(text: &str) -> Result<u64, String> {
    let digits = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    let bad = || format!("`{text}` is not a time `YYYYMMDD[HHMM[SS]]`");
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| digits.get(range).map_or(0, |d| d.parse::<u64>().unwrap_or(0));
    let (y, m, d) = (num(0..4) as i64, num(4..6), num(6..8));
    let (hh, mm, ss) = (num(8..10), num(10..12), num(12..14));
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400).map(|s| s + hh * 3600 + mm * 60 + ss).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKiouzJjckYCKMrteT3xso12Ucx+jCo5yQkYmo4vlY5j";

    #[test]
    fn lines_with_and_without_options() {
        let text = format!(
            "# comment\n\nci@example.com {KEY} laptop\nold@example.com namespaces=\"git,groupgate\",valid-before=\"20200101\" {KEY}\nca@example.com cert-authority {KEY}\n"
        );
        let trust = TrustedKeys::parse(&text, "f").unwrap();
        let key = PublicKey::from_openssh(KEY).unwrap();
        assert_eq!(trust.principals_for(key.key_data(), SystemTime::now()), Ok("ci@example.com"));
        let only_old = TrustedKeys::parse(&format!("old@example.com valid-before=\"20200101\" {KEY}"), "f").unwrap();
        assert!(matches!(only_old.principals_for(key.key_data(), SystemTime::now()), Err(Untrusted::Expired(_))));
        let git = TrustedKeys::parse(&format!("a namespaces=\"git\" {KEY}"), "f").unwrap();
        assert_eq!(git.principals_for(key.key_data(), SystemTime::now()), Err(Untrusted::Namespace));
    }

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(timestamp("19700101").unwrap(), 0);
        assert_eq!(timestamp("20000301Z").unwrap(), 951_868_800);
        assert_eq!(timestamp("202001011230").unwrap(), 1_577_881_800);
        assert!(timestamp("2020").is_err());
        assert!(timestamp("20201301").is_err());
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        let err = TrustedKeys::parse("a b\n", "f").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        let err = TrustedKeys::parse(&format!("a frob {KEY}\n"), "f").unwrap_err();
        assert!(err.contains("unknown option `frob`"), "{err}");
        assert!(TrustedKeys::parse("# nothing\n", "f").unwrap_err().contains("trusts no key"));
    }
}
