//! Signed policy sets for a fleet of replicas.
//!
//! - [`sums`]: a set's digest, over every file it holds;
//! - [`signing`]: `groupgate.sum` signed as `ssh-keygen -Y sign -n
//!   groupgate` signs, and checked against an OpenSSH `allowed_signers`
//!   file ([`trust`]);
//! - [`oci`]: sets pushed to and pulled from OCI registries;
//! - [`provider`]: the server's providers of signed sets, a folder or a
//!   registry's tag, with the last set verified kept on disk.

#![deny(missing_docs)]

pub mod oci;
pub mod provider;
pub mod signing;
pub mod snapshot;
pub mod sums;
pub mod trust;

pub use oci::{OciRef, Registry, RegistryOptions};
pub use provider::{OciSource, SignedFolder};
pub use signing::{Signer, Verified, VerifyError, sign, verify, verify_untrusted};
pub use snapshot::Snapshot;
pub use trust::TrustedKeys;
