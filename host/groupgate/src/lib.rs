//! groupgate decides whether a message may be published, a group created or a
//! member admitted, by running sandboxed WebAssembly policy components typed
//! by one WIT contract (`wit/policy.wit`) and merging their verdicts.
//!
//! A [`Runtime`] (the engine, its compile cache and the host interfaces
//! offered to policies) loads a [`PolicySet`] from a [`SetSource`], a folder
//! on disk to begin with; the set decides [`Request`]s. The standard plugins
//! (`builtin:` modules) are registered by the crate `groupgate-builtins`, the
//! decision log is `groupgate-audit`, the test runner `groupgate-testing`.
//!
//! ```no_run
//! use groupgate::{Hook, PolicySet, Request, Runtime};
//!
//! // With the standard plugins (`builtin:` modules), as `policies/default`
//! // needs: `groupgate_builtins::register(&mut builder)` before `build`.
//! let runtime = Runtime::builder().cache_dir(".groupgate-cache").build()?;
//! let set = PolicySet::load_dir(&runtime, "policies/house-rules")?;
//! let request = Request::from_json(Hook::Message, br#"{ "id": "m1", ... }"#)?;
//! let decision = set.evaluate(&request)?;
//! println!("{}", decision.to_json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod bindings;
mod contract;
mod decision;
mod error;
mod hook;
mod manifest;
mod policy;
mod request;
mod sandbox;
mod set;
pub mod source;
pub mod state;
pub mod time;
pub mod wire;

pub use contract::{CONTRACT, VERSIONS as CONTRACT_VERSIONS};
pub use decision::{Decision, DecisionMeasure, DecisionReason, ErrorKind, PolicyReport};
pub use error::{BoxError, ConfigError, CounterError, LoadError, PolicyError, RuntimeError};
pub use hook::{HOOKS, Hook, HookSpec, UnknownHook};
pub use manifest::{
    AuditSettings, BuildSpec, CounterSpec, Durability, HostCounter, Isolation, Language, Limits, MIN_RETENTION_DAYS,
    Mode, ModuleSource, OnError, OnStateError, POLICY_FILE, Party, PolicyManifest, RecordContent, SET_FILE, Scope,
    SetLimits, StateSettings, TESTS_DIR, parse_toml,
};
pub use policy::{OUTPUT_HEADER, without_policy_output};
pub use request::{Request, RequestError};
pub use sandbox::{HostInterface, Log, PolicyState, Runtime, RuntimeBuilder, TEXT_MAX_BYTES, Text, printable};
pub use set::{POLICY_ERROR, PolicySet};
pub use source::{Folder, SetSource};
pub use wire::{
    Attachment, Group, GroupCreation, Measure, MeasureKind, Membership, MembershipKind, Message, Outcome, Reason,
    Report, ReportCategory, ReportTarget, Role, Target, User, Verdict,
};

/// The engine groupgate runs on, for host interfaces that define functions
/// in its linker (see [`HostInterface`]).
pub use wasmtime;
