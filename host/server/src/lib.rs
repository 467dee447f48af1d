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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use groupgate::source::{SourceError, Watch};
use groupgate::{Decision, HOOKS, Hook, Request};
use serde::Serialize;

pub use groupgate::source::{DEBOUNCE, MAX_WAIT, RECHECK};
pub use metrics::Metrics;
pub use state::{Active, Options, ReloadReport, ServerState};

/// The longest a shutdown waits for requests in flight before it exits.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The routes, over `state`. Separate from [`serve`] so tests and embedders
/// can mount or drive it themselves.
pub fn app(state: Arc<ServerState>) -> Router {
    let max_body = state.options.max_body;
    let counted = state.clone();
    let mut router = Router::new();
    for spec in &HOOKS {
        let hook = spec.hook;
        router = router.route(&format!("/v1/evaluate/{}", spec.name), post(move |s, b| evaluate(s, hook, b)));
    }
    router
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
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            too_large_up_front(request, next, counted.clone())
        }))
        .with_state(state)
}

/// Runs a server on `listener`: signal handlers first (so an early SIGHUP
/// cannot kill the process), then the first load on a blocking thread while
/// the server already answers (`/readyz` says 503 until a set is active),
/// the folder watched when `watching`, and serving until SIGTERM or Ctrl-C.
/// Then it stops accepting, lets requests in flight finish for at most
/// [`DRAIN_TIMEOUT`], and returns. SIGHUP reloads.
pub async fn serve(state: Arc<ServerState>, listener: tokio::net::TcpListener, watching: bool) -> std::io::Result<()> {
    let signals = Signals::install()?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, policies = %state.policies_dir().display(), "serving");
    let _watch = if watching {
        Some(watch(state.clone()).map_err(|e| std::io::Error::other(format!("cannot watch the policy folder: {e}")))?)
    } else {
        None
    };
    let first = state.clone();
    tokio::task::spawn_blocking(move || {
        let report = first.reload("start");
        if let Some(error) = report.error {
            tracing::error!("no policy set is active until the folder is fixed: {error}");
        }
    });
    let Signals { hangup, terminate } = signals;
    spawn_reload_on(hangup, state.clone());
    let shutdown = async move {
        terminate.await;
        tracing::info!("shutting down: draining requests in flight");
    };
    let connections = accept(listener, app(state.clone()), state.options.read_timeout, shutdown).await;
    tokio::select! {
        () = connections.shutdown() => tracing::info!("stopped: every request in flight was answered"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("stopped after {} s with requests still in flight", DRAIN_TIMEOUT.as_secs());
        }
    }
    // Records queued by a batched log reach the disk before the process ends.
    let _ = tokio::task::spawn_blocking(move || state.flush_log()).await;
    Ok(())
}

/// Reloads the state's policy set whenever its source says it changed (a
/// burst of changes once), on the source's thread, for as long as the
/// returned [`Watch`] is kept.
pub fn watch(state: Arc<ServerState>) -> Result<Watch, SourceError> {
    let source = state.options.source.clone();
    source.watch(Box::new(move || {
        state.reload("watch");
    }))
}

/// Accepts connections until `shutdown` completes, serving each with HTTP/1.1
/// and a deadline of `read_timeout` for every request's headers (hyper closes
/// a connection whose client sends them too slowly, or idles that long
/// between requests). Returns the open connections, to be drained.
async fn accept(
    listener: tokio::net::TcpListener,
    router: Router,
    read_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> hyper_util::server::graceful::GracefulShutdown {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(read_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = connections.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection closed: {e}");
            }
        });
    }
    connections
}

/// The signals a server answers, listened for from the moment it starts.
struct Signals {
    hangup: Option<tokio::signal::unix::Signal>,
    terminate: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let hangup = Some(signal(SignalKind::hangup())?);
        let mut term = signal(SignalKind::terminate())?;
        let terminate = Box::pin(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        });
        Ok(Signals { hangup, terminate })
    }
}

fn spawn_reload_on(hangup: Option<tokio::signal::unix::Signal>, state: Arc<ServerState>) {
    let Some(mut hup) = hangup else { return };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.reload("signal")).await;
        }
    });
}

/// Reads a request body of at most `max_body` bytes within `read_timeout`:
/// a client that trickles its body gets 408 instead of holding the request.
async fn read_body(state: &ServerState, body: Body) -> Result<Bytes, Response> {
    let max_body = state.options.max_body;
    let timeout = state.options.read_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max_body)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let over_limit = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            Err(if over_limit {
                error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {max_body} bytes"))
            } else {
                error(StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}"))
            })
        }
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within the read timeout of {} ms", timeout.as_millis()),
        )),
    }
}

/// A body whose declared length is over the limit is refused before any of
/// it is read (and before a client waiting on `Expect: 100-continue` is told
/// to send it). Bodies without a length are cut off at the limit as read.
async fn too_large_up_front(
    request: axum::extract::Request,
    next: axum::middleware::Next,
    state: Arc<ServerState>,
) -> Response {
    let max_body = state.options.max_body;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        state.metrics.rejected();
        return error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {max_body} bytes"));
    }
    next.run(request).await
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

async fn evaluate(State(state): State<Arc<ServerState>>, hook: Hook, body: Body) -> Response {
    let start = Instant::now();
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => {
            state.metrics.rejected();
            return response;
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
    // Policies run on the request's own thread: a call is microseconds. It is
    // marked blocking, though, so that a policy running to its deadline (or a
    // decision waiting for its record's fsync) hands this worker's other
    // requests, and health checks, to another thread.
    let decide = || -> Result<_, groupgate::RequestError> {
        // The set's own limits (`max_text_bytes`) refuse a request before any
        // policy runs, and it is not recorded: nothing was decided.
        let decision = active.set.evaluate(&request)?;
        let id = state.decision_id();
        let recorded = match state.recorder() {
            // A set that asks for records is not answered without one.
            _ if active.set.audit_settings().is_none() => Ok(()),
            Some(Ok(recorder)) => recorder.record(groupgate_audit::decision_record(
                &id,
                active.generation,
                &request,
                &decision,
                &active.set,
                recorder.content(),
            )),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the decision log is not open".to_owned()),
        };
        Ok((id, decision, recorded))
    };
    let decided = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(decide),
        _ => decide(),
    };
    let (id, decision, recorded) = match decided {
        Ok(decided) => decided,
        Err(e) => {
            state.metrics.rejected();
            let status = if e.is_too_large() { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
            return error(status, e.to_string());
        }
    };
    if let Err(e) = recorded {
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("the decision could not be recorded: {e}"));
    }
    state.metrics.record(hook, &decision, start.elapsed());
    json(StatusCode::OK, &Answer { decision_id: id, generation: active.generation, decision: &decision })
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
    let mut response = state.metrics.render(state.runtime()).into_response();
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
    limits: LimitsView,
}

#[derive(Serialize)]
struct LimitsView {
    timeout_ms: u64,
    init_timeout_ms: u64,
    memory_mb: u64,
    isolation: &'static str,
}

#[derive(Serialize)]
struct ScopeView<'a> {
    regions: &'a [String],
    categories: &'a [String],
}

async fn policies(State(state): State<Arc<ServerState>>) -> Response {
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
            "source": a.set.root().display().to_string(),
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
