//! The standard policies from `plugins/` (`prohibited-content`,
//! `real-name`, `credit-levels`, `group-limits`, `blacklist`,
//! `flood-control`, `repeat-offender`, `group-violations`, `complaints`), compiled for
//! `wasm32-wasip2` by this crate's build script and embedded, so that a
//! runtime they are registered into loads `module = "builtin:NAME"` with
//! nothing else to build or copy.
//!
//! ```no_run
//! let runtime = groupgate_builtins::register(&mut groupgate::Runtime::builder()).build()?;
//! assert!(runtime.builtin_names().contains(&"prohibited-content"));
//! # Ok::<(), groupgate::RuntimeError>(())
//! ```

#![deny(missing_docs)]

use groupgate::RuntimeBuilder;

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// Registers every standard plugin into `builder`.
pub fn register(builder: &mut RuntimeBuilder) -> &mut RuntimeBuilder {
    for (name, bytes) in BUILTIN {
        builder.builtin(name, bytes);
    }
    builder
}

/// The names of every standard plugin.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
