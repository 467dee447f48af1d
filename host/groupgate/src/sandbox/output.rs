//! Guest stdout/stderr: forwarded to `tracing` line by line, tagged with the
//! policy, and capped per call so a chatty policy cannot flood the host's log.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Bytes of guest output kept per call; the rest is counted and dropped.
pub(crate) const OUTPUT_CAP: usize = 16 * 1024;

/// One policy instance's output, shared by its stdout and stderr streams.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    inner: Arc<Mutex<Buffer>>,
    /// Set on write, so the end of a silent call costs a load, not a lock.
    written: Arc<AtomicBool>,
}

#[derive(Default)]
struct Buffer {
    kept: Vec<u8>,
    dropped: usize,
}

impl GuestOutput {
    pub(crate) fn new() -> Self {
        GuestOutput { inner: Arc::new(Mutex::new(Buffer::default())), written: Arc::new(AtomicBool::new(false)) }
    }

    fn append(&self, bytes: &[u8]) {
        self.written.store(true, Ordering::Relaxed);
        let mut buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = OUTPUT_CAP.saturating_sub(buf.kept.len());
        let take = room.min(bytes.len());
        buf.kept.extend_from_slice(&bytes[..take]);
        buf.dropped += bytes.len() - take;
    }

    /// Emits what the guest wrote during the call that just ended, and resets.
    pub(crate) fn flush_to_log(&self, policy: &str) {
        // A load first: most calls write nothing, and a swap is a locked
        // instruction on every call.
        if !self.written.load(Ordering::Relaxed) || !self.written.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if buf.kept.is_empty() && buf.dropped == 0 {
            return;
        }
        let text = String::from_utf8_lossy(&buf.kept);
        let mut lines = text.lines();
        for line in lines.by_ref().take(super::state::LOG_LINES_KEPT as usize) {
            tracing::info!(target: "groupgate::guest", policy, "{}", super::state::printable(line));
        }
        let more = lines.count();
        if more > 0 {
            tracing::warn!(target: "groupgate::guest", policy, dropped_lines = more, "guest output lines over the per-call cap were dropped");
        }
        if buf.dropped > 0 {
            tracing::warn!(target: "groupgate::guest", policy, dropped_bytes = buf.dropped, "guest output over the per-call cap was dropped");
        }
        buf.kept.clear();
        buf.dropped = 0;
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        // Never fail a write: a guest whose print fails would panic, and
        // dropping output is the cap's job, not an error.
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
