//! The host-capability seam: what a runtime offers policies beyond the
//! contract's exports. Each interface is a value given to
//! [`RuntimeBuilder::host_interface`](super::RuntimeBuilder::host_interface)
//! that defines its functions in the linker every policy is linked with.
//! `log` is the first.

use wasmtime::component::{HasSelf, Linker};

use super::state::PolicyState;
use crate::bindings::{v1, v2};

/// A host interface offered to policies.
///
/// An implementation defines the functions of one WIT interface of the
/// contract in `linker`; each call reaches the [`PolicyState`] of the
/// instance that made it. A second interface, say one that tells a policy
/// how many calls its instance has answered, looks like this (its WIT,
/// `interface calls { count: func() -> u64; }`, added to `wit/policy.wit`):
///
/// ```
/// use groupgate::wasmtime::component::Linker;
/// use groupgate::{HostInterface, PolicyState, Runtime};
///
/// struct Calls;
///
/// impl HostInterface for Calls {
///     fn name(&self) -> &str {
///         "groupgate:policy/calls"
///     }
///
///     fn add_to_linker(&self, linker: &mut Linker<PolicyState>) -> groupgate::wasmtime::Result<()> {
///         let mut calls = linker.instance("groupgate:policy/calls@0.1.0")?;
///         calls.func_wrap("count", |cx, (): ()| Ok((cx.data().calls(),)))?;
///         Ok(())
///     }
/// }
///
/// let runtime = Runtime::builder().host_interface(Calls).build()?;
/// assert_eq!(runtime.host_interfaces().collect::<Vec<_>>(), ["groupgate:policy/log", "groupgate:policy/calls"]);
/// # Ok::<(), groupgate::RuntimeError>(())
/// ```
pub trait HostInterface: Send + Sync + 'static {
    /// The WIT interface, without its version: `groupgate:policy/log`.
    fn name(&self) -> &str;

    /// Defines the interface's functions in `linker`.
    fn add_to_linker(&self, linker: &mut Linker<PolicyState>) -> wasmtime::Result<()>;
}

/// `groupgate:policy/log`: a structured log line, written to the host's log
/// (target `groupgate::guest`) tagged with the policy's name. One call's
/// first 100 lines are kept, later ones counted and dropped; past 10,000 the
/// call is stopped as a flood and the policy gives its `on_error` verdict.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Log;

impl HostInterface for Log {
    fn name(&self) -> &str {
        "groupgate:policy/log"
    }

    fn add_to_linker(&self, linker: &mut Linker<PolicyState>) -> wasmtime::Result<()> {
        // One per contract version: the interface is the same in each.
        v1::log::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)?;
        v2::log::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)
    }
}

impl v1::log::Host for PolicyState {
    fn log(&mut self, level: v1::log::Level, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        PolicyState::log(self, level, &message, &fields)
    }
}

impl v2::log::Host for PolicyState {
    fn log(&mut self, level: v2::log::Level, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        use v1::log::Level as L;
        let level = match level {
            v2::log::Level::Trace => L::Trace,
            v2::log::Level::Debug => L::Debug,
            v2::log::Level::Info => L::Info,
            v2::log::Level::Warn => L::Warn,
            v2::log::Level::Error => L::Error,
        };
        PolicyState::log(self, level, &message, &fields)
    }
}
