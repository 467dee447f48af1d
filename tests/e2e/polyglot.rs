//! Policies written in JavaScript and Python beside a Rust one, in the set
//! `policies/polyglot`. `groupgate build` builds `link-guard`
//! (componentize-js) and `group-naming` (componentize-py) from the sources
//! in their policy folders, its toolchains installed from npm and PyPI as
//! their lock files pin them; then
//! `groupgate test` runs the set's cases, both policies fold disguised text
//! through the host's `text` interface, and a server serving all three
//! languages reloads an edited JavaScript policy under load without failing
//! a request, and restarts from its compile cache without compiling.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use groupgate_tests::http::Client;
use groupgate_tests::{copy_dir, repo_root};

const GROUPGATE: &str = env!("CARGO_BIN_EXE_groupgate");

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Where the builds keep their toolchains: under `target/`, shared by every
/// test that builds and kept between runs.
pub(crate) fn build_dir() -> std::path::PathBuf {
    repo_root().join("target/components")
}

/// `groupgate build PATH`, which must succeed.
pub(crate) fn build(path: &Path) {
    let out = Command::new(GROUPGATE)
        .arg("build")
        .arg(path)
        .arg("--build-dir")
        .arg(build_dir())
        .output()
        .expect("run groupgate build");
    assert!(out.status.success(), "groupgate build {} failed:\n{}", path.display(), text(&out));
}

/// Builds the JavaScript and Python components, once per test run.
fn built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build(&repo_root().join("policies/polyglot")));
}

#[test]
fn groupgate_test_passes_on_the_set_of_three_languages() {
    built();
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(GROUPGATE)
        .args(["test", "--json", "policies/polyglot", "--cache-dir", cache.path().to_str().unwrap()])
        .current_dir(repo_root())
        .output()
        .expect("run groupgate test");
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["sets"][0]["cases"].as_array().expect("the set's cases");
    let of = |policy: &str| {
        let own: Vec<_> = cases.iter().filter(|c| c["policy"] == policy).collect();
        assert!(own.iter().all(|c| c["passed"] == true), "{own:#?}");
        own.len()
    };
    let (js, py) = (of("link-guard"), of("group-naming"));
    assert!(js >= 8 && py >= 8, "link-guard has {js} cases, group-naming {py}: at least 8 each");
    assert_eq!(report["failed"], 0, "{report:#}");
    println!("link-guard (JavaScript): {js} cases; group-naming (Python): {py} cases; all passed");
}

#[test]
fn the_javascript_and_python_sdks_read_the_request_encoding_as_the_rust_reader_does() {
    // Node and Python are there once the components are built.
    built();
    for (tool, script) in [("node", "plugins/sdk/js/test.mjs"), ("python3", "plugins/sdk/python/test_groupgate.py")] {
        let out = Command::new(tool).arg(repo_root().join(script)).output().expect("run the SDK's test");
        assert!(out.status.success(), "{script}:\n{}", text(&out));
    }
}

/// `groupgate eval` of `request` on `policies/polyglot`: the decision.
fn eval(hook: &str, request: &str, cache: &Path) -> serde_json::Value {
    eval_on(Path::new("policies/polyglot"), hook, request, cache)
}

/// `groupgate eval` of `request` on the set `set`: the decision.
fn eval_on(set: &Path, hook: &str, request: &str, cache: &Path) -> serde_json::Value {
    use std::io::Write as _;
    let mut child = Command::new(GROUPGATE)
        .args([
            "eval",
            "--policies",
            set.to_str().unwrap(),
            "--hook",
            hook,
            "--cache-dir",
            cache.to_str().unwrap(),
            "-",
        ])
        .current_dir(repo_root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run groupgate eval");
    child.stdin.take().unwrap().write_all(request.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)))
}

#[test]
fn the_javascript_and_python_policies_fold_disguised_text_through_the_host() {
    built();
    let cache = tempfile::tempdir().unwrap();
    let user = r#"{ "id": "usr-42", "identity_verified": true, "credit_level": 3, "region": "CN-11", "groups_created": 1, "groups_joined": 2, "labels": [] }"#;
    let group = r#"{ "id": "grp-7", "name": "Riverside cycling club", "category": "community", "region": "CN-11", "member_count": 42, "member_limit": 500, "founder_id": "usr-1" }"#;
    // JavaScript: a blocked domain written with a Cyrillic `о` (U+043E) and
    // with mathematical letters, read as Latin by `groupgate.fold`.
    let message = format!(
        r#"{{ "id": "msg-1", "group": {group}, "sender": {user}, "sender_role": "member", "text": "cheap at https://z\u043erblax.example and https://\ud835\udc1f\ud835\udc2bee-qwexium.example", "attachments": [], "sent_at": 1764316800000 }}"#
    );
    let decision = eval("message", &message, cache.path());
    assert_eq!(decision["outcome"], "deny", "{decision:#}");
    let evidence: Vec<_> = decision["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == "link-guard" && r["code"] == "blocked-link")
        .map(|r| r["evidence"].as_str().unwrap())
        .collect();
    assert_eq!(evidence, ["zorblax.example", "free-qwexium.example"], "{decision:#}");
    // Python: an official term with a Cyrillic `о` and digits for letters,
    // found by `groupgate.fold` and quoted from the name by its offsets.
    let creation = format!(
        r#"{{ "id": "req-1", "founder": {user}, "name": "G\u043evernment P0L1CE", "description": "", "category": "community", "region": "CN-11", "member_limit": 100, "requested_at": 1764316800000 }}"#
    );
    let decision = eval("group-creation", &creation, cache.path());
    assert_eq!(decision["outcome"], "review", "{decision:#}");
    let reason = &decision["reasons"][0];
    assert_eq!(reason["policy"], "group-naming", "{decision:#}");
    assert_eq!(reason["code"], "impersonates-official-body", "{decision:#}");
    assert_eq!(reason["evidence"], "government, written `G\u{43e}vernment`", "{decision:#}");
}

/// Requests in all three languages' hooks, with what each must decide.
fn requests() -> Vec<(&'static str, String, &'static str)> {
    let group = r#"{ "id": "grp-7", "name": "Riverside cycling club", "category": "community", "region": "CN-11", "member_count": 42, "member_limit": 500, "founder_id": "usr-1" }"#;
    let user = |id: &str, verified: bool| {
        format!(
            r#"{{ "id": "{id}", "identity_verified": {verified}, "credit_level": 3, "region": "CN-11", "groups_created": 1, "groups_joined": 2, "labels": [] }}"#
        )
    };
    let message = |sender: String, text: &str| {
        format!(
            r#"{{ "id": "msg-1", "group": {group}, "sender": {sender}, "sender_role": "member", "text": "{text}", "attachments": [], "sent_at": 1764316800000 }}"#
        )
    };
    let creation = format!(
        r#"{{ "id": "req-1", "founder": {}, "name": "City police notices", "description": "", "category": "community", "region": "CN-11", "member_limit": 100, "requested_at": 1764316800000 }}"#,
        user("usr-42", true)
    );
    vec![
        // JavaScript: a doubtful link domain.
        ("/v1/evaluate/message", message(user("usr-42", true), "see https://short.example/x"), "review"),
        // Python: an official-sounding group name.
        ("/v1/evaluate/group-creation", creation, "review"),
        // Rust: an unverified sender.
        ("/v1/evaluate/message", message(user("usr-43", false), "hello"), "deny"),
    ]
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Polls `/v1/policies` until `done` holds of it, for at most `limit`; on a
/// new connection each time, since the server closes idle ones.
fn wait_for(addr: SocketAddr, limit: Duration, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let v = json(&Client::connect(addr).unwrap().get("/v1/policies").unwrap().1);
        if done(&v) {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out: {v:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The SHA-256 of a file, in hex, as `/v1/policies` shows a module's.
fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("run sha256sum");
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// The value of the metric `name` in a `/metrics` text.
fn metric(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{metrics}"))
}

/// Applies `edit` to `file` of the policy folder `policy` and builds it
/// there, as its author would: the component is moved in whole, so a server
/// watching the set never sees half of one.
fn edit_and_build(policy: &Path, file: &str, edit: (&str, &str)) {
    let path = policy.join(file);
    let source = std::fs::read_to_string(&path).unwrap();
    assert!(source.contains(edit.0), "{file} no longer says `{}`", edit.0);
    std::fs::write(&path, source.replace(edit.0, edit.1)).unwrap();
    build(policy);
}

#[test]
fn a_javascript_policy_that_throws_and_a_python_policy_that_raises_say_so_in_their_own_words() {
    built();
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    copy_dir(&repo_root().join("policies/polyglot"), &set);
    edit_and_build(
        &set.join("link-guard"),
        "link-guard.js",
        (
            "export function evaluateMessage(bytes) {",
            "export function evaluateMessage(bytes) {\n    throw new Error(`no rule for ${bytes.length} bytes`);",
        ),
    );
    edit_and_build(
        &set.join("group-naming"),
        "app.py",
        (
            "    def evaluate_group_creation(self, creation: bytes) -> types.Outcome:\n",
            "    def evaluate_group_creation(self, creation: bytes) -> types.Outcome:\n        raise ValueError('no rule for this group')\n",
        ),
    );
    let cache = tmp.path().join("cache");
    let error_of = |decision: &serde_json::Value, policy: &str| -> String {
        let report = decision["policies"].as_array().unwrap().iter().find(|p| p["name"] == policy);
        let error = report.and_then(|p| p["error"].as_str());
        error.unwrap_or_else(|| panic!("`{policy}` should have failed: {decision:#}")).to_owned()
    };
    let message = std::fs::read_to_string(repo_root().join("examples/message.json")).unwrap();
    let js_error = error_of(&eval_on(&set, "message", &message, &cache), "link-guard");
    assert!(js_error.contains("policy output:\nno rule for ") && js_error.contains(" bytes\nStack:"), "{js_error}");
    assert!(js_error.contains("evaluateMessage@link-guard.js:"), "the stack names the function: {js_error}");
    assert!(!js_error.contains("mozalloc_abort"), "{js_error}");
    let creation = std::fs::read_to_string(repo_root().join("examples/group-creation.json")).unwrap();
    let py_error = error_of(&eval_on(&set, "group-creation", &creation, &cache), "group-naming");
    assert!(py_error.contains("Traceback (most recent call last):"), "{py_error}");
    assert!(py_error.contains("in evaluate_group_creation\nValueError: no rule for this group"), "{py_error}");

    // The set's own cases now fail, and the FAIL lines say why in the
    // policies' words.
    let out = Command::new(GROUPGATE)
        .args(["test", set.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()])
        .output()
        .unwrap();
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let fail = report.lines().position(|l| l.starts_with("FAIL")).unwrap_or_else(|| panic!("{report}"));
    let continued = |needle: &str| report.lines().skip(fail).any(|l| l.starts_with("      | ") && l.contains(needle));
    assert!(continued("ValueError: no rule for this group"), "{report}");
    assert!(continued("evaluateMessage@link-guard.js:"), "{report}");
}

#[test]
fn a_server_of_three_languages_reloads_an_edited_javascript_policy_under_load_and_restarts_from_its_cache() {
    built();
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("set");
    copy_dir(&repo_root().join("policies/polyglot"), &set);
    let cache = work.path().join("cache");
    let flags = ["--cache-dir", cache.to_str().unwrap()];

    // Cold: every component is compiled.
    let started = Instant::now();
    let (child, addr) = groupgate_tests::serve(GROUPGATE, &set, &flags);
    let cold = started.elapsed();
    let mut control = Client::connect(addr).unwrap();
    let metrics = control.get("/metrics").unwrap().1;
    assert_eq!(metric(&metrics, "groupgate_components_compiled_total"), 3, "real-name, link-guard, group-naming");
    assert_eq!(metric(&metrics, "groupgate_compile_cache_hits_total"), 0);

    // Load in all three languages while the JavaScript policy is edited.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let loader = {
        let (stop, answered) = (stop.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut client = Client::connect(addr).unwrap();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for (path, body, outcome) in requests() {
                    let (status, reply) = client.post(path, &body).unwrap();
                    if status != 200 || json(&reply)["outcome"] != outcome {
                        failures.push(format!("{path}: {status} {reply}"));
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            failures
        })
    };
    let marker = "a moderator must check";
    let edit = (marker, "a moderator must check (edited)");
    edit_and_build(&set.join("link-guard"), "link-guard.js", edit);
    // Active once `/v1/policies` shows the edited module's hash.
    let edited = sha256_hex(&set.join("link-guard/link-guard.wasm"));
    let reloaded = wait_for(addr, Duration::from_secs(300), |v| {
        let live = v["active"]["policies"].as_array().into_iter().flatten().find(|p| p["name"] == "link-guard");
        live.is_some_and(|p| p["module_sha256"] == edited.as_str())
    });
    let mut control = Client::connect(addr).unwrap();
    let (path, body, _) = &requests()[0];
    let decision = json(&control.post(path, body).unwrap().1);
    assert!(decision["reasons"][0]["message"].as_str().unwrap().ends_with("(edited)"), "{decision:#}");
    stop.store(true, Ordering::Relaxed);
    let failures = loader.join().unwrap();
    let answered = answered.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} of {answered} requests failed: {:#?}",
        failures.len(),
        &failures[..3.min(failures.len())]
    );
    assert!(answered > 0);
    let reload_ms = reloaded["last_reload"]["duration_ms"].as_u64().unwrap();
    let metrics = control.get("/metrics").unwrap().1;
    assert_eq!(metric(&metrics, "groupgate_components_compiled_total"), 4, "only the edited policy compiled again");
    groupgate_tests::stop(child);

    // Warm: the restart compiles nothing.
    let started = Instant::now();
    let (child, addr) = groupgate_tests::serve(GROUPGATE, &set, &flags);
    let warm = started.elapsed();
    let metrics = Client::connect(addr).unwrap().get("/metrics").unwrap().1;
    groupgate_tests::stop(child);
    assert_eq!(metric(&metrics, "groupgate_components_compiled_total"), 0, "{metrics}");
    // real-name (builtin), link-guard, group-naming.
    assert_eq!(metric(&metrics, "groupgate_compile_cache_hits_total"), 3, "{metrics}");
    assert_eq!(metric(&metrics, "groupgate_compile_cache_rejected_total"), 0, "{metrics}");
    println!(
        "{answered} requests answered during the reload of the edited policy ({reload_ms} ms), none failed; \
         ready after a cold start in {cold:.2?}, after a warm start in {warm:.2?}"
    );
}
