//! Builds the test guests in `guests/` from source and emits their paths as
//! constants (`groupgate_tests::guests::TRAP`, ...), so the tests never use a
//! prebuilt or downloaded component.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    "reject-init",
    "hostile",
    "other-contract",
    "text-fold",
    "counter",
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

    walkthrough(&out_dir, &mut consts);

    // The guests build on the SDK, the crates it uses and the contract.
    for shared in
        ["../plugins/sdk/src", "../plugins/sdk/Cargo.toml", "../plugins/encoding", "../plugins/text", "../wit"]
    {
        println!("cargo:rerun-if-changed={shared}");
    }
    std::fs::write(out_dir.join("guests.rs"), consts).unwrap();
}

/// Builds the policy that `plugins/README.md` walks an author through, from
/// the README's own code blocks, and emits the path of its component and of
/// its files (`groupgate_tests::walkthrough::*`), so a test can follow the
/// rest of the walkthrough.
fn walkthrough(out_dir: &Path, consts: &mut String) {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let readme_path = manifest_dir.join("../plugins/README.md");
    println!("cargo:rerun-if-changed={}", readme_path.display());
    let readme = std::fs::read_to_string(&readme_path).expect("plugins/README.md");
    let block = |name: &str| -> String {
        let marker = format!("<!-- walkthrough:{name} -->");
        let start = readme.find(&marker).unwrap_or_else(|| panic!("plugins/README.md has no `{marker}`"));
        let rest = &readme[start + marker.len()..];
        let code = rest.split_once("```").and_then(|(_, r)| r.split_once('\n')).map(|(_, r)| r).unwrap();
        code.split_once("\n```").map(|(c, _)| c).unwrap().to_owned() + "\n"
    };

    let krate = out_dir.join("walkthrough");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    // The README points at `../groupgate/plugins/sdk`; here that is this checkout's.
    let sdk = manifest_dir.join("../plugins/sdk").canonicalize().unwrap();
    let cargo_toml = block("Cargo.toml");
    let written = "path = \"../groupgate/plugins/sdk\"";
    assert!(cargo_toml.contains(written), "the walkthrough's Cargo.toml should depend on `{written}`");
    let cargo_toml = cargo_toml.replace(written, &format!("path = {:?}", sdk.display().to_string()));
    write_if_changed(&krate.join("Cargo.toml"), &cargo_toml);
    write_if_changed(&krate.join("src/lib.rs"), &block("src/lib.rs"));
    // Seeded from the plugins' lock file, so it resolves offline to the
    // versions already used there.
    if !krate.join("Cargo.lock").exists() {
        std::fs::copy(manifest_dir.join("../plugins/Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    }
    let built = groupgate_wasm_build::Guests::new(&krate).package("link-limit").offline().target_name("guests").build();
    let files =
        [("GROUPGATE_TOML", "groupgate.toml"), ("POLICY_TOML", "policy.toml"), ("CASES_TOML", "tests/cases.toml")];
    consts.push_str(
        "/// The policy built from `plugins/README.md`'s walkthrough, and its files.\npub mod walkthrough {\n",
    );
    writeln!(consts, "    /// The component.\n    pub const WASM: &str = {:?};", built[0].1.display().to_string())
        .unwrap();
    for (name, file) in files {
        writeln!(consts, "    /// The walkthrough's `{file}`.\n    pub const {name}: &str = {:?};", block(file))
            .unwrap();
    }
    consts.push_str("}\n");
}

/// Writes `contents` unless the file already holds them, so cargo does not
/// rebuild the crate for nothing.
fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).unwrap();
    }
}
