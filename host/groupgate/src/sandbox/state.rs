//! What the host keeps per policy instance: an empty WASI context, the memory
//! cap, and the per-call budget for log lines.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use wasmtime::ResourceLimiter;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::output::GuestOutput;
use crate::bindings::v1::log::Level as LogLevel;

/// Log lines written to the host log per call; more are counted and dropped.
pub(crate) const LOG_LINES_KEPT: u32 = 100;
/// Log lines per call past which the policy is stopped: it is flooding.
pub(crate) const LOG_LINES_MAX: u32 = 10_000;
/// Bytes of one log line (message plus fields) kept; the rest is cut.
const LOG_LINE_BYTES: usize = 2_048;

/// Why a call was stopped by the host rather than by the guest itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breach {
    /// The guest tried to grow memory past its cap.
    Memory,
    /// The guest wrote more than [`LOG_LINES_MAX`] log lines in one call.
    LogFlood,
}

/// What the host keeps for one policy instance (the data of its store):
/// its WASI context, memory cap, output and per-call budgets. Host
/// interfaces reach it on every call the policy makes to them.
pub struct PolicyState {
    wasi: WasiCtx,
    table: ResourceTable,
    policy: Arc<str>,
    memory_cap: usize,
    /// Bytes of linear memory across all of the instance's memories.
    memory_total: usize,
    pub(crate) output: GuestOutput,
    pub(crate) breach: Option<Breach>,
    log_lines: u32,
    log_dropped: u32,
    /// Lines dropped over the cap, for every instance of this policy.
    dropped_total: Arc<AtomicU64>,
    /// Calls begun, `init` included.
    calls: u64,
    /// What the call under way gave `verdict.explain` (contract 0.2.0).
    pub(crate) explained: Option<super::verdict::Explained>,
}

impl PolicyState {
    /// The name of the policy this instance runs.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// Calls this instance has begun, `init` included.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    pub(crate) fn new(policy: Arc<str>, memory_mb: u64, dropped_total: Arc<AtomicU64>) -> Self {
        let output = GuestOutput::new();
        // No preopens, environment or arguments (the builder grants none),
        // no network, clocks frozen at zero and randomness from a fixed seed:
        // a policy knows only its request, so its decisions are reproducible.
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(StdRng::seed_from_u64(0))
            .insecure_random(StdRng::seed_from_u64(1))
            .insecure_random_seed(0)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HOST_RESOURCES);
        PolicyState {
            calls: 0,
            explained: None,
            wasi,
            table,
            policy,
            memory_cap: usize::try_from(memory_mb * 1024 * 1024).unwrap_or(usize::MAX),
            memory_total: 0,
            output,
            breach: None,
            log_lines: 0,
            log_dropped: 0,
            dropped_total,
        }
    }

    /// The instance's WASI resources (streams, pollables).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// A pollable that is ready at once: what a wait on a frozen clock gives.
    pub(crate) fn ready_pollable(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let ready = self.table.push(Ready)?;
        subscribe(&mut self.table, ready)
    }

    /// Resets the per-call budgets.
    pub(crate) fn begin_call(&mut self) {
        self.calls += 1;
        self.breach = None;
        self.explained = None;
        self.log_lines = 0;
        self.log_dropped = 0;
    }

    /// Flushes output and reports lines over the cap.
    pub(crate) fn end_call(&mut self) {
        self.output.flush_to_log(&self.policy);
        if self.log_dropped > 0 {
            self.dropped_total.fetch_add(u64::from(self.log_dropped), std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(target: "groupgate::guest", policy = &*self.policy, dropped_lines = self.log_dropped,
                "log lines over the per-call cap of {LOG_LINES_KEPT} were dropped");
        }
    }

    /// The `log` import. Returns an error (trapping the guest) once it floods.
    pub(crate) fn log(&mut self, level: LogLevel, message: &str, fields: &[(String, String)]) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > LOG_LINES_MAX {
            self.breach = Some(Breach::LogFlood);
            wasmtime::bail!("policy wrote more than {LOG_LINES_MAX} log lines in one call");
        }
        if self.log_lines > LOG_LINES_KEPT {
            self.log_dropped += 1;
            return Ok(());
        }
        let mut fields_text = String::new();
        for (k, v) in fields {
            if fields_text.len() > LOG_LINE_BYTES {
                break;
            }
            fields_text.push_str(k);
            fields_text.push('=');
            fields_text.push_str(v);
            fields_text.push(' ');
        }
        let message = printable(truncate(message, LOG_LINE_BYTES));
        let fields_text = printable(truncate(fields_text.trim_end(), LOG_LINE_BYTES));
        let policy = &*self.policy;
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "groupgate::guest", policy, fields = &*fields_text, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "groupgate::guest", policy, fields = &*fields_text, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "groupgate::guest", policy, fields = &*fields_text, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "groupgate::guest", policy, fields = &*fields_text, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "groupgate::guest", policy, fields = &*fields_text, "{message}")
            }
        }
        Ok(())
    }
}

/// Always ready; see [`PolicyState::ready_pollable`].
struct Ready;

#[async_trait::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

/// A clock that always reads zero: time comes in the request, not the host.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// `s` with control characters (newlines, terminal escapes) escaped, so a
/// policy cannot forge or garble host log lines.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl WasiView for PolicyState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Most memories, tables and core instances one policy instance may create;
/// far above what a compiled policy needs, far below wasmtime's defaults.
const MAX_MEMORIES: usize = 16;
const MAX_TABLES: usize = 64;
const MAX_INSTANCES: usize = 64;
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Host-side resources (streams, pollables) one instance may hold at once.
pub(crate) const MAX_HOST_RESOURCES: usize = 1_024;

impl ResourceLimiter for PolicyState {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // The cap is on all of the instance's memories together.
        let total = self.memory_total - current + desired;
        if total > self.memory_cap {
            // Refuse the growth; the guest's allocator then aborts, and the
            // flag lets the host say it was the memory cap, not a plain trap.
            self.breach = Some(Breach::Memory);
            return Ok(false);
        }
        self.memory_total = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_in_guest_log_lines_are_escaped() {
        assert_eq!(printable("plain line ✓"), "plain line ✓");
        assert_eq!(printable("forged\nWARN admin\u{1b}[2J"), "forged\\nWARN admin\\u{1b}[2J");
    }
}
