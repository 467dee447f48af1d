//! `POST /v1/evaluate/{hook}`: a request read within its limits, decided by
//! the active set, recorded through the decision sink when the set asks for
//! a log, counted, and answered with its decision id and generation.
//! `POST /v1/evaluate/batch`: several requests of any hooks, decided in
//! order on one generation, each answered, recorded and counted as if it
//! came alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use groupgate::{Decision, Hook, Request};
use groupgate_audit::DecisionRecord;
use serde::Serialize;

use crate::app::not_ready;
use crate::json::{error, json};
use crate::state::{Active, ServerState};

/// A decision as answered over HTTP: the merged decision, with the id its
/// record carries and the generation of the set that made it.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Answer")]
pub(crate) struct Answer<'a> {
    /// The decision's id, unique also across restarts, as its record and
    /// the logs name it.
    decision_id: String,
    /// The generation of the policy set that decided (see `/v1/policies`).
    generation: u64,
    #[serde(flatten)]
    decision: &'a Decision,
}

/// Why a request got no decision.
enum Refused {
    /// The request is invalid for the set (`max_text_bytes`): nothing was decided.
    Request(groupgate::RequestError),
    /// Decided, but the set asks for a record and it could not be kept.
    Unrecorded(String),
}

impl Refused {
    /// The status and error the request is answered with, alone or as a
    /// batch's item; a request refused before any policy ran is counted.
    fn answer(self, state: &ServerState) -> (StatusCode, String) {
        match self {
            Refused::Request(e) => {
                state.metrics.rejected();
                (request_status(&e), e.to_string())
            }
            Refused::Unrecorded(e) => {
                (StatusCode::SERVICE_UNAVAILABLE, format!("the decision could not be recorded: {e}"))
            }
        }
    }
}

/// 413 for a request over one of the set's size limits, else 400.
fn request_status(e: &groupgate::RequestError) -> StatusCode {
    if e.is_too_large() { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST }
}

/// Decides `request` on `active`, records it and counts it: what one
/// request costs, alone or in a batch. Blocks while a record or a store
/// waits: see [`decide`] for where it is called.
fn decide_one(
    state: &ServerState,
    active: &Active,
    request: &Request,
    start: Instant,
) -> Result<(String, Decision), Refused> {
    // The set's own limits (`max_text_bytes`) refuse a request before any
    // policy runs, and it is not recorded: nothing was decided.
    let mut decision = active.set.evaluate(request).map_err(Refused::Request)?;
    let id = state.decision_id();
    record(state, active, &id, request, &decision).map_err(Refused::Unrecorded)?;
    state.metrics.record(active, request.hook(), &decision, start.elapsed());
    if state.options.hide_policy_output {
        hide_policy_output(&mut decision);
    }
    Ok((id, decision))
}

/// A decision that keeps its thread busy longer than this is slow.
/// Measured in the thread's CPU time, not the wall clock's, so that a
/// decision preempted on a busy machine is not taken for one.
const SLOW: Duration = Duration::from_millis(2);
/// Decisions a set makes on the blocking pool before it may be decided
/// inline.
const PROBATION: u64 = 1000;
/// Slow decisions a set may make on probation and still be decided inline
/// after it: the first calls of a generation make and initialise its
/// policies' instances (one per blocking thread), which may be slow.
const PROBATION_GRACE: u64 = 100;
/// The most CPU time a set's slow decisions may spend inline, in
/// microseconds: each slow decision spends all of its own, and every
/// decision gives back [`REFILL_US`], up to this again. A set that would
/// spend more is decided on the blocking pool from then on.
const BUDGET_US: u64 = 20_000;
/// What each decision gives back to the budget: a set whose slow decisions
/// take, on average, more than this of each decision's time is not kept
/// inline. The kernel now and then charges a thread for work not its own
/// (a few ms in about one decision in 100,000, measured under `wrk`), far
/// below this.
const REFILL_US: u64 = 1;
/// A set with a policy whose deadline (`timeout_ms`) is longer than this
/// is always decided on the blocking pool: one call could otherwise hold a
/// connection thread that long.
pub(crate) const INLINE_MAX_TIMEOUT_MS: u64 = 100;

/// Where a set's decisions run: on the thread that read the request, or
/// on the runtime's blocking pool. See [`decide`].
pub(crate) struct Placement {
    /// On the blocking pool for good: the set's decisions wait on
    /// something outside the process, may run long, or were slow too often.
    blocking: AtomicBool,
    /// Decisions made so far.
    decided: AtomicU64,
    /// Slow decisions made on probation.
    slow_on_probation: AtomicU64,
    /// What is left of [`BUDGET_US`].
    budget_us: AtomicU64,
}

impl Placement {
    /// A new set's: on probation, unless it is to stay on the pool.
    pub(crate) fn new(blocking: bool) -> Placement {
        Placement {
            blocking: AtomicBool::new(blocking),
            decided: AtomicU64::new(0),
            slow_on_probation: AtomicU64::new(0),
            budget_us: AtomicU64::new(BUDGET_US),
        }
    }

    /// Whether the set has yet to make its first [`PROBATION`] decisions.
    fn on_probation(&self) -> bool {
        self.decided.load(Ordering::Relaxed) < PROBATION
    }

    /// Where the set's decisions run now: `probation` (on the blocking
    /// pool, until it has made enough), `inline` or `blocking-pool`.
    pub(crate) fn describe(&self) -> &'static str {
        if self.blocking.load(Ordering::Relaxed) {
            "blocking-pool"
        } else if self.on_probation() {
            "probation"
        } else {
            "inline"
        }
    }

    /// Counts a decision that kept its thread busy for `took`, made inline
    /// or not: true when its set has just been sent to the blocking pool
    /// for good.
    fn count(&self, took: Duration, inline: bool) -> bool {
        self.decided.fetch_add(1, Ordering::Relaxed);
        let slow = took > SLOW;
        let too_slow = if inline {
            let spend = if slow { u64::try_from(took.as_micros()).unwrap_or(u64::MAX) } else { 0 };
            let refilled = |left: u64| left.saturating_add(REFILL_US).min(BUDGET_US);
            let update = |left: u64| Some(refilled(left).saturating_sub(spend));
            // The closure always answers: `Ok` holds what was left before.
            let before = self.budget_us.fetch_update(Ordering::Relaxed, Ordering::Relaxed, update).unwrap_or(0);
            refilled(before) < spend
        } else {
            slow && self.slow_on_probation.fetch_add(1, Ordering::Relaxed) + 1 > PROBATION_GRACE
        };
        too_slow && !self.blocking.swap(true, Ordering::Relaxed)
    }
}

/// Runs `decide` where it costs least. A decision is microseconds of
/// policy code: handing it to another thread and back costs more than the
/// decision, and under load adds a queue's wait to every request's tail.
/// But a policy that runs long must not hold the few threads that serve
/// every connection. So a set is decided on the blocking pool for its
/// first [`PROBATION`] decisions, and then on the thread that read the
/// request, unless one of these keeps it on the pool for the rest of its
/// generation (a reload starts afresh):
/// - its decisions wait on something outside the process: a record to
///   write, counts in a store across the network;
/// - a policy's deadline is over [`INLINE_MAX_TIMEOUT_MS`];
/// - more than [`PROBATION_GRACE`] of its decisions on probation were
///   [`SLOW`] (a policy that spins from the start never runs inline);
/// - inline, its slow decisions spent more CPU time than [`BUDGET_US`],
///   refilled by [`REFILL_US`] a decision (a policy that turns slow later
///   holds a connection thread for one of its deadlines, or a few slow
///   calls, at most).
///
/// Measured with `scripts/bench-http.py` (2 cores, `wrk -t2`, default set,
/// against nginx answering a fixed body): see `BENCHMARKS.md`.
async fn decide<T: Send + 'static>(active: &Active, decide: impl FnOnce() -> T + Send + 'static) -> T {
    let placement = &active.placement;
    if placement.blocking.load(Ordering::Relaxed) {
        return blocking(decide).await;
    }
    let timed = move || {
        let start = cpu_time::ThreadTime::now();
        let decided = decide();
        (decided, start.elapsed())
    };
    let inline = !placement.on_probation();
    let (decided, took) = if inline { timed() } else { blocking(timed).await };
    if placement.count(took, inline) {
        tracing::warn!(
            generation = active.generation,
            "the set's decisions were slow too often (the last kept its thread busy for {} µs): \
             they are made on the blocking pool from now on",
            took.as_micros()
        );
    }
    decided
}

/// Runs `decide` on the runtime's blocking pool and waits for it.
async fn blocking<T: Send + 'static>(decide: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(decide).await {
        Ok(decided) => decided,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

pub(crate) async fn evaluate(State(state): State<Arc<ServerState>>, hook: Hook, body: Body) -> Response {
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
    let (worker, current) = (state.clone(), active.clone());
    match decide(&active, move || decide_one(&worker, &current, &request, start)).await {
        Ok((id, decision)) => {
            json(StatusCode::OK, &Answer { decision_id: id, generation: active.generation, decision: &decision })
        }
        Err(refused) => {
            let (status, message) = refused.answer(&state);
            error(status, message)
        }
    }
}

/// The most requests one batch may hold.
pub const MAX_BATCH: usize = 100;
/// The longest a batch's items are decided for: the items after it are
/// answered undecided, so that one batch cannot hold a thread for a hundred
/// requests' worst case, nor outlast a graceful shutdown.
pub const BATCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// `POST /v1/evaluate/batch`'s body. Its items are kept as their JSON text
/// and read one by one, each as a request alone is read (duplicate keys,
/// nesting and all), so that one that is not a request fails alone.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Batch", description = "Several requests of any hooks, decided in order on one set generation.")]
pub(crate) struct Batch {
    /// The requests, decided in this order. An item that is not a valid
    /// request for its hook is answered with an error in its place.
    #[schemars(with = "Vec<Item>", length(max = MAX_BATCH))]
    requests: Vec<Box<serde_json::value::RawValue>>,
}

/// One item of a batch: a hook and its request.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BatchItem")]
struct Item {
    /// The hook, as the name of its route: `message`, `group-creation`,
    /// `membership` or `report`.
    #[schemars(with = "HookName")]
    hook: String,
    /// The request, as the hook's own route takes it.
    #[schemars(with = "HookRequest")]
    request: Box<serde_json::value::RawValue>,
}

/// A hook's name, in a schema: one of [`HOOKS`](groupgate::HOOKS).
pub(crate) struct HookName;

impl schemars::JsonSchema for HookName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hook".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = groupgate::HOOKS.iter().map(|h| h.name).collect();
        schemars::json_schema!({ "type": "string", "enum": names, "description": "A hook, named as its route." })
    }
}

/// Any hook's request, in a batch item's schema.
struct HookRequest;

impl schemars::JsonSchema for HookRequest {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HookRequest".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let requests: Vec<schemars::Schema> =
            groupgate::HOOKS.iter().map(|h| Request::json_schema(h.hook, generator)).collect();
        schemars::json_schema!({ "oneOf": requests })
    }
}

/// `POST /v1/evaluate/batch`'s answer.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "BatchAnswer")]
pub(crate) struct BatchAnswer<'a> {
    /// The generation of the policy set that decided every item.
    generation: u64,
    /// One per item, in the items' order.
    results: Vec<ItemResult<'a>>,
}

/// One result of a batch: a decision, or why the item got none, with the
/// status the request alone would have been answered.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "BatchResult")]
enum ItemResult<'a> {
    /// The item's decision.
    Decided(Answer<'a>),
    /// The item got no decision.
    Refused {
        /// Why.
        error: String,
        /// The status the item alone would have been answered: 400, 413
        /// or 503.
        status: u16,
    },
}

pub(crate) async fn evaluate_batch(State(state): State<Arc<ServerState>>, body: Body) -> Response {
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => {
            state.metrics.rejected();
            return response;
        }
    };
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            state.metrics.rejected();
            return error(StatusCode::BAD_REQUEST, format!("the batch is not `{{\"requests\": [...]}}`: {e}"));
        }
    };
    if batch.requests.len() > MAX_BATCH {
        state.metrics.rejected();
        let n = batch.requests.len();
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a batch holds at most {MAX_BATCH} requests; this one has {n}"),
        );
    }
    let Some(active) = state.active() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, not_ready(&state));
    };
    state.metrics.batch(batch.requests.len());
    // In order, on the one generation taken above. A decision that cannot
    // be recorded stops the batch: the log is failing, and the items after
    // it are not decided (nor counted), as single requests would not be.
    let started = Instant::now();
    let (worker, current) = (state.clone(), active.clone());
    // A batch is up to a hundred decisions: always on the blocking pool,
    // where one hand-off is shared by them all.
    let decided: Vec<Result<(String, Decision), (StatusCode, String)>> = blocking(move || {
        let (state, active) = (worker, current);
        let mut stopped: Option<String> = None;
        let mut results = Vec::with_capacity(batch.requests.len());
        for item in &batch.requests {
            if stopped.is_none() && started.elapsed() > BATCH_BUDGET {
                stopped = Some(format!("not decided: the batch ran past its {} s budget", BATCH_BUDGET.as_secs()));
            }
            if let Some(why) = &stopped {
                results.push(Err((StatusCode::SERVICE_UNAVAILABLE, why.clone())));
                continue;
            }
            let result = decide_item(&state, &active, item.get());
            if let Err((StatusCode::SERVICE_UNAVAILABLE, why)) = &result {
                stopped = Some(format!("not decided: {why}"));
            }
            results.push(result);
        }
        results
    })
    .await;
    let results: Vec<ItemResult<'_>> = decided
        .iter()
        .map(|result| match result {
            Ok((id, decision)) => {
                ItemResult::Decided(Answer { decision_id: id.clone(), generation: active.generation, decision })
            }
            Err((status, error)) => ItemResult::Refused { error: error.clone(), status: status.as_u16() },
        })
        .collect();
    json(StatusCode::OK, &BatchAnswer { generation: active.generation, results })
}

/// One item of a batch: read, decided, recorded and counted as a request
/// alone would be, or the status and error it would have been answered.
fn decide_item(state: &ServerState, active: &Active, item: &str) -> Result<(String, Decision), (StatusCode, String)> {
    let start = Instant::now();
    let refused = |status: StatusCode, message: String| {
        state.metrics.rejected();
        (status, message)
    };
    let item: Item = serde_json::from_str(item).map_err(|e| {
        refused(
            StatusCode::BAD_REQUEST,
            format!("not an item `{{\"hook\": \"...\", \"request\": {{...}}}}`: {}", short(&e.to_string())),
        )
    })?;
    let hook: Hook = item.hook.parse().map_err(|_| {
        refused(
            StatusCode::BAD_REQUEST,
            format!("unknown hook `{}` (expected {})", short(&item.hook), Hook::expected()),
        )
    })?;
    let request = Request::from_json(hook, item.request.get().as_bytes())
        .map_err(|e| refused(request_status(&e), e.to_string()))?;
    decide_one(state, active, &request, start).map_err(|refused| refused.answer(state))
}

/// `text`, cut to 100 characters: an error names what it refused without
/// echoing a whole body back.
fn short(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Cuts what failing policies wrote from the decision's errors.
fn hide_policy_output(decision: &mut Decision) {
    let cut = |text: &mut String| {
        if let std::borrow::Cow::Owned(cut) = groupgate::without_policy_output(text) {
            *text = cut;
        }
    };
    decision.reasons.iter_mut().filter(|r| r.code == groupgate::POLICY_ERROR).for_each(|r| cut(&mut r.message));
    decision.policies.iter_mut().filter_map(|p| p.error.as_mut()).for_each(cut);
}

/// Hands the decision's record to the decision sink, if the set asks for
/// records: a set that does is not answered without one. `Err` says why the
/// record could not be kept.
fn record(
    state: &ServerState,
    active: &Active,
    id: &str,
    request: &Request,
    decision: &Decision,
) -> Result<(), String> {
    let Some(settings) = active.set.audit_settings() else { return Ok(()) };
    match state.sink() {
        Some(Ok(sink)) => {
            let record =
                DecisionRecord::new(id, active.generation, request, decision, &active.set, settings.record_content);
            sink.record(record).map_err(|e| e.to_string())
        }
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the decision log is not open".to_owned()),
    }
}

/// Reads a request body of at most `max_body` bytes within `read_timeout`:
/// a client that trickles its body gets 408 instead of holding the request.
/// A body found over the limit as it is read (one sent without a length) is
/// read on and dropped for a while before the 413 and the close, as one
/// refused by its length is (see [`crate::app::too_large`]).
async fn read_body(state: &ServerState, body: Body) -> Result<Bytes, Response> {
    use http_body_util::BodyExt as _;
    let max_body = state.options.max_body;
    let timeout = state.options.read_timeout;
    let mut body = body;
    let read = async {
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Some(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > max_body {
                    return Err(None::<String>);
                }
                bytes.extend_from_slice(data);
            }
        }
        Ok(Bytes::from(bytes))
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(Some(e))) => Err(error(StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}"))),
        Ok(Err(None)) => Err(crate::app::too_large(Some(body), max_body).await),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within the read timeout of {} ms", timeout.as_millis()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::http::Request as HttpRequest;
    use groupgate_audit::{DecisionSink, RecordedRequest, SinkError};
    use tower::ServiceExt as _;

    use crate::fixtures::{MESSAGE, runtime, write_set};
    use crate::state::Options;

    use super::*;

    /// Keeps every record in memory; refuses them once `broken`.
    #[derive(Default)]
    struct Memory {
        records: Mutex<Vec<DecisionRecord>>,
        broken: std::sync::atomic::AtomicBool,
    }

    impl DecisionSink for Memory {
        fn record(&self, record: DecisionRecord) -> Result<(), SinkError> {
            if self.broken.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(SinkError::Stopped);
            }
            self.records.lock().unwrap().push(record);
            Ok(())
        }
    }

    async fn post_message(state: &Arc<ServerState>) -> (StatusCode, serde_json::Value) {
        let request =
            HttpRequest::builder().method("POST").uri("/v1/evaluate/message").body(Body::from(MESSAGE)).unwrap();
        let response = crate::app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_decision_is_answered_only_once_its_sink_took_the_record() {
        let set = tempfile::tempdir().unwrap();
        let log = tempfile::tempdir().unwrap();
        let audit = format!("[audit]\ndir = {:?}\nrecord_content = \"digest\"\n", log.path().display().to_string());
        write_set(set.path(), &["a"], &audit);
        let memory = Arc::new(Memory::default());
        let mut options = Options::new(set.path());
        options.sink = Some(memory.clone());
        let state = ServerState::new(runtime(), options);
        assert!(state.reload("start").ok);

        let (status, answer) = post_message(&state).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        {
            let records = memory.records.lock().unwrap();
            let [record] = records.as_slice() else { panic!("one record, not {}", records.len()) };
            assert_eq!(answer["decision_id"], record.id.as_str());
            assert_eq!((record.hook, record.generation), (Hook::Message, 1));
            assert!(matches!(record.request, RecordedRequest::Digest(_)), "`record_content` applies");
            assert_eq!(&*record.policies[0].report.name, "a");
        }
        assert_eq!(std::fs::read_dir(log.path()).unwrap().count(), 0, "no segment is written beside the sink");

        memory.broken.store(true, std::sync::atomic::Ordering::Relaxed);
        let (status, answer) = post_message(&state).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer["error"], "the decision could not be recorded: the decision log has stopped");
    }

    #[test]
    fn a_set_leaves_probation_unless_it_was_slow_there_and_stays_inline_while_its_budget_lasts() {
        let ms = Duration::from_millis;
        let fast = Duration::from_micros(30);

        // On probation, up to the grace of slow decisions (instances being made).
        let placement = Placement::new(false);
        assert_eq!(placement.describe(), "probation");
        for _ in 0..PROBATION_GRACE {
            assert!(!placement.count(ms(5), false));
        }
        for _ in PROBATION_GRACE..PROBATION {
            assert!(!placement.count(fast, false));
        }
        assert_eq!(placement.describe(), "inline");
        // One over the grace, and the set stays on the pool.
        let spinning = Placement::new(false);
        for _ in 0..PROBATION_GRACE {
            assert!(!spinning.count(ms(50), false));
        }
        assert!(spinning.count(ms(50), false), "the grace is spent");
        assert_eq!(spinning.describe(), "blocking-pool");
        assert!(!spinning.count(ms(50), false), "sent away once");

        // Inline: a call that runs to a 100 ms deadline is more than the budget.
        let inline = || {
            let p = Placement::new(false);
            (0..PROBATION).for_each(|_| _ = p.count(fast, false));
            p
        };
        let p = inline();
        assert!(p.count(ms(100), true));
        assert_eq!(p.describe(), "blocking-pool");
        // Calls of 3 ms in a row: the seventh finds the budget spent.
        let p = inline();
        for n in 1..=6 {
            assert!(!p.count(ms(3), true), "call {n}");
        }
        assert!(p.count(ms(3), true));
        // A few ms charged now and then, once in ten thousand calls, never add up.
        let p = inline();
        for _ in 0..100 {
            (0..10_000).for_each(|_| assert!(!p.count(fast, true)));
            assert!(!p.count(ms(4), true));
        }
        assert_eq!(p.describe(), "inline");
        // A set that waits on something never leaves the pool.
        assert_eq!(Placement::new(true).describe(), "blocking-pool");
    }
}
