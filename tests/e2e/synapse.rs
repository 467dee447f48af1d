//! A real Matrix Synapse moderated by groupgate through the
//! `groupgate_synapse` module: `integrations/synapse/tests/e2e.py` makes a
//! virtual environment with `matrix-synapse` and the module (from the
//! package index), starts `groupgate serve` and Synapse on loopback ports,
//! and drives the Matrix client-server API through every case of
//! `integrations/synapse/README.md`. This test runs it with the `groupgate`
//! binary Cargo built, and fails with its output if any case fails.

use std::process::Command;

use groupgate_tests::repo_root;

#[test]
fn synapse_rooms_are_moderated_end_to_end() {
    let script = repo_root().join("integrations/synapse/tests/e2e.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--groupgate", env!("CARGO_BIN_EXE_groupgate")])
        .current_dir(repo_root())
        .output()
        .expect("python3 runs the Synapse end-to-end script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the Synapse end-to-end cases failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
