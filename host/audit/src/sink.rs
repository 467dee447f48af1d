//! Where decision records go: [`DecisionSink`] is what a server records
//! through, and [`SinkError`] why a record could not be kept.

use std::path::PathBuf;
use std::sync::Arc;

use crate::record::DecisionRecord;

/// Receives each decision record.
///
/// A decision is answered only once its sink has taken its record, so a
/// sink that returns an error refuses the decision. The hash-chained file
/// log, [`Recorder`](crate::Recorder), is the first implementation; another
/// keeps records wherever an embedder needs them, e.g. in memory for a test:
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// use groupgate_audit::{DecisionRecord, DecisionSink, SinkError};
///
/// /// Keeps every record in memory.
/// #[derive(Default)]
/// struct Memory(Mutex<Vec<DecisionRecord>>);
///
/// impl DecisionSink for Memory {
///     fn record(&self, record: DecisionRecord) -> Result<(), SinkError> {
///         self.0.lock().unwrap().push(record);
///         Ok(())
///     }
/// }
///
/// let memory = Arc::new(Memory::default());
/// let sink: Arc<dyn DecisionSink> = memory.clone();
/// let record: DecisionRecord = serde_json::from_str(
///     r#"{"kind": "decision", "id": "d1", "time_ms": 1764316800000, "hook": "message",
///         "generation": 1, "request_sha256": "9f2c", "outcome": "allow",
///         "reasons": [], "measures": [], "policies": []}"#,
/// )?;
/// sink.record(record)?;
/// sink.flush()?;
/// assert_eq!(memory.0.lock().unwrap()[0].id, "d1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DecisionSink: Send + Sync {
    /// Keeps `record`. On `Ok` the decision may be given: with a durable
    /// sink, the record is as safe as the sink promises (see
    /// [`Durability`](groupgate::Durability)). An error means the decision
    /// must not be given.
    fn record(&self, record: DecisionRecord) -> Result<(), SinkError>;

    /// Makes every record taken so far durable, before a shutdown. Nothing
    /// to do unless the sink queues records.
    fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Why a decision log could not open, or keep a record.
///
/// Causes are shared (`Arc`): once a log fails, every later record is
/// refused with the same error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The log's folder or its newest segment could not be opened.
    #[error("cannot open the decision log in `{}`: {cause}", dir.display())]
    Open {
        /// The log's folder.
        dir: PathBuf,
        /// What the OS said.
        cause: Arc<std::io::Error>,
    },
    /// A record could not be written.
    #[error("cannot write the decision log: {cause}")]
    Write {
        /// What the OS said.
        cause: Arc<std::io::Error>,
    },
    /// Records written could not be made durable.
    #[error("cannot sync the decision log: {cause}")]
    Sync {
        /// What the OS said.
        cause: Arc<std::io::Error>,
    },
    /// The log's writer is gone: the process is shutting down, or the
    /// writer failed.
    #[error("the decision log has stopped")]
    Stopped,
}
