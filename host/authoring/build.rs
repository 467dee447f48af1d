//! Embeds what `groupgate new` and `groupgate build` write outside the
//! repository: the templates, the SDKs of the three languages (the Rust one
//! with the crates it depends on), the contract, and the pinned toolchains'
//! lock files. A binary installed anywhere then makes and builds policies
//! that match the contract it serves.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let mut out = String::new();
    // Each table: paths relative to `base`, in path order.
    let mut table = |name: &str, doc: &str, base: &Path, roots: &[&str]| {
        let mut files = Vec::new();
        for r in roots {
            let path = base.join(r);
            println!("cargo:rerun-if-changed={}", path.display());
            collect(base, &path, &mut files);
        }
        files.sort();
        writeln!(out, "/// {doc}\npub static {name}: &[(&str, &[u8])] = &[").unwrap();
        for (relative, absolute) in files {
            writeln!(out, "    ({relative:?}, include_bytes!({:?})),", absolute.display().to_string()).unwrap();
        }
        out.push_str("];\n");
    };
    table(
        "TEMPLATES",
        "The templates, relative to `plugins/templates`.",
        &root.join("plugins/templates"),
        &["common", "rust", "javascript", "python"],
    );
    table(
        "RUST_SDK",
        "The Rust SDK and the crates it depends on, with the contract, relative to the repository.",
        &root,
        &[
            "plugins/Cargo.toml",
            "plugins/Cargo.lock",
            "plugins/sdk/Cargo.toml",
            "plugins/sdk/src",
            "plugins/encoding/Cargo.toml",
            "plugins/encoding/src",
            "plugins/text/Cargo.toml",
            "plugins/text/build.rs",
            "plugins/text/src",
            "plugins/text/data",
            "wit/policy.wit",
        ],
    );
    table(
        "JS_SDK",
        "The JavaScript SDK module and its toolchain's lock files.",
        &root.join("plugins/sdk/js"),
        &["groupgate.js", "package.json", "package-lock.json"],
    );
    table(
        "PYTHON_SDK",
        "The Python SDK module and its toolchain's requirements.",
        &root.join("plugins/sdk/python"),
        &["groupgate.py", "requirements.txt"],
    );
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}

/// Every file at or under `path`, but hidden ones and Python's caches.
fn collect(base: &Path, path: &Path, files: &mut Vec<(String, PathBuf)>) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.starts_with('.') || name == "__pycache__" {
        return;
    }
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect(base, &entry.unwrap().path(), files);
        }
    } else {
        let relative = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
        files.push((relative, path.to_path_buf()));
    }
}
