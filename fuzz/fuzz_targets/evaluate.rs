//! Request decoding plus evaluation through `policies/default`: the first
//! byte picks the hook, the rest is the JSON body. Decoding must give a
//! request or an error naming the problem; a request must get a decision.
#![no_main]

use std::sync::OnceLock;

use groupgate::{Hook, PolicySet, Request};
use libfuzzer_sys::fuzz_target;

/// The runtime every input shares, with the standard plugins registered.
fn runtime() -> &'static groupgate::Runtime {
    static RUNTIME: std::sync::OnceLock<groupgate::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| groupgate_builtins::register(&mut groupgate::Runtime::builder()).build().unwrap())
}

fn set() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/default");
        PolicySet::load_dir(runtime(), dir).expect("policies/default loads")
    })
}

fuzz_target!(init: { set(); }, |data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let hook = Hook::ALL[usize::from(first) % Hook::ALL.len()];
    match Request::from_json(hook, body) {
        Ok(request) => {
            // What decodes must encode back to a request that decodes the same.
            let again = Request::from_value(hook, request.to_value()).expect("a decoded request re-decodes");
            assert_eq!(again, request);
            if let Ok(decision) = set().evaluate(&request) {
                serde_json::to_string(&decision).expect("a decision serialises");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
