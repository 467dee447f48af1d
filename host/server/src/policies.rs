//! `GET /v1/policies`: the active set as an operator checks it (each
//! policy's version, module SHA-256, hooks, mode, scope and limits), where
//! it came from (source, digest, signer) and the last reload attempt.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::json::json;
use crate::state::ServerState;

/// One policy of the active set, as `/v1/policies` shows it.
#[derive(Serialize)]
struct PolicyView<'a> {
    name: &'a str,
    version: &'a str,
    module: String,
    module_sha256: &'a str,
    hooks: Vec<&'static str>,
    mode: &'static str,
    on_error: &'static str,
    scope: ScopeView<'a>,
    limits: LimitsView,
}

/// A policy's resource limits.
#[derive(Serialize)]
struct LimitsView {
    timeout_ms: u64,
    init_timeout_ms: u64,
    memory_mb: u64,
    isolation: &'static str,
}

/// Where a policy applies.
#[derive(Serialize)]
struct ScopeView<'a> {
    regions: &'a [String],
    categories: &'a [String],
}

/// The active set, or null, and the last reload attempt.
pub(crate) async fn policies(State(state): State<Arc<ServerState>>) -> Response {
    let (active, last_reload) = state.snapshot();
    let set = active.as_ref().map(|a| {
        let policies: Vec<PolicyView> = a
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
            .collect();
        serde_json::json!({
            "generation": a.generation,
            "loaded_at": humantime::format_rfc3339_millis(a.loaded_at).to_string(),
            "source": a.origin.source,
            "digest": a.origin.digest,
            "manifest_digest": a.origin.manifest,
            "signer": a.origin.signer,
            "last_known_good": a.origin.last_known_good,
            "cases_passed": a.cases,
            "policies": policies,
        })
    });
    let body = serde_json::json!({
        "active": set,
        "last_reload": last_reload,
    });
    json(StatusCode::OK, &body)
}
