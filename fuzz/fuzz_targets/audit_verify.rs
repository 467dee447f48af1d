//! `audit verify` and the record reader over mutated segments: the input is
//! split at NUL bytes into up to three segment files. Verifying must report
//! a sound chain or a break, never panic; a chain it calls sound must hold
//! records the reader can read, or a line it names.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    for (i, segment) in data.splitn(3, |&b| b == 0).enumerate() {
        std::fs::write(dir.path().join(format!("segment-{:08}.jsonl", i + 1)), segment).unwrap();
    }
    let verified = groupgate_audit::verify(dir.path());
    let read = groupgate_audit::decisions(dir.path());
    if verified.is_ok() {
        // A chain anyone can recompute may hold a hand-made line that says
        // it is a decision but is not one: the reader names it, by segment
        // and line, and fails on nothing else.
        match read {
            Ok(_) | Err(groupgate_audit::ReadError::Record { .. }) => {}
            Err(e) => panic!("a log that verifies must be readable: {e}"),
        }
    }
});
