//! The router: every route, the body limit in front of them, and the small
//! handlers that only read the state (health, readiness, metrics) or ask it
//! to reload.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use groupgate::HOOKS;

use crate::evaluate::{evaluate, evaluate_batch};
use crate::json::{error, json};
use crate::policies::policies;
use crate::state::{ReloadReport, ServerState};

/// The routes, over `state`. Separate from [`serve`](crate::serve) so tests
/// and embedders can mount or drive it themselves.
pub fn app(state: Arc<ServerState>) -> Router {
    let max_body = state.options.max_body;
    let counted = state.clone();
    let mut router = Router::new();
    for spec in &HOOKS {
        let hook = spec.hook;
        router = router.route(&format!("/v1/evaluate/{}", spec.name), post(move |s, b| evaluate(s, hook, b)));
    }
    router
        .route("/v1/evaluate/batch", post(evaluate_batch))
        .route("/v1/counters/{policy}/{counter}", post(crate::counters::add))
        .route("/v1/policies", get(policies))
        .route("/v1/reload", post(reload))
        .route("/healthz", get(|| async { json(StatusCode::OK, &Health { status: "ok" }) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
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

/// At least this much of a refused body is read and dropped before the
/// connection closes (the body limit, if that is more).
const LINGER_BYTES: usize = 16 << 20;
/// For at most this long.
pub(crate) const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// A body whose declared length is over the limit is refused before any
/// policy sees it, and before a client waiting on `Expect: 100-continue` is
/// told to send it. Bodies without a length are cut off at the limit as
/// read.
///
/// A client that sends its whole body before it reads (Python's `urllib`,
/// most simple clients) would find the connection reset under it if the
/// server closed with the body unread: the kernel answers unread data with
/// a reset, which discards the 413 on its way. So, as nginx's
/// `lingering_close` does, the body is read and dropped first, up to
/// [`LINGER_BYTES`] and for [`LINGER_TIME`], and the connection is then
/// closed.
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
        let waits_to_send =
            request.headers().get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        return too_large((!waits_to_send).then(|| request.into_body()), max_body).await;
    }
    next.run(request).await
}

/// The 413 for a body over `max_body`, with the connection closed after
/// it; given what is left of the `body`, it [lingers](linger) over it first.
pub(crate) async fn too_large(body: Option<axum::body::Body>, max_body: usize) -> Response {
    if let Some(body) = body {
        linger(body, max_body).await;
    }
    closing(error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {max_body} bytes")))
}

/// Reads and drops what is left of a refused `body`, for at most
/// [`LINGER_TIME`] and [`LINGER_BYTES`] (or `max_body`, if more), so that
/// closing the connection does not reset it under the answer.
async fn linger(body: axum::body::Body, max_body: usize) {
    use http_body_util::BodyExt as _;
    let limit = LINGER_BYTES.max(max_body);
    let drain = async move {
        let mut body = body;
        let mut read = 0;
        while read <= limit {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// `response`, with the connection closed after it.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why no set is serving: the last reload's error, if it failed.
pub(crate) fn not_ready(state: &ServerState) -> String {
    match state.last_reload().and_then(|r| r.error) {
        Some(e) => format!("no policy set is active: {e}"),
        None => "no policy set is active yet".into(),
    }
}

/// `GET /healthz`'s answer.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Health")]
pub(crate) struct Health {
    /// Always `ok`: the process answers.
    #[schemars(extend("const" = "ok"))]
    status: &'static str,
}

/// `GET /readyz`'s answer when a set serves.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Ready")]
pub(crate) struct Ready<'a> {
    /// Always `ready`.
    #[schemars(extend("const" = "ready"))]
    status: &'static str,
    /// The generation of the set serving.
    generation: u64,
    /// Ready, but on the last known good set, kept from before because
    /// its source could not be reached: why. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_known_good: Option<&'a str>,
}

/// `POST /v1/reload`'s answer when the new set was refused (422).
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "ReloadRefused")]
pub(crate) struct ReloadRefused {
    /// Why the new set was refused; the previous one still serves.
    error: String,
    /// The attempt.
    reload: ReloadReport,
}

async fn readyz(State(state): State<Arc<ServerState>>) -> Response {
    match state.active() {
        Some(active) => {
            let last_known_good = active.origin.last_known_good.as_deref();
            json(StatusCode::OK, &Ready { status: "ready", generation: active.generation, last_known_good })
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, not_ready(&state)),
    }
}

async fn openapi() -> Response {
    let mut response = crate::openapi::document().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
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
            let error = report.error.clone().unwrap_or_default();
            json(StatusCode::UNPROCESSABLE_ENTITY, &ReloadRefused { error, reload: report })
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("the reload did not finish: {e}")),
    }
}
