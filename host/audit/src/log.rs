//! The hash-chained log: [`AuditLog`] appends JSON lines to numbered
//! segments, each line carrying the hash of the line before it, starts a new
//! segment at a size or a new day, and deletes segments past retention.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use groupgate::time::{unix_millis, whole_millis};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::segment::{first_line_prev, last_hash, open_segment, opened_ms, segment_number, segments};

/// The `prev` of the very first line of a log.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash a line carries: SHA-256 of `prev`, a newline, and the line's
/// JSON without `hash` (keys sorted, no spaces).
pub fn line_hash(prev: &str, body: &Map<String, Value>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_string(body).expect("a JSON map serialises").as_bytes());
    format!("{:x}", hasher.finalize())
}

/// The time source of a log: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub(crate) fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// An append-only, hash-chained log in a folder of segments.
pub struct AuditLog {
    clock: Clock,
    /// Segments whose records are all older than this are deleted.
    retention: Option<Duration>,
    dir: PathBuf,
    file: File,
    segment: u64,
    /// The UTC day the segment was opened on: a new day starts a new segment.
    day: u64,
    written: u64,
    max_segment_bytes: u64,
    last: String,
}

impl AuditLog {
    /// Opens the log in `dir` (created if missing), continuing the chain of
    /// its last segment in a new segment, so that a torn last line left by a
    /// crash stays where [`verify`](crate::verify) reports it, as the tail.
    pub fn open(dir: impl Into<PathBuf>, max_segment_bytes: u64) -> std::io::Result<AuditLog> {
        AuditLog::open_with(dir, max_segment_bytes, None, system_clock())
    }

    /// [`open`](Self::open), deleting segments whose records are all older
    /// than `retention` (when a segment is closed, and now), and with the
    /// given clock.
    pub fn open_with(
        dir: impl Into<PathBuf>,
        max_segment_bytes: u64,
        retention: Option<Duration>,
        clock: Clock,
    ) -> std::io::Result<AuditLog> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let segments = segments(&dir)?;
        let number = segments.last().and_then(|p| segment_number(p)).map_or(1, |n| n + 1);
        // A crash may leave the newest segment empty or with a torn first
        // line: the chain goes on from the last whole line before it.
        let mut last = GENESIS.to_owned();
        for path in segments.iter().rev() {
            if let Some(hash) = last_hash(path)? {
                last = hash;
                break;
            }
        }
        let now = clock();
        let (file, written, last) = open_segment(&dir, number, &last, now)?;
        let mut log = AuditLog {
            clock,
            retention,
            dir,
            file,
            segment: number,
            day: day_of(now),
            written,
            max_segment_bytes,
            last,
        };
        log.expire()?;
        Ok(log)
    }

    /// Appends `record` (any JSON object; `prev` and `hash` are set here) and
    /// returns its hash. The line is written, not yet synced: see [`sync`](Self::sync).
    ///
    /// The line is `record` as a JSON object with sorted keys: a typed
    /// record goes in through its map, e.g.
    /// [`DecisionRecord::to_map`](crate::DecisionRecord::to_map).
    pub fn append(&mut self, mut record: Map<String, Value>) -> std::io::Result<String> {
        if self.written >= self.max_segment_bytes || day_of((self.clock)()) != self.day {
            self.rotate()?;
        }
        record.remove("hash");
        record.insert("prev".into(), Value::String(self.last.clone()));
        let hash = line_hash(&self.last, &record);
        record.insert("hash".into(), Value::String(hash.clone()));
        let mut line = serde_json::to_string(&record).expect("a JSON map serialises");
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.written += line.len() as u64;
        self.last = hash.clone();
        Ok(hash)
    }

    /// Makes every line appended so far durable (fsync).
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Starts the next segment, linked to this one's last line.
    pub fn rotate(&mut self) -> std::io::Result<()> {
        self.file.sync_data()?;
        let now = (self.clock)();
        let (file, written, last) = open_segment(&self.dir, self.segment + 1, &self.last, now)?;
        self.file = file;
        self.segment += 1;
        self.day = day_of(now);
        self.written = written;
        self.last = last;
        self.expire()
    }

    /// Deletes the segments whose records are all past retention (a segment
    /// ends when the next one opens), never the current one, and records the
    /// deletion in the log itself.
    fn expire(&mut self) -> std::io::Result<()> {
        let Some(retention) = self.retention else { return Ok(()) };
        let cutoff = unix_millis((self.clock)()).saturating_sub(whole_millis(retention));
        let all = segments(&self.dir)?;
        let mut expired = Vec::new();
        let mut first_kept = None;
        for pair in all.windows(2) {
            if opened_ms(&pair[1])?.is_some_and(|t| t <= cutoff) {
                expired.push(pair[0].clone());
                first_kept = Some(pair[1].clone());
            } else {
                break;
            }
        }
        let Some(first_kept) = first_kept else { return Ok(()) };
        // The record comes first, durable, then the deletion: a crash between
        // them leaves segments that were to go, never a gap nobody explains.
        let mut record = Map::new();
        record.insert("kind".into(), Value::from("retention"));
        record.insert("first_kept".into(), Value::from(segment_number(&first_kept).unwrap_or(0)));
        record.insert("first_kept_prev".into(), Value::from(first_line_prev(&first_kept)?.unwrap_or_default()));
        record.insert(
            "deleted_segments".into(),
            Value::Array(expired.iter().map(|p| Value::from(segment_number(p).unwrap_or(0))).collect()),
        );
        record.insert("older_than_ms".into(), Value::from(cutoff));
        record.insert("time_ms".into(), Value::from(unix_millis((self.clock)())));
        self.append(record)?;
        self.sync()?;
        for path in expired {
            std::fs::remove_file(path)?;
        }
        Ok(())
    }

    /// The hash of the last line written.
    pub fn last_hash(&self) -> &str {
        &self.last
    }
}

/// The UTC day of `t`, counted from 1970.
fn day_of(t: SystemTime) -> u64 {
    unix_millis(t) / 86_400_000
}
