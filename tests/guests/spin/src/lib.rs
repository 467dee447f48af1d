//! Loops forever on every message.
use groupgate_sdk::{DataFile, Message, Policy, Verdict};

struct Spin;

impl Policy for Spin {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(Spin)
    }

    fn message(&self, message: &Message) -> Verdict {
        let mut n: u64 = message.sent_at();
        loop {
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

groupgate_sdk::policy!(Spin);
