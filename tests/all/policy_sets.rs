//! Loading policy sets from folders: the shipped default set, relocation,
//! manifest errors that name the file and key, scope, audit mode and on_error.

use groupgate::{Decision, LoadError, Mode, Outcome, PolicySet};
use groupgate_tests::{TempSet, creation, default_set, group, guests, membership, message};

fn load_error(set: &TempSet) -> String {
    match groupgate_tests::load(set.path()) {
        Ok(_) => panic!("the set should not load"),
        Err(e) => e.to_string(),
    }
}

/// A decision without its timings, which differ from run to run.
fn untimed(mut d: Decision) -> Decision {
    for p in &mut d.policies {
        p.duration = std::time::Duration::ZERO;
    }
    d
}

#[test]
fn the_default_set_denies_listed_words_however_disguised() {
    let set = groupgate_tests::load(default_set()).unwrap();
    assert_eq!(set.evaluate_message(&message("See you at the north gate")).unwrap().outcome, Outcome::Allow);
    for disguised in
        ["buy zorblax now", "buy ＺＯＲＢＬＡＸ now", "buy zor\u{200b}blax now", "z.o.r.b.l.a.x", "紫 星 草"]
    {
        let d = set.evaluate_message(&message(disguised)).unwrap();
        assert_eq!(d.outcome, Outcome::Deny, "`{disguised}`: {d:?}");
        let reason = &d.reasons[0];
        assert_eq!((reason.code.as_str(), reason.article.as_deref()), ("prohibited-content", Some("Art. 10")));
        assert!(reason.evidence.as_deref().unwrap().contains("list `words` entry"), "{reason:?}");
        assert_eq!(d.measures[0].kind, groupgate::MeasureKind::Warn);
        assert_eq!(d.measures[0].target, groupgate::Target::User("usr-42".into()));
    }
}

#[test]
fn attachment_names_and_group_names_are_checked_too() {
    let set = groupgate_tests::load(default_set()).unwrap();
    let mut m = message("nothing to see");
    m.attachments.push(groupgate::Attachment {
        name: "QWEXIUM-price-list.pdf".into(),
        media_type: "application/pdf".into(),
        size: 1024,
        sha256: "00".repeat(32),
    });
    let d = set.evaluate_message(&m).unwrap();
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.reasons[0].evidence.as_deref().unwrap().starts_with("attachment name:"), "{d:?}");

    assert_eq!(set.evaluate_group_creation(&creation("Weekend hikers")).unwrap().outcome, Outcome::Allow);
    let mut c = creation("Weekend hikers");
    c.description = "we trade 黑云券 here".into();
    assert_eq!(set.evaluate_group_creation(&c).unwrap().outcome, Outcome::Deny);
}

#[test]
fn evidence_names_the_entry_never_the_message() {
    let set = groupgate_tests::load(default_set()).unwrap();
    let d = set.evaluate_message(&message("a long private message that mentions zorblax once")).unwrap();
    let evidence = d.reasons[0].evidence.as_deref().unwrap();
    assert!(!evidence.contains("private"), "{evidence}");
}

#[test]
fn a_copy_of_the_default_set_elsewhere_loads_and_decides_the_same() {
    let copy = tempfile::tempdir().unwrap();
    groupgate_tests::copy_dir(&default_set(), copy.path());
    let original = groupgate_tests::load(default_set()).unwrap();
    let relocated = groupgate_tests::load(copy.path()).unwrap();
    for text in ["hello", "zorblax", "ｑｗｅｘｉｕｍ"] {
        let a = untimed(original.evaluate_message(&message(text)).unwrap());
        let b = untimed(relocated.evaluate_message(&message(text)).unwrap());
        assert_eq!(a, b, "`{text}`");
    }
}

#[test]
fn a_typo_in_a_manifest_key_names_the_file_and_the_key() {
    let set = TempSet::new("").policy(
        "typo",
        "name = \"typo\"\nversion = \"1\"\nmodul = \"builtin:prohibited-content\"\nhooks = [\"message\"]\n",
        &[],
    );
    let err = load_error(&set);
    assert!(err.contains("typo/policy.toml") && err.contains("unknown field `modul`"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn a_bad_value_names_the_key() {
    let set = TempSet::new("").prohibited_content("words", "x\n", "[limits]\ntimeout_ms = \"fast\"");
    let err = load_error(&set);
    assert!(err.contains("words/policy.toml") && err.contains("key `limits.timeout_ms`"), "{err}");

    let set = TempSet::new("").prohibited_content("words", "x\n", "[limits]\ntimeout_ms = 0");
    let err = load_error(&set);
    assert!(err.contains("key `limits.timeout_ms`: 0 is out of range"), "{err}");

    let set = TempSet::new("").prohibited_content("words", "x\n", "mode = \"shadow\"");
    let err = load_error(&set);
    assert!(err.contains("key `mode`") && err.contains("shadow"), "{err}");

    let set = TempSet::new("[defaults]\nmemory_mb = 100000\n").prohibited_content("words", "x\n", "");
    let err = load_error(&set);
    assert!(err.contains("groupgate.toml") && err.contains("key `defaults.memory_mb`"), "{err}");
}

#[test]
fn a_missing_module_names_the_file_and_the_key() {
    let set = TempSet::new("").policy(
        "gone",
        "name = \"gone\"\nversion = \"1\"\nmodule = \"gone.wasm\"\nhooks = [\"message\"]\n",
        &[],
    );
    let err = load_error(&set);
    assert!(err.contains("gone/policy.toml") && err.contains("key `module`") && err.contains("gone.wasm"), "{err}");

    let set = TempSet::new("").policy(
        "unknown",
        "name = \"unknown\"\nversion = \"1\"\nmodule = \"builtin:no-such-plugin\"\nhooks = [\"message\"]\n",
        &[],
    );
    let err = load_error(&set);
    assert!(err.contains("key `module`") && err.contains("no standard plugin named `no-such-plugin`"), "{err}");
}

#[test]
fn a_config_that_init_rejects_names_the_policy_and_the_key() {
    let set = TempSet::new("").prohibited_content("words", "x\n", "[config]\nlists = [\"nope\"]");
    let err = load_error(&set);
    assert!(err.contains("words/policy.toml") && err.contains("policy `words`"), "{err}");
    assert!(err.contains("init refused its config") && err.contains("config key `lists`"), "{err}");

    let set = TempSet::new("").prohibited_content("words", "x\n", "[config]\nlist = [\"words\"]");
    let err = load_error(&set);
    assert!(err.contains("unknown field `list`"), "{err}");
}

#[test]
fn files_outside_the_set_are_refused() {
    let set = TempSet::new("").policy(
        "escape",
        "name = \"escape\"\nversion = \"1\"\nmodule = \"builtin:prohibited-content\"\nhooks = [\"message\"]\n[data]\nwords = \"../../../../../../etc/hostname\"\n",
        &[],
    );
    let err = load_error(&set);
    assert!(err.contains("key `data.words`"), "{err}");
}

#[test]
fn the_policies_list_must_name_folders_inside_the_set() {
    let set = TempSet::new("policies = [\"../elsewhere\"]\n").prohibited_content("words", "x\n", "");
    let err = load_error(&set);
    assert!(
        err.contains("groupgate.toml") && err.contains("key `policies`: `../elsewhere` must be a folder inside"),
        "{err}"
    );
    let set = TempSet::new("policies = [\"missing\"]\n").prohibited_content("words", "x\n", "");
    let err = load_error(&set);
    assert!(err.contains("key `policies`: `missing` has no `policy.toml`"), "{err}");
}

#[test]
fn discovery_does_not_follow_links() {
    let set = TempSet::new("").prohibited_content("words", "zorblax\n", "");
    // A link back to the set would make discovery loop forever.
    std::os::unix::fs::symlink(set.path(), set.path().join("loop")).unwrap();
    let loaded = groupgate_tests::load(set.path()).unwrap();
    assert_eq!(loaded.policies().count(), 1);
}

/// A set may reach its own files through links and hidden folders (a
/// `current` link to the release in use, a word list shared through a
/// link): loading follows a link as long as it stays inside the set. (A
/// manifest's `..` is resolved as the set names the folder, not through
/// the link.)
#[test]
fn links_and_hidden_folders_inside_the_set_are_followed() {
    let set = TempSet::new("policies = [\"current\"]\n").file(".shared/words.txt", "zorblax\n").policy(
        "releases/v3",
        "name = \"words\"\nversion = \"3\"\nmodule = \"builtin:prohibited-content\"\nhooks = [\"message\"]\n\
             [data]\nwords = \"lists/words.txt\"\n",
        &[],
    );
    std::os::unix::fs::symlink("releases/v3", set.path().join("current")).unwrap();
    let lists = set.path().join("releases/v3/lists");
    std::os::unix::fs::symlink("../../.shared", &lists).unwrap();
    let loaded = groupgate_tests::load(set.path()).unwrap_or_else(|e| panic!("the set should load: {e}"));
    assert_eq!(loaded.evaluate_message(&message("zorblax")).unwrap().outcome, Outcome::Deny);

    // A link that leads outside the set is refused, named as written.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("words.txt"), "x\n").unwrap();
    std::fs::remove_file(&lists).unwrap();
    std::os::unix::fs::symlink(outside.path(), &lists).unwrap();
    let err = load_error(&set);
    assert!(err.contains("key `data.words`: `lists/words.txt` is outside the policy set"), "{err}");
    std::fs::remove_file(set.path().join("current")).unwrap();
    std::os::unix::fs::symlink(outside.path(), set.path().join("current")).unwrap();
    let err = load_error(&set);
    assert!(err.contains("key `policies`: `current` leads outside the set"), "{err}");
}

#[test]
fn duplicate_names_and_empty_sets_are_errors() {
    let set = TempSet::new("").prohibited_content("a", "x\n", "").policy(
        "b",
        "name = \"a\"\nversion = \"1\"\nmodule = \"builtin:prohibited-content\"\nhooks = [\"message\"]\n",
        &[],
    );
    assert!(load_error(&set).contains("`a` is already the name of"));
    assert!(load_error(&TempSet::new("")).contains("no policies"));
    let not_a_set = tempfile::tempdir().unwrap();
    let err = groupgate_tests::load(not_a_set.path()).err().map(|e: LoadError| e.to_string()).unwrap();
    assert!(err.contains("not a policy set"), "{err}");
}

#[test]
fn a_region_scoped_policy_applies_only_in_its_region() {
    let set = TempSet::new("").prohibited_content("national", "zorblax\n", "").prohibited_content(
        "local",
        "riverbend\n",
        "[scope]\nregions = [\"CN-44\"]",
    );
    let set = groupgate_tests::load(set.path()).unwrap();
    let mut m = message("meet at riverbend");
    assert_eq!(set.evaluate_message(&m).unwrap().outcome, Outcome::Allow, "outside CN-44");
    m.group = group("CN-44");
    let d = set.evaluate_message(&m).unwrap();
    assert_eq!(d.outcome, Outcome::Deny, "inside CN-44");
    assert_eq!(d.reasons[0].policy, "local");
    // The creation's requested region is what counts.
    let mut c = creation("riverbend riders");
    assert_eq!(set.evaluate_group_creation(&c).unwrap().outcome, Outcome::Allow);
    c.region = "CN-44".into();
    assert_eq!(set.evaluate_group_creation(&c).unwrap().outcome, Outcome::Deny);
}

#[test]
fn a_category_scope_and_hooks_limit_what_a_policy_sees() {
    let set = TempSet::new("").prohibited_content("business-only", "zorblax\n", "[scope]\ncategories = [\"business\"]");
    let set = groupgate_tests::load(set.path()).unwrap();
    let d = set.evaluate_message(&message("zorblax")).unwrap();
    assert_eq!(d.outcome, Outcome::Allow);
    assert!(d.policies.is_empty(), "out of scope policies are not evaluated");
    // prohibited-content does not answer memberships.
    assert!(set.evaluate_membership(&membership()).unwrap().policies.is_empty());
}

#[test]
fn audit_mode_policies_are_reported_but_do_not_decide() {
    let set = TempSet::new("").prohibited_content("trial", "zorblax\n", "mode = \"audit\"");
    let set = groupgate_tests::load(set.path()).unwrap();
    let d = set.evaluate_message(&message("zorblax")).unwrap();
    assert_eq!(d.outcome, Outcome::Allow);
    assert!(d.reasons.is_empty());
    assert_eq!(d.policies[0].mode, Mode::Audit);
    assert_eq!(d.policies[0].outcome, Outcome::Deny);
}

#[test]
fn on_error_defaults_to_deny_and_the_set_default_applies() {
    let set = TempSet::new("").guest("trap", guests::TRAP, "");
    let d = groupgate_tests::load(set.path()).unwrap().evaluate_message(&message("x")).unwrap();
    assert_eq!(d.outcome, Outcome::Deny);

    let set = TempSet::new("[defaults]\non_error = \"allow\"\n").guest("trap", guests::TRAP, "");
    let d = groupgate_tests::load(set.path()).unwrap().evaluate_message(&message("x")).unwrap();
    assert_eq!(d.outcome, Outcome::Allow);
    assert!(d.policies[0].error.is_some());
}

#[test]
fn the_set_order_lists_policies_and_reasons_follow_it() {
    let set = TempSet::new("policies = [\"second\", \"first\"]\n")
        .prohibited_content("first", "zorblax\n", "")
        .prohibited_content("second", "zorblax\n", "");
    let set = groupgate_tests::load(set.path()).unwrap();
    let names: Vec<_> = set.policies().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["second", "first"]);
    let d = set.evaluate_message(&message("zorblax")).unwrap();
    let order: Vec<_> = d.reasons.iter().map(|r| r.policy.as_str()).collect();
    assert_eq!(order, ["second", "first"]);
}

#[test]
fn a_reload_compiles_only_modules_whose_bytes_changed() {
    let runtime = groupgate_builtins::register(&mut groupgate::Runtime::builder()).build().unwrap();
    let set = TempSet::new("").guest("gate", groupgate_tests::guests::ALLOW_ALL, "").prohibited_content(
        "words",
        "zorblax\n",
        "",
    );
    PolicySet::load_dir(&runtime, set.path()).unwrap();
    assert_eq!(runtime.components_compiled(), 2);
    // Data and manifests change: nothing to compile.
    std::fs::write(set.path().join("words/words.txt"), "zorblax\nqwexium\n").unwrap();
    let reloaded = PolicySet::load_dir(&runtime, set.path()).unwrap();
    assert_eq!(runtime.components_compiled(), 2);
    assert_eq!(
        reloaded.evaluate_message(&groupgate_tests::message("qwexium")).unwrap().outcome,
        groupgate::Outcome::Deny
    );
    // The module's bytes change: compiled once, then found again.
    std::fs::copy(groupgate_tests::guests::TRAP, set.path().join("gate/policy.wasm")).unwrap();
    PolicySet::load_dir(&runtime, set.path()).unwrap();
    PolicySet::load_dir(&runtime, set.path()).unwrap();
    assert_eq!(runtime.components_compiled(), 3);
    // Forgetting all but the current module keeps one.
    let current = PolicySet::load_dir(&runtime, set.path()).unwrap();
    assert_eq!(runtime.cached_modules(), 2);
    runtime.retain_modules(current.module_hashes());
    assert_eq!(runtime.cached_modules(), 1);
}

#[test]
fn audit_settings_default_sensibly_and_refuse_a_short_retention_or_a_log_inside_the_set() {
    let words = |set: TempSet| set.prohibited_content("words", "zorblax\n", "");
    let set = words(TempSet::new("[audit]\ndir = \"../decisions\"\n"));
    let loaded = groupgate_tests::load(set.path()).unwrap();
    let audit = loaded.audit_settings().unwrap();
    assert_eq!(audit.retention_days, 180);
    assert_eq!(audit.durability, groupgate::Durability::Sync);
    assert_eq!(audit.record_content, groupgate::RecordContent::Full);
    assert!(audit.dir.is_absolute() && audit.dir.ends_with("decisions") && !audit.dir.starts_with(set.path()));

    let set = words(TempSet::new("[audit]\ndir = \"/var/log/groupgate\"\nretention_days = 30\n"));
    let err = groupgate_tests::load(set.path()).err().unwrap().to_string();
    assert!(err.contains("key `audit.retention_days`") && err.contains("Art. 13"), "{err}");

    let set = words(TempSet::new("[audit]\ndir = \"log\"\n"));
    let err = groupgate_tests::load(set.path()).err().unwrap().to_string();
    assert!(err.contains("key `audit.dir`") && err.contains("inside the policy set"), "{err}");

    let set = words(TempSet::new("[audit]\ndir = \"/tmp/x\"\ndurability = \"eventually\"\n"));
    let err = groupgate_tests::load(set.path()).err().unwrap().to_string();
    assert!(err.contains("audit.durability"), "{err}");
}

/// The compile cache entries under `dir` (one folder per engine
/// configuration, one `.cwasm` file per component).
fn cache_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|engine| std::fs::read_dir(engine.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

#[test]
fn the_compile_cache_serves_a_restart_and_rebuilds_a_corrupt_or_misplaced_entry() {
    let cache = tempfile::tempdir().unwrap();
    let set = TempSet::new("").guest("gate", groupgate_tests::guests::ALLOW_ALL, "").guest(
        "trap",
        groupgate_tests::guests::TRAP,
        "on_error = \"review\"\n",
    );
    let decide = |set: &PolicySet| set.evaluate_message(&message("hello")).unwrap().outcome;
    // Each runtime is a restart: its memory holds nothing compiled.
    let restart =
        || groupgate_builtins::register(groupgate::Runtime::builder().cache_dir(cache.path())).build().unwrap();

    // Cold: both modules compiled and stored.
    let runtime = restart();
    assert_eq!(runtime.cache_dir(), Some(cache.path()));
    assert_eq!(decide(&PolicySet::load_dir(&runtime, set.path()).unwrap()), Outcome::Review);
    assert_eq!((runtime.components_compiled(), runtime.cache_hits(), runtime.cache_rejected()), (2, 0, 0));
    let entries = cache_entries(cache.path());
    assert_eq!(entries.len(), 2, "{entries:?}");

    // Warm: nothing compiled, and the set decides as before.
    let runtime = restart();
    assert_eq!(decide(&PolicySet::load_dir(&runtime, set.path()).unwrap()), Outcome::Review);
    assert_eq!((runtime.components_compiled(), runtime.cache_hits(), runtime.cache_rejected()), (0, 2, 0));

    // One flipped byte deep in the compiled code: refused, compiled again,
    // and the rewritten entry serves the next start.
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&entries[0], &bytes).unwrap();
    let runtime = restart();
    assert_eq!(decide(&PolicySet::load_dir(&runtime, set.path()).unwrap()), Outcome::Review);
    assert_eq!((runtime.components_compiled(), runtime.cache_hits(), runtime.cache_rejected()), (1, 1, 1));
    let runtime = restart();
    PolicySet::load_dir(&runtime, set.path()).unwrap();
    assert_eq!((runtime.components_compiled(), runtime.cache_hits(), runtime.cache_rejected()), (0, 2, 0));

    // A truncated entry, and a whole valid entry filed under the other
    // module's hash: both refused, neither module runs the wrong code.
    let whole = std::fs::read(&entries[1]).unwrap();
    std::fs::write(&entries[1], &whole[..whole.len() / 3]).unwrap();
    std::fs::write(&entries[0], &whole).unwrap();
    let runtime = restart();
    let reloaded = PolicySet::load_dir(&runtime, set.path()).unwrap();
    assert_eq!((runtime.components_compiled(), runtime.cache_hits(), runtime.cache_rejected()), (2, 0, 2));
    let d = reloaded.evaluate_message(&message("hello")).unwrap();
    let outcomes: Vec<_> = d.policies.iter().map(|p| (&*p.name, p.outcome, p.error.is_some())).collect();
    assert_eq!(outcomes, [("gate", Outcome::Allow, false), ("trap", Outcome::Review, true)]);

    // A folder that cannot be made is an error that names it.
    let file = cache.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = groupgate::Runtime::builder().cache_dir(file.join("cache")).build().err().unwrap().to_string();
    assert!(err.contains("cannot create the compile cache") && err.contains("a-file"), "{err}");
}
