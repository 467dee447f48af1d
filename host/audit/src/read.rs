//! Reading the log back: [`decisions`] yields every decision record, oldest
//! first, each with its place in the chain.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::record::DecisionRecord;
use crate::segment::{objects, segments};

/// A decision record as the log holds it: the record, and the hashes that
/// chain it to the line before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoggedDecision {
    /// The record.
    #[serde(flatten)]
    pub record: DecisionRecord,
    /// The hash of the line before.
    pub prev: String,
    /// This line's hash (see [`line_hash`](crate::line_hash)).
    pub hash: String,
}

impl LoggedDecision {
    /// The line as the log holds it, a JSON object with sorted keys.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut map = self.record.to_map();
        map.insert("prev".into(), Value::from(self.prev.as_str()));
        map.insert("hash".into(), Value::from(self.hash.as_str()));
        map
    }
}

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The folder or a segment could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A line says it is a decision but is not a decision record.
    #[error("{segment}, line {line}: not a decision record: {cause}")]
    Record {
        /// The segment file.
        segment: String,
        /// The line, from 1.
        line: u64,
        /// What is wrong with it.
        cause: serde_json::Error,
    },
}

/// Every decision record in the log at `dir`, oldest first. Lines that are
/// not JSON objects (a tail torn by a crash) and other kinds of line
/// (segment openings, retention) are skipped; a decision line that is not a
/// decision record is an error.
pub fn decisions(dir: &Path) -> Result<Vec<LoggedDecision>, ReadError> {
    let mut out = Vec::new();
    for path in segments(dir)? {
        for (i, map) in objects(&path)?.enumerate() {
            let Some(map) = map? else { continue };
            if map.get("kind") != Some(&Value::from("decision")) {
                continue;
            }
            let record = serde_json::from_value(Value::Object(map)).map_err(|cause| ReadError::Record {
                segment: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                line: i as u64 + 1,
                cause,
            })?;
            out.push(record);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordedRequest;

    /// Segments written before records were typed, by a server deciding four
    /// requests of the default set, with `record_content` full and digest.
    fn written_before(content: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(content)
    }

    #[test]
    fn records_written_before_they_were_typed_read_back_to_the_same_lines() {
        for content in ["full", "digest"] {
            let dir = written_before(content);
            crate::verify(&dir).unwrap();
            let read = decisions(&dir).unwrap();
            assert_eq!(read.len(), 4);
            let text = std::fs::read_to_string(dir.join("segment-00000001.jsonl")).unwrap();
            for (line, logged) in text.lines().skip(1).zip(&read) {
                assert_eq!(serde_json::to_string(&logged.to_map()).unwrap(), line);
                let digest = matches!(logged.record.request, RecordedRequest::Digest(_));
                assert_eq!(digest, content == "digest");
            }
            assert_eq!(read[1].record.reasons.len(), 2);
            assert_eq!(&*read[1].record.policies[3].report.name, "prohibited-content");
        }
    }

    #[test]
    fn torn_and_other_lines_are_skipped_and_a_broken_decision_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = crate::AuditLog::open(dir.path(), 1 << 20).unwrap();
        let mut note = Map::new();
        note.insert("kind".into(), Value::from("note"));
        log.append(note).unwrap();
        log.append(crate::record::example("d1", "hello").to_map()).unwrap();
        log.sync().unwrap();
        drop(log);
        let segment = dir.path().join("segment-00000001.jsonl");
        let mut text = std::fs::read_to_string(&segment).unwrap();
        text.push_str("{\"kind\":\"decision\",\"id\":\"d2");
        std::fs::write(&segment, &text).unwrap();
        let read = decisions(dir.path()).unwrap();
        assert_eq!(read.iter().map(|d| d.record.id.as_str()).collect::<Vec<_>>(), ["d1"]);

        text.push_str("\n{\"kind\":\"decision\",\"id\":\"d3\"}\n");
        std::fs::write(&segment, &text).unwrap();
        let e = decisions(dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("segment-00000001.jsonl, line 5: not a decision record: missing field"), "{e}");
    }
}
