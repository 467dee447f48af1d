//! Test-case files: the input is written as a set's `tests/fuzz.toml` and
//! collected and run by the same runner as `groupgate test`. Every outcome is
//! a result or an error naming the file; nothing panics.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use groupgate::PolicySet;
use groupgate_testing::{RunOptions, Suite, select};
use libfuzzer_sys::fuzz_target;

/// The runtime every input shares, with the standard plugins registered.
fn runtime() -> &'static groupgate::Runtime {
    static RUNTIME: std::sync::OnceLock<groupgate::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| groupgate_builtins::register(&mut groupgate::Runtime::builder()).build().unwrap())
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    set: PolicySet,
}

fn fixture() -> &'static Fixture {
    // Built in libFuzzer's init, before any input is timed: it compiles the
    // standard plugin, which an instrumented build does slowly.
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("groupgate.toml"), "").unwrap();
        let policy = root.join("words");
        std::fs::create_dir_all(policy.join("tests")).unwrap();
        std::fs::write(
            policy.join("policy.toml"),
            "name = \"words\"\nversion = \"1\"\nmodule = \"builtin:prohibited-content\"\n\
             hooks = [\"message\", \"group-creation\"]\n[data]\nwords = \"words.txt\"\n",
        )
        .unwrap();
        std::fs::write(policy.join("words.txt"), "zorblax\n").unwrap();
        std::fs::write(policy.join("tests/input.json"), "{}").unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        let set = PolicySet::load_dir(runtime(), &root).expect("the fixture set loads");
        Fixture { _dir: dir, root, set }
    })
}

fuzz_target!(init: { fixture(); }, |data: &[u8]| {
    let f = fixture();
    // Half the inputs are policy cases, half set cases.
    let file = if data.first().is_some_and(|b| b % 2 == 0) {
        f.root.join("words/tests/fuzz.toml")
    } else {
        f.root.join("tests/fuzz.toml")
    };
    std::fs::write(&file, data.get(1..).unwrap_or_default()).unwrap();
    if let Ok(selections) = select(std::slice::from_ref(&file)) {
        for selection in &selections {
            if let Ok(suite) = Suite::collect(&f.set, selection) {
                let report = suite.run(&f.set, &RunOptions::default());
                let _ = serde_json::to_string(&report.cases);
            }
        }
    }
    std::fs::remove_file(&file).unwrap();
});
