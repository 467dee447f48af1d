//! Policy-set loading: `groupgate.toml` and one `policy.toml` (with a data
//! file) from the input, split at NUL bytes. Loading must return a set or a
//! `LoadError`, never panic, hang or touch anything outside the folder.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The runtime every input shares, with the standard plugins registered.
fn runtime() -> &'static groupgate::Runtime {
    static RUNTIME: std::sync::OnceLock<groupgate::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| groupgate_builtins::register(&mut groupgate::Runtime::builder()).build().unwrap())
}

/// Compiles every standard plugin once, in libFuzzer's init (not timed):
/// an instrumented build compiles slowly, and each input then finds them
/// compiled in the shared runtime, as a long-running server does.
fn warm_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("groupgate.toml"), "").unwrap();
    for name in groupgate_builtins::names() {
        let policy = dir.path().join(name);
        std::fs::create_dir(&policy).unwrap();
        let manifest = format!("name = \"{name}\"\nversion = \"1\"\nmodule = \"builtin:{name}\"\nhooks = [\"message\"]\n");
        std::fs::write(policy.join("policy.toml"), manifest).unwrap();
        // Whether the plugin's init accepts an empty config does not matter:
        // the component is compiled before init runs.
        let _ = groupgate::PolicySet::load_dir(runtime(), dir.path());
        std::fs::remove_dir_all(&policy).unwrap();
    }
}

fuzz_target!(init: warm_up(), |data: &[u8]| {
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
    if let Ok(set) = groupgate::PolicySet::load_dir(runtime(), dir.path()) {
        // A set that loads must also answer.
        let request = groupgate::Request::from_json(groupgate::Hook::Message, MESSAGE.as_bytes()).unwrap();
        let _ = set.evaluate(&request);
    }
});

/// The repository's example message.
const MESSAGE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/message.json"));
