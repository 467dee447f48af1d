//! Serving: the first load, reloads on a change of the folder or on SIGHUP,
//! HTTP/1.1 connections with a header deadline, and a graceful shutdown on
//! SIGTERM or Ctrl-C that drains requests in flight and flushes the log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use groupgate::source::{SourceError, Watch};

use crate::app::app;
use crate::state::ServerState;

/// The longest a shutdown waits for requests in flight before it exits.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a server on `listener`: signal handlers first (so an early SIGHUP
/// cannot kill the process), then the first load on a blocking thread while
/// the server already answers (`/readyz` says 503 until a set is active),
/// the folder watched when `watching`, and serving until SIGTERM or Ctrl-C.
/// Then it stops accepting, lets requests in flight finish for at most
/// [`DRAIN_TIMEOUT`], and returns. SIGHUP reloads.
pub async fn serve(state: Arc<ServerState>, listener: tokio::net::TcpListener, watching: bool) -> std::io::Result<()> {
    let signals = Signals::install()?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, policies = %state.policies_from(), "serving");
    let _watch =
        if watching { Some(watch(state.clone()).map_err(|e| std::io::Error::other(e.to_string()))?) } else { None };
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

/// Reloads the state's policy set whenever its provider says another may be
/// there (a burst of changes once, a new digest at a registry's tag), on
/// the provider's thread, for as long as the returned [`Watch`] is kept.
pub fn watch(state: Arc<ServerState>) -> Result<Watch, SourceError> {
    let provider = state.options.provider.clone();
    provider.watch(Box::new(move |trigger| {
        state.reload(trigger);
    }))
}

/// Accepts connections until `shutdown` completes, serving each with HTTP/1.1
/// and a deadline of `read_timeout` for every request's headers (hyper closes
/// a connection whose client sends them too slowly, or idles that long
/// between requests). Returns the open connections, to be drained.
async fn accept(
    listener: tokio::net::TcpListener,
    router: Router,
    read_timeout: Duration,
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
                    tokio::time::sleep(Duration::from_millis(50)).await;
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

/// Reloads on every SIGHUP, on a blocking thread, one at a time.
fn spawn_reload_on(hangup: Option<tokio::signal::unix::Signal>, state: Arc<ServerState>) {
    let Some(mut hup) = hangup else { return };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.reload("signal")).await;
        }
    });
}
