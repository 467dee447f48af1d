//! `POST /v1/counters/{policy}/{counter}`: the platform adds to a policy's
//! counter what it knows and groupgate does not, such as a moderator
//! rejecting a user's report (Art. 12). Only a counter the policy's
//! manifest declares with `platform = true` takes additions; they go to the
//! active set's store at once, shared by every replica on it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use groupgate::CounterError;
use serde::{Deserialize, Serialize};

use crate::app::not_ready;
use crate::json::{error, json};
use crate::state::ServerState;

/// What the platform adds.
#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CounterAddition")]
#[serde(deny_unknown_fields)]
pub(crate) struct Addition {
    /// The id of the user or group counted (what the counter's `of` names;
    /// for `of = "target"`, `message:ID`, `user:ID` or `group:ID`).
    id: String,
    /// How many events; 1 by default, 0 adds nothing.
    #[serde(default = "one", deserialize_with = "groupgate::wire::whole::deserialize")]
    amount: u32,
    /// When they happened, in unix milliseconds: a count's windows end at a
    /// request's own time, so this is on the platform's clock too.
    #[serde(deserialize_with = "groupgate::wire::whole::deserialize")]
    at: u64,
}

fn one() -> u32 {
    1
}

/// The answer to an addition.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "CounterAdded")]
pub(crate) struct Added {
    /// The policy.
    policy: String,
    /// Its counter.
    counter: String,
    /// For whom.
    id: String,
    /// How many events were added.
    added: u32,
    /// The generation of the set whose store took them.
    generation: u64,
}

pub(crate) async fn add(
    State(state): State<Arc<ServerState>>,
    Path((policy, counter)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let addition: Addition = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid counter addition: {e}")),
    };
    let Some(active) = state.active() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, not_ready(&state));
    };
    let generation = active.generation;
    let waits = active.set.waits();
    let (policy_name, counter_name, id) = (policy.clone(), counter.clone(), addition.id.clone());
    let amount = u64::from(addition.amount);
    let add = move || active.set.add_to_counter(&policy_name, &counter_name, &id, amount, addition.at);
    // A store that waits (Redis) is written off the threads that serve.
    let result = if waits {
        match tokio::task::spawn_blocking(add).await {
            Ok(result) => result,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("the addition did not finish: {e}")),
        }
    } else {
        add()
    };
    match result {
        Ok(()) => json(StatusCode::OK, &Added { policy, counter, id: addition.id, added: addition.amount, generation }),
        Err(e @ (CounterError::NoPolicy(_) | CounterError::NotOpen { .. })) => {
            error(StatusCode::NOT_FOUND, e.to_string())
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("the counter could not be added to: {e}")),
    }
}
