//! Watching a [`Folder`](super::Folder): the folder is watched recursively,
//! and a burst of changes (an editor's save, a `cp -r` of a whole folder)
//! becomes one call of the watcher's callback once the folder has been
//! quiet for [`DEBOUNCE`]. The folder's identity is
//! also checked every [`RECHECK`]: when the path comes to name another folder
//! (it was replaced, renamed over, or a symlink was retargeted), or appears
//! after being missing, it is watched anew and the callback called.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::SourceError;

/// How long the folder must be quiet before the callback is called.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// A folder that never goes quiet still gets its callback this long after
/// its first change.
pub const MAX_WAIT: Duration = Duration::from_secs(2);
/// How often the folder's identity is checked.
pub const RECHECK: Duration = Duration::from_secs(1);

/// Keeps the folder watched while alive; dropping it stops the watching.
pub(super) struct FolderWatcher {
    stop: Arc<AtomicBool>,
}

impl Drop for FolderWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Watches the folder `root` and calls `changed` after it changed, on a
/// thread of its own (a reload compiles: it must never run on a request's
/// thread). A folder that does not exist yet is picked up when it appears.
pub(super) fn watch(root: &Path, changed: Box<dyn Fn() + Send>) -> Result<FolderWatcher, SourceError> {
    let failed = |cause: String| SourceError::Watch { path: root.to_path_buf(), cause };
    let (tx, rx) = mpsc::channel::<()>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) if !event.kind.is_access() => {
            let _ = tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("watching the policy folder: {e}"),
    })
    .map_err(|e| failed(e.to_string()))?;
    let path = root.to_path_buf();
    let mut folder = Watched { watcher, path, identity: None };
    folder.attach();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::Builder::new()
        .name("groupgate-reload".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match rx.recv_timeout(RECHECK) {
                    Ok(()) => {
                        settle(&rx);
                        changed();
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if folder.moved() {
                            tracing::info!(path = %folder.path.display(), "the policy folder was replaced; watching it anew");
                            folder.attach();
                            settle(&rx);
                            changed();
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .map_err(|e| failed(format!("cannot start the watching thread: {e}")))?;
    Ok(FolderWatcher { stop })
}

/// Waits until no change has come for [`DEBOUNCE`], or [`MAX_WAIT`] passed.
fn settle(rx: &mpsc::Receiver<()>) {
    let first = Instant::now();
    loop {
        let left = MAX_WAIT.saturating_sub(first.elapsed());
        match rx.recv_timeout(DEBOUNCE.min(left)) {
            Ok(()) if !left.is_zero() => continue,
            _ => return,
        }
    }
}

/// The watched folder: its path, and the identity of what the path named
/// when the watch was set.
struct Watched {
    watcher: RecommendedWatcher,
    path: PathBuf,
    identity: Option<Identity>,
}

impl Watched {
    /// Watches what the path names now.
    fn attach(&mut self) {
        if let Some(old) = self.identity.take() {
            let _ = self.watcher.unwatch(&old.resolved);
        }
        self.identity = identity(&self.path);
        if let Some(id) = &self.identity
            && let Err(e) = self.watcher.watch(&id.resolved, RecursiveMode::Recursive)
        {
            tracing::warn!(path = %self.path.display(), "cannot watch the policy folder: {e}");
            self.identity = None;
        }
        if self.identity.is_none() {
            tracing::warn!(path = %self.path.display(), "the policy folder is missing; it is picked up when it appears");
        }
    }

    /// Whether the path now names another folder than the one watched.
    fn moved(&self) -> bool {
        identity(&self.path) != self.identity
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Identity {
    resolved: PathBuf,
    #[cfg(unix)]
    inode: (u64, u64),
}

fn identity(path: &Path) -> Option<Identity> {
    let resolved = path.canonicalize().ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&resolved).ok()?;
        Some(Identity { resolved, inode: (meta.dev(), meta.ino()) })
    }
    #[cfg(not(unix))]
    Some(Identity { resolved })
}
