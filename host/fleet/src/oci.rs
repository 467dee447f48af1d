//! Policy sets as OCI artifacts. A set is one manifest of artifact type
//! `application/vnd.groupgate.set.v1`: a config blob
//! (`application/vnd.groupgate.set.config.v1+json`, the set's digest and
//! file count, for people; nothing trusts it), and one layer per file of the
//! set (`application/vnd.groupgate.set.file.v1`), named by its
//! `org.opencontainers.image.title` annotation as ORAS names files. The
//! signature travels inside the artifact as the set's own
//! `groupgate.sum` and `groupgate.sum.sig` files, so a set pulled is
//! checked exactly as a folder is, and a registry holds nothing beside it.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::snapshot::{MAX_SET_BYTES, Snapshot, safe_relative};
use crate::sums;

/// The manifest's artifact type.
pub const ARTIFACT_TYPE: &str = "application/vnd.groupgate.set.v1";
/// The config blob's media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.groupgate.set.config.v1+json";
/// Each file's layer media type.
pub const FILE_MEDIA_TYPE: &str = "application/vnd.groupgate.set.file.v1";
/// The annotation that names a layer's file.
const TITLE: &str = "org.opencontainers.image.title";
/// The most files a set pulled may hold.
const MAX_FILES: usize = 10_000;
/// How long connecting to a registry, and then each read, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest one call (a resolve, a whole pull or push) may take: a
/// registry that accepts and never answers must not hold a reload forever.
const CALL_DEADLINE: Duration = Duration::from_secs(600);

/// What an artifact holds that no retry will change: not a set, a path
/// that is not plain, over the bounds. A pull that fails so is refused,
/// not retried, until the tag moves.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidArtifact(pub String);

/// An `oci://HOST[:PORT]/REPO:TAG` (or `@sha256:…`) reference.
#[derive(Debug, Clone)]
pub struct OciRef {
    reference: Reference,
}

impl OciRef {
    /// Parses `oci://HOST[:PORT]/REPO:TAG` or `oci://HOST[:PORT]/REPO@sha256:…`.
    pub fn parse(text: &str) -> Result<OciRef, String> {
        let rest = text.strip_prefix("oci://").ok_or_else(|| format!("`{text}` does not start with `oci://`"))?;
        let (host, path) =
            rest.split_once('/').ok_or_else(|| format!("`{text}`: expected oci://HOST[:PORT]/REPO:TAG"))?;
        let last = path.rsplit('/').next().unwrap_or(path);
        if !last.contains(':') && !last.contains('@') {
            return Err(format!("`{text}`: name the tag (oci://{host}/{path}:TAG) or a digest (@sha256:…)"));
        }
        // Given whole, so the registry is never taken for Docker Hub's.
        let reference: Reference = rest.parse().map_err(|e| format!("`{text}`: {e}"))?;
        if reference.registry() != host {
            return Err(format!("`{text}`: `{host}` is not a registry host"));
        }
        Ok(OciRef { reference })
    }

    /// The registry, `HOST[:PORT]`.
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// The same repository at `digest`.
    pub fn at(&self, digest: &str) -> OciRef {
        OciRef {
            reference: Reference::with_digest(
                self.reference.registry().to_owned(),
                self.reference.repository().to_owned(),
                digest.to_owned(),
            ),
        }
    }

    /// A folder name for this repository: its registry and path, made safe.
    pub fn folder_name(&self) -> String {
        format!("{}/{}", self.reference.registry(), self.reference.repository())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
            .collect()
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci://{}", self.reference.whole())
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`HOST` or `HOST:PORT`) reached over plain HTTP. Loopback
    /// addresses always are; every other host needs HTTPS unless named.
    pub allow_http: Vec<String>,
    /// A user and password; without them, docker's `config.json` (and its
    /// credential helpers) is asked, then the registry is reached
    /// anonymously.
    pub credentials: Option<(String, String)>,
}

/// A client of the registry of one reference.
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    /// The client's own runtime: callers are blocking threads, some inside
    /// another runtime, so calls are spawned here and waited for. Always
    /// `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Dropped maybe inside the server's runtime, where a blocking
        // shutdown would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Registry {
    /// A client for the registry `of` names.
    pub fn new(of: &OciRef, options: &RegistryOptions) -> Result<Registry> {
        // rustls needs its cryptography chosen once per process: ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let registry = of.registry().to_owned();
        let protocol = if plain_http_allowed(&registry, &options.allow_http) {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            ..ClientConfig::default()
        });
        let auth = match &options.credentials {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => match docker_credential::get_credential(&registry) {
                Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
                    RegistryAuth::Basic(user, password)
                }
                Ok(docker_credential::DockerCredential::IdentityToken(token)) => RegistryAuth::Bearer(token),
                Err(_) => RegistryAuth::Anonymous,
            },
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("groupgate-oci")
            .enable_all()
            .build()?;
        Ok(Registry { client, auth, runtime: Some(runtime) })
    }

    /// Runs `work` on the client's runtime and waits for it.
    fn run<T: Send + 'static>(&self, work: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        let runtime = self.runtime.as_ref().ok_or_else(|| anyhow!("the registry client stopped"))?;
        runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        match rx.recv_timeout(CALL_DEADLINE) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                bail!("the registry did not finish within {CALL_DEADLINE:?}")
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => bail!("the registry client stopped"),
        }
    }

    /// The digest of the manifest `of` names now (one HEAD request).
    pub fn resolve(&self, of: &OciRef) -> Result<String> {
        let (client, auth, reference) = (self.client.clone(), self.auth.clone(), of.reference.clone());
        self.run(async move {
            client
                .fetch_manifest_digest(&reference, &auth)
                .await
                .with_context(|| format!("cannot resolve oci://{}", reference.whole()))
        })
    }

    /// Stores the set `snapshot` at `to`, every file as it is (checking it
    /// is the caller's part); the manifest's digest.
    pub fn push(&self, snapshot: &Snapshot, to: &OciRef) -> Result<String> {
        let layers: Vec<ImageLayer> = snapshot
            .files()
            .iter()
            .map(|(path, bytes)| {
                ImageLayer::new(
                    bytes.clone(),
                    FILE_MEDIA_TYPE.to_owned(),
                    Some(BTreeMap::from([(TITLE.to_owned(), path.clone())])),
                )
            })
            .collect();
        let digest = sums::listing(snapshot.files()).ok().map(|l| sums::digest_of(l.as_bytes()));
        let config = serde_json::json!({ "digest": digest, "files": snapshot.files().len() });
        let config = Config::new(serde_json::to_vec(&config)?, CONFIG_MEDIA_TYPE.to_owned(), None);
        let mut manifest = OciImageManifest::build(&layers, &config, None);
        manifest.artifact_type = Some(ARTIFACT_TYPE.to_owned());
        let (client, auth, reference) = (self.client.clone(), self.auth.clone(), to.reference.clone());
        self.run(async move {
            client
                .push(&reference, &layers, config, &auth, Some(manifest))
                .await
                .with_context(|| format!("cannot push to oci://{}", reference.whole()))?;
            client
                .fetch_manifest_digest(&reference, &auth)
                .await
                .context("pushed, but cannot read the manifest's digest back")
        })
    }

    /// The set stored at `at` (a reference by digest, so what is pulled is
    /// what was resolved), named from the folder `root`. Only this crate's
    /// artifacts are accepted, within [`MAX_SET_BYTES`].
    pub fn pull(&self, at: &OciRef, root: &Path) -> Result<Snapshot> {
        let (client, auth, reference) = (self.client.clone(), self.auth.clone(), at.reference.clone());
        let files = self.run(async move {
            let whole = reference.whole();
            let (manifest, _) = client
                .pull_image_manifest(&reference, &auth)
                .await
                .with_context(|| format!("cannot read the manifest of oci://{whole}"))?;
            let invalid = |why: String| anyhow::Error::new(InvalidArtifact(format!("oci://{whole}: {why}")));
            if manifest.config.media_type != CONFIG_MEDIA_TYPE {
                return Err(invalid(format!(
                    "not a groupgate policy set: its config is `{}`, not `{CONFIG_MEDIA_TYPE}` (push sets with `groupgate push`)",
                    manifest.config.media_type
                )));
            }
            if manifest.layers.len() > MAX_FILES {
                return Err(invalid(format!("{} files, more than {MAX_FILES}", manifest.layers.len())));
            }
            let mut total: u64 = 0;
            for layer in &manifest.layers {
                total = u64::try_from(layer.size).ok().and_then(|size| total.checked_add(size)).unwrap_or(u64::MAX);
            }
            if total > MAX_SET_BYTES {
                return Err(invalid(format!("its files add up to more than {MAX_SET_BYTES} bytes")));
            }
            let mut seen = HashSet::new();
            let mut files = BTreeMap::new();
            for layer in &manifest.layers {
                if layer.media_type != FILE_MEDIA_TYPE {
                    return Err(invalid(format!("a layer of type `{}` is not a set's file", layer.media_type)));
                }
                let path = layer
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(TITLE))
                    .ok_or_else(|| invalid(format!("a layer has no `{TITLE}` annotation naming its file")))?;
                safe_relative(path).map_err(|e| invalid(e.to_string()))?;
                if !seen.insert(path.clone()) {
                    return Err(invalid(format!("`{path}` is stored twice")));
                }
                // Sizes were bounded above; the blob is cut off past its own,
                // and the client checks it against its digest as it reads.
                let size = layer.size as usize;
                let mut out = Bounded { bytes: Vec::with_capacity(size), limit: size };
                client.pull_blob(&reference, layer, &mut out).await.with_context(|| format!("cannot pull `{path}` of oci://{whole}"))?;
                if out.bytes.len() != size {
                    return Err(invalid(format!("`{path}` is not the size its manifest says")));
                }
                files.insert(path.clone(), out.bytes);
            }
            Ok(files)
        })?;
        Ok(Snapshot::new(root, files))
    }
}

/// A blob's bytes, refused past `limit`: a registry cannot make a pull
/// read more than the manifest declared.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
}

impl tokio::io::AsyncWrite for Bounded {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.bytes.len() + data.len() > this.limit {
            return Poll::Ready(Err(std::io::Error::other("the blob is larger than its manifest says")));
        }
        this.bytes.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// Whether `registry` (`HOST[:PORT]`) may be reached over plain HTTP: a
/// loopback address, or a host `allowed` names (with or without its port).
pub fn plain_http_allowed(registry: &str, allowed: &[String]) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback || allowed.iter().any(|a| a == registry || a == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_registry_and_tag() {
        let r = OciRef::parse("oci://127.0.0.1:5000/sets/default:v1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/sets/default:v1");
        assert!(OciRef::parse("127.0.0.1:5000/sets:v1").unwrap_err().contains("oci://"));
        assert!(OciRef::parse("oci://127.0.0.1:5000/sets").unwrap_err().contains("name the tag"));
        assert!(
            OciRef::parse(
                "oci://registry.example.com/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            )
            .is_ok()
        );
    }

    #[test]
    fn only_sha256_digests_are_taken_from_a_registry() {
        assert!(is_sha256_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_sha256_digest("sha256:../../etc"));
        assert!(!is_sha256_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_sha256_digest(&format!("sha512:{}", "a".repeat(64))));
    }

    #[test]
    fn a_blob_cannot_grow_past_its_declared_size() {
        use tokio::io::AsyncWriteExt as _;
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut out = Bounded { bytes: Vec::new(), limit: 4 };
        runtime.block_on(async {
            out.write_all(b"abcd").await.unwrap();
            assert!(out.write_all(b"e").await.is_err());
        });
        assert_eq!(out.bytes, b"abcd");
    }

    #[test]
    fn plain_http_only_to_loopback_or_named_hosts() {
        assert!(plain_http_allowed("127.0.0.1:5000", &[]));
        assert!(plain_http_allowed("localhost:5000", &[]));
        assert!(plain_http_allowed("[::1]:5000", &[]));
        assert!(!plain_http_allowed("registry.internal:5000", &[]));
        assert!(plain_http_allowed("registry.internal:5000", &["registry.internal".into()]));
        assert!(!plain_http_allowed("10.0.0.1:5000", &["10.0.0.2".into()]));
    }
}
