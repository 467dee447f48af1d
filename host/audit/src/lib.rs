//! groupgate's decision log (Art. 11, 13): every decision is recorded in a
//! hash-chained log of JSON lines, so that an edited, deleted or reordered
//! record, or a missing segment, breaks the chain where it happened. The log
//! is then verified, queried for an inspector, and replayed against a
//! candidate policy set.
//!
//! ```
//! use groupgate_audit::{AuditLog, verify};
//!
//! let dir = tempfile::tempdir()?;
//! let mut log = AuditLog::open(dir.path(), 1 << 20)?;
//! let mut note = serde_json::Map::new();
//! note.insert("kind".into(), "note".into());
//! let hash = log.append(note)?;
//! log.sync()?;
//! // The segment's opening line, then the note: the chain holds.
//! let verified = verify(dir.path())?;
//! assert_eq!((verified.lines, verified.last_hash), (2, Some(hash)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every line is a JSON object with sorted keys, holding `prev` (the hash of
//! the line before, or of the previous segment's last line for a segment's
//! first line) and `hash`: the SHA-256, in hex, of `prev`, a newline, and
//! the line's own JSON without `hash`. A segment opens with a `segment`
//! line naming its number, so a segment cut out of the middle is found.
//!
//! [`AuditLog`] appends and [`verify`] walks the chain. A server records a
//! [`DecisionRecord`] through a [`DecisionSink`]; [`Recorder`], the sink
//! that writes the log, does so from a thread of its own with the durability
//! `[audit]` asks for. [`decisions`] reads the records back, [`Query`]
//! chooses among them, and [`replay`] re-decides them with a candidate set.

#![deny(missing_docs)]

mod log;
mod query;
mod read;
mod record;
mod recorder;
mod replay;
mod segment;
mod sink;
mod verify;

pub use log::{AuditLog, Clock, GENESIS, line_hash};
pub use query::Query;
pub use read::{LoggedDecision, ReadError, decisions};
pub use record::{DecisionRecord, RecordedPolicy, RecordedRequest};
pub use recorder::Recorder;
pub use replay::{Change, Replay, replay};
pub use sink::{DecisionSink, SinkError};
pub use verify::{Break, Verified, verify};
