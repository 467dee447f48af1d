//! Policy-set loading: `groupgate.toml` and one `policy.toml` (with a data
//! file) from the input, split at NUL bytes. Loading must return a set or a
//! `LoadError`, never panic, hang or touch anything outside the folder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let set_toml = parts.next().unwrap_or_default();
    let policy_toml = parts.next().unwrap_or_default();
    let words = parts.next().unwrap_or_default();
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("groupgate.toml"), set_toml).unwrap();
    let policy = dir.path().join("p");
    std::fs::create_dir(&policy).unwrap();
    std::fs::write(policy.join("policy.toml"), policy_toml).unwrap();
    std::fs::write(policy.join("words.txt"), words).unwrap();
    if let Ok(set) = groupgate::PolicySet::load(dir.path()) {
        // A set that loads must also answer.
        let request = groupgate::Request::from_json(groupgate::Hook::Message, MESSAGE.as_bytes()).unwrap();
        let _ = set.evaluate(&request);
    }
});

const MESSAGE: &str = r#"{"id":"m1","group":{"id":"g1","name":"g","category":"community","region":"CN-11","member_count":3,"member_limit":500,"founder_id":"u0"},"sender":{"id":"u1","identity_verified":true,"credit_level":3,"region":"CN-11","groups_created":0,"groups_joined":1},"sender_role":"member","text":"hello zorblax","sent_at":1}"#;
