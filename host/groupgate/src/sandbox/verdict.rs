//! The `verdict` import of contract 0.2.0: how a hook hands over the rest of
//! its verdict. A hook returns only its outcome, a flat number, so that an
//! allow with nothing to say (most calls) leaves nothing in the policy's
//! memory for the host to lift and nothing for a post-return call to free:
//! one crossing less per call. A verdict with reasons, measures or
//! increments gives them here first, copied out under the hostcall fuel like
//! any other value a policy passes the host.

use super::state::PolicyState;
use crate::bindings::v2::{Increment, verdict};
use crate::wire::{Measure, Reason};

/// What a hook gave `verdict.explain` during the call under way.
#[derive(Debug, Default)]
pub(crate) struct Explained {
    pub(crate) reasons: Vec<Reason>,
    pub(crate) measures: Vec<Measure>,
    pub(crate) increments: Vec<Increment>,
}

impl verdict::Host for PolicyState {
    fn explain(
        &mut self,
        reasons: Vec<Reason>,
        measures: Vec<Measure>,
        increments: Vec<Increment>,
    ) -> wasmtime::Result<()> {
        if self.explained.is_some() {
            wasmtime::bail!("the policy called `verdict.explain` twice in one call; the contract allows once");
        }
        self.explained = Some(Explained { reasons, measures, increments });
        Ok(())
    }
}
