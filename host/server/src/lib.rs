//! groupgate's HTTP sidecar. [`app`] builds the router over a
//! [`ServerState`]; [`serve`] runs it with hot reload and graceful shutdown.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/evaluate/message`, `/group-creation`, `/membership`, `/report` | the decision, with `decision_id` and `generation` |
//! | `POST /v1/counters/{policy}/{counter}` | adds the platform's events to a counter declared `platform = true` |
//! | `GET /v1/policies` | the active set and the last reload attempt |
//! | `POST /v1/reload` | reload now; the outcome |
//! | `GET /healthz`, `GET /readyz` | the process is up; a set is active |
//! | `POST /v1/evaluate/batch` | up to [`MAX_BATCH`] requests of any hooks, each decided or refused in its place |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json` | this API as OpenAPI 3.1 ([`openapi::document`]) |
//!
//! Every error is JSON, `{"error": "..."}`. A set whose `groupgate.toml` has
//! `[audit]` has every decision recorded through a
//! [`DecisionSink`](groupgate_audit::DecisionSink) before it is answered.

#![deny(missing_docs)]

mod app;
mod counters;
mod evaluate;
#[cfg(test)]
mod fixtures;
mod json;
mod metrics;
pub mod openapi;
mod policies;
mod provider;
mod serve;
mod state;

pub use app::app;
pub use evaluate::MAX_BATCH;
pub use groupgate::source::{DEBOUNCE, MAX_WAIT, RECHECK};
pub use metrics::Metrics;
pub use provider::{Fetched, Origin, Plain, Provider};
pub use serve::{DRAIN_TIMEOUT, serve, watch};
pub use state::{Active, Options, ReloadReport, ServerState};
