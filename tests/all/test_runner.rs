//! The policy test runner through the library: the shipped cases pass, each
//! kind of wrong expectation fails saying what was expected and decided, a
//! policy that fails is never mistaken for one that decided, broken case
//! files are all reported, and coverage names what no case exercises.

use std::path::PathBuf;

use groupgate::Outcome;
use groupgate_testing::{self as testing, CaseResult, RunOptions, TestError, TestRun};
use groupgate_tests::{MESSAGE_CASES, TempSet, default_set, guests, repo_root};

fn run(paths: &[PathBuf]) -> TestRun {
    testing::run(groupgate_tests::runtime(), paths, &RunOptions::default())
}

fn run_set(set: &TempSet) -> TestRun {
    run(&[set.path().to_path_buf()])
}

fn case<'a>(run: &'a TestRun, name: &str) -> &'a CaseResult {
    run.cases().find(|c| c.name == name).unwrap_or_else(|| panic!("no case `{name}`"))
}

fn set_error(run: &TestRun) -> String {
    let (_, error) = run.errors().next().expect("the set should not be testable");
    error.to_string()
}

/// A set with one `prohibited-content` policy, `words`, listing `zorblax`.
fn words_set() -> TempSet {
    TempSet::new("").prohibited_content("words", "zorblax\n", "reasons = [\"prohibited-content\"]")
}

#[test]
fn the_default_set_passes_its_own_cases_with_enough_per_policy() {
    let run = run(&[default_set()]);
    assert_eq!(run.errors().count(), 0, "{:?}", run.errors().map(|(_, e)| e.to_string()).collect::<Vec<_>>());
    assert_eq!(run.failed(), 0, "{:#?}", run.failure_lines());
    let set = groupgate_tests::load(default_set()).unwrap();
    for policy in set.policies() {
        let cases: Vec<&CaseResult> = run.cases().filter(|c| c.policy.as_deref() == Some(&policy.name)).collect();
        assert!(cases.len() >= 8, "`{}` has {} cases, fewer than 8", policy.name, cases.len());
        let outcomes = |o: Outcome| cases.iter().filter(|c| c.expected.outcome == o).count();
        // group-violations holds for review and never denies.
        assert!(
            outcomes(Outcome::Allow) > 0 && outcomes(Outcome::Deny) + outcomes(Outcome::Review) > 0,
            "`{}` needs allow cases and cases it refuses or holds",
            policy.name
        );
        let coverage = run.reports().flat_map(|r| &r.coverage).find(|c| c.policy == policy.name).unwrap();
        assert_eq!(coverage.untested_hooks().count(), 0, "{coverage:?}");
        assert_eq!(coverage.untested_reasons().count(), 0, "{coverage:?}");
    }
    assert!(run.cases().any(|c| c.policy.is_none()), "the default set has cases of its own");
    // Every reason a shipped policy gives cites the article it applies.
    for case in run.cases() {
        for reason in &case.decision.reasons {
            assert!(reason.article.is_some(), "`{}`: reason `{}` cites no article", case.name, reason.code);
        }
    }
}

#[test]
fn every_kind_of_wrong_expectation_fails_saying_what_was_expected_and_decided() {
    let cases = format!(
        r#"{MESSAGE_CASES}
[[case]]
name = "all wrong"
request = {{ text = "buy zorblax" }}
outcome = "allow"
reasons = ["credit-too-low"]
absent_reasons = ["prohibited-content"]
measures = [{{ kind = "blacklist", target = {{ user = "usr-42" }} }}]
evidence = "qwexium"
skipped = ["words"]

[[case]]
name = "all right"
request = {{ text = "buy zorblax" }}
outcome = "deny"
reasons = ["prohibited-content"]
absent_reasons = ["credit-too-low"]
measures = [{{ kind = "warn", target = {{ user = "usr-42" }} }}]
evidence = "zorblax"
policy_outcomes = {{ words = "deny" }}
"#
    );
    let set = words_set().file("words/tests/cases.toml", &cases);
    let run = run_set(&set);
    assert_eq!((run.passed(), run.failed()), (1, 1), "{:#?}", run.failure_lines());
    assert_eq!(run.exit_code(false), 1);
    let wrong = case(&run, "all wrong");
    let expected = [
        "expected outcome allow, decided deny (reasons: `prohibited-content` (words, Art. 10))",
        "expected reason `credit-too-low`, decided reasons: `prohibited-content` (words, Art. 10)",
        "expected no reason `prohibited-content`, but policy `words` gave it",
        "expected measure blacklist on user `usr-42`, decided measures: warn on user `usr-42`",
        "expected evidence containing `qwexium`, decided evidence: `text: list `words` entry `zorblax``",
        "expected policy `words` to be skipped, but it ran and decided deny",
    ];
    assert_eq!(wrong.failures.len(), expected.len(), "{:#?}", wrong.failures);
    for (failure, want) in wrong.failures.iter().zip(expected) {
        assert!(failure.starts_with(want), "`{failure}` should start with `{want}`");
    }
    let line = &run.failure_lines()[0];
    assert!(line.starts_with("FAIL") && line.contains("cases.toml: `all wrong`: expected outcome allow"), "{line}");
}

#[test]
fn a_policy_that_fails_fails_the_case_unless_the_case_expects_it_to() {
    let cases = format!(
        r#"{MESSAGE_CASES}
[[case]]
name = "deny, but only by accident"
outcome = "deny"

[[case]]
name = "the trap is expected"
outcome = "deny"
reasons = ["policy-error"]
errors = ["trap"]
"#
    );
    let creation = r#"
[[case]]
name = "a failure is expected but none happens"
hook = "group-creation"
outcome = "allow"
errors = ["trap"]
request = { id = "r", name = "n", description = "d", category = "c", region = "CN-11", member_limit = 9, requested_at = 1, founder = { id = "u", identity_verified = true, credit_level = 3, region = "CN-11", groups_created = 0, groups_joined = 3 } }
"#;
    let set = TempSet::new("")
        .guest("trap", guests::TRAP, "")
        .file("trap/tests/cases.toml", &cases)
        .file("trap/tests/creation.toml", creation);
    let run = run_set(&set);
    let accident = case(&run, "deny, but only by accident");
    assert!(!accident.passed);
    assert!(accident.failures[0].contains("policy `trap` failed (a case"), "{:?}", accident.failures);
    assert!(accident.failures[0].contains("lists it under `errors`): trapped"), "{:?}", accident.failures);
    // The FAIL line says what the policy said as it panicked, on lines of
    // their own under it.
    let lines = run.failure_lines();
    let at = lines.iter().position(|l| l.starts_with("FAIL") && l.contains("deny, but only by accident")).unwrap();
    let continued: Vec<&String> = lines[at + 1..].iter().take_while(|l| l.starts_with("      | ")).collect();
    assert!(continued.iter().any(|l| l.ends_with("| policy output:")), "{lines:#?}");
    assert!(continued.iter().any(|l| l.contains("policy bug on message")), "{lines:#?}");
    let expected = case(&run, "the trap is expected");
    assert!(expected.passed, "{:?}", expected.failures);
    assert_eq!(expected.limits.len(), 1, "the trap is reported even when expected");
    assert!(run.case_lines(false).iter().any(|l| l.starts_with("LIMIT") && l.contains("the trap is expected")));
    let none = case(&run, "a failure is expected but none happens");
    assert_eq!(none.failures, ["expected policy `trap` to fail, but it decided allow"]);
}

#[test]
fn an_audit_policy_may_be_expected_to_fail_in_a_set_case() {
    let cases = format!(
        "{MESSAGE_CASES}\n[[case]]\nname = \"audit fails quietly\"\noutcome = \"allow\"\nerrors = [\"trap\"]\npolicy_outcomes = {{ trap = \"deny\" }}\n"
    );
    let set = TempSet::new("").guest("trap", guests::TRAP, "mode = \"audit\"").file("tests/cases.toml", &cases);
    let run = run_set(&set);
    assert_eq!(run.failed(), 0, "{:#?}", run.failure_lines());
}

#[test]
fn a_policy_at_its_deadline_is_reported_as_hitting_a_limit() {
    let cases = format!(
        "{MESSAGE_CASES}\n[[case]]\nname = \"spins\"\noutcome = \"review\"\nreasons = [\"policy-error\"]\nerrors = [\"spin\"]\n"
    );
    let set = TempSet::new("")
        .guest("spin", guests::SPIN, "on_error = \"review\"\n[limits]\ntimeout_ms = 20")
        .file("spin/tests/cases.toml", &cases);
    let run = run_set(&set);
    let spins = case(&run, "spins");
    assert!(spins.passed, "{:?}", spins.failures);
    assert!(spins.limits[0].contains("policy `spin` hit a limit: timed out"), "{:?}", spins.limits);
    assert!(spins.slow.is_empty(), "a timeout is a limit, not a slow call");
}

#[test]
fn policy_cases_run_their_policy_alone_and_set_cases_the_whole_set() {
    let policy_case = format!(
        r#"{MESSAGE_CASES}
[[case]]
name = "an audit policy's own cases see its verdict"
request = {{ text = "zorblax" }}
outcome = "deny"
reasons = ["prohibited-content"]
"#
    );
    let set_cases = format!(
        r#"{MESSAGE_CASES}
[[case]]
name = "an audit policy does not decide for the set"
request = {{ text = "zorblax" }}
outcome = "allow"
absent_reasons = ["prohibited-content"]
policy_outcomes = {{ audited = "deny", enforced = "allow" }}
skipped = ["regional"]

[[case]]
name = "a regional policy runs in its region"
request = {{ text = "qwexium", group = {{ region = "CN-44" }} }}
outcome = "deny"
policy_outcomes = {{ regional = "deny" }}
"#
    );
    let set = TempSet::new("")
        .prohibited_content("audited", "zorblax\n", "mode = \"audit\"")
        .prohibited_content("enforced", "frimblegate\n", "")
        .prohibited_content("regional", "qwexium\n", "[scope]\nregions = [\"CN-44\"]")
        .file("audited/tests/cases.toml", &policy_case)
        .file("tests/cases.toml", &set_cases);
    let run = run_set(&set);
    assert_eq!(run.failed(), 0, "{:#?}", run.failure_lines());
    assert_eq!(run.passed(), 3);
    let alone = case(&run, "an audit policy's own cases see its verdict");
    assert_eq!(alone.policy.as_deref(), Some("audited"));
    assert_eq!(alone.decision.policies.len(), 1, "only the policy under test runs");
    assert_eq!(case(&run, "a regional policy runs in its region").policy, None);
}

#[test]
fn requests_are_built_from_input_files_and_merged_tables() {
    let json = serde_json::to_string(&groupgate_tests::message("zorblax")).unwrap();
    let cases = r#"
hook = "message"
input = "message.json"

[[case]]
name = "the input file as it is"
outcome = "deny"

[[case]]
name = "a field changed over the input"
request = { text = "hello", sender = { credit_level = 0 } }
outcome = "allow"
"#;
    let set = words_set().file("words/tests/message.json", &json).file("words/tests/cases.toml", cases);
    let run = run_set(&set);
    assert_eq!(run.failed(), 0, "{:#?}", run.failure_lines());
    let changed = case(&run, "a field changed over the input");
    let decided_on = &changed.decision;
    assert_eq!(decided_on.outcome, Outcome::Allow);
    assert_eq!(run.passed(), 2);
}

#[test]
fn broken_case_files_are_all_reported_naming_file_case_and_key_while_the_valid_ones_run() {
    let set = words_set()
        .file("words/tests/h-valid.toml", &format!("{MESSAGE_CASES}\n[[case]]\nname = \"fine\"\noutcome = \"allow\"\n"))
        .file(
            "words/tests/c-two-errors.toml",
            &format!("{MESSAGE_CASES}\n[[case]]\nname = \" \"\noutcome = \"allow\"\n\n[[case]]\nname = \"two\"\noutcome = \"allow\"\nrequest = {{ sender = {{ credit_level = 300 }} }}\n"),
        )
        .file("words/tests/a-syntax.toml", "[[case]\nname = 1")
        .file("words/tests/b-unknown-key.toml", &format!("{MESSAGE_CASES}\n[[case]]\nname = \"x\"\noutcome = \"deny\"\nexpect = 1\n"))
        .file(
            "words/tests/c-bad-field.toml",
            &format!("{MESSAGE_CASES}\n[[case]]\nname = \"bad level\"\noutcome = \"deny\"\nrequest = {{ sender = {{ credit_level = 300 }} }}\n"),
        )
        .file("words/tests/d-no-hook.toml", "[[case]]\nname = \"hookless\"\noutcome = \"allow\"\nrequest = { id = \"m\" }\n")
        .file("words/tests/e-outside.toml", "[[case]]\nname = \"escapes\"\nhook = \"message\"\ninput = \"../../../x.json\"\noutcome = \"allow\"\n")
        .file("words/tests/f-empty.toml", "hook = \"message\"\n")
        .file("words/tests/g-unknown-policy.toml", &format!("{MESSAGE_CASES}\n[[case]]\nname = \"typo\"\noutcome = \"allow\"\nskipped = [\"wrods\"]\n"));
    let run = run_set(&set);
    assert_eq!(run.exit_code(false), 2);
    let report = run.sets[0].result.as_ref().expect("the set runs: its broken files are set aside");
    assert_eq!((run.passed(), run.failed()), (1, 0), "the valid file beside them still runs");
    assert_eq!(report.unreadable.len(), 8);
    assert!(run.summary().ends_with("1 passed, 0 failed, 8 case files could not be read"), "{}", run.summary());
    let errors: Vec<&String> = report.unreadable.iter().flat_map(|f| &f.errors).collect();
    let expect = [
        ("a-syntax.toml", "line 1"),
        ("b-unknown-key.toml", "key `case[0].expect`: unknown field `expect`"),
        ("c-bad-field.toml", "case `bad level`: invalid message request: field `sender.credit_level`"),
        ("c-two-errors.toml", "key `name`: must not be empty"),
        ("c-two-errors.toml", "case `two`: invalid message request"),
        ("d-no-hook.toml", "case `hookless`: no `hook`"),
        ("e-outside.toml", "case `escapes`: key `input`"),
        ("f-empty.toml", "no cases"),
        ("g-unknown-policy.toml", "case `typo`: no policy named `wrods`"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (error, (file, what)) in errors.iter().zip(expect) {
        assert!(error.contains(file) && error.contains(what), "`{error}` should name `{file}` and say `{what}`");
    }
    let lines = run.case_lines(false);
    assert_eq!(lines.iter().filter(|l| l.starts_with("ERROR")).count(), expect.len(), "{lines:#?}");
    let junit = run.to_junit();
    assert!(junit.contains(r#"errors="8""#), "{junit}");
}

#[test]
fn a_broken_set_is_a_load_error_not_a_failed_case() {
    let set = words_set().file("groupgate.toml", "polices = []\n").file("words/tests/cases.toml", MESSAGE_CASES);
    let run = run_set(&set);
    assert_eq!(run.exit_code(false), 2);
    assert!(matches!(run.sets[0].result, Err(TestError::Load(_))));
    assert!(set_error(&run).contains("unknown field `polices`"), "{}", set_error(&run));
}

#[test]
fn paths_select_a_set_a_policy_a_tests_folder_or_a_case_file() {
    let one = format!("{MESSAGE_CASES}\n[[case]]\nname = \"one\"\noutcome = \"allow\"\n");
    let two = format!("{MESSAGE_CASES}\n[[case]]\nname = \"two\"\noutcome = \"allow\"\n");
    let set = TempSet::new("")
        .prohibited_content("a", "zorblax\n", "")
        .prohibited_content("b", "zorblax\n", "")
        .file("a/tests/one.toml", &one)
        .file("b/tests/two.toml", &two)
        .file("tests/set.toml", &one.replace("\"one\"", "\"three\""));
    let names = |paths: &[PathBuf]| run(paths).cases().map(|c| c.name.clone()).collect::<Vec<_>>();
    let root = set.path().to_path_buf();
    assert_eq!(names(std::slice::from_ref(&root)), ["three", "one", "two"]);
    assert_eq!(names(&[root.join("b")]), ["two"]);
    assert_eq!(names(&[root.join("a/tests")]), ["one"]);
    assert_eq!(names(&[root.join("tests/set.toml")]), ["three"]);
    assert_eq!(names(&[root.join("b"), root.join("b/tests/two.toml")]), ["two"], "a file is run once");
    let outer = tempfile::tempdir().unwrap();
    groupgate_tests::copy_dir(&root, &outer.path().join("region-a/set"));
    groupgate_tests::copy_dir(&root, &outer.path().join("region-b"));
    let both = run(&[outer.path().to_path_buf()]);
    assert_eq!(both.sets.len(), 2, "a folder of sets tests each set");
    assert_eq!(both.passed(), 6);

    let bad = run(&[root.join("nowhere"), root.join("a/words.txt"), root.join("b")]);
    let errors: Vec<String> = bad.errors().map(|(_, e)| e.to_string()).collect();
    assert!(errors[0].contains("no such file or folder"), "{errors:?}");
    assert!(errors[1].contains("a case file must be a `.toml` file"), "{errors:?}");
    assert_eq!(bad.passed(), 1, "a bad path does not stop the good ones");
    assert_eq!(bad.exit_code(false), 2);
}

#[test]
fn a_policy_the_set_does_not_load_cannot_be_tested_as_part_of_it() {
    let cases = format!("{MESSAGE_CASES}\n[[case]]\nname = \"c\"\noutcome = \"allow\"\n");
    let set = TempSet::new("policies = [\"a\"]\n")
        .prohibited_content("a", "zorblax\n", "")
        .prohibited_content("b", "zorblax\n", "")
        .file("b/tests/cases.toml", &cases);
    let run = run(&[set.path().join("b")]);
    assert!(set_error(&run).contains("is not part of the set"), "{}", set_error(&run));
}

#[test]
fn a_filter_that_matches_nothing_runs_nothing() {
    let cases = format!("{MESSAGE_CASES}\n[[case]]\nname = \"clean\"\noutcome = \"allow\"\n");
    let set = words_set().file("words/tests/cases.toml", &cases);
    let mut options = RunOptions::default();
    options.filter = Some(regex::Regex::new("^dirty").unwrap());
    let run = testing::run(groupgate_tests::runtime(), &[set.path().to_path_buf()], &options);
    assert_eq!(run.cases().count(), 0);
    assert_eq!(run.exit_code(false), 0);
    assert_eq!(run.exit_code(true), 1);
}

#[test]
fn coverage_names_untested_hooks_and_reason_codes() {
    // `never-given` is declared but no case produces it; `prohibited-content`
    // is produced but no case expects it; no case asks about group creation.
    let cases = format!(
        "{MESSAGE_CASES}\n[[case]]\nname = \"denied\"\nrequest = {{ text = \"zorblax\" }}\noutcome = \"deny\"\n"
    );
    let set = TempSet::new("")
        .prohibited_content("words", "zorblax\n", "reasons = [\"prohibited-content\", \"never-given\"]")
        .file("words/tests/cases.toml", &cases);
    let run = run_set(&set);
    assert_eq!(run.failed(), 0);
    let coverage = &run.reports().next().unwrap().coverage[0];
    let hooks: Vec<String> = coverage.untested_hooks().map(|h| h.to_string()).collect();
    assert_eq!(hooks, ["group-creation"]);
    let codes: Vec<(&str, bool, usize)> =
        coverage.untested_reasons().map(|r| (r.code.as_str(), r.declared, r.given)).collect();
    assert_eq!(codes, [("never-given", true, 0), ("prohibited-content", true, 1)]);
    let lines = run.coverage_lines().join("\n");
    assert!(lines.contains("untested reason `never-given`: declared in policy.toml, but no case"), "{lines}");
    assert!(lines.contains("untested reason `prohibited-content`: given in 1 case(s), but none expects it"), "{lines}");
    assert!(lines.contains("untested hook `group-creation`"), "{lines}");
}

/// The case file shown in the README, run against the default set as if it
/// sat in the `prohibited-content` policy's `tests` folder.
#[test]
fn the_readme_case_example_runs_and_passes() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let marker = "<!-- case-file-example -->";
    let start = readme.find(marker).expect("README marks its case file example") + marker.len();
    let block = readme[start..].split("```toml\n").nth(1).and_then(|b| b.split("\n```").next()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    groupgate_tests::copy_dir(&default_set(), dir.path());
    std::fs::write(dir.path().join("prohibited-content/tests/readme.toml"), block).unwrap();
    let run = run(&[dir.path().join("prohibited-content/tests/readme.toml")]);
    assert_eq!(run.errors().count(), 0, "{:?}", run.errors().map(|(_, e)| e.to_string()).collect::<Vec<_>>());
    assert!(run.cases().count() >= 2, "the example shows more than one case");
    assert_eq!(run.failed(), 0, "{:#?}", run.failure_lines());
}

#[test]
fn a_case_can_unset_a_field_and_assert_a_reason_s_policy_and_article() {
    let cases = format!(
        r#"{MESSAGE_CASES}
[[case]]
name = "article and policy"
request = {{ text = "zorblax" }}
outcome = "deny"
reasons = [{{ code = "prohibited-content", policy = "words", article = "Art. 10" }}]

[[case]]
name = "wrong article"
request = {{ text = "zorblax" }}
outcome = "deny"
reasons = [{{ code = "prohibited-content", article = "Art. 7" }}]

[[case]]
name = "labels unset"
request = {{ sender = {{ labels = ["vip"] }} }}
unset = ["sender.labels"]
outcome = "allow"

[[case]]
name = "missing field unset"
unset = ["sender.nickname"]
outcome = "allow"
"#
    );
    let set = words_set().file("words/tests/cases.toml", &cases);
    let run = run_set(&set);
    let errors = &run.sets[0].result.as_ref().unwrap().unreadable[0].errors;
    assert!(errors[0].contains("case `missing field unset`: key `unset`: `sender.nickname`"), "{errors:?}");

    let fixed = cases.replace("unset = [\"sender.nickname\"]", "request = { sender = { labels = [] } }");
    let set = words_set().file("words/tests/cases.toml", &fixed);
    let run = run_set(&set);
    assert_eq!(run.errors().count(), 0);
    assert!(case(&run, "article and policy").passed);
    assert!(case(&run, "labels unset").passed);
    let wrong = case(&run, "wrong article");
    assert_eq!(
        wrong.failures,
        ["expected reason `prohibited-content` citing Art. 7, decided reasons: `prohibited-content` (words, Art. 10)"]
    );
}

/// `plugins/README.md` walks an author from `cargo new` to a passing
/// `groupgate test`; its crate is built from the README by this package's
/// build script, and here the rest of the walkthrough is followed.
#[test]
fn the_plugins_readme_walkthrough_builds_a_policy_that_passes_its_cases() {
    use groupgate_tests::guests::walkthrough;
    let wasm = std::fs::read(walkthrough::WASM).unwrap();
    let set = TempSet::new(walkthrough::GROUPGATE_TOML)
        .policy("link-limit", walkthrough::POLICY_TOML, &[("link_limit.wasm", &wasm)])
        .file("link-limit/tests/cases.toml", walkthrough::CASES_TOML);
    groupgate_tests::load(set.path()).unwrap_or_else(|e| panic!("the walkthrough's set should load: {e}"));
    let run = run_set(&set);
    assert_eq!(run.errors().count(), 0, "{:?}", run.errors().map(|(_, e)| e.to_string()).collect::<Vec<_>>());
    assert_eq!((run.passed(), run.failed()), (3, 0), "{:#?}", run.failure_lines());
    let held = case(&run, "one link more is held for review");
    assert_eq!(held.decision.reasons[0].article.as_deref(), Some("Art. 9"));
}

#[test]
fn counts_a_case_gives_for_a_counter_no_policy_reads_fail_the_case() {
    let flood = std::fs::read_to_string(default_set().join("flood-control/policy.toml")).unwrap();
    let cases = format!(
        r#"{MESSAGE_CASES}
[[case]]
name = "a typo in the counter"
counts = {{ mesages = {{ "60s" = 20 }} }}
outcome = "allow"

[[case]]
name = "a window not read"
counts = {{ messages = {{ "1m" = 20 }} }}
outcome = "allow"

[[case]]
name = "as declared"
counts = {{ messages = {{ "60s" = 20 }} }}
outcome = "deny"
"#
    );
    let set = TempSet::new("").policy("flood-control", &flood, &[("tests/cases.toml", cases.as_bytes())]);
    let run = run_set(&set);
    let typo = case(&run, "a typo in the counter");
    assert!(typo.failures.iter().any(|f| f.contains("reads no counter `mesages` over `60s`")), "{:?}", typo.failures);
    assert!(typo.failures.iter().any(|f| f.contains("messages over 60s")), "names what it reads: {:?}", typo.failures);
    let window = case(&run, "a window not read");
    assert!(window.failures.iter().any(|f| f.contains("`messages` over `1m`")), "{:?}", window.failures);
    assert!(case(&run, "as declared").failures.is_empty(), "{:?}", case(&run, "as declared").failures);
}
