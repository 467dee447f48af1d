//! `GET /v1/policies`: the active set as an operator checks it (each
//! policy's version, module SHA-256, hooks, mode, scope and limits), where
//! it came from (source, digest, signer) and the last reload attempt.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::json::json;
use crate::state::{ReloadReport, ServerState};

/// `GET /v1/policies`'s answer.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Policies")]
pub(crate) struct PoliciesAnswer<'a> {
    /// The set serving decisions, or null before the first one loads.
    active: Option<SetView<'a>>,
    /// The last reload attempt, or null before the first one ends.
    last_reload: Option<ReloadReport>,
}

/// The active set.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ActiveSet")]
struct SetView<'a> {
    /// Counts up from 1 with every set activated.
    generation: u64,
    /// When it was activated, RFC 3339.
    loaded_at: String,
    /// The folder, or the `oci://` reference it was pulled from.
    source: &'a str,
    /// The set's digest (`sha256:…`), when it was checked, or null.
    digest: Option<&'a str>,
    /// The OCI manifest's digest, for a set pulled from a registry, or null.
    manifest_digest: Option<&'a str>,
    /// Who signed it, or null.
    signer: Option<&'a str>,
    /// Why the last known good set is served instead of its source's, or
    /// null.
    last_known_good: Option<&'a str>,
    /// How many test cases it passed before activation.
    cases_passed: usize,
    /// Where its decisions run: `probation` (on the blocking pool, for
    /// its first 1,000), `inline` (on the thread that read the request)
    /// or `blocking-pool` (for good: it records, counts in Redis, has a
    /// policy with a deadline over 100 ms, or was slow too often).
    #[schemars(extend("enum" = ["probation", "inline", "blocking-pool"]))]
    decisions: &'static str,
    /// Its policies, in order.
    policies: Vec<PolicyView<'a>>,
}

/// One policy of the active set, as `/v1/policies` shows it.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "PolicyInfo")]
struct PolicyView<'a> {
    /// Its name.
    name: &'a str,
    /// Its version.
    version: &'a str,
    /// Its module, as its manifest names it.
    module: String,
    /// The module's SHA-256, hex.
    module_sha256: &'a str,
    /// The hooks it decides.
    #[schemars(with = "Vec<crate::evaluate::HookName>")]
    hooks: Vec<&'static str>,
    /// `enforce` or `audit`.
    #[schemars(extend("enum" = ["enforce", "audit"]))]
    mode: &'static str,
    /// The outcome it gives when it fails.
    #[schemars(extend("enum" = ["allow", "review", "deny"]))]
    on_error: &'static str,
    /// Where it applies.
    scope: ScopeView<'a>,
    /// Its resource limits.
    limits: LimitsView,
}

/// A policy's resource limits.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "PolicyLimits")]
struct LimitsView {
    /// A call's deadline.
    timeout_ms: u64,
    /// `init`'s deadline.
    init_timeout_ms: u64,
    /// Its memory cap.
    memory_mb: u64,
    /// How its instances are shared between calls.
    #[schemars(extend("enum" = ["reuse", "fresh"]))]
    isolation: &'static str,
}

/// Where a policy applies.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "PolicyScope")]
struct ScopeView<'a> {
    /// The regions it applies in; empty for all.
    regions: &'a [String],
    /// The group categories it applies to; empty for all.
    categories: &'a [String],
}

/// The active set, or null, and the last reload attempt.
pub(crate) async fn policies(State(state): State<Arc<ServerState>>) -> Response {
    let (active, last_reload) = state.snapshot();
    let set = active.as_ref().map(|a| SetView {
        generation: a.generation,
        loaded_at: humantime::format_rfc3339_millis(a.loaded_at).to_string(),
        source: &a.origin.source,
        digest: a.origin.digest.as_deref(),
        manifest_digest: a.origin.manifest.as_deref(),
        signer: a.origin.signer.as_deref(),
        last_known_good: a.origin.last_known_good.as_deref(),
        cases_passed: a.cases,
        decisions: a.placement.describe(),
        policies: a
            .set
            .policies()
            .map(|p| PolicyView {
                name: &p.name,
                version: &p.version,
                module: p.module.to_string(),
                module_sha256: a.set.module_sha256(&p.name).unwrap_or_default(),
                hooks: p.hooks.iter().map(|h| h.as_str()).collect(),
                mode: p.mode.as_str(),
                on_error: p.on_error.as_str(),
                scope: ScopeView { regions: &p.scope.regions, categories: &p.scope.categories },
                limits: LimitsView {
                    timeout_ms: p.limits.timeout_ms,
                    init_timeout_ms: p.limits.init_timeout_ms,
                    memory_mb: p.limits.memory_mb,
                    isolation: p.limits.isolation.as_str(),
                },
            })
            .collect(),
    });
    json(StatusCode::OK, &PoliciesAnswer { active: set, last_reload })
}
