//! The server's providers of signed sets: a folder whose set must be
//! signed, and a registry's tag polled for new versions, with the last set
//! verified kept on disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use groupgate::source::{Folder, SetSource as _, SourceError, Watch};
use groupgate_server::{Fetched, Origin, Provider};
use serde::{Deserialize, Serialize};

use crate::oci::{InvalidArtifact, OciRef, Registry, RegistryOptions};
use crate::signing::{Verified, verify};
use crate::snapshot::Snapshot;
use crate::trust::TrustedKeys;

/// The trusted keys file, read again on every fetch, so that a key added or
/// removed counts from the next reload on.
fn trusted(path: &Path) -> Result<TrustedKeys, String> {
    TrustedKeys::load(path).map_err(|e| format!("--trusted-keys: {e}"))
}

fn origin(source: String, verified: Verified) -> Origin {
    let mut origin = Origin::new(source);
    origin.digest = Some(verified.digest);
    origin.signer = Some(verified.signer.to_string());
    origin
}

/// A folder whose set is loaded only when signed by a trusted key: read
/// whole into memory, checked, and loaded from what was checked.
pub struct SignedFolder {
    folder: Folder,
    trusted_keys: PathBuf,
}

impl SignedFolder {
    /// The set in `dir`, trusted when `trusted_keys` trusts its signer.
    pub fn new(dir: impl Into<PathBuf>, trusted_keys: impl Into<PathBuf>) -> SignedFolder {
        SignedFolder { folder: Folder::new(dir), trusted_keys: trusted_keys.into() }
    }
}

impl Provider for SignedFolder {
    fn describe(&self) -> String {
        self.folder.root().display().to_string()
    }

    fn fetch(&self) -> Result<Fetched, String> {
        let trusted = trusted(&self.trusted_keys)?;
        let snapshot = Snapshot::read(&self.folder).map_err(|e| e.to_string())?;
        let verified = verify(snapshot.files(), &trusted).map_err(|e| format!("`{}`: {e}", self.describe()))?;
        Ok(Fetched { source: Arc::new(snapshot), origin: origin(self.describe(), verified) })
    }

    fn watch(&self, changed: Box<dyn Fn(&'static str) + Send>) -> Result<Watch, SourceError> {
        self.folder.watch(Box::new(move || changed("watch")))
    }
}

/// What `current.json` keeps: the set last activated.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Current {
    reference: String,
    manifest: String,
    digest: String,
    activated_at: String,
}

/// A tag in a registry, polled: a new manifest digest is pulled, verified
/// and handed to the reload; the set last activated is kept under the
/// state folder and served when the registry cannot be reached.
///
/// Under the state folder, each repository has a folder of its own
/// (`oci/HOST_PORT_REPO/`) holding `sets/MANIFEST-HEX/` (a verified set's
/// files, written whole or not at all) and `current.json` (which of them was
/// last activated, and for which tag). A state folder belongs to one
/// replica: two sharing one would prune each other's sets.
pub struct OciSource {
    inner: Arc<Inner>,
}

struct Inner {
    reference: OciRef,
    registry: Registry,
    trusted_keys: PathBuf,
    dir: PathBuf,
    poll: Duration,
    /// The manifest digest last fetched to an end (activated or refused):
    /// polling asks for a reload only when the tag's digest differs. It is
    /// `None` until the registry has answered once, so a replica that
    /// started on its kept set reloads from the registry when it answers.
    seen: Mutex<Option<String>>,
    /// Whether a set has been activated: from then on, a registry that
    /// cannot be reached leaves it serving (the reload fails) instead of
    /// swapping in the kept set.
    active: AtomicBool,
}

impl OciSource {
    /// The tag `reference`, verified with `trusted_keys`, kept under
    /// `state_dir`, polled every `poll`.
    pub fn new(
        reference: OciRef,
        options: &RegistryOptions,
        trusted_keys: impl Into<PathBuf>,
        state_dir: &Path,
        poll: Duration,
    ) -> anyhow::Result<OciSource> {
        let registry = Registry::new(&reference, options)?;
        let dir = state_dir.join("oci").join(reference.folder_name());
        std::fs::create_dir_all(dir.join("sets"))
            .map_err(|e| anyhow::anyhow!("cannot make the state folder `{}`: {e}", dir.display()))?;
        Ok(OciSource {
            inner: Arc::new(Inner {
                reference,
                registry,
                trusted_keys: trusted_keys.into(),
                dir,
                poll,
                seen: Mutex::new(None),
                active: AtomicBool::new(false),
            }),
        })
    }
}

impl Inner {
    fn set_dir(&self, manifest: &str) -> PathBuf {
        self.dir.join("sets").join(manifest.replace(':', "-"))
    }

    fn current_file(&self) -> PathBuf {
        self.dir.join("current.json")
    }

    /// The set at the tag now: pulled unless already kept, verified.
    fn fetch_live(&self, manifest: &str) -> Result<Fetched, Fetch> {
        // A trusted keys file that cannot be read is the operator's to fix;
        // the same digest is worth another try once it is.
        let trusted = trusted(&self.trusted_keys).map_err(Fetch::Local)?;
        let named = |e: String| format!("{} ({manifest}): {e}", self.reference);
        let folder = self.set_dir(manifest);
        if folder.is_dir() {
            let kept = Snapshot::read(&Folder::new(&folder)).map_err(|e| e.to_string()).and_then(|snapshot| {
                let verified = verify(snapshot.files(), &trusted).map_err(|e| e.to_string())?;
                Ok((snapshot, verified))
            });
            match kept {
                Ok((snapshot, verified)) => return Ok(self.fetched(snapshot, verified, manifest)),
                // Damaged on disk, or signed by a key no longer trusted:
                // pulled again, and judged as pulled.
                Err(e) => {
                    tracing::warn!("the kept set `{}` is pulled again: {e}", folder.display());
                    let _ = std::fs::remove_dir_all(&folder);
                }
            }
        }
        let at = self.reference.at(manifest);
        let snapshot = self.registry.pull(&at, &folder).map_err(|e| match e.downcast_ref::<InvalidArtifact>() {
            Some(_) => Fetch::Refused(format!("{e:#}")),
            None => Fetch::Retry(named(format!("{e:#}"))),
        })?;
        let verified = verify(snapshot.files(), &trusted).map_err(|e| Fetch::Refused(named(e.to_string())))?;
        // Kept only once verified: the folder holds nothing unchecked. The
        // test runner reads the set's cases from it.
        if let Err(e) = snapshot.write_to(&folder)
            && !folder.is_dir()
        {
            return Err(Fetch::Local(format!("cannot keep the verified set in `{}`: {e}", folder.display())));
        }
        Ok(self.fetched(snapshot, verified, manifest))
    }

    fn fetched(&self, snapshot: Snapshot, verified: Verified, manifest: &str) -> Fetched {
        let mut origin = origin(self.reference.to_string(), verified);
        origin.manifest = Some(manifest.to_owned());
        Fetched { source: Arc::new(snapshot), origin }
    }

    /// The set last activated, kept on disk, verified again.
    fn fetch_kept(&self, why: &str) -> Result<Fetched, String> {
        let none = || format!("{why}; and no verified set is kept in `{}` to serve meanwhile", self.dir.display());
        let text = std::fs::read_to_string(self.current_file()).map_err(|_| none())?;
        let current: Current =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", self.current_file().display()))?;
        let folder = self.set_dir(&current.manifest);
        let snapshot = Snapshot::read(&Folder::new(&folder)).map_err(|e| format!("{why}; the kept set: {e}"))?;
        let trusted = trusted(&self.trusted_keys)?;
        let verified = verify(snapshot.files(), &trusted)
            .map_err(|e| format!("{why}; the kept set `{}`: {e}", folder.display()))?;
        let mut origin = origin(self.reference.to_string(), verified);
        origin.manifest = Some(current.manifest.clone());
        origin.last_known_good = Some(format!(
            "{why}; serving the last verified set, activated at {}, kept in `{}`",
            current.activated_at,
            folder.display()
        ));
        Ok(Fetched { source: Arc::new(snapshot), origin })
    }

    /// Keeps `origin` as the last known good, and forgets older sets but the
    /// one before it.
    fn keep(&self, origin: &Origin) -> std::io::Result<()> {
        let (Some(manifest), Some(digest)) = (&origin.manifest, &origin.digest) else { return Ok(()) };
        let previous = std::fs::read_to_string(self.current_file())
            .ok()
            .and_then(|t| serde_json::from_str::<Current>(&t).ok())
            .map(|c| c.manifest);
        let current = Current {
            reference: origin.source.clone(),
            manifest: manifest.clone(),
            digest: digest.clone(),
            activated_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        };
        let staged = self.dir.join(".current.json.new");
        std::fs::write(&staged, serde_json::to_vec_pretty(&current)?)?;
        std::fs::rename(&staged, self.current_file())?;
        let keep = [Some(self.set_dir(manifest)), previous.map(|m| self.set_dir(&m))];
        for entry in std::fs::read_dir(self.dir.join("sets"))?.flatten() {
            if !keep.iter().flatten().any(|k| *k == entry.path()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }
}

/// How fetching the tag's set ended, when it did not.
enum Fetch {
    /// Something on this machine (the trusted keys file, the state folder):
    /// the set is refused, and the same digest tried again at the next poll.
    Local(String),
    /// The registry could not be reached or did not answer, or a pull was
    /// cut short: try again at the next poll (a replica with nothing active
    /// serves its kept set meanwhile).
    Retry(String),
    /// The set is refused: only a new digest is worth another try.
    Refused(String),
}

impl Provider for OciSource {
    fn describe(&self) -> String {
        self.inner.reference.to_string()
    }

    fn fetch(&self) -> Result<Fetched, String> {
        let inner = &self.inner;
        // Until a set is active, one kept on disk is better than none; after,
        // the active set is, and an outage only fails the reload.
        let or_kept = |why: String| {
            if inner.active.load(Ordering::Relaxed) {
                Err(format!("{why}; the active set keeps serving"))
            } else {
                inner.fetch_kept(&why)
            }
        };
        let manifest = match inner.registry.resolve(&inner.reference) {
            Ok(manifest) => manifest,
            Err(e) if e.downcast_ref::<InvalidArtifact>().is_some() => return Err(format!("{e:#}")),
            Err(e) => return or_kept(format!("{e:#}")),
        };
        let result = inner.fetch_live(&manifest);
        if let Ok(_) | Err(Fetch::Refused(_)) = &result {
            *inner.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(manifest);
        }
        match result {
            Ok(fetched) => Ok(fetched),
            Err(Fetch::Refused(e) | Fetch::Local(e)) => Err(e),
            Err(Fetch::Retry(e)) => or_kept(e),
        }
    }

    fn watch(&self, changed: Box<dyn Fn(&'static str) + Send>) -> Result<Watch, SourceError> {
        let inner = self.inner.clone();
        let (stop, stopped) = channel::<()>();
        std::thread::Builder::new()
            .name("groupgate-poll".into())
            .spawn(move || {
                let mut was_down = false;
                loop {
                    match stopped.recv_timeout(inner.poll) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    match inner.registry.resolve(&inner.reference) {
                        Ok(manifest) => {
                            if was_down {
                                tracing::info!("{} answers again", inner.reference);
                            }
                            was_down = false;
                            let seen = inner.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
                            if seen.as_deref() != Some(&manifest) {
                                changed("poll");
                            }
                        }
                        Err(e) => {
                            if !was_down {
                                tracing::warn!("polling {}: {e:#}; the current set keeps serving", inner.reference);
                            }
                            was_down = true;
                        }
                    }
                }
            })
            .map_err(|e| SourceError::Watch { path: self.inner.dir.clone(), cause: e.to_string() })?;
        Ok(Watch::new(stop))
    }

    fn activated(&self, origin: &Origin) {
        self.inner.active.store(true, Ordering::Relaxed);
        if origin.last_known_good.is_some() {
            return;
        }
        if let Err(e) = self.inner.keep(origin) {
            tracing::warn!("cannot record the set activated in `{}`: {e}", self.inner.dir.display());
        }
    }
}
