//! Signing a set and checking its signature: `groupgate.sum` (every file's
//! SHA-256, see [`crate::sums`]) signed as `ssh-keygen -Y sign -n groupgate`
//! signs a file, into `groupgate.sum.sig`. Either tool makes a signature
//! the other checks.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use groupgate::source::Folder;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::snapshot::Snapshot;
use crate::sums::{self, Mismatch, SIG_FILE, SUMS_FILE};
use crate::trust::{self, NAMESPACE, TrustedKeys, Untrusted};

/// Who signed a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The principals the trusted keys file gives the key.
    pub principals: String,
    /// The key: `ssh-ed25519 SHA256:…`.
    pub key: String,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.principals.as_str() {
            "" => write!(f, "{}", self.key),
            principals => write!(f, "{principals} ({})", self.key),
        }
    }
}

/// A set whose signature was checked.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The set's digest: `sha256:` over `groupgate.sum`.
    pub digest: String,
    /// Who signed it.
    pub signer: Signer,
}

/// Why a set's signature does not hold. Each names its cause as an
/// operator reads it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    /// No `groupgate.sum` or no `groupgate.sum.sig`.
    #[error("the set is not signed: it has no `{0}` (sign it with `groupgate sign --key KEY DIR`)")]
    Unsigned(&'static str),
    /// The signature file cannot be read as one.
    #[error("`{SIG_FILE}` is not an SSH signature: {0}")]
    Malformed(String),
    /// Signed for another use than groupgate's.
    #[error("`{SIG_FILE}` was made for the namespace `{0}`, not `{NAMESPACE}` (ssh-keygen -Y sign -n {NAMESPACE})")]
    Namespace(String),
    /// The signature does not match `groupgate.sum`.
    #[error(
        "`{SIG_FILE}` is not a valid signature of `{SUMS_FILE}` by the key it names ({key}): `{SUMS_FILE}` changed after signing, or the signature was forged"
    )]
    BadSignature {
        /// The key the signature names.
        key: String,
    },
    /// Signed by a key the trusted keys file does not trust.
    #[error("signed by {key}, which {why} in `{file}`")]
    Untrusted {
        /// The key.
        key: String,
        /// Why it is not trusted.
        why: String,
        /// The trusted keys file.
        file: String,
    },
    /// The files are not those that were signed.
    #[error("the set's files differ from those {signer} signed: {}", list(.mismatches))]
    Mismatch {
        /// Who signed the listing.
        signer: String,
        /// Every difference.
        mismatches: Vec<Mismatch>,
    },
    /// `groupgate.sum` is not a listing.
    #[error("{0}")]
    Listing(String),
}

fn list(mismatches: &[Mismatch]) -> String {
    mismatches.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Checks that `files` (a whole set: path → contents) carry a valid
/// signature, by a key `trusted` trusts now, over a listing of exactly
/// these files.
pub fn verify(files: &BTreeMap<String, Vec<u8>>, trusted: &TrustedKeys) -> Result<Verified, VerifyError> {
    check(files, Some(trusted))
}

/// Checks everything [`verify`] does but whether the key is trusted: for a
/// signer about to push a set, who may hold no trusted keys file. The
/// signer's principals are then empty.
pub fn verify_untrusted(files: &BTreeMap<String, Vec<u8>>) -> Result<Verified, VerifyError> {
    check(files, None)
}

fn check(files: &BTreeMap<String, Vec<u8>>, trusted: Option<&TrustedKeys>) -> Result<Verified, VerifyError> {
    let listing = files.get(SUMS_FILE).ok_or(VerifyError::Unsigned(SUMS_FILE))?;
    let signature = files.get(SIG_FILE).ok_or(VerifyError::Unsigned(SIG_FILE))?;
    let signature = SshSig::from_pem(signature).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if signature.namespace() != NAMESPACE {
        return Err(VerifyError::Namespace(signature.namespace().to_owned()));
    }
    let key = signature.public_key().clone();
    let described = trust::describe_key(&key);
    PublicKey::from(key.clone())
        .verify(NAMESPACE, listing, &signature)
        .map_err(|_| VerifyError::BadSignature { key: described.clone() })?;
    let principals = match trusted {
        None => "",
        Some(trusted) => trusted.principals_for(&key, SystemTime::now()).map_err(|why| VerifyError::Untrusted {
            key: described.clone(),
            why: match why {
                Untrusted::Unknown => "no line trusts".into(),
                Untrusted::Namespace => format!("is not trusted for the namespace `{NAMESPACE}`"),
                Untrusted::Expired(when) => format!("is trusted only {when}"),
            },
            file: trusted.file().to_owned(),
        })?,
    };
    let signer = Signer { principals: principals.to_owned(), key: described };
    check_listing(files, listing).map_err(|e| match e {
        ListingError::Mismatch(mismatches) => VerifyError::Mismatch { signer: signer.to_string(), mismatches },
        ListingError::Other(e) => VerifyError::Listing(e),
    })?;
    Ok(Verified { digest: sums::digest_of(listing), signer })
}

enum ListingError {
    Mismatch(Vec<Mismatch>),
    Other(String),
}

/// Checks that `listing` lists exactly `files`, in the canonical form.
fn check_listing(files: &BTreeMap<String, Vec<u8>>, listing: &[u8]) -> Result<(), ListingError> {
    let text = std::str::from_utf8(listing).map_err(|_| ListingError::Other(format!("`{SUMS_FILE}` is not UTF-8")))?;
    let signed = sums::parse(text).map_err(ListingError::Other)?;
    let mismatches = sums::compare(&signed, files);
    if !mismatches.is_empty() {
        return Err(ListingError::Mismatch(mismatches));
    }
    // The same entries: the text must also be the canonical one, so that one
    // set has one digest.
    if sums::listing(files).map_err(ListingError::Other)?.as_bytes() != listing {
        return Err(ListingError::Other(format!(
            "`{SUMS_FILE}` lists the right files but not in canonical form (sorted by path, `SHA-256  path`): write it with `groupgate sign`"
        )));
    }
    Ok(())
}

/// What `sign` did.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The set's digest.
    pub digest: String,
    /// How many files the listing covers.
    pub files: usize,
    /// The key that signed, if one did.
    pub key: Option<String>,
}

/// Writes `groupgate.sum` for the set in `dir` and, given a private key,
/// `groupgate.sum.sig` (an old signature is removed first, so a set is
/// never left with one that does not match its listing).
pub fn sign(dir: &Path, key: Option<&Path>) -> anyhow::Result<Signed> {
    use anyhow::Context as _;
    let private = key
        .map(|path| {
            let key = PrivateKey::read_openssh_file(path).with_context(|| format!("`{}`: not an OpenSSH private key", path.display()))?;
            anyhow::ensure!(
                !key.is_encrypted(),
                "`{}` is protected by a passphrase: sign with `ssh-keygen -Y sign -n {NAMESPACE} -f {} {}` instead (it asks for the passphrase, or uses ssh-agent), after `groupgate sign --sums-only`",
                path.display(),
                path.display(),
                dir.join(SUMS_FILE).display()
            );
            Ok(key)
        })
        .transpose()?;
    anyhow::ensure!(
        dir.join(groupgate::SET_FILE).is_file(),
        "`{}` is not a policy set: it has no `{}`",
        dir.display(),
        groupgate::SET_FILE
    );
    let snapshot = Snapshot::read(&Folder::new(dir))?;
    let listing = sums::listing(snapshot.files()).map_err(anyhow::Error::msg)?;
    let _ = std::fs::remove_file(dir.join(SIG_FILE));
    std::fs::write(dir.join(SUMS_FILE), &listing)
        .with_context(|| format!("cannot write `{}`", dir.join(SUMS_FILE).display()))?;
    let described = match private {
        Some(private) => {
            let signature = private.sign(NAMESPACE, HashAlg::Sha512, listing.as_bytes())?;
            std::fs::write(dir.join(SIG_FILE), signature.to_pem(LineEnding::LF)?)
                .with_context(|| format!("cannot write `{}`", dir.join(SIG_FILE).display()))?;
            Some(trust::describe_key(private.public_key().key_data()))
        }
        None => None,
    };
    Ok(Signed {
        digest: sums::digest_of(listing.as_bytes()),
        files: snapshot.files().keys().filter(|p| !sums::is_signature_file(p)).count(),
        key: described,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
        let key = dir.join(name);
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        (key, public)
    }

    fn set(dir: &Path) {
        std::fs::write(dir.join(groupgate::SET_FILE), "name = \"t\"\n").unwrap();
        std::fs::create_dir(dir.join("p")).unwrap();
        std::fs::write(dir.join("p/words.txt"), "a\n").unwrap();
    }

    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        Snapshot::read(&Folder::new(dir)).unwrap().files().clone()
    }

    #[test]
    fn signed_sets_verify_and_every_tampering_is_named() {
        let keys = tempfile::tempdir().unwrap();
        let (key, public) = keypair(keys.path(), "ci");
        let (other, _) = keypair(keys.path(), "intruder");
        let trusted = TrustedKeys::parse(&format!("ci@example.com {public}"), "trusted").unwrap();
        let dir = tempfile::tempdir().unwrap();
        set(dir.path());
        let err = verify(&files(dir.path()), &trusted).unwrap_err();
        assert!(matches!(err, VerifyError::Unsigned(SUMS_FILE)), "{err}");

        let signed = sign(dir.path(), Some(&key)).unwrap();
        assert_eq!(signed.files, 2);
        let verified = verify(&files(dir.path()), &trusted).unwrap();
        assert_eq!(verified.digest, signed.digest);
        assert_eq!(verified.signer.principals, "ci@example.com");

        std::fs::write(dir.path().join("p/words.txt"), "b\n").unwrap();
        std::fs::write(dir.path().join("p/new.txt"), "").unwrap();
        let err = verify(&files(dir.path()), &trusted).unwrap_err().to_string();
        assert!(err.contains("`p/words.txt` changed") && err.contains("`p/new.txt` was added"), "{err}");

        sign(dir.path(), Some(&other)).unwrap();
        let err = verify(&files(dir.path()), &trusted).unwrap_err().to_string();
        assert!(err.contains("signed by ssh-ed25519 SHA256:") && err.contains("no line trusts"), "{err}");

        sign(dir.path(), Some(&key)).unwrap();
        let mut tampered = files(dir.path());
        tampered.insert(SUMS_FILE.into(), format!("{}  x\n", sums::sha256_hex(b"")).into_bytes());
        let err = verify(&tampered, &trusted).unwrap_err();
        assert!(matches!(err, VerifyError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn ssh_keygen_checks_our_signature_and_we_check_its() {
        let keys = tempfile::tempdir().unwrap();
        let (key, public) = keypair(keys.path(), "ci");
        let allowed = keys.path().join("allowed_signers");
        std::fs::write(&allowed, format!("ci@example.com {public}")).unwrap();
        let trusted = TrustedKeys::load(&allowed).unwrap();
        let dir = tempfile::tempdir().unwrap();
        set(dir.path());
        sign(dir.path(), Some(&key)).unwrap();
        let checked = std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", NAMESPACE, "-I", "ci@example.com", "-f"])
            .arg(&allowed)
            .arg("-s")
            .arg(dir.path().join(SIG_FILE))
            .stdin(std::fs::File::open(dir.path().join(SUMS_FILE)).unwrap())
            .output()
            .unwrap();
        assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));

        sign(dir.path(), None).unwrap();
        assert!(!dir.path().join(SIG_FILE).exists(), "--sums-only leaves no stale signature");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
            .arg(&key)
            .arg(dir.path().join(SUMS_FILE))
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(verify(&files(dir.path()), &trusted).unwrap().signer.principals, "ci@example.com");
    }
}
