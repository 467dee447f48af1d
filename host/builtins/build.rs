//! Compiles the standard plugins in `plugins/` for wasm32-wasip2 and embeds
//! them, so a plain `cargo build` yields a binary that loads
//! `policies/default` with nothing else to build or copy. The target is added
//! with rustup when it is missing.

use std::fmt::Write as _;
use std::path::PathBuf;

/// The plugins a manifest can name as `module = "builtin:NAME"`.
const BUILTIN: &[&str] = &[
    "prohibited-content",
    "real-name",
    "credit-levels",
    "group-limits",
    "blacklist",
    "flood-control",
    "repeat-offender",
    "group-violations",
    "complaints",
];

fn main() {
    let mut guests = groupgate_wasm_build::Guests::new("../../plugins");
    for name in BUILTIN {
        guests.package(name);
    }
    let mut table = String::from("/// The standard plugins, by name, as compiled components.\n");
    table.push_str("static BUILTIN: &[(&str, &[u8])] = &[\n");
    for (name, path) in guests.build() {
        writeln!(table, "    ({name:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("builtin.rs");
    std::fs::write(out, table).unwrap();
    println!("cargo:rerun-if-changed=../../wit");
}
