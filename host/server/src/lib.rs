//! groupgate's HTTP sidecar. [`app`] builds the router over a
//! [`ServerState`]; [`serve`] runs it with hot reload and graceful shutdown.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/evaluate/message`, `/group-creation`, `/membership` | the decision, with `decision_id` and `generation` |
//! | `GET /v1/policies` | the active set and the last reload attempt |
//! | `POST /v1/reload` | reload now; the outcome |
//! | `GET /healthz`, `GET /readyz` | the process is up; a set is active |
//! | `GET /metrics` | Prometheus text |
//!
//! Every error is JSON, `{"error": "..."}`.

mod metrics;
mod state;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use groupgate::{Decision, Hook, Request};
use serde::Serialize;

pub use metrics::Metrics;
pub use state::{Active, Options, ReloadReport, ServerState};
pub use watch::{DEBOUNCE, watch};

/// What [`watch`] returns: the folder is watched while it is alive.
pub type FolderWatcher = notify::RecommendedWatcher;

/// The routes, over `state`. Separate from [`serve`] so tests and embedders
/// can mount or drive it themselves.
pub fn app(state: Arc<ServerState>) -> Router {
    let max_body = state.options.max_body;
    Router::new()
        .route("/v1/evaluate/message", post(|s, b| evaluate(s, Hook::Message, b)))
        .route("/v1/evaluate/group-creation", post(|s, b| evaluate(s, Hook::GroupCreation, b)))
        .route("/v1/evaluate/membership", post(|s, b| evaluate(s, Hook::Membership, b)))
        .route("/v1/policies", get(policies))
        .route("/v1/reload", post(reload))
        .route("/healthz", get(|| async { json(StatusCode::OK, &serde_json::json!({ "status": "ok" })) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route".into()) })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route".into())
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// Serves `state` on `listener` until SIGTERM or Ctrl-C, then stops taking
/// connections and lets the requests in flight finish. Reloads on SIGHUP.
pub async fn serve(state: Arc<ServerState>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, policies = %state.policies_dir().display(), "serving");
    spawn_sighup(state.clone());
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("stopped: every request in flight was answered");
    Ok(())
}

#[cfg(unix)]
fn spawn_sighup(state: Arc<ServerState>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /v1/reload");
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.reload("signal")).await;
        }
    });
}

#[cfg(not(unix))]
fn spawn_sighup(_state: Arc<ServerState>) {}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining requests in flight");
}

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("answers always serialise");
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, message: String) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// A decision as answered over HTTP.
#[derive(Serialize)]
struct Answer<'a> {
    decision_id: String,
    generation: u64,
    #[serde(flatten)]
    decision: &'a Decision,
}

async fn evaluate(State(state): State<Arc<ServerState>>, hook: Hook, body: Result<Bytes, BytesRejection>) -> Response {
    let start = Instant::now();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            state.metrics.rejected();
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the request body is larger than {} bytes", state.options.max_body)
            } else {
                rejection.body_text()
            };
            return error(status, message);
        }
    };
    let request = match Request::from_json(hook, &body) {
        Ok(request) => request,
        Err(e) => {
            state.metrics.rejected();
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let Some(active) = state.active() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, not_ready(&state));
    };
    // Policies run here, on the request's own task: a call is microseconds,
    // and bounded by its deadline.
    let decision = active.set.evaluate(&request);
    state.metrics.record(hook, &decision, start.elapsed());
    json(
        StatusCode::OK,
        &Answer { decision_id: state.decision_id(), generation: active.generation, decision: &decision },
    )
}

fn not_ready(state: &ServerState) -> String {
    match state.last_reload().and_then(|r| r.error) {
        Some(e) => format!("no policy set is active: {e}"),
        None => "no policy set is active yet".into(),
    }
}

async fn readyz(State(state): State<Arc<ServerState>>) -> Response {
    match state.active() {
        Some(active) => {
            json(StatusCode::OK, &serde_json::json!({ "status": "ready", "generation": active.generation }))
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, not_ready(&state)),
    }
}

async fn metrics(State(state): State<Arc<ServerState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

async fn reload(State(state): State<Arc<ServerState>>) -> Response {
    let worker = state.clone();
    match tokio::task::spawn_blocking(move || worker.reload("http")).await {
        Ok(report) if report.ok => json(StatusCode::OK, &report),
        Ok(report) => {
            let message = report.error.clone().unwrap_or_default();
            json(StatusCode::UNPROCESSABLE_ENTITY, &serde_json::json!({ "error": message, "reload": report }))
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("the reload did not finish: {e}")),
    }
}

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
}

#[derive(Serialize)]
struct ScopeView<'a> {
    regions: &'a [String],
    categories: &'a [String],
}

async fn policies(State(state): State<Arc<ServerState>>) -> Response {
    let active = state.active();
    let set = active.as_ref().map(|a| {
        let policies: Vec<PolicyView> = a
            .set
            .policies()
            .map(|p| PolicyView {
                name: &p.name,
                version: &p.version,
                module: match &p.module {
                    groupgate::manifest::ModuleSource::Builtin(name) => format!("builtin:{name}"),
                    groupgate::manifest::ModuleSource::File(path) => path.display().to_string(),
                },
                module_sha256: a.set.module_sha256(&p.name).unwrap_or_default(),
                hooks: p.hooks.iter().map(|h| h.as_str()).collect(),
                mode: p.mode.as_str(),
                on_error: p.on_error.as_str(),
                scope: ScopeView { regions: &p.scope.regions, categories: &p.scope.categories },
            })
            .collect();
        serde_json::json!({
            "generation": a.generation,
            "loaded_at": humantime::format_rfc3339_millis(a.loaded_at).to_string(),
            "source": a.set.root().display().to_string(),
            "cases_passed": a.cases,
            "policies": policies,
        })
    });
    let body = serde_json::json!({
        "active": set,
        "last_reload": state.last_reload(),
    });
    json(StatusCode::OK, &body)
}
