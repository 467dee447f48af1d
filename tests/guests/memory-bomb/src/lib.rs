//! Allocates without bound on every message.
use groupgate_sdk::{DataFile, Message, Policy, Verdict};

struct MemoryBomb;

impl Policy for MemoryBomb {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(MemoryBomb)
    }

    fn message(&self, _message: &Message) -> Verdict {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![0xA5; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

groupgate_sdk::policy!(MemoryBomb);
