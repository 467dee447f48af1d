//! The HTTP API held to its OpenAPI document: schemathesis (from PyPI, as
//! `tests/api/requirements.txt` pins it by hash, into a virtual environment
//! under `target/`) reads `GET /openapi.json` from `groupgate serve` on a copy of
//! the default set and sends every route positive and negative data, in
//! its examples, coverage and fuzzing phases (it has no stateful phase
//! here: no route takes a value another returns), checking
//! every answer's status, content type and body against the document and
//! that none is a server error. Its settings are `tests/api/schemathesis.toml`.
//! By hand, with the server running:
//!
//! ```sh
//! st --config-file tests/api/schemathesis.toml run http://127.0.0.1:8750/openapi.json
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use groupgate_tests::{copy_dir, repo_root, serve, stop};

/// The whole run's budget: fuzzing and stateful testing repeat until it is
/// spent, so it bounds the test's time (with the environment's making).
const BUDGET_SECS: &str = "120";

/// The pinned schemathesis, in a virtual environment that
/// `groupgate build`'s own installer makes once under `target/` and keeps
/// while the pins are unchanged.
fn schemathesis() -> PathBuf {
    let pins = std::fs::read(repo_root().join("tests/api/requirements.txt")).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let env = groupgate_authoring::python_env(dir, &pins, "schemathesis", &mut |what| eprintln!("{what}"))
        .unwrap_or_else(|e| panic!("tests/api/requirements.txt: {e:#}"));
    env.join("bin/st")
}

#[test]
fn the_server_keeps_to_its_openapi_document_under_schemathesis() {
    let st = schemathesis();
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("default");
    copy_dir(&repo_root().join("policies/default"), &set);
    let (server, addr) = serve(env!("CARGO_BIN_EXE_groupgate"), &set, &["--no-watch"]);
    let out = Command::new(&st)
        .arg("--config-file")
        .arg(repo_root().join("tests/api/schemathesis.toml"))
        .args(["--no-color", "run", "--max-time", BUDGET_SECS, "--request-timeout", "10"])
        .arg("--report-dir")
        .arg(work.path().join("report"))
        .arg(format!("http://{addr}/openapi.json"))
        .current_dir(work.path())
        .output()
        .unwrap();
    stop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found the server and its document apart:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
