//! Sleeps for an hour on every message, then allows it. A sleep is a wait in
//! the host, where no epoch deadline reaches; the host's frozen clock must
//! make it return at once.
use std::time::Duration;

use groupgate_sdk::{DataFile, Message, Policy, Verdict};

struct Sleeper;

impl Policy for Sleeper {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(Sleeper)
    }

    fn message(&self, _message: &Message) -> Verdict {
        std::thread::sleep(Duration::from_secs(3600));
        Verdict::allow()
    }
}

groupgate_sdk::policy!(Sleeper);
