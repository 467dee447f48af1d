//! Panics on every message (a trap); allows the other hooks.
use groupgate_sdk::{DataFile, Message, Policy, Verdict};

struct Trap;

impl Policy for Trap {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(Trap)
    }

    fn message(&self, message: &Message) -> Verdict {
        panic!("policy bug on message `{}`", message.id())
    }
}

groupgate_sdk::policy!(Trap);
