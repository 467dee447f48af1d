//! The `groupgate` command as a user runs it: `check` and `eval` against the
//! shipped default set and the examples, and exit code 2 with a clear
//! message on bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use groupgate_tests::{TempSet, default_set, repo_root};

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
    assert!(text.contains("1 policy") && text.contains("prohibited-content 0.1.0"), "{text}");
    assert!(text.contains("builtin:prohibited-content"), "{text}");
}

#[test]
fn eval_allows_the_example_message() {
    for hook in ["message", "group-creation", "membership"] {
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
    assert_eq!(keys(&d["policies"][0]), ["duration_us", "error", "mode", "name", "outcome", "version"]);
    assert_eq!(d["policies"][0]["error"], serde_json::Value::Null);
    assert_eq!(d["measures"][0]["kind"], "warn");
}

#[test]
fn bad_requests_exit_2_naming_the_problem() {
    let cases = [
        ("not json", "not valid JSON".to_string()),
        ("", "not valid JSON: EOF".to_string()),
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
        v["policies"][0]["duration_us"] = 0.into();
        v
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(strip(&a)["outcome"], "deny");
}
