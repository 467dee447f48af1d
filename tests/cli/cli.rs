//! The `groupgate` command as a user runs it: `check` and `eval` against the
//! shipped default set and the examples, and exit code 2 with a clear
//! message on bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use groupgate_tests::{MESSAGE_CASES, TempSet, default_set, repo_root};

fn groupgate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_groupgate"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run groupgate");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn eval_json(input: &str) -> serde_json::Value {
    let out = groupgate(&["eval", "--policies", "policies/default", "--hook", "message", "-"], Some(input));
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("eval prints JSON")
}

fn example_message() -> String {
    std::fs::read_to_string(repo_root().join("examples/message.json")).unwrap()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

#[test]
fn check_loads_the_default_set_and_lists_its_policies() {
    let out = groupgate(&["check", "--policies", "policies/default"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("10 policies") && text.contains("prohibited-content 0.1.0"), "{text}");
    assert!(text.contains("builtin:prohibited-content"), "{text}");
}

#[test]
fn eval_allows_the_example_message() {
    for hook in ["message", "group-creation", "membership", "report"] {
        let file = format!("examples/{hook}.json");
        let out = groupgate(&["eval", "--policies", "policies/default", "--hook", hook, &file], None);
        assert!(out.status.success(), "{hook}: {}", stderr(&out));
        let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(decision["outcome"], "allow", "{hook}");
    }
}

#[test]
fn eval_denies_a_listed_word_in_plain_full_width_and_zero_width_forms() {
    let example = example_message();
    for word in ["zorblax", "ＺＯＲＢＬＡＸ", "zor\\u200bblax", "Ｚｏｒ\\u200bＢｌａｘ"] {
        let input = example.replace("Bring water!", &format!("Bring {word}!"));
        assert_ne!(input, example);
        let decision = eval_json(&input);
        assert_eq!(decision["outcome"], "deny", "{word}: {decision}");
        assert_eq!(decision["reasons"][0]["code"], "prohibited-content");
        assert_eq!(decision["reasons"][0]["article"], "Art. 10");
        assert_eq!(decision["reasons"][0]["policy"], "prohibited-content");
        assert_eq!(decision["measures"][0]["target"], serde_json::json!({"user": "usr-42"}));
    }
}

#[test]
fn the_decision_json_has_exactly_the_documented_fields() {
    let input = example_message().replace("Bring water!", "Bring zorblax!");
    let d = eval_json(&input);
    assert_eq!(keys(&d), ["measures", "outcome", "policies", "reasons"]);
    assert_eq!(keys(&d["reasons"][0]), ["article", "code", "evidence", "message", "policy"]);
    assert_eq!(keys(&d["measures"][0]), ["kind", "policy", "target"]);
    assert_eq!(keys(&d["policies"][0]), ["duration_us", "error", "error_kind", "mode", "name", "outcome", "version"]);
    assert_eq!(d["policies"][0]["error"], serde_json::Value::Null);
    assert_eq!(d["measures"][0]["kind"], "warn");
}

#[test]
fn bad_requests_exit_2_naming_the_problem() {
    let cases = [
        ("not json", "not valid JSON".to_string()),
        ("", "the request is empty".to_string()),
        (r#"{"id": "m"}"#, "missing field".to_string()),
        (
            &*example_message().replace(r#""credit_level": 3"#, r#""credit_level": 300"#),
            "field `sender.credit_level`".into(),
        ),
        (&*example_message().replace(r#""text":"#, r#""colour": "red", "text":"#), "unknown field `colour`".into()),
        (&*example_message().replace(r#""text": "#, r#""text": 5, "x": "#), "field `text`".into()),
    ];
    for (input, expected) in cases {
        let out = groupgate(&["eval", "--policies", "policies/default", "--hook", "message"], Some(input));
        assert_eq!(out.status.code(), Some(2), "{input}");
        assert!(stderr(&out).contains(&expected), "expected `{expected}` in: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn an_unknown_hook_or_missing_file_exits_2() {
    let out =
        groupgate(&["eval", "--policies", "policies/default", "--hook", "reaction", "examples/message.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown hook `reaction`"), "{}", stderr(&out));

    let out = groupgate(&["eval", "--policies", "policies/default", "--hook", "message", "no-such.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read `no-such.json`"), "{}", stderr(&out));
}

#[test]
fn check_fails_with_exit_2_naming_the_file_and_the_key_or_policy() {
    let set = TempSet::new("").policy(
        "typo",
        "name = \"typo\"\nversion = \"1\"\nmodule = \"builtin:prohibited-content\"\nhooks = [\"message\"]\ntimeout_ms = 5\n",
        &[],
    );
    let out = groupgate(&["check", "--policies", set.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("typo/policy.toml") && err.contains("unknown field `timeout_ms`"), "{err}");

    let set = TempSet::new("").policy(
        "gone",
        "name = \"gone\"\nversion = \"1\"\nmodule = \"gone.wasm\"\nhooks = [\"message\"]\n",
        &[],
    );
    let out = groupgate(&["check", "--policies", set.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("gone/policy.toml") && err.contains("key `module`") && err.contains("gone.wasm"), "{err}");

    let set = TempSet::new("").prohibited_content("words", "x\n", "[config]\nlists = [\"other\"]");
    let out = groupgate(&["check", "--policies", set.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("policy `words`") && err.contains("init refused its config"), "{err}");
}

#[test]
fn a_relocated_copy_of_the_default_set_checks_and_decides_the_same() {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp").arg("-r").arg(default_set()).arg(copy.path()).status().unwrap();
    assert!(status.success());
    let moved = copy.path().join("default");
    let moved = moved.to_str().unwrap();
    assert!(groupgate(&["check", "--policies", moved], None).status.success());
    let input = example_message().replace("Bring water!", "Bring ＺＯＲＢＬＡＸ!");
    let a = groupgate(&["eval", "--policies", "policies/default", "--hook", "message", "--compact"], Some(&input));
    let b = groupgate(&["eval", "--policies", moved, "--hook", "message", "--compact"], Some(&input));
    let strip = |o: &Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for p in v["policies"].as_array_mut().unwrap() {
            p["duration_us"] = 0.into();
        }
        v
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(strip(&a)["outcome"], "deny");
}

/// Runs `groupgate test` with `args`.
fn test_cmd(args: &[&str]) -> Output {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    groupgate(&all, None)
}

/// A set whose one policy, `words`, has a passing and a failing case.
fn set_with_a_wrong_case() -> TempSet {
    let cases = format!(
        r#"{MESSAGE_CASES}
[[case]]
name = "clean text is allowed"
outcome = "allow"

[[case]]
name = "wrong on purpose: \"quoted\" & <tagged>"
request = {{ text = "zorblax" }}
outcome = "allow"
"#
    );
    TempSet::new("")
        .prohibited_content("words", "zorblax\n", "reasons = [\"prohibited-content\", \"never-given\"]")
        .file("words/tests/cases.toml", &cases)
}

#[test]
fn test_passes_the_default_set() {
    let out = test_cmd(&["policies/default"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let summary = text.lines().last().unwrap();
    let (passed, failed) = summary.split_once(" passed, ").unwrap();
    assert!(passed.parse::<usize>().unwrap() >= 8 && failed == "0 failed", "{summary}");
}

#[test]
fn test_exits_1_showing_expected_versus_decided() {
    let set = set_with_a_wrong_case();
    let out = test_cmd(&[set.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let fail = text.lines().find(|l| l.starts_with("FAIL")).unwrap_or_else(|| panic!("no FAIL line: {text}"));
    assert!(fail.contains("words/tests/cases.toml: `wrong on purpose: \"quoted\" & <tagged>`"), "{fail}");
    assert!(fail.contains("expected outcome allow, decided deny"), "{fail}");
    assert_eq!(text.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn test_exits_2_with_the_load_error_of_a_broken_set() {
    let set = set_with_a_wrong_case().file("words/policy.toml", "name = \"words\"\n");
    let out = test_cmd(&[set.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("words/policy.toml") && err.contains("missing field `version`"), "{err}");
}

#[test]
fn test_fail_on_empty_exits_1_when_the_filter_matches_nothing() {
    let out = test_cmd(&["policies/default", "--filter", "^no case is named like this$"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "0 passed, 0 failed");
    let out = test_cmd(&["policies/default", "--filter", "^no case is named like this$", "--fail-on-empty"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = test_cmd(&["policies/default", "--filter", "("]);
    assert_eq!(out.status.code(), Some(2), "an invalid regex is a usage error");
}

#[test]
fn test_junit_is_valid_xml_with_a_testcase_per_case_and_the_failure_text() {
    let set = set_with_a_wrong_case();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.xml");
    let out = test_cmd(&[set.path().to_str().unwrap(), "--junit", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!((root.attribute("tests"), root.attribute("failures")), (Some("2"), Some("1")));
    let cases: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 2);
    let failed: Vec<&roxmltree::Node> =
        cases.iter().filter(|c| c.children().any(|n| n.has_tag_name("failure"))).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attribute("name"), Some("wrong on purpose: \"quoted\" & <tagged>"));
    assert_eq!(failed[0].attribute("classname"), Some("words"));
    let failure = failed[0].children().find(|n| n.has_tag_name("failure")).unwrap();
    assert!(failure.text().unwrap().contains("expected outcome allow, decided deny"), "{xml}");
    assert!(failure.attribute("message").unwrap().contains("expected outcome allow"));
}

#[test]
fn test_coverage_names_a_reason_code_no_case_exercises() {
    let set = set_with_a_wrong_case();
    let out = test_cmd(&[set.path().to_str().unwrap(), "--coverage"]);
    let text = stdout(&out);
    assert!(text.contains("untested reason `never-given`: declared in policy.toml"), "{text}");
    assert!(text.contains("untested hook `group-creation`"), "{text}");
    let out = test_cmd(&["policies/default", "--coverage"]);
    let text = stdout(&out);
    assert!(text.contains("prohibited-content: hooks 2 of 2, reason codes 1 of 1,"), "{text}");
    assert!(!text.contains("untested"), "{text}");
}

/// The same case files give the same results through the library and the
/// command's `--json`.
#[test]
fn test_through_the_library_and_the_command_gives_the_same_results() {
    let set = set_with_a_wrong_case();
    let paths = [default_set(), set.path().to_path_buf()];
    let library = groupgate_testing::run(groupgate_tests::runtime(), &paths, &Default::default());
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).chain(["--json"]).collect();
    let out = test_cmd(&args);
    assert_eq!(out.status.code(), Some(i32::from(library.exit_code(false))));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_cli: Vec<(std::path::PathBuf, String, bool, Vec<String>, String)> = json["sets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["cases"].as_array().unwrap().clone())
        .map(|c| {
            (
                // Paths are shown relative to each run's working folder.
                repo_root().join(c["file"].as_str().unwrap()).canonicalize().unwrap(),
                c["name"].as_str().unwrap().to_owned(),
                c["passed"].as_bool().unwrap(),
                serde_json::from_value(c["failures"].clone()).unwrap(),
                c["decision"]["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let from_library: Vec<(std::path::PathBuf, String, bool, Vec<String>, String)> = library
        .cases()
        .map(|c| {
            let outcome = serde_json::to_value(c.decision.outcome).unwrap().as_str().unwrap().to_owned();
            (c.file.canonicalize().unwrap(), c.name.clone(), c.passed, c.failures.clone(), outcome)
        })
        .collect();
    assert!(from_library.len() > 10);
    assert_eq!(from_cli, from_library);
    assert_eq!((json["passed"].as_u64(), json["failed"].as_u64()), (Some(library.passed() as u64), Some(1)));
}

#[test]
fn test_takes_relative_paths_from_inside_a_policy_or_tests_folder() {
    let cases = format!("{MESSAGE_CASES}\n[[case]]\nname = \"c\"\noutcome = \"allow\"\n");
    let set = TempSet::new("").prohibited_content("words", "zorblax\n", "").file("words/tests/cases.toml", &cases);
    for (from, path, shown) in [
        ("words", "tests/cases.toml", "tests/cases.toml"),
        ("words", "tests", "tests/cases.toml"),
        ("words", ".", "tests/cases.toml"),
        ("words/tests", "cases.toml", "cases.toml"),
        ("words/tests", ".", "cases.toml"),
        ("words/tests", "..", "cases.toml"),
        ("words/tests", "../..", "cases.toml"),
        ("", ".", "words/tests/cases.toml"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_groupgate"))
            .args(["test", "-v", path])
            .current_dir(set.path().join(from))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "from `{from}`, `{path}`: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&format!("ok    {shown}: `c`")), "from `{from}`, `{path}`: {text}");
    }
}

/// A config error in any shipped policy (a wrong type, an unknown key, a
/// pattern that does not compile) fails `groupgate check`, naming the policy
/// and the key.
#[test]
fn check_names_the_policy_and_key_of_a_config_error_in_any_shipped_policy() {
    let edits: &[(&str, &str, &str, &str)] = &[
        (
            "real-name",
            "[config]\n",
            "[config]\nrequre_for_join = true\n",
            "config key `requre_for_join`: unknown field `requre_for_join`",
        ),
        (
            "real-name",
            "require_for_join = false",
            "require_for_join = \"no\"",
            "config key `require_for_join`: invalid type",
        ),
        ("credit-levels", "publish = 1 ", "publish = -1 ", "config key `publish`: invalid value"),
        (
            "credit-levels",
            "[config.categories.news]\n",
            "[config.categories.news]\npublsh = 2\n",
            "config key `categories.news.publsh`: unknown field `publsh`",
        ),
        ("group-limits", "max_members = 500 ", "max_members = \"many\" ", "config key `max_members`: invalid type"),
        (
            "group-limits",
            "[config]\n",
            "[config]\nlarge_groups = 3\n",
            "config key `large_groups`: unknown field `large_groups`",
        ),
        (
            "blacklist",
            "[data]\n",
            "[config]\nusers = \"users.txt\"\n\n[data]\n",
            "config key `users`: unknown field `users`",
        ),
        (
            "prohibited-content",
            "severity = \"review\"",
            "severity = \"maybe\"",
            "config key `lists.watch.severity`: unknown variant `maybe`",
        ),
        (
            "prohibited-content",
            "escalate = true",
            "escalte = true",
            "config key `lists.severe.escalte`: unknown field `escalte`",
        ),
        (
            "prohibited-content",
            "suspend_secs = 86400\n",
            "suspend_secs = 86400\npatterns = [\"kr[o0n\"]\n",
            "config key `lists.severe.patterns`: pattern `kr[o0n` does not compile: unclosed character class",
        ),
        (
            "prohibited-content",
            "severity = \"review\"\npinyin = true",
            "severity = \"review\"\npinyin = \"yes\"",
            "config key `lists.watch.pinyin`: invalid type",
        ),
        (
            "prohibited-content",
            "allow_lists = [\"allowed\"]",
            "allow_lists = [\"alowed\"]",
            "config key `allow_lists`: no data file named `alowed`",
        ),
        (
            "regions/CN-44",
            "severity = \"deny\"",
            "severity = \"deny\"\nescalate = \"yes\"",
            "config key `lists.cn-44.escalate`: invalid type",
        ),
    ];
    // Each check compiles the whole set; run them side by side.
    std::thread::scope(|scope| {
        for &(policy, from, to, expected) in edits {
            scope.spawn(move || {
                let copy = tempfile::tempdir().unwrap();
                let status = Command::new("cp").arg("-r").arg(default_set()).arg(copy.path()).status().unwrap();
                assert!(status.success());
                let manifest = copy.path().join("default").join(policy).join("policy.toml");
                let text = std::fs::read_to_string(&manifest).unwrap();
                assert!(text.contains(from), "{policy}: `{from}` not in its manifest");
                std::fs::write(&manifest, text.replacen(from, to, 1)).unwrap();
                let out = groupgate(&["check", "--policies", copy.path().join("default").to_str().unwrap()], None);
                assert_eq!(out.status.code(), Some(2), "{policy}: {to}");
                let err = stderr(&out);
                let name = if policy == "regions/CN-44" { "prohibited-content-cn-44" } else { policy };
                assert!(
                    err.contains(&format!("policy `{name}`")) && err.contains(expected),
                    "{policy}: expected `{expected}` in: {err}"
                );
            });
        }
    });
}

/// `groupgate serve` as a process: the address it listens on (from its log),
/// and the process.
fn serve(set: &std::path::Path) -> (std::process::Child, std::net::SocketAddr) {
    serve_with(set, &[])
}

/// [`serve`] with more flags.
fn serve_with(set: &std::path::Path, flags: &[&str]) -> (std::process::Child, std::net::SocketAddr) {
    let flags: Vec<&str> = ["--no-watch"].iter().chain(flags).copied().collect();
    groupgate_tests::serve(env!("CARGO_BIN_EXE_groupgate"), set, &flags)
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn serve_drains_requests_in_flight_on_sigterm_and_reloads_on_sighup() {
    let set = TempSet::new("").prohibited_content("words", "zorblax\n", "").guest(
        "spin",
        groupgate_tests::guests::SPIN,
        "on_error = \"review\"\n[limits]\ntimeout_ms = 1500",
    );
    let (mut child, addr) = serve(set.path());
    let mut client = groupgate_tests::http::Client::connect(addr).unwrap();

    let (_, body) = client.get("/v1/policies").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["active"]["generation"], 1);
    signal(&child, "HUP");
    let start = std::time::Instant::now();
    loop {
        let (_, body) = client.get("/v1/policies").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["active"]["generation"] == 2 {
            assert_eq!(v["last_reload"]["trigger"], "signal");
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "SIGHUP did not reload: {v}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // A request that takes 1.5 s (the spinning policy's deadline) is in flight
    // when SIGTERM arrives: it is answered, then the server exits 0.
    let message = serde_json::to_string(&groupgate_tests::message("hello")).unwrap();
    let in_flight = std::thread::spawn(move || {
        let mut slow = groupgate_tests::http::Client::connect(addr).unwrap();
        slow.post("/v1/evaluate/message", &message).unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    signal(&child, "TERM");
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["outcome"], "review", "the spinning policy's on_error: {answer}");
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn audit_verify_names_the_first_broken_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = groupgate_audit::AuditLog::open(dir.path(), 1 << 20).unwrap();
    for i in 0..5 {
        let mut record = serde_json::Map::new();
        record.insert("kind".into(), "decision".into());
        record.insert("id".into(), format!("d{i}").into());
        log.append(record).unwrap();
    }
    log.sync().unwrap();
    let out = groupgate(&["audit", "verify", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 segments, 6 lines: the chain holds"), "{}", stdout(&out));
    // The last hash is printed, to be kept elsewhere as the chain's anchor.
    let segment_text = std::fs::read_to_string(dir.path().join("segment-00000001.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(segment_text.lines().last().unwrap()).unwrap();
    assert!(stdout(&out).contains(&format!("last hash: {}", last["hash"].as_str().unwrap())), "{}", stdout(&out));

    let segment = dir.path().join("segment-00000001.jsonl");
    let text = std::fs::read_to_string(&segment).unwrap().replace("\"d3\"", "\"d9\"");
    std::fs::write(&segment, text).unwrap();
    let out = groupgate(&["audit", "verify", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("broken: segment-00000001.jsonl, line 5: the line does not match its `hash`"),
        "{}",
        stdout(&out)
    );
}

/// A day of recorded traffic against the default set: 300 messages, some
/// with listed words, some with `blorple` (listed by nobody yet), some both.
fn recorded_day(dir: &std::path::Path) -> Vec<(String, String)> {
    let set = groupgate_tests::load(default_set()).unwrap();
    let mut log = groupgate_audit::AuditLog::open(dir, 1 << 20).unwrap();
    let words = ["hello", "ride", "zorblax", "blorple", "water", "qwexium", "gate", "vorpex"];
    let mut state = 7u64;
    let mut sent = Vec::new();
    for i in 0..300 {
        let text: Vec<&str> = (0..4)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                words[(state >> 33) as usize % words.len()]
            })
            .collect();
        let text = text.join(" ");
        let request = groupgate::Request::Message(groupgate_tests::message(&text));
        // Every message with no counts behind it: one sender's 300 messages
        // in one instant would otherwise be a flood, and its denials make a
        // repeat offender, which is not what these records are about.
        let decision = set.evaluate_with_counts(&request, &groupgate::state::Recorded::default()).unwrap();
        let id = format!("d{i}");
        let record = groupgate_audit::DecisionRecord::new(&id, 1, &request, &decision, &set, Default::default());
        log.append(record.to_map()).unwrap();
        sent.push((id, text));
    }
    log.sync().unwrap();
    sent
}

#[test]
fn replay_reports_exactly_the_decisions_a_new_word_changes() {
    let log = tempfile::tempdir().unwrap();
    let sent = recorded_day(log.path());
    let candidate = tempfile::tempdir().unwrap();
    groupgate_tests::copy_dir(&default_set(), candidate.path());
    let words = candidate.path().join("prohibited-content/words.txt");
    let mut list = std::fs::read_to_string(&words).unwrap();
    list.push_str("blorple\n");
    std::fs::write(&words, list).unwrap();

    let args = ["replay", "--policies", candidate.path().to_str().unwrap(), "--json", log.path().to_str().unwrap()];
    let out = groupgate(&args, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changed: std::collections::BTreeSet<String> =
        report["changes"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    let expected: std::collections::BTreeSet<String> =
        sent.iter().filter(|(_, text)| text.contains("blorple")).map(|(id, _)| id.clone()).collect();
    assert!(!expected.is_empty() && expected.len() < sent.len());
    assert_eq!(changed, expected);
    assert_eq!(report["replayed"], 300);
    assert_eq!(report["by_policy"]["prohibited-content"].as_u64(), Some(expected.len() as u64));

    let mut fail = args.to_vec();
    fail.push("--fail-on-change");
    assert_eq!(groupgate(&fail, None).status.code(), Some(1));
    // A change of measures alone (a shorter suspension) is a change too.
    let shorter = tempfile::tempdir().unwrap();
    groupgate_tests::copy_dir(&default_set(), shorter.path());
    let manifest = shorter.path().join("prohibited-content/policy.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("suspend_secs = 86400", "suspend_secs = 60");
    std::fs::write(&manifest, text).unwrap();
    let out = groupgate(
        &["replay", "--policies", shorter.path().to_str().unwrap(), "--json", log.path().to_str().unwrap()],
        None,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changed: std::collections::BTreeSet<String> =
        report["changes"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    let expected: std::collections::BTreeSet<String> =
        sent.iter().filter(|(_, text)| text.contains("vorpex")).map(|(id, _)| id.clone()).collect();
    assert!(!expected.is_empty());
    assert_eq!(changed, expected);

    let unchanged = ["replay", "--policies", "policies/default", "--fail-on-change", log.path().to_str().unwrap()];
    let out = groupgate(&unchanged, None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("0 would change"), "{}", stdout(&out));
}

#[test]
fn audit_query_filters_the_records() {
    let log = tempfile::tempdir().unwrap();
    let sent = recorded_day(log.path());
    let dir = log.path().to_str().unwrap();
    let count = |extra: &[&str]| {
        let mut args = vec!["audit", "query", dir, "--json"];
        args.extend_from_slice(extra);
        let out = groupgate(&args, None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out).lines().count()
    };
    let listed =
        sent.iter().filter(|(_, t)| t.contains("zorblax") || t.contains("qwexium") || t.contains("vorpex")).count();
    assert_eq!(count(&[]), 300);
    assert_eq!(count(&["--outcome", "deny"]), listed);
    assert_eq!(count(&["--policy", "prohibited-content"]), listed);
    assert_eq!(count(&["--hook", "membership"]), 0);
    assert_eq!(count(&["--user", "usr-42"]), 300);
    assert_eq!(count(&["--group", "grp-1"]), 300);
    assert_eq!(count(&["--until", "2000-01-01T00:00:00Z"]), 0);
    assert_eq!(count(&["--since", "2000-01-01T00:00:00Z"]), 300);
}

/// Serves a set logging with `durability`, has 8 clients send requests for
/// 1.5 s, stops the server with `signal_name`, and checks that every
/// answered decision is in a log that verifies.
fn every_answer_logged_after(durability: &str, signal_name: &str) {
    let log = tempfile::tempdir().unwrap();
    let set = TempSet::new(&format!(
        "[audit]\ndir = {:?}\ndurability = \"{durability}\"\nflush_ms = 1000\n",
        log.path().display().to_string()
    ))
    .prohibited_content("words", "zorblax\n", "");
    let (mut child, addr) = serve(set.path());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut answered = Vec::new();
                let Ok(mut client) = groupgate_tests::http::Client::connect(addr) else { return answered };
                let body = serde_json::to_string(&groupgate_tests::message(&format!("client {i}"))).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match client.post("/v1/evaluate/message", &body) {
                        Ok((200, answer)) => {
                            let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
                            answered.push(v["decision_id"].as_str().unwrap().to_owned());
                        }
                        _ => break,
                    }
                }
                answered
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(&child, signal_name);
    child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered: Vec<String> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert!(answered.len() > 50, "only {} answers before the {signal_name}", answered.len());

    let out = groupgate(&["audit", "verify", log.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let logged: std::collections::HashSet<String> =
        groupgate_audit::decisions(log.path()).unwrap().into_iter().map(|logged| logged.record.id).collect();
    let missing: Vec<&String> = answered.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(missing.is_empty(), "{} answered decisions are not in the log, e.g. {:?}", missing.len(), missing.first());
}

#[test]
fn after_sigkill_every_answered_decision_is_in_a_sync_log_that_verifies() {
    every_answer_logged_after("sync", "KILL");
}

#[test]
fn after_sigterm_every_answered_decision_is_in_a_batched_log() {
    every_answer_logged_after("batched", "TERM");
}

#[test]
fn a_client_sending_a_byte_a_second_is_cut_off_at_the_read_timeout() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let set = TempSet::new("").prohibited_content("words", "zorblax\n", "");
    let (mut child, addr) = serve_with(set.path(), &["--read-timeout", "1s"]);
    let message = serde_json::to_string(&groupgate_tests::message("hello")).unwrap();
    let trickle = move |head: &[u8], body: &[u8]| {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let start = Instant::now();
        stream.write_all(head).unwrap();
        let mut answer = Vec::new();
        for byte in body {
            // One byte a second, until the server stops listening.
            if stream.write_all(std::slice::from_ref(byte)).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            if start.elapsed() > Duration::from_secs(4) {
                break;
            }
        }
        let _ = stream.read_to_end(&mut answer);
        (String::from_utf8_lossy(&answer).into_owned(), start.elapsed())
    };

    // The body trickles: 408, naming the timeout.
    let head = format!(
        "POST /v1/evaluate/message HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        message.len()
    );
    let slow_body = std::thread::spawn(move || trickle(head.as_bytes(), message.as_bytes()));
    // The headers trickle: the connection is closed without an answer.
    let slow_head = std::thread::spawn(move || trickle(b"", b"POST /v1/evaluate/message HTTP/1.1\r\nHost: x\r\n"));

    // Meanwhile everyone else is served at once.
    let mut client = groupgate_tests::http::Client::connect(addr).unwrap();
    let quick = serde_json::to_string(&groupgate_tests::message("zorblax")).unwrap();
    for _ in 0..10 {
        let start = Instant::now();
        let (status, body) = client.post("/v1/evaluate/message", &quick).unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(start.elapsed() < Duration::from_millis(500), "took {:?}", start.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }

    let (answer, took) = slow_body.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within the read timeout of 1000 ms"), "{answer}");
    assert!(took < Duration::from_secs(4), "cut off after {took:?}");
    let (answer, took) = slow_head.join().unwrap();
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(took < Duration::from_secs(4), "cut off after {took:?}");
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn eval_refuses_hostile_input_with_exit_2_naming_the_problem() {
    let ok = example_message();
    let mut invalid_utf8 = ok.clone().into_bytes();
    let at = invalid_utf8.windows(6).position(|w| w == b"\"text\"").unwrap() + 9;
    invalid_utf8.splice(at..at, [0xff, 0xfe]);
    let text = serde_json::from_str::<serde_json::Value>(&ok).unwrap()["text"].as_str().unwrap().to_owned();
    let quoted = serde_json::to_string(&text).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a 10 MB text",
            ok.replace(&quoted, &format!("\"{}\"", "x".repeat(10 << 20))).into_bytes(),
            "more than the set's `max_text_bytes`",
        ),
        (
            "deeply nested JSON",
            format!("{{\"id\":{}", "[".repeat(100_000)).into_bytes(),
            "field `id`: invalid type: sequence",
        ),
        (
            "a number out of range",
            ok.replacen("\"credit_level\": 3", "\"credit_level\": 300", 1).into_bytes(),
            "field `sender.credit_level`: invalid value: integer `300`",
        ),
        ("invalid UTF-8", invalid_utf8, "invalid unicode"),
        (
            "a duplicate key",
            ok.replacen("\"text\":", "\"text\": \"a\", \"text\":", 1).into_bytes(),
            "duplicate field `text`",
        ),
        ("an empty input", Vec::new(), "the request is empty"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, bytes, expected) in cases {
        let file = dir.path().join("input.json");
        std::fs::write(&file, &bytes).unwrap();
        let out =
            groupgate(&["eval", "--policies", "policies/default", "--hook", "message", file.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{what}: expected `{expected}` in {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{what}: no decision is printed");
    }
}

#[test]
fn serve_refuses_a_read_timeout_of_zero() {
    let out = groupgate(&["serve", "--policies", "policies/default", "--read-timeout", "0s"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("must be more than zero"), "{}", stderr(&out));
    let out = groupgate(&["serve", "--policies", "policies/default", "--read-timeout", "soon"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("write it like `10s`"), "{}", stderr(&out));
}

fn bench_json(hook: &str, file: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["bench", "--policies", "policies/default", "--hook", hook, file];
    args.extend_from_slice(&["--duration", "300ms", "--warmup", "50ms", "--json"]);
    args.extend_from_slice(extra);
    let out = groupgate(&args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("bench --json prints JSON")
}

#[test]
fn bench_measures_every_hook_and_splits_the_time_by_policy() {
    for (hook, policies) in [
        (
            "message",
            &[
                "blacklist",
                "real-name",
                "credit-levels",
                "prohibited-content",
                "flood-control",
                "repeat-offender",
                "group-violations",
                "complaints",
            ][..],
        ),
        (
            "group-creation",
            &["blacklist", "real-name", "credit-levels", "group-limits", "prohibited-content", "repeat-offender"][..],
        ),
        ("membership", &["blacklist", "real-name", "credit-levels", "group-limits"][..]),
        ("report", &["complaints"][..]),
    ] {
        let r = bench_json(hook, &format!("examples/{hook}.json"), &[]);
        for key in ["evals_per_sec", "mean_us", "p50_us", "p90_us", "p99_us", "max_us", "host_us"] {
            assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{hook}: `{key}` in {r}");
        }
        assert!(r["evaluations"].as_u64().unwrap() > 100, "{hook}: {r}");
        assert_eq!(r["threads"], 1);
        assert_eq!(r["outcome"], "allow");
        let p = |key| r[key].as_f64().unwrap();
        assert!(p("p50_us") <= p("p90_us") && p("p90_us") <= p("p99_us") && p("p99_us") <= p("max_us"), "{r}");
        let names: Vec<&str> = r["policies"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, policies, "{hook}: the policies that answer it, in order");
        let in_policies: f64 = r["policies"].as_array().unwrap().iter().map(|p| p["mean_us"].as_f64().unwrap()).sum();
        assert!(r["policies"].as_array().unwrap().iter().all(|p| p["errors"] == 0), "{hook}: no policy failed: {r}");
        assert!(in_policies > 0.0 && in_policies <= p("mean_us"), "{hook}: policies take part of a decision: {r}");
    }
}

#[test]
fn bench_counts_the_calls_in_which_a_policy_failed() {
    let set = TempSet::new("").guest("trap", groupgate_tests::guests::TRAP, "");
    let path = set.path().to_str().unwrap();
    let args = ["bench", "--policies", path, "--hook", "message", "examples/message.json", "--duration", "200ms"];
    let out = groupgate(&[&args[..], &["--warmup", "0s", "--json"]].concat(), None);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["outcome"], "deny", "a trap fails closed: {r}");
    assert_eq!(r["policies"][0]["errors"], r["evaluations"], "every timed call failed: {r}");
    let out = groupgate(&[&args[..], &["--warmup", "0s"]].concat(), None);
    assert!(stdout(&out).contains("failed in"), "{}", stdout(&out));
}

#[test]
fn a_panicking_policy_says_why_in_eval_and_in_the_fail_line() {
    let case = format!("{}\n[[case]]\nname = \"fine\"\noutcome = \"allow\"\n", groupgate_tests::MESSAGE_CASES);
    let set = TempSet::new("").guest("trap", groupgate_tests::guests::TRAP, "").file("trap/tests/cases.toml", &case);
    let path = set.path().to_str().unwrap();
    let out = groupgate(&["eval", "--policies", path, "--hook", "message", "examples/message.json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = decision["policies"][0]["error"].as_str().unwrap();
    assert!(error.contains("policy output:\n") && error.contains("panicked at"), "{error}");
    assert!(error.ends_with("policy bug on message `msg-1001`"), "{error}");
    let reason = decision["reasons"][0]["message"].as_str().unwrap();
    assert!(reason.contains("policy bug on message `msg-1001`"), "{reason}");

    let out = groupgate(&["test", path], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let fail =
        lines.iter().position(|l| l.starts_with("FAIL") && l.contains("`fine`")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(lines[fail + 1], "      | policy output:", "{text}");
    assert!(lines[fail + 2].starts_with("      | thread ") && lines[fail + 2].contains("panicked at"), "{text}");
    assert!(lines[fail + 3].starts_with("      | policy bug on message `msg-1`"), "{text}");
}

#[test]
fn bench_runs_on_several_threads_and_reports_a_deny() {
    let message = example_message().replace("Bring water!", "Bring zorblax!");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), message).unwrap();
    let r = bench_json("message", file.path().to_str().unwrap(), &["--threads", "2"]);
    assert_eq!(r["threads"], 2);
    assert_eq!(r["outcome"], "deny", "{r}");
}

#[test]
fn bench_text_names_the_numbers_and_refuses_bad_input_with_exit_2() {
    let args = ["bench", "--policies", "policies/default", "--hook", "membership", "examples/membership.json"];
    let out = groupgate(&[&args[..], &["--duration", "200ms", "--warmup", "0s"]].concat(), None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for word in ["per second", "p50", "p99", "group-limits", "host (limits, merge)"] {
        assert!(text.contains(word), "`{word}` in {text}");
    }
    let out = groupgate(&["bench", "--policies", "policies/default", "--hook", "membership", "-"], Some("{"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("membership"), "{}", stderr(&out));
    let out = groupgate(&[&args[..], &["--threads", "0"]].concat(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn with_groupgate_perf_map_a_profiler_can_name_the_policies_functions() {
    let child = Command::new(env!("CARGO_BIN_EXE_groupgate"))
        .args(["eval", "--policies", "policies/default", "--hook", "membership", "examples/membership.json"])
        .current_dir(repo_root())
        .env("GROUPGATE_PERF_MAP", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run groupgate");
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let names = std::fs::read_to_string(&map).unwrap_or_default();
    let _ = std::fs::remove_file(&map);
    assert!(names.contains("evaluate-membership"), "`{}` names the policies' exports", map.display());
}

#[test]
fn test_watch_runs_again_after_an_edit_and_shows_the_new_result() {
    use std::io::BufRead as _;
    let case = format!(
        "{MESSAGE_CASES}\n[[case]]\nname = \"listed\"\nrequest = {{ text = \"buy zorblax\" }}\noutcome = \"deny\"\n"
    );
    let set = TempSet::new("").prohibited_content("words", "zorblax\n", "").file("words/tests/cases.toml", &case);
    let mut child = Command::new(env!("CARGO_BIN_EXE_groupgate"))
        .args(["test", "--watch", set.path().to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    let next_summary = |seen: &mut Vec<String>| loop {
        let line =
            rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap_or_else(|_| panic!("no summary: {seen:#?}"));
        seen.push(line.clone());
        if line.contains(" passed, ") {
            return line;
        }
    };
    let mut seen = Vec::new();
    assert_eq!(next_summary(&mut seen), "1 passed, 0 failed", "{seen:#?}");
    // Wait until it watches, then take the word off the list.
    while !seen.last().is_some_and(|l| l.starts_with("watching ")) {
        seen.push(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap());
    }
    std::fs::write(set.path().join("words/words.txt"), "qwexium\n").unwrap();
    assert_eq!(next_summary(&mut seen), "0 passed, 1 failed", "{seen:#?}");
    assert!(seen.iter().any(|l| l.starts_with("--- changed at ")), "{seen:#?}");
    assert!(
        seen.iter().any(|l| l.starts_with("FAIL") && l.contains("`listed`: expected outcome deny, decided allow")),
        "{seen:#?}"
    );
    // And back.
    std::fs::write(set.path().join("words/words.txt"), "zorblax\n").unwrap();
    assert_eq!(next_summary(&mut seen), "1 passed, 0 failed", "{seen:#?}");
    child.kill().unwrap();
    child.wait().unwrap();
}
