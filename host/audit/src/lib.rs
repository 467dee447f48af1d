//! The decision log's storage (Art. 11, 13): JSON lines in numbered segment
//! files, each line carrying the SHA-256 of the line before it, so that an
//! edited, deleted or reordered record, or a missing segment, breaks the
//! chain where it happened. [`AuditLog`] appends; [`verify`] walks it.
//!
//! Every line is a JSON object with sorted keys, holding `prev` (the hash of
//! the line before, or of the previous segment's last line for a segment's
//! first line) and `hash`: the SHA-256, in hex, of `prev`, a newline, and
//! the line's own JSON without `hash`. A segment opens with a `segment`
//! line naming its number, so a segment cut out of the middle is found.
//!
//! [`decision_record`] builds a decision's record, [`Recorder`] writes
//! records from a thread of its own with the durability `[audit]` asks for,
//! [`decisions`] reads them back, and [`replay`] re-decides them with a
//! candidate policy set.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use groupgate::{AuditSettings, Decision, Durability, Hook, PolicySet, RecordContent, Request};

/// The `prev` of the very first line of a log.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A segment's file name: `segment-00000001.jsonl`.
fn segment_name(number: u64) -> String {
    format!("segment-{number:08}.jsonl")
}

fn segment_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("segment-")?.strip_suffix(".jsonl")?.parse().ok()
}

/// The hash a line carries: SHA-256 of `prev`, a newline, and the line's
/// JSON without `hash` (keys sorted, no spaces).
pub fn line_hash(prev: &str, body: &Map<String, Value>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_string(body).expect("a JSON map serialises").as_bytes());
    format!("{:x}", hasher.finalize())
}

/// An append-only, hash-chained log in a folder of segments.
/// The time source of a log: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

use groupgate::time::unix_millis as millis;

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
    /// crash stays where [`verify`] reports it, as the tail.
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
        let cutoff = millis((self.clock)()).saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
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
        record.insert("time_ms".into(), Value::from(millis((self.clock)())));
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

fn day_of(t: SystemTime) -> u64 {
    millis(t) / 86_400_000
}

/// A segment's first line (its opening), parsed.
fn first_line(path: &Path) -> std::io::Result<Option<Value>> {
    let mut first = Vec::new();
    BufReader::new(File::open(path)?).read_until(b'\n', &mut first)?;
    Ok(serde_json::from_slice::<Value>(&first).ok())
}

/// Each line of a segment as a JSON object, or `None` for a line that is not
/// one. Lines are split as bytes, not text: a crash can tear the last line
/// inside a multi-byte character (message text is often Chinese), and such
/// a line must read as torn, not make the whole segment unreadable.
fn objects(path: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<Option<Map<String, Value>>>>> {
    let lines = BufReader::new(File::open(path)?).split(b'\n');
    Ok(lines.map(|line| {
        Ok(match serde_json::from_slice::<Value>(&line?) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        })
    }))
}

/// The `prev` of a segment's first line.
fn first_line_prev(path: &Path) -> std::io::Result<Option<String>> {
    Ok(first_line(path)?.and_then(|v| v.get("prev").and_then(Value::as_str).map(str::to_owned)))
}

/// When a segment was opened, from its first line.
fn opened_ms(path: &Path) -> std::io::Result<Option<u64>> {
    Ok(first_line(path)?.and_then(|v| v.get("opened_ms").and_then(Value::as_u64)))
}

/// Creates segment `number`, writes its opening line, and returns the file,
/// the bytes written and the opening line's hash.
fn open_segment(dir: &Path, number: u64, prev: &str, now: SystemTime) -> std::io::Result<(File, u64, String)> {
    let path = dir.join(segment_name(number));
    let mut file = OpenOptions::new().create_new(true).append(true).open(&path)?;
    let mut head = Map::new();
    head.insert("kind".into(), Value::String("segment".into()));
    head.insert("segment".into(), Value::from(number));
    head.insert("opened_ms".into(), Value::from(millis(now)));
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

/// The segment files in `dir`, in number order.
fn segments(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter_map(|p| segment_number(&p).map(|n| (n, p)))
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// The hash of the last whole line of a segment, if any.
fn last_hash(path: &Path) -> std::io::Result<Option<String>> {
    let mut last = None;
    for map in objects(path)? {
        if let Some(Value::String(hash)) = map?.as_mut().and_then(|m| m.remove("hash")) {
            last = Some(hash);
        }
    }
    Ok(last)
}

/// The record of one decision: its id and time, the hook and the set's
/// generation, the request (or its SHA-256, with `record_content =
/// "digest"`), the outcome, reasons and measures, and each policy that ran
/// with its version and module SHA-256.
pub fn decision_record(
    id: &str,
    generation: u64,
    request: &Request,
    decision: &Decision,
    set: &PolicySet,
    content: RecordContent,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("kind".into(), Value::from("decision"));
    m.insert("id".into(), Value::from(id));
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    m.insert("time_ms".into(), Value::from(u64::try_from(now.as_millis()).unwrap_or(u64::MAX)));
    m.insert("hook".into(), Value::from(request.hook().as_str()));
    m.insert("generation".into(), Value::from(generation));
    let json = request.to_value();
    match content {
        RecordContent::Digest => {
            let canonical = serde_json::to_vec(&json).expect("a request serialises");
            m.insert("request_sha256".into(), Value::from(format!("{:x}", Sha256::digest(&canonical))));
        }
        _ => {
            m.insert("request".into(), json);
        }
    }
    let decided = serde_json::to_value(decision).expect("a decision serialises");
    if let Value::Object(d) = decided {
        for key in ["outcome", "reasons", "measures"] {
            if let Some(v) = d.get(key) {
                m.insert(key.into(), v.clone());
            }
        }
        if let Some(Value::Array(policies)) = d.get("policies") {
            let with_modules: Vec<Value> = policies
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    if let Some(obj) = p.as_object_mut() {
                        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                        obj.insert("module_sha256".into(), Value::from(set.module_sha256(&name).unwrap_or_default()));
                    }
                    p
                })
                .collect();
            m.insert("policies".into(), Value::Array(with_modules));
        }
    }
    m
}

/// A request for the writer thread: a record (with where to say it is
/// durable, in sync mode), or a flush of everything queued.
enum Job {
    Record(Map<String, Value>, Option<mpsc::SyncSender<Result<(), String>>>),
    Flush(mpsc::SyncSender<Result<(), String>>),
}

/// Writes records to an [`AuditLog`] on a thread of its own. With
/// `durability = "sync"`, [`record`](Recorder::record) returns once the record
/// is on disk, and records that arrive together share one fsync (group
/// commit); with `"batched"` it returns at once and the thread fsyncs at
/// most every `flush_ms`. After a disk error every record is refused, so a
/// caller never decides without a record.
pub struct Recorder {
    settings: AuditSettings,
    tx: Mutex<mpsc::Sender<Job>>,
    durability: Durability,
    content: RecordContent,
    failed: Arc<Mutex<Option<String>>>,
}

impl Recorder {
    /// Opens the log in `settings.dir` and starts its writer.
    pub fn start(settings: &AuditSettings) -> std::io::Result<Recorder> {
        let retention = Duration::from_secs(u64::from(settings.retention_days) * 86_400);
        let mut log =
            AuditLog::open_with(&settings.dir, settings.segment_mb * 1024 * 1024, Some(retention), system_clock())?;
        let (tx, rx) = mpsc::channel::<Job>();
        let failed = Arc::new(Mutex::new(None::<String>));
        let flag = failed.clone();
        let durability = settings.durability;
        let flush = Duration::from_millis(settings.flush_ms);
        std::thread::Builder::new().name("groupgate-audit".into()).spawn(move || {
            let mut synced = Instant::now();
            let mut dirty = false;
            loop {
                let first = match durability {
                    Durability::Batched => match rx.recv_timeout(flush) {
                        Ok(job) => Some(job),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            let _ = log.sync();
                            return;
                        }
                    },
                    _ => match rx.recv() {
                        Ok(job) => Some(job),
                        Err(_) => return,
                    },
                };
                let mut batch: Vec<Job> = first.into_iter().collect();
                batch.extend(rx.try_iter());
                let flush_asked = batch.iter().any(|j| matches!(j, Job::Flush(_)));
                let mut result: Result<(), String> = match &*flag.lock().unwrap_or_else(|e| e.into_inner()) {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                };
                if result.is_ok() {
                    for job in &batch {
                        if let Job::Record(record, _) = job {
                            if let Err(e) = log.append(record.clone()) {
                                result = Err(format!("cannot write the decision log: {e}"));
                                break;
                            }
                            dirty = true;
                        }
                    }
                }
                let due = durability == Durability::Sync || flush_asked || synced.elapsed() >= flush;
                if result.is_ok() && dirty && due {
                    match log.sync() {
                        Ok(()) => {
                            dirty = false;
                            synced = Instant::now();
                        }
                        Err(e) => result = Err(format!("cannot sync the decision log: {e}")),
                    }
                }
                if let Err(e) = &result {
                    tracing::error!("{e}; decisions are refused until the log is fixed and the server restarted");
                    *flag.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                }
                for job in batch {
                    match job {
                        Job::Record(_, Some(reply)) | Job::Flush(reply) => {
                            let _ = reply.send(result.clone());
                        }
                        Job::Record(_, None) => {}
                    }
                }
            }
        })?;
        Ok(Recorder {
            settings: settings.clone(),
            tx: Mutex::new(tx),
            durability,
            content: settings.record_content,
            failed,
        })
    }

    /// The settings the log was opened with.
    pub fn settings(&self) -> &AuditSettings {
        &self.settings
    }

    /// Writes and fsyncs every record queued so far (for `batched`, before a
    /// shutdown); returns once they are on disk.
    pub fn flush(&self) -> Result<(), String> {
        let sender = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (reply, done) = mpsc::sync_channel(1);
        sender.send(Job::Flush(reply)).map_err(|_| "the decision log has stopped".to_owned())?;
        done.recv().map_err(|_| "the decision log has stopped".to_owned())?
    }

    /// What a record keeps of its request.
    pub fn content(&self) -> RecordContent {
        self.content
    }

    /// Records `entry`: durable on return with `sync`, queued with `batched`.
    /// An error means the decision must not be given.
    pub fn record(&self, entry: Map<String, Value>) -> Result<(), String> {
        if let Some(e) = &*self.failed.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(e.clone());
        }
        let sender = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match self.durability {
            Durability::Batched => {
                sender.send(Job::Record(entry, None)).map_err(|_| "the decision log has stopped".to_owned())
            }
            _ => {
                let (reply, done) = mpsc::sync_channel(1);
                sender.send(Job::Record(entry, Some(reply))).map_err(|_| "the decision log has stopped".to_owned())?;
                done.recv().map_err(|_| "the decision log has stopped".to_owned())?
            }
        }
    }
}

/// Every decision record in the log at `dir`, oldest first (torn lines and
/// other kinds of line skipped).
pub fn decisions(dir: &Path) -> std::io::Result<Vec<Map<String, Value>>> {
    let mut out = Vec::new();
    for path in segments(dir)? {
        for map in objects(&path)? {
            if let Some(map) = map?
                && map.get("kind") == Some(&Value::from("decision"))
            {
                out.push(map);
            }
        }
    }
    Ok(out)
}

/// One recorded decision that a candidate set decides differently.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// The recorded decision's id.
    pub id: String,
    /// The hook.
    pub hook: String,
    /// The recorded outcome.
    pub old: String,
    /// The candidate set's outcome.
    pub new: String,
    /// Reasons the candidate gives that the record lacks, as `policy: code (evidence)`.
    pub added: Vec<String>,
    /// Reasons the record has that the candidate does not give.
    pub removed: Vec<String>,
}

/// What replaying a log against a candidate set found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Replay {
    /// Decisions re-evaluated.
    pub replayed: usize,
    /// Decisions skipped: recorded as a digest, without the request.
    pub skipped: usize,
    /// Decisions whose outcome or reasons would change.
    pub changes: Vec<Change>,
}

impl Replay {
    /// Changes counted by `old → new` outcome.
    pub fn by_outcome(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for c in &self.changes {
            *counts.entry(format!("{} → {}", c.old, c.new)).or_default() += 1;
        }
        counts
    }

    /// Changes counted by each policy whose reasons changed.
    pub fn by_policy(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for c in &self.changes {
            let policies: std::collections::BTreeSet<&str> =
                c.added.iter().chain(&c.removed).filter_map(|r| r.split(':').next()).collect();
            for p in policies {
                *counts.entry(p.to_owned()).or_default() += 1;
            }
        }
        counts
    }
}

/// The reasons of a decision (recorded or new) as comparable strings.
fn reason_keys(reasons: Option<&Value>) -> Vec<String> {
    let mut keys: Vec<String> = reasons
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            let evidence = field("evidence");
            if evidence.is_empty() {
                format!("{}: {}", field("policy"), field("code"))
            } else {
                format!("{}: {} ({evidence})", field("policy"), field("code"))
            }
        })
        .collect();
    keys.sort();
    keys
}

/// A decision's measures and each policy's own outcome (audit-mode policies
/// included), as comparable strings led by the policy's name.
fn other_keys(decision: &Map<String, Value>) -> Vec<String> {
    let list = |k: &str| decision.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let name = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut keys: Vec<String> = list("measures")
        .iter()
        .map(|m| {
            let mut rest = m.clone();
            if let Some(o) = rest.as_object_mut() {
                o.remove("policy");
            }
            format!("{}: measure {rest}", name(m, "policy"))
        })
        .collect();
    keys.extend(list("policies").iter().map(|p| format!("{}: decided {}", name(p, "name"), name(p, "outcome"))));
    keys.sort();
    keys
}

/// Re-evaluates every recorded request (those kept in full) with `set`, and
/// reports the decisions whose outcome or reasons would change: the
/// regression test of a policy change against real traffic.
pub fn replay(set: &PolicySet, dir: &Path) -> std::io::Result<Replay> {
    let mut report = Replay::default();
    for record in decisions(dir)? {
        let hook = record.get("hook").and_then(Value::as_str).and_then(|h| h.parse::<Hook>().ok());
        let (Some(hook), Some(request)) = (hook, record.get("request")) else {
            report.skipped += 1;
            continue;
        };
        let Ok(request) = Request::from_value(hook, request.clone()) else {
            report.skipped += 1;
            continue;
        };
        report.replayed += 1;
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let old_outcome = record.get("outcome").and_then(Value::as_str).unwrap_or_default().to_owned();
        let decision = match set.evaluate(&request) {
            Ok(decision) => decision,
            // The new set's limits refuse what the old one decided.
            Err(e) => {
                report.changes.push(Change {
                    id,
                    hook: hook.as_str().to_owned(),
                    old: old_outcome,
                    new: "refused".into(),
                    added: vec![e.to_string()],
                    removed: Vec::new(),
                });
                continue;
            }
        };
        let new = serde_json::to_value(&decision).expect("a decision serialises");
        let new_outcome = new.get("outcome").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut old_reasons = reason_keys(record.get("reasons"));
        let mut new_reasons = reason_keys(new.get("reasons"));
        old_reasons.extend(other_keys(&record));
        new_reasons.extend(other_keys(new.as_object().expect("a decision is an object")));
        if old_outcome != new_outcome || old_reasons != new_reasons {
            report.changes.push(Change {
                id,
                hook: hook.as_str().to_owned(),
                old: old_outcome,
                new: new_outcome,
                added: new_reasons.iter().filter(|r| !old_reasons.contains(r)).cloned().collect(),
                removed: old_reasons.iter().filter(|r| !new_reasons.contains(r)).cloned().collect(),
            });
        }
    }
    Ok(report)
}

/// What [`verify`] found in a sound log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Segments read.
    pub segments: usize,
    /// Lines checked, segment openings included.
    pub lines: u64,
    /// Torn last lines (a crash mid-write: no newline, not JSON), as segment
    /// file and line number: a segment's tail, not tampering. After a
    /// restart the chain goes on from the last whole line.
    pub torn_tails: Vec<(String, u64)>,
    /// The hash of the last line: kept elsewhere (another system, a
    /// ticket, a signed note), it anchors the chain, since whoever can
    /// rewrite the whole log could otherwise rewrite the whole chain.
    pub last_hash: Option<String>,
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{segment}, line {line}: {what}")]
pub struct Break {
    /// The segment file.
    pub segment: String,
    /// The line, from 1.
    pub line: u64,
    /// What is wrong there.
    pub what: String,
}

/// Walks every segment of the log in `dir` and checks every line's hash and
/// link, and that segments are numbered without a gap. A line that is not
/// JSON is a break, except a segment's last line without its newline, which
/// a crash may have torn: that is reported as the tail.
pub fn verify(dir: &Path) -> Result<Verified, Break> {
    let at = |segment: &str, line: u64, what: String| Break { segment: segment.to_owned(), line, what };
    let paths = segments(dir).map_err(|e| at(&dir.display().to_string(), 0, format!("cannot read the folder: {e}")))?;
    let mut prev = GENESIS.to_owned();
    let mut expected_number = None;
    // The latest retention record: segments below `first_kept` were deleted,
    // and the first one kept links to `first_kept_prev`. The first segment
    // left then links to a deleted one, which is taken as given.
    let mut retained: Option<(u64, String)> = None;
    let first_number = paths.first().and_then(|p| segment_number(p)).unwrap_or(1);
    let mut first_prev: Option<String> = None;
    let mut lines = 0;
    let mut torn_tails = Vec::new();
    for path in &paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let number = segment_number(path).unwrap_or(0);
        if let Some(expected) = expected_number
            && number != expected
        {
            return Err(at(&name, 0, format!("segment {expected} is missing before it")));
        }
        expected_number = Some(number + 1);
        let text = std::fs::read(path).map_err(|e| at(&name, 0, format!("cannot read: {e}")))?;
        let text = String::from_utf8_lossy(&text);
        let all: Vec<&str> = text.split_inclusive('\n').collect();
        for (i, raw) in all.iter().enumerate() {
            let n = i as u64 + 1;
            let whole = raw.ends_with('\n');
            let parsed = serde_json::from_str::<Value>(raw.trim_end_matches('\n'));
            let Ok(Value::Object(mut map)) = parsed else {
                if i + 1 == all.len() && !whole {
                    torn_tails.push((name.clone(), n));
                    break;
                }
                return Err(at(&name, n, "not a JSON object".into()));
            };
            if i == 0
                && (map.get("kind") != Some(&Value::from("segment"))
                    || map.get("segment") != Some(&Value::from(number)))
            {
                return Err(at(&name, n, format!("the segment does not open with its `segment` {number} line")));
            }
            let Some(Value::String(hash)) = map.remove("hash") else {
                return Err(at(&name, n, "no `hash`".into()));
            };
            if map.get("kind") == Some(&Value::from("retention"))
                && let Some(kept) = map.get("first_kept").and_then(Value::as_u64)
            {
                let prev = map.get("first_kept_prev").and_then(Value::as_str).unwrap_or_default().to_owned();
                if retained.as_ref().is_none_or(|(k, _)| kept > *k) {
                    retained = Some((kept, prev));
                }
            }
            if lines == 0 && number > 1 {
                // The chain starts at a segment whose predecessors were deleted:
                // its link is taken as given, and checked against the record
                // of the deletion below.
                if let Some(Value::String(p)) = map.get("prev") {
                    prev = p.clone();
                    first_prev = Some(p.clone());
                }
            }
            match map.get("prev") {
                Some(Value::String(p)) if *p == prev => {}
                _ => {
                    return Err(at(
                        &name,
                        n,
                        "`prev` is not the hash of the line before: a line was removed, moved or added".into(),
                    ));
                }
            }
            if line_hash(&prev, &map) != hash {
                return Err(at(&name, n, "the line does not match its `hash`: it was edited".into()));
            }
            prev = hash;
            lines += 1;
        }
    }
    if first_number > 1 {
        let first = paths.first().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
        let first = first.unwrap_or_default();
        match &retained {
            None => {
                return Err(at(
                    &first,
                    1,
                    format!(
                        "segments 1 to {} are missing, and no retention record says they were deleted",
                        first_number - 1
                    ),
                ));
            }
            Some((kept, _)) if first_number > *kept => {
                return Err(at(
                    &first,
                    1,
                    format!("segment {kept} is missing, though the last retention record kept it"),
                ));
            }
            Some((kept, kept_prev)) if first_number == *kept && first_prev.as_deref() != Some(kept_prev.as_str()) => {
                return Err(at(&first, 1, "the segment does not link where the retention record says it does".into()));
            }
            _ => {}
        }
    }
    let last_hash = (lines > 0).then_some(prev);
    Ok(Verified { segments: paths.len(), lines, torn_tails, last_hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kind".into(), Value::from("decision"));
        m.insert("id".into(), Value::from(format!("d{i}")));
        m.insert("outcome".into(), Value::from("allow"));
        m
    }

    /// A log of 30 records over several segments.
    fn log() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(dir.path(), 600).unwrap();
        for i in 0..30 {
            log.append(record(i)).unwrap();
        }
        log.sync().unwrap();
        dir
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
    }

    fn rewrite(path: &Path, lines: &[String]) {
        std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }

    /// Found by the `audit_verify` fuzz target: a last line torn inside a
    /// multi-byte character verified as a torn tail, but the record reader
    /// (`audit query`, `replay`) and reopening the log after the crash read
    /// segments as UTF-8 text and failed on the whole segment, so a server
    /// restarted after such a crash refused every decision.
    #[test]
    fn fuzz_audit_verify_tail_torn_inside_a_multibyte_character() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(dir.path(), 1 << 20).unwrap();
        for i in 0..3 {
            let mut r = record(i);
            r.insert("text".into(), Value::from("群聊消息"));
            log.append(r).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        // The crash: the next line cut after the first byte of `群`.
        let torn = "{\"kind\":\"decision\",\"text\":\"群".as_bytes();
        let mut file = OpenOptions::new().append(true).open(dir.path().join(segment_name(1))).unwrap();
        file.write_all(&torn[..torn.len() - 2]).unwrap();
        drop(file);

        let verified = verify(dir.path()).unwrap();
        assert_eq!(verified.torn_tails, vec![(segment_name(1), 5)]);
        assert_eq!(decisions(dir.path()).unwrap().len(), 3);
        // Restarted, the log goes on from the last whole line.
        let mut log = AuditLog::open(dir.path(), 1 << 20).unwrap();
        log.append(record(3)).unwrap();
        log.sync().unwrap();
        let verified = verify(dir.path()).unwrap();
        assert_eq!(verified.segments, 2);
        assert_eq!(decisions(dir.path()).unwrap().len(), 4);
    }

    #[test]
    fn a_sound_log_verifies_across_segments_and_reopening() {
        let dir = log();
        let first = verify(dir.path()).unwrap();
        assert!(first.segments > 2, "{first:?}");
        assert_eq!(first.lines, 30 + first.segments as u64);
        // Reopened (a restart), the chain continues in a new segment.
        let mut again = AuditLog::open(dir.path(), 600).unwrap();
        again.append(record(99)).unwrap();
        let second = verify(dir.path()).unwrap();
        assert_eq!(second.segments, first.segments + 1);
        assert!(second.torn_tails.is_empty());
    }

    #[test]
    fn an_edited_deleted_or_moved_record_is_named_by_segment_and_line() {
        let dir = log();
        let seg = dir.path().join(segment_name(2));
        let original = lines(&seg);

        let mut edited = original.clone();
        edited[2] = edited[2].replace("\"allow\"", "\"deny\"");
        rewrite(&seg, &edited);
        let e = verify(dir.path()).unwrap_err();
        assert_eq!((e.segment.as_str(), e.line), ("segment-00000002.jsonl", 3));
        assert!(e.what.contains("edited"), "{e}");

        let mut deleted = original.clone();
        deleted.remove(2);
        rewrite(&seg, &deleted);
        let e = verify(dir.path()).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.what.contains("removed, moved or added"), "{e}");

        let mut moved = original.clone();
        moved.swap(1, 2);
        rewrite(&seg, &moved);
        assert_eq!(verify(dir.path()).unwrap_err().line, 2);

        rewrite(&seg, &original);
        verify(dir.path()).unwrap();
        std::fs::remove_file(&seg).unwrap();
        let e = verify(dir.path()).unwrap_err();
        assert_eq!(e.segment, "segment-00000003.jsonl");
        assert!(e.what.contains("segment 2 is missing"), "{e}");
    }

    #[test]
    fn retention_deletes_only_segments_past_it_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(Mutex::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 * 86_400)));
        let clock: Clock = {
            let now = now.clone();
            Arc::new(move || *now.lock().unwrap())
        };
        let day = Duration::from_secs(86_400);
        let retention = Some(day * 180);
        let mut log = AuditLog::open_with(dir.path(), 1 << 20, retention, clock.clone()).unwrap();
        // One segment a day for 200 days.
        for i in 0..200 {
            log.append(record(i)).unwrap();
            *now.lock().unwrap() += day;
        }
        log.append(record(200)).unwrap();
        let left = segments(dir.path()).unwrap();
        let first = segment_number(&left[0]).unwrap();
        // Segment n holds day n-1's records; those 180 days old or younger stay.
        assert_eq!(first, 21, "{} segments left", left.len());
        let v = verify(dir.path()).unwrap();
        assert_eq!(v.segments, left.len());
        let text: String = left.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
        assert!(text.contains("\"kind\":\"retention\""), "the deletion is recorded");
        // Another 200 days: the segments holding the first retention records
        // go too, and the latest record still accounts for every gap.
        for i in 0..200 {
            log.append(record(300 + i)).unwrap();
            *now.lock().unwrap() += day;
        }
        log.append(record(600)).unwrap();
        let left = segments(dir.path()).unwrap();
        assert_eq!(segment_number(&left[0]).unwrap(), 221);
        verify(dir.path()).unwrap();
        // A segment deleted by hand is not excused by retention.
        std::fs::remove_file(&left[0]).unwrap();
        let e = verify(dir.path()).unwrap_err();
        assert!(e.what.contains("segment 221 is missing, though the last retention record kept it"), "{e}");
    }

    #[test]
    fn a_crash_right_after_a_segment_was_created_does_not_break_the_chain() {
        let dir = log();
        let last = segments(dir.path()).unwrap().pop().unwrap();
        let next = dir.path().join(segment_name(segment_number(&last).unwrap() + 1));
        std::fs::write(&next, b"").unwrap();
        AuditLog::open(dir.path(), 600).unwrap().append(record(7)).unwrap();
        verify(dir.path()).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_the_tail_not_tampering() {
        let dir = log();
        let last = segments(dir.path()).unwrap().pop().unwrap();
        let mut f = OpenOptions::new().append(true).open(&last).unwrap();
        f.write_all(b"{\"kind\":\"decision\",\"id\":\"half").unwrap();
        let v = verify(dir.path()).unwrap();
        let (segment, line) = v.torn_tails[0].clone();
        assert_eq!(segment, last.file_name().unwrap().to_string_lossy());
        assert_eq!(line, lines(&last).len() as u64);
        // After a restart the chain goes on from the last whole line.
        AuditLog::open(dir.path(), 600).unwrap().append(record(100)).unwrap();
        assert_eq!(verify(dir.path()).unwrap().torn_tails.len(), 1);
        // A whole line that is not JSON is a break, wherever it is.
        let first = dir.path().join(segment_name(1));
        let mut f = OpenOptions::new().append(true).open(&first).unwrap();
        f.write_all(b"{\"torn\n").unwrap();
        assert!(verify(dir.path()).is_err());
    }
}
