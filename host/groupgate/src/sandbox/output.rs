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
/// Bytes of a failed call's last output given with its error: a panic's
/// message and location, an exception's last frames.
pub(crate) const TAIL_CAP: usize = 2 * 1024;
/// Lines of it, at most.
pub(crate) const TAIL_LINES: usize = 24;
/// Lines a language's runtime writes as any policy fails, which say nothing
/// of this failure: Rust's hint to set `RUST_BACKTRACE` (a policy cannot),
/// SpiderMonkey's note as JavaScript aborts.
const RUNTIME_NOISE: [&str; 2] = ["note: run with `RUST_BACKTRACE=1`", "Redirecting call to abort() to mozalloc_abort"];

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
    /// The latest bytes written past `kept`'s cap (at most twice
    /// [`TAIL_CAP`]): what a guest wrote last, which a failure shows.
    latest: Vec<u8>,
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
        if take < bytes.len() {
            let rest = &bytes[take..];
            let rest = &rest[rest.len().saturating_sub(TAIL_CAP)..];
            buf.latest.extend_from_slice(rest);
            if buf.latest.len() > 2 * TAIL_CAP {
                let cut = buf.latest.len() - TAIL_CAP;
                buf.latest.drain(..cut);
            }
        }
    }

    /// The last lines the guest wrote during this call, or `None` when it
    /// wrote nothing that says anything: given with a failure, they are what
    /// the guest said as it failed. Each line is escaped (no control
    /// characters), lines of its runtime's [`RUNTIME_NOISE`] are left out,
    /// and the whole is at most [`TAIL_CAP`] bytes and [`TAIL_LINES`] lines,
    /// with `…` first when earlier lines were left out.
    pub(crate) fn tail(&self) -> Option<String> {
        if !self.written.load(Ordering::Relaxed) {
            return None;
        }
        let buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Twice the cap of raw bytes is plenty for the cap of escaped text.
        let mut bytes = buf.kept[buf.kept.len().saturating_sub(2 * TAIL_CAP)..].to_vec();
        bytes.extend_from_slice(&buf.latest);
        let cut_before = bytes.len() > 2 * TAIL_CAP || buf.kept.len() > 2 * TAIL_CAP || buf.dropped > buf.latest.len();
        let bytes = &bytes[bytes.len().saturating_sub(2 * TAIL_CAP)..];
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty() && !RUNTIME_NOISE.iter().any(|n| l.starts_with(n)))
            .collect();
        let mut kept: Vec<String> = Vec::new();
        let mut size = 0;
        for line in lines.iter().rev() {
            let line = super::state::printable(line);
            if kept.len() == TAIL_LINES || size + line.len() + 1 > TAIL_CAP {
                break;
            }
            size += line.len() + 1;
            kept.push(line.into_owned());
        }
        if kept.is_empty() {
            return None;
        }
        if cut_before || kept.len() < lines.len() {
            kept.push("…".to_owned());
        }
        kept.reverse();
        Some(kept.join("\n"))
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
        buf.latest.clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_gets_the_last_lines_escaped_and_capped() {
        let out = GuestOutput::new();
        assert_eq!(out.tail(), None, "nothing written");
        out.append(b"first\nnote: run with `RUST_BACKTRACE=1` to see more\n\x1b[31mred\nlast");
        assert_eq!(out.tail().as_deref(), Some("first\n\\u{1b}[31mred\nlast"));
        out.flush_to_log("p");
        assert_eq!(out.tail(), None, "a call's output is gone with it");

        // Far more than both caps: the latest lines, under the caps.
        for n in 0..5000 {
            out.append(format!("line {n}\n").as_bytes());
        }
        let tail = out.tail().unwrap();
        assert!(tail.starts_with("…\n") && tail.ends_with("line 4999"), "{tail}");
        assert_eq!(tail.lines().count(), TAIL_LINES + 1);
        out.flush_to_log("p");

        // Escaping cannot take it past the cap, nor can a long line.
        out.append(&[0x1b; 3 * TAIL_CAP]);
        out.append("\né".repeat(10).as_bytes());
        let tail = out.tail().unwrap();
        assert!(tail.len() <= TAIL_CAP + "…\n".len(), "{}", tail.len());
        assert!(tail.ends_with('é'));
    }
}
