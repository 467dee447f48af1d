//! Keeps a counter of its own: every message adds 1 to `events` (declared
//! in the manifest, of the sender, over `60s`), and a sender's third message
//! within the window is denied `too-many`. For the tests of a policy's own
//! counters: what it adds is applied, and what it may add to.
use groupgate_sdk::{DataFile, Message, Policy, Verdict, allow, deny};

/// Messages allowed within the window.
const MAX: u64 = 2;

struct Counter;

impl Policy for Counter {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(Counter)
    }

    fn message(&self, message: &Message) -> Verdict {
        let verdict = match message.count("events", "60s") {
            Some(n) if n >= MAX => deny("too-many").message(format!("{n} messages in 60s")),
            _ => allow(),
        };
        verdict.increment("events", 1)
    }
}

groupgate_sdk::policy!(Counter);
