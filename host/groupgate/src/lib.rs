//! groupgate decides whether a message may be published, a group created or a
//! member admitted, by running sandboxed WebAssembly policy components typed
//! by one WIT contract (`wit/policy.wit`) and merging their verdicts.
//!
//! ```no_run
//! use groupgate::{Hook, PolicySet, Request};
//!
//! let set = PolicySet::load("policies/default")?;
//! let request = Request::from_json(Hook::Message, br#"{ "id": "m1", ... }"#)?;
//! let decision = set.evaluate(&request)?;
//! println!("{}", decision.to_json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audit;
pub mod bench;
mod builtin;
mod decision;
mod error;
pub mod manifest;
mod policy;
mod request;
mod sandbox;
mod set;
pub mod testing;
mod wire;

pub use decision::{Decision, DecisionMeasure, DecisionReason, ErrorKind, PolicyReport};
pub use error::LoadError;
pub use manifest::{Limits, Mode, OnError, PolicyManifest, Scope};
pub use request::{Hook, Request, RequestError};
pub use sandbox::{CONTRACT, Runtime};
pub use set::{POLICY_ERROR, PolicySet};
pub use wire::{
    Attachment, Group, GroupCreation, Measure, MeasureKind, Membership, MembershipKind, Message, Outcome, Reason, Role,
    Target, User, Verdict,
};

/// The names of the standard plugins embedded in this build, usable as
/// `module = "builtin:NAME"`.
pub fn builtin_plugins() -> impl Iterator<Item = &'static str> {
    builtin::names()
}
