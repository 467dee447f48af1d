//! What the unit tests serve: sets of the standard `real-name` plugin under
//! names of their choosing, and the example message.

use std::path::Path;

use groupgate::{Hook, Request, Runtime};

/// A runtime with the standard plugins.
pub(crate) fn runtime() -> Runtime {
    groupgate_builtins::register(&mut Runtime::builder()).build().expect("a runtime")
}

/// Makes `dir` a set of the policies `names`, in that order, each the
/// standard `real-name` plugin, with `extra` after the list in
/// `groupgate.toml`; any policy folders there before are removed.
pub(crate) fn write_set(dir: &Path, names: &[&str], extra: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        }
    }
    std::fs::write(dir.join(groupgate::SET_FILE), format!("policies = {names:?}\n{extra}")).unwrap();
    for name in names {
        std::fs::create_dir(dir.join(name)).unwrap();
        let manifest =
            format!("name = \"{name}\"\nversion = \"1\"\nmodule = \"builtin:real-name\"\nhooks = [\"message\"]\n");
        std::fs::write(dir.join(name).join(groupgate::POLICY_FILE), manifest).unwrap();
    }
}

/// The example message of the repository's `examples/`, as JSON.
pub(crate) const MESSAGE: &[u8] = include_bytes!("../../../examples/message.json");

/// The example message.
pub(crate) fn message() -> Request {
    Request::from_json(Hook::Message, MESSAGE).unwrap()
}
