//! Writing policies: `groupgate new` makes a policy folder from a template,
//! and `groupgate build` compiles the source in a policy folder (Rust,
//! JavaScript or Python) into the component its manifest names.
//!
//! Everything either needs from the repository (templates, the SDK of each
//! language, the contract, the toolchains' lock files) is embedded in the
//! binary at build time, so both work from any folder on any machine with
//! the language's toolchain, and always against the contract the binary
//! serves. Toolchains and build products live in a build folder outside the
//! policy set ([`default_build_dir`]): a set holds sources, manifests, data,
//! cases and components, nothing that `groupgate` did not ask for.

#![deny(missing_docs)]

mod compile;
mod lock;
mod scaffold;
mod template;
mod toolchain;

use std::path::PathBuf;

pub use compile::{Builder, Built, Plan, plan, policy_folders};
pub use scaffold::{Created, NewPolicy, create};
pub use toolchain::python_env;

/// The files embedded at build time (see `build.rs`).
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

    /// The contents of `path` in `table`.
    pub fn file(table: &[(&str, &'static [u8])], path: &str) -> &'static [u8] {
        table.iter().find(|(p, _)| *p == path).map(|(_, c)| *c).unwrap_or_else(|| panic!("`{path}` is not embedded"))
    }
}

/// The environment variable naming the build folder.
pub const BUILD_DIR_ENV: &str = "GROUPGATE_BUILD_DIR";

/// Where toolchains and build products are kept when no folder is named:
/// `$GROUPGATE_BUILD_DIR`, else `$XDG_CACHE_HOME/groupgate/build`, else
/// `~/.cache/groupgate/build`.
pub fn default_build_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var(BUILD_DIR_ENV) {
        return Ok(dir);
    }
    if let Some(cache) = var("XDG_CACHE_HOME") {
        return Ok(cache.join("groupgate/build"));
    }
    match var("HOME") {
        Some(home) => Ok(home.join(".cache/groupgate/build")),
        None => anyhow::bail!("no build folder: set {BUILD_DIR_ENV}, XDG_CACHE_HOME or HOME, or pass --build-dir"),
    }
}

/// The world a component is built against, named in full so that a build
/// never picks another version of the contract.
pub fn world() -> String {
    let (package, version) = groupgate::CONTRACT.split_once('@').expect("the contract names its version");
    format!("{package}/policy@{version}")
}
