//! Segment files: their names, their lines read back as JSON objects, and
//! the opening line every segment starts with.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use groupgate::time::unix_millis;
use serde_json::{Map, Value};

use crate::log::line_hash;

/// A segment's file name: `segment-00000001.jsonl`.
pub(crate) fn segment_name(number: u64) -> String {
    format!("segment-{number:08}.jsonl")
}

/// The number in a segment's file name, or `None` for any other file.
pub(crate) fn segment_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("segment-")?.strip_suffix(".jsonl")?.parse().ok()
}

/// The segment files in `dir`, in number order.
pub(crate) fn segments(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter_map(|p| segment_number(&p).map(|n| (n, p)))
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Each line of a segment as a JSON object, or `None` for a line that is not
/// one. Lines are split as bytes, not text: a crash can tear the last line
/// inside a multi-byte character (message text is often Chinese), and such
/// a line must read as torn, not make the whole segment unreadable.
pub(crate) fn objects(
    path: &Path,
) -> std::io::Result<impl Iterator<Item = std::io::Result<Option<Map<String, Value>>>>> {
    let lines = BufReader::new(File::open(path)?).split(b'\n');
    Ok(lines.map(|line| {
        Ok(match serde_json::from_slice::<Value>(&line?) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        })
    }))
}

/// A segment's first line (its opening), parsed.
fn first_line(path: &Path) -> std::io::Result<Option<Value>> {
    let mut first = Vec::new();
    BufReader::new(File::open(path)?).read_until(b'\n', &mut first)?;
    Ok(serde_json::from_slice::<Value>(&first).ok())
}

/// The `prev` of a segment's first line.
pub(crate) fn first_line_prev(path: &Path) -> std::io::Result<Option<String>> {
    Ok(first_line(path)?.and_then(|v| v.get("prev").and_then(Value::as_str).map(str::to_owned)))
}

/// When a segment was opened, from its first line.
pub(crate) fn opened_ms(path: &Path) -> std::io::Result<Option<u64>> {
    Ok(first_line(path)?.and_then(|v| v.get("opened_ms").and_then(Value::as_u64)))
}

/// The hash of the last whole line of a segment, if any.
pub(crate) fn last_hash(path: &Path) -> std::io::Result<Option<String>> {
    let mut last = None;
    for map in objects(path)? {
        if let Some(Value::String(hash)) = map?.as_mut().and_then(|m| m.remove("hash")) {
            last = Some(hash);
        }
    }
    Ok(last)
}

/// Creates segment `number`, writes its opening line, and returns the file,
/// the bytes written and the opening line's hash.
pub(crate) fn open_segment(
    dir: &Path,
    number: u64,
    prev: &str,
    now: SystemTime,
) -> std::io::Result<(File, u64, String)> {
    let path = dir.join(segment_name(number));
    let mut file = OpenOptions::new().create_new(true).append(true).open(&path)?;
    let mut head = Map::new();
    head.insert("kind".into(), Value::String("segment".into()));
    head.insert("segment".into(), Value::from(number));
    head.insert("opened_ms".into(), Value::from(unix_millis(now)));
    head.insert("prev".into(), Value::String(prev.to_owned()));
    let hash = line_hash(prev, &head);
    head.insert("hash".into(), Value::String(hash.clone()));
    let mut line = serde_json::to_string(&head).expect("a JSON map serialises");
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.sync_data()?;
    // The new file's name must survive a crash too.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((file, line.len() as u64, hash))
}
