//! Hot reload: the policy folder is watched recursively, and a burst of
//! changes (an editor's save, a `cp -r` of a whole folder) becomes one reload
//! once the folder has been quiet for [`DEBOUNCE`].

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::state::ServerState;

/// How long the folder must be quiet before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// A folder that never goes quiet is still reloaded this often.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// Watches the state's policy folder and reloads on change, on a thread of
/// its own (reloads compile; they never run on a request's thread). Returns
/// the watcher, which stops watching when dropped.
pub fn watch(state: Arc<ServerState>) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) if !event.kind.is_access() => {
            let _ = tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("watching the policy folder: {e}"),
    })?;
    watcher.watch(Path::new(state.policies_dir()), RecursiveMode::Recursive)?;
    std::thread::Builder::new()
        .name("groupgate-reload".into())
        .spawn(move || {
            // Ends when the watcher, and with it the sender, is dropped.
            while rx.recv().is_ok() {
                let first = Instant::now();
                loop {
                    let left = MAX_WAIT.saturating_sub(first.elapsed());
                    match rx.recv_timeout(DEBOUNCE.min(left)) {
                        Ok(()) if !left.is_zero() => continue,
                        Ok(()) | Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                state.reload("watch");
            }
        })
        .map_err(|e| notify::Error::generic(&format!("cannot start the reload thread: {e}")))?;
    Ok(watcher)
}
