//! [`Recorder`]: the decision sink that writes the hash-chained log, on a
//! thread of its own, with the durability `[audit]` asks for.

use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use groupgate::{AuditSettings, Durability, RecordContent};
use serde_json::{Map, Value};

use crate::log::{AuditLog, system_clock};
use crate::record::DecisionRecord;
use crate::sink::{DecisionSink, SinkError};

/// Where the writer says how a record or a flush went.
type Reply = mpsc::SyncSender<Result<(), SinkError>>;

/// A request for the writer thread: a record (with where to say it is
/// durable, in sync mode), or a flush of everything queued.
enum Job {
    Record(Map<String, Value>, Option<Reply>),
    Flush(Reply),
}

/// Writes records to an [`AuditLog`] on a thread of its own. With
/// `durability = "sync"`, [`record`](DecisionSink::record) returns once the
/// record is on disk, and records that arrive together share one fsync
/// (group commit); with `"batched"` it returns at once and the thread fsyncs
/// at most every `flush_ms`. After a disk error every record is refused, so
/// a caller never decides without a record.
pub struct Recorder {
    settings: AuditSettings,
    tx: mpsc::Sender<Job>,
    /// The first disk error, set once by the writer: read (one atomic load)
    /// before every record.
    failed: Arc<OnceLock<SinkError>>,
}

impl Recorder {
    /// Opens the log in `settings.dir` and starts its writer.
    pub fn start(settings: &AuditSettings) -> Result<Recorder, SinkError> {
        let open = |cause: std::io::Error| SinkError::Open { dir: settings.dir.clone(), cause: Arc::new(cause) };
        let retention = Duration::from_secs(u64::from(settings.retention_days) * 86_400);
        let log =
            AuditLog::open_with(&settings.dir, settings.segment_mb * 1024 * 1024, Some(retention), system_clock())
                .map_err(open)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let failed = Arc::new(OnceLock::new());
        let writer = Writer { log, durability: settings.durability, flush: Duration::from_millis(settings.flush_ms) };
        let flag = failed.clone();
        std::thread::Builder::new()
            .name("groupgate-audit".into())
            .spawn(move || writer.run(rx, &flag))
            .map_err(open)?;
        Ok(Recorder { settings: settings.clone(), tx, failed })
    }

    /// The settings the log was opened with.
    pub fn settings(&self) -> &AuditSettings {
        &self.settings
    }

    /// What a record keeps of its request.
    pub fn content(&self) -> RecordContent {
        self.settings.record_content
    }

    /// Hands `job` to the writer.
    fn send(&self, job: Job) -> Result<(), SinkError> {
        self.tx.send(job).map_err(|_| SinkError::Stopped)
    }
}

impl DecisionSink for Recorder {
    /// Records `record`: durable on return with `sync`, queued with
    /// `batched`. An error means the decision must not be given.
    fn record(&self, record: DecisionRecord) -> Result<(), SinkError> {
        if let Some(e) = self.failed.get() {
            return Err(e.clone());
        }
        // Made a map here, on the caller's thread, so that the one writer
        // thread only appends.
        let entry = record.to_map();
        match self.settings.durability {
            Durability::Batched => self.send(Job::Record(entry, None)),
            _ => {
                let (reply, done) = mpsc::sync_channel(1);
                self.send(Job::Record(entry, Some(reply)))?;
                done.recv().map_err(|_| SinkError::Stopped)?
            }
        }
    }

    /// Writes and fsyncs every record queued so far (for `batched`, before a
    /// shutdown); returns once they are on disk.
    fn flush(&self) -> Result<(), SinkError> {
        let (reply, done) = mpsc::sync_channel(1);
        self.send(Job::Flush(reply))?;
        done.recv().map_err(|_| SinkError::Stopped)?
    }
}

/// The writer thread's side: the log, and when it syncs.
struct Writer {
    log: AuditLog,
    durability: Durability,
    flush: Duration,
}

impl Writer {
    /// Appends what arrives on `rx` until every sender is gone, a batch at a
    /// time: whatever queued while the last batch was written shares one fsync.
    fn run(mut self, rx: mpsc::Receiver<Job>, failed: &OnceLock<SinkError>) {
        let mut synced = Instant::now();
        let mut dirty = false;
        loop {
            let first = match self.durability {
                Durability::Batched => match rx.recv_timeout(self.flush) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        let _ = self.log.sync();
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
            let mut result = match failed.get() {
                Some(e) => Err(e.clone()),
                None => Ok(()),
            };
            if result.is_ok() {
                for job in &mut batch {
                    if let Job::Record(record, _) = job {
                        if let Err(e) = self.log.append(std::mem::take(record)) {
                            result = Err(SinkError::Write { cause: Arc::new(e) });
                            break;
                        }
                        dirty = true;
                    }
                }
            }
            let due = self.durability == Durability::Sync || flush_asked || synced.elapsed() >= self.flush;
            if result.is_ok() && dirty && due {
                match self.log.sync() {
                    Ok(()) => {
                        dirty = false;
                        synced = Instant::now();
                    }
                    Err(e) => result = Err(SinkError::Sync { cause: Arc::new(e) }),
                }
            }
            if let Err(e) = &result {
                tracing::error!("{e}; decisions are refused until the log is fixed and the server restarted");
                // The first error stays: every later one follows from it.
                let _ = failed.set(e.clone());
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example;

    fn settings(dir: &std::path::Path, durability: &str) -> AuditSettings {
        serde_json::from_value(serde_json::json!({ "dir": dir, "durability": durability, "flush_ms": 60_000 })).unwrap()
    }

    fn ids(dir: &std::path::Path) -> Vec<String> {
        let mut ids: Vec<String> = crate::decisions(dir).unwrap().into_iter().map(|d| d.record.id).collect();
        ids.sort();
        ids
    }

    #[test]
    fn with_sync_a_record_is_in_the_log_when_recording_returns() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(Recorder::start(&settings(dir.path(), "sync")).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let recorder = recorder.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let id = format!("t{t}-{i:02}");
                        recorder.record(example(&id, "hello")).unwrap();
                        assert!(
                            crate::decisions(recorder.settings().dir.as_path())
                                .unwrap()
                                .iter()
                                .any(|d| d.record.id == id)
                        );
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(ids(dir.path()).len(), 100);
        crate::verify(dir.path()).unwrap();
    }

    #[test]
    fn with_batched_a_flush_writes_every_record_queued() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::start(&settings(dir.path(), "batched")).unwrap();
        for i in 0..10 {
            recorder.record(example(&format!("d{i}"), "hello")).unwrap();
        }
        recorder.flush().unwrap();
        assert_eq!(ids(dir.path()), (0..10).map(|i| format!("d{i}")).collect::<Vec<_>>());
        crate::verify(dir.path()).unwrap();
    }

    #[test]
    fn a_log_that_cannot_open_names_its_folder() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let Err(e) = Recorder::start(&settings(file.path(), "sync")) else { panic!("a file is not a folder") };
        let message = e.to_string();
        assert!(message.starts_with(&format!("cannot open the decision log in `{}`: ", file.path().display())));
    }
}
