//! Calls the log import a million times on every message, and prints to
//! stdout a lot, before allowing it.
use groupgate_sdk::{DataFile, Message, Policy, Verdict, log};

struct LogFlood;

impl Policy for LogFlood {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(LogFlood)
    }

    fn message(&self, _message: &Message) -> Verdict {
        for i in 0..1_000_000 {
            log::line(log::Level::Info, "flooding", &[("i", &i.to_string())]);
        }
        Verdict::allow()
    }
}

groupgate_sdk::policy!(LogFlood);
