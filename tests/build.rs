//! Builds the test guests in `guests/` from source and emits their paths as
//! constants (`groupgate_tests::guests::TRAP`, ...), so the tests never use a
//! prebuilt or downloaded component.

use std::fmt::Write as _;
use std::path::PathBuf;

const GUESTS: &[&str] = &[
    "allow-all",
    "trap",
    "spin",
    "memory-bomb",
    "huge-verdict",
    "log-flood",
    "sandbox-probe",
    "sleeper",
    "unknown-import",
];

fn main() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut guests = groupgate_wasm_build::Guests::new("guests");
    for name in GUESTS {
        guests.package(name);
    }
    let mut consts = String::new();
    for (name, path) in guests.build() {
        let ident = name.to_uppercase().replace('-', "_");
        writeln!(consts, "/// The `{name}` test guest.\npub const {ident}: &str = {:?};", path.display().to_string())
            .unwrap();
    }

    // A core module is written in WAT: no Rust target emits one here.
    let wat = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("guests/core-module.wat");
    let core = wat::parse_file(&wat).expect("guests/core-module.wat");
    let core_path = out_dir.join("core-module.wasm");
    std::fs::write(&core_path, core).unwrap();
    writeln!(
        consts,
        "/// A core module, not a component.\npub const CORE_MODULE: &str = {:?};",
        core_path.display().to_string()
    )
    .unwrap();
    println!("cargo:rerun-if-changed={}", wat.display());

    // The guests build on the SDK, the text crate and the contract.
    for shared in ["../plugins/sdk", "../plugins/text", "../wit"] {
        println!("cargo:rerun-if-changed={shared}");
    }
    std::fs::write(out_dir.join("guests.rs"), consts).unwrap();
}
