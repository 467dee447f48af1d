//! Compiles a cargo workspace of guest crates to `wasm32-wasip2` components
//! from inside a build script, so that `cargo build` of the host needs nothing
//! built or installed beforehand.
//!
//! ```no_run
//! let built = groupgate_wasm_build::Guests::new("../../plugins")
//!     .package("prohibited-content")
//!     .build();
//! for (name, path) in &built {
//!     println!("{name}: {}", path.display());
//! }
//! ```

#![deny(missing_docs)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target policies are built for.
pub const TARGET: &str = "wasm32-wasip2";
/// Names a rustup toolchain (`stable`, `1.95.0`) to build the guests with,
/// instead of the one building the host.
pub const GUEST_TOOLCHAIN: &str = "GROUPGATE_GUEST_TOOLCHAIN";

/// A set of guest packages in one cargo workspace, to be built as components.
pub struct Guests {
    workspace: PathBuf,
    packages: Vec<String>,
    locked: bool,
    target_name: Option<String>,
}

impl Guests {
    /// Guests in the cargo workspace at `workspace` (relative to the calling
    /// crate's manifest directory).
    pub fn new(workspace: impl AsRef<Path>) -> Self {
        let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
        Guests { workspace: manifest_dir.join(workspace), packages: Vec::new(), locked: true, target_name: None }
    }

    /// Builds without `--locked`, but `--offline`: for a workspace generated
    /// at build time, whose lock file is seeded from another workspace's and
    /// must gain an entry for the new package without reaching the network.
    pub fn offline(&mut self) -> &mut Self {
        self.locked = false;
        self
    }

    /// Builds into the guest target folder named `name` instead of the one
    /// named after the workspace, to reuse dependencies another workspace of
    /// guests has already compiled there.
    pub fn target_name(&mut self, name: &str) -> &mut Self {
        self.target_name = Some(name.to_owned());
        self
    }

    /// Adds a package (a `cdylib` crate) to build.
    pub fn package(&mut self, name: &str) -> &mut Self {
        self.packages.push(name.to_owned());
        self
    }

    /// Builds every package in release mode and returns each package name
    /// with the path of its `.wasm` component. Panics with the build's own
    /// diagnostics on failure, which is what a build script should do.
    pub fn build(&self) -> Vec<(String, PathBuf)> {
        // A host built by a toolchain without the target (a nightly for
        // `cargo fuzz`, say) can have the guests built by one that has it.
        println!("cargo:rerun-if-env-changed={GUEST_TOOLCHAIN}");
        let toolchain = env::var(GUEST_TOOLCHAIN).ok().filter(|t| !t.is_empty());
        if let Err(e) = ensure_target_installed(toolchain.as_deref(), &mut |m| println!("cargo:warning={m}")) {
            panic!("{e}");
        }
        let target_dir = guest_target_dir(&self.workspace, self.target_name.as_deref());
        let mut cmd = match &toolchain {
            Some(toolchain) => {
                let mut cmd = Command::new("rustup");
                cmd.args(["run", toolchain, "cargo"]);
                for var in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "RUSTC_WRAPPER"] {
                    cmd.env_remove(var);
                }
                cmd
            }
            None => Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into())),
        };
        cmd.current_dir(&self.workspace)
            .args(["build", "--release", if self.locked { "--locked" } else { "--offline" }, "--target", TARGET])
            .env("CARGO_TARGET_DIR", &target_dir);
        for package in &self.packages {
            cmd.args(["--package", package]);
        }
        // Settings meant for the host build must not leak into the guests'.
        for var in [
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_PRIMARY_PACKAGE",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd.status().expect("cannot run cargo to build the policy components");
        assert!(status.success(), "building the policy components in `{}` failed", self.workspace.display());

        println!("cargo:rerun-if-changed={}", self.workspace.display());
        let out = target_dir.join(TARGET).join("release");
        self.packages
            .iter()
            .map(|name| {
                let path = out.join(format!("{}.wasm", name.replace('-', "_")));
                assert!(path.exists(), "`{name}` built but `{}` is missing: is it a cdylib?", path.display());
                (name.clone(), path)
            })
            .collect()
    }
}

/// Where the guests of `workspace` are built: beside the host's own profiles
/// in the host's target directory, so debug and release builds share them.
fn guest_target_dir(workspace: &Path, name: Option<&str>) -> PathBuf {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("run from a build script"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out (with an extra
    // <triple> level when cross-compiling); the ancestor just above the
    // profile is the target directory.
    let target_root = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.clone());
    let name = match name {
        Some(name) => name.to_owned(),
        None => workspace.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    target_root.join("wasm-guests").join(name)
}

/// Adds the `wasm32-wasip2` target with rustup when the toolchain lacks it
/// (the one `RUSTC` or `rustc` names, or `toolchain` when given), since
/// rustup does not install targets on its own on every machine; `say` is told
/// before it installs. Errors say what failed and what to do.
pub fn ensure_target_installed(toolchain: Option<&str>, say: &mut dyn FnMut(&str)) -> Result<(), String> {
    let mut rustc = match toolchain {
        Some(toolchain) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", toolchain, "rustc"]).env_remove("RUSTC").env_remove("RUSTUP_TOOLCHAIN");
            cmd
        }
        None => Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into())),
    };
    let sysroot = rustc
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = &sysroot
        && sysroot.join("lib/rustlib").join(TARGET).exists()
    {
        return Ok(());
    }
    say(&format!("installing the {TARGET} target with rustup"));
    let mut add = Command::new("rustup");
    add.args(["target", "add", TARGET]);
    if let Some(toolchain) = toolchain {
        add.args(["--toolchain", toolchain]).env_remove("RUSTUP_TOOLCHAIN");
    }
    match add.status() {
        Ok(s) if s.success() => Ok(()),
        _ => Err(format!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed; install it and build again"
        )),
    }
}
