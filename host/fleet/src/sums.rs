//! A set's digest: `groupgate.sum` lists every file of the set but itself
//! and its signature, one line each, `SHA-256  path`, sorted by path (the
//! format of `sha256sum`, so `sha256sum -c groupgate.sum` checks it too).
//! The set's digest is the SHA-256 of that listing, so adding, removing or
//! changing any file changes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

/// The listing of every file's SHA-256, at the set's root.
pub const SUMS_FILE: &str = "groupgate.sum";
/// The SSH signature of [`SUMS_FILE`], as `ssh-keygen -Y sign` names it.
pub const SIG_FILE: &str = "groupgate.sum.sig";

/// Whether `path` is one of the files the digest leaves out: the listing
/// and its signature.
pub fn is_signature_file(path: &str) -> bool {
    path == SUMS_FILE || path == SIG_FILE
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The canonical listing of `files` (path → contents; the signature files,
/// if present, are left out). A path with a line break or a backslash
/// cannot be listed (`sha256sum` would escape it) and is an error.
pub fn listing<'a>(files: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>) -> Result<String, String> {
    let mut sorted: Vec<(&String, &Vec<u8>)> = files.into_iter().filter(|(p, _)| !is_signature_file(p)).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (path, bytes) in sorted {
        if path.contains(['\n', '\r', '\\']) {
            return Err(format!(
                "`{}`: a file name with a line break or a backslash cannot be signed",
                path.escape_debug()
            ));
        }
        let _ = writeln!(out, "{}  {path}", sha256_hex(bytes));
    }
    Ok(out)
}

/// The digest of a set whose listing is `listing`: `sha256:` and hex.
pub fn digest_of(listing: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(listing))
}

/// A listing read back: path → SHA-256 hex.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut sums = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || format!("`{SUMS_FILE}` line {}: expected `SHA-256  path`, found `{}`", n + 1, line.escape_debug());
        let (hash, path) = line.split_once("  ").ok_or_else(bad)?;
        if hash.len() != 64
            || !hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            || path.is_empty()
        {
            return Err(bad());
        }
        if is_signature_file(path) {
            return Err(format!(
                "`{SUMS_FILE}` line {}: `{path}` cannot be listed: it is the listing or its signature",
                n + 1
            ));
        }
        if sums.insert(path.to_owned(), hash.to_owned()).is_some() {
            return Err(format!("`{SUMS_FILE}` line {}: `{path}` is listed twice", n + 1));
        }
    }
    Ok(sums)
}

/// How a set's files differ from the listing that was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The file's contents are not those signed.
    Changed(String),
    /// The file was not in the set when it was signed.
    Added(String),
    /// The file was signed but is not in the set.
    Missing(String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Changed(p) => write!(f, "`{p}` changed since the set was signed"),
            Mismatch::Added(p) => write!(f, "`{p}` was added after the set was signed"),
            Mismatch::Missing(p) => write!(f, "`{p}` is missing: it was signed but is not in the set"),
        }
    }
}

/// Every difference between the signed listing and the files.
pub fn compare(signed: &BTreeMap<String, String>, files: &BTreeMap<String, Vec<u8>>) -> Vec<Mismatch> {
    let mut found = Vec::new();
    for (path, bytes) in files.iter().filter(|(p, _)| !is_signature_file(p)) {
        match signed.get(path) {
            None => found.push(Mismatch::Added(path.clone())),
            Some(hash) if *hash != sha256_hex(bytes) => found.push(Mismatch::Changed(path.clone())),
            Some(_) => {}
        }
    }
    for path in signed.keys() {
        if !files.contains_key(path) {
            found.push(Mismatch::Missing(path.clone()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries.iter().map(|(p, c)| (p.to_string(), c.as_bytes().to_vec())).collect()
    }

    #[test]
    fn the_listing_is_sorted_sha256sum_lines_without_the_signature_files() {
        let set = files(&[("b/x.txt", "x"), ("a.toml", "a"), (SUMS_FILE, "old"), (SIG_FILE, "sig")]);
        let text = listing(&set).unwrap();
        assert_eq!(
            text,
            format!("{}  a.toml\n{}  b/x.txt\n", sha256_hex(b"a"), sha256_hex(b"x")),
            "sorted, two spaces, the signature files left out"
        );
        assert_eq!(parse(&text).unwrap().len(), 2);
        assert!(compare(&parse(&text).unwrap(), &set).is_empty());
    }

    #[test]
    fn every_change_is_named() {
        let signed = parse(&listing(&files(&[("a", "1"), ("b", "2"), ("c", "3")])).unwrap()).unwrap();
        let now = files(&[("a", "1"), ("b", "changed"), ("d", "new")]);
        assert_eq!(
            compare(&signed, &now),
            vec![Mismatch::Changed("b".into()), Mismatch::Added("d".into()), Mismatch::Missing("c".into())]
        );
        assert_ne!(
            digest_of(listing(&now).unwrap().as_bytes()),
            digest_of(listing(&files(&[("a", "1")])).unwrap().as_bytes())
        );
    }

    #[test]
    fn a_malformed_listing_is_refused_with_its_line() {
        let err = parse("abc  x\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        let h = sha256_hex(b"");
        let err = parse(&format!("{h}  x\n{h}  x\n")).unwrap_err();
        assert!(err.contains("listed twice"), "{err}");
        assert!(listing(&files(&[("a\nb", "")])).is_err());
        let err = parse(&format!("{h}  {SIG_FILE}\n")).unwrap_err();
        assert!(err.contains("cannot be listed"), "{err}");
    }
}
