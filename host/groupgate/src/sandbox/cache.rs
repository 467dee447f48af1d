//! Compiled components kept on disk, so a restart, or a reload that leaves a
//! large component unchanged, loads it in milliseconds instead of compiling
//! it again (seconds for a JavaScript or Python component).
//!
//! An entry is the engine's own serialisation of a compiled component, named
//! by the SHA-256 of the component's bytes, in a folder named by the engine's
//! configuration, behind a header that binds it to that source hash and
//! carries the SHA-256 of the compiled bytes. An entry whose header, length
//! or checksum does not hold, or that the engine refuses (another wasmtime
//! version or configuration), is removed and compiled again: it is never
//! handed to the engine unchecked.
//!
//! The checksum catches corruption (a torn write, a bad disk, a truncated
//! copy), not forgery: compiled code runs natively, so whoever can write the
//! cache folder can run code in the host. The folder is created private to
//! its owner (mode 0700 on Unix); keep it so (see SECURITY.md).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every entry.
const MAGIC: &[u8; 16] = b"groupgate-cwasm\0";
/// The entry format; a new one makes every old entry a miss.
const FORMAT: u32 = 1;
/// Magic, format, source hash, payload hash, payload length.
const HEADER_LEN: usize = 16 + 4 + 32 + 32 + 8;

/// A folder of compiled components for one engine configuration.
pub(crate) struct DiskCache {
    /// The folder the operator named.
    root: PathBuf,
    /// `root/<engine key>`, where the entries are.
    dir: PathBuf,
}

/// What looking up an entry found.
pub(crate) enum Lookup {
    /// A valid entry.
    Hit(Component),
    /// No entry.
    Miss,
    /// An entry that failed a check, now removed; why.
    Rejected(String),
}

impl DiskCache {
    /// Opens (creating it if needed) the cache in `root` for `engine`.
    /// Both folders must be this user's own and closed to everyone else:
    /// the entries are native code, so a folder others can write is refused.
    pub(crate) fn open(root: &Path, engine: &Engine) -> Result<DiskCache, String> {
        let dir = root.join(engine_key(engine));
        for folder in [root, &dir] {
            create_private_dir(folder)
                .map_err(|e| format!("cannot create the compile cache `{}`: {e}", folder.display()))?;
        }
        check_private(&dir).map_err(|e| format!("compile cache `{}`: {e}", dir.display()))?;
        check_private(root).map_err(|e| format!("compile cache `{}`: {e}", root.display()))?;
        Ok(DiskCache { root: root.to_path_buf(), dir })
    }

    /// The folder the operator named.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Where the entry for source hash `hash` lives.
    pub(crate) fn entry_path(&self, hash: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.cwasm", super::hex(hash)))
    }

    /// The compiled component for the source with SHA-256 `hash`, if a valid
    /// entry holds it. A bad entry is removed, so the next store replaces it.
    pub(crate) fn load(&self, engine: &Engine, hash: &[u8; 32]) -> Lookup {
        let path = self.entry_path(hash);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Rejected(format!("cannot read `{}`: {e}", path.display())),
        };
        let rejected = |why: String| {
            let _ = fs::remove_file(&path);
            Lookup::Rejected(format!("`{}` {why}", path.display()))
        };
        let payload = match check(&bytes, hash) {
            Ok(payload) => payload,
            Err(why) => return rejected(why),
        };
        // SAFETY: `payload` is byte for byte what `Component::serialize`
        // wrote for this source: the header binds it to the source hash and
        // its SHA-256 matches the one written with it. Bytes from another
        // wasmtime version or configuration are refused by `deserialize`
        // itself with an error. What no check here can catch is an entry
        // forged by someone who can write the cache folder; the folder is
        // private to its owner for that reason.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, payload) };
        match component {
            Ok(component) => Lookup::Hit(component),
            Err(e) => rejected(format!("was refused by the engine: {}", e.root_cause())),
        }
    }

    /// Writes the entry for `hash`. Written to a temporary file and renamed,
    /// so a reader sees the whole entry or none; a failure is only logged,
    /// since the component is compiled and usable either way.
    pub(crate) fn store(&self, hash: &[u8; 32], component: &Component) {
        if let Err(e) = self.try_store(hash, component) {
            tracing::warn!("cannot write to the compile cache `{}`: {e}", self.dir.display());
        }
    }

    fn try_store(&self, hash: &[u8; 32], component: &Component) -> Result<(), String> {
        let payload = component.serialize().map_err(|e| format!("cannot serialise the component: {e}"))?;
        let entry = encode(hash, &payload);
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| e.to_string())?;
        temp.write_all(&entry).map_err(|e| e.to_string())?;
        temp.persist(self.entry_path(hash)).map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// An entry: the header that [`check`] reads, then `payload`.
fn encode(hash: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(HEADER_LEN + payload.len());
    entry.extend_from_slice(MAGIC);
    entry.extend_from_slice(&FORMAT.to_le_bytes());
    entry.extend_from_slice(hash);
    entry.extend_from_slice(&Sha256::digest(payload));
    entry.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    entry.extend_from_slice(payload);
    entry
}

/// The payload of an entry for source `hash`, if its header holds.
fn check<'a>(bytes: &'a [u8], hash: &[u8; 32]) -> Result<&'a [u8], String> {
    if bytes.len() < HEADER_LEN || &bytes[..16] != MAGIC {
        return Err("is not a groupgate compile cache entry".into());
    }
    let (header, payload) = bytes.split_at(HEADER_LEN);
    let format = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
    if format != FORMAT {
        return Err(format!("has entry format {format}, not {FORMAT}"));
    }
    if &header[20..52] != hash {
        return Err("was compiled from other source bytes than its name says".into());
    }
    let len = u64::from_le_bytes(header[84..92].try_into().expect("8 bytes"));
    if len != payload.len() as u64 {
        return Err(format!("holds {} compiled bytes, its header says {len}", payload.len()));
    }
    if Sha256::digest(payload)[..] != header[52..84] {
        return Err("does not match its checksum".into());
    }
    Ok(payload)
}

/// A folder name for the engine's configuration: wasmtime's own hash of what
/// makes compiled code compatible (its version, target and settings), so two
/// configurations never overwrite each other's entries.
fn engine_key(engine: &Engine) -> String {
    use std::hash::Hash as _;
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = hasher.0.finalize();
    format!("engine-{}", super::hex(&digest[..8]))
}

/// A `Hasher` over SHA-256, stable across Rust releases (the standard
/// library's hashers promise no stable output).
struct Sha256Hasher(Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// `Err` unless `dir` belongs to the user running this process (the owner
/// of a file it creates there) and no one else may write to it. A folder
/// made by someone else first (under `/tmp`, say) could hold entries they
/// forged.
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("is not a folder".into());
    }
    let probe = tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("cannot write to it: {e}"))?;
    let me = probe.as_file().metadata().map_err(|e| e.to_string())?.uid();
    if meta.uid() != me {
        return Err(format!("belongs to user {}, not to this process's user {me}; refused", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("others may write to it (mode {:o}); refused: `chmod 700` it", meta.mode() & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_whose_checksum_holds_but_that_the_engine_refuses_is_removed() {
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(root.path(), &engine).unwrap();
        let hash = [3u8; 32];
        let path = cache.entry_path(&hash);
        std::fs::write(&path, encode(&hash, b"not compiled code at all")).unwrap();
        match cache.load(&engine, &hash) {
            Lookup::Rejected(why) => assert!(why.contains("refused by the engine"), "{why}"),
            _ => panic!("a foreign payload was not refused"),
        }
        assert!(!path.exists(), "the refused entry is removed");
        assert!(matches!(cache.load(&engine, &hash), Lookup::Miss));
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_folder_others_may_write_to_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        DiskCache::open(root.path(), &engine).unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = DiskCache::open(root.path(), &engine).err().unwrap();
        assert!(err.contains("others may write to it") && err.contains("777"), "{err}");
    }

    #[test]
    fn a_whole_entry_passes_and_every_damage_is_named() {
        let hash = [7u8; 32];
        let good = encode(&hash, b"compiled");
        assert_eq!(check(&good, &hash).unwrap(), b"compiled");

        assert!(check(&good, &[8u8; 32]).unwrap_err().contains("other source"));
        assert!(check(&good[..HEADER_LEN - 1], &hash).unwrap_err().contains("not a groupgate"));
        assert!(check(b"\0asm\x0d\0\x01\0", &hash).unwrap_err().contains("not a groupgate"));
        assert!(check(&good[..good.len() - 1], &hash).unwrap_err().contains("holds 7 compiled bytes"));
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(check(&flipped, &hash).unwrap_err().contains("checksum"));
        let mut future = good.clone();
        future[16] = 2;
        assert!(check(&future, &hash).unwrap_err().contains("format 2"));
    }
}
