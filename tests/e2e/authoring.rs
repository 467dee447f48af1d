//! A policy author's loop, from an empty folder outside the repository:
//! `groupgate new` in Rust, JavaScript and Python, `groupgate build`, and
//! `groupgate test`, whose generated cases pass; then `groupgate test
//! --watch`, which builds an edited source again and shows the new result;
//! then a source that does not build.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use groupgate_tests::repo_root;

const GROUPGATE: &str = env!("CARGO_BIN_EXE_groupgate");

/// `groupgate ARGS` in `dir`, with the toolchains kept under `target/`.
fn groupgate(dir: &Path, args: &[&str]) -> Output {
    Command::new(GROUPGATE)
        .args(args)
        .current_dir(dir)
        .env("GROUPGATE_BUILD_DIR", super::polyglot::build_dir())
        .output()
        .expect("run groupgate")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_policy_made_by_new_in_each_language_builds_and_passes_its_cases_from_an_empty_folder() {
    let empty = tempfile::tempdir().unwrap();
    let set = empty.path();
    assert!(!set.starts_with(repo_root()), "the folder must be outside the repository");
    for args in [
        &["new", "rust", "rs-policy"][..],
        &["new", "js", "js-policy", "--hooks", "message,membership"],
        &["new", "python", "py-policy", "--hooks", "group-creation"],
    ] {
        let out = groupgate(set, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    // What was made stands on its own: nothing in it names the repository.
    let root = repo_root().display().to_string();
    for file in files(set) {
        let contents = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!contents.contains(&root), "`{}` names the repository", file.display());
    }

    let out = groupgate(set, &["build"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 built, 0 up to date, 0 failed"), "{}", text(&out));
    let again = groupgate(set, &["build"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 built, 3 up to date"), "{}", text(&again));

    let out = groupgate(set, &["test", "--json", "--fail-on-empty"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["sets"][0]["cases"].as_array().expect("the set's cases");
    for (policy, expected) in [("rs-policy", 7), ("js-policy", 5), ("py-policy", 2)] {
        let own: Vec<_> = cases.iter().filter(|c| c["policy"] == policy).collect();
        assert_eq!(own.len(), expected, "{policy}: {own:#?}");
        assert!(own.iter().all(|c| c["passed"] == true), "{own:#?}");
    }

    // An edit to a source under --watch: built again, and the rerun fails
    // the case that expected the old reason code.
    let mut child = Command::new(GROUPGATE)
        .args(["test", "--watch", "."])
        .current_dir(set)
        .env("GROUPGATE_BUILD_DIR", super::polyglot::build_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    let mut seen = Vec::new();
    let until = |done: &dyn Fn(&str) -> bool, seen: &mut Vec<String>| loop {
        let line = rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("waited in vain: {seen:#?}"));
        seen.push(line.clone());
        if done(&line) {
            return line;
        }
    };
    assert_eq!(until(&|l| l.contains(" passed, "), &mut seen), "14 passed, 0 failed", "{seen:#?}");
    until(&|l| l.starts_with("watching "), &mut seen);
    let source = set.join("js-policy/js-policy.js");
    let code = std::fs::read_to_string(&source).unwrap();
    assert!(code.contains("deny(\"blocked-term\""), "{code}");
    std::fs::write(&source, code.replace("deny(\"blocked-term\"", "deny(\"blocked-word\"")).unwrap();
    assert_eq!(until(&|l| l.contains(" passed, "), &mut seen), "13 passed, 1 failed", "{seen:#?}");
    assert!(seen.iter().any(|l| l.starts_with("built `js-policy` (javascript)")), "{seen:#?}");
    assert!(seen.iter().any(|l| l.starts_with("FAIL") && l.contains("blocked-word")), "{seen:#?}");
    child.kill().unwrap();
    child.wait().unwrap();

    // A source that does not build: the build says why in the toolchain's
    // words, exits 1, and leaves the component built before in place.
    let module = set.join("py-policy/py-policy.wasm");
    let before = std::fs::read(&module).unwrap();
    let app = set.join("py-policy/app.py");
    let code = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, code.replace("def allow()", "def allow(")).unwrap();
    let out = groupgate(set, &["build"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("FAILED `py-policy` (python): componentize-py on "), "{said}");
    assert!(said.contains("SyntaxError"), "the toolchain's own words: {said}");
    assert!(said.contains("0 built, 2 up to date, 1 failed"), "{said}");
    assert_eq!(std::fs::read(&module).unwrap(), before, "the component built before is kept");
}

/// Every file under `dir`, hidden ones (the build's own) left out.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            found.extend(files(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}
