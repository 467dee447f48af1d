//! Answers every message with a verdict of a million reasons.
use groupgate_sdk::{DataFile, Message, Outcome, Policy, Reason, Verdict};

struct HugeVerdict;

impl Policy for HugeVerdict {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(HugeVerdict)
    }

    fn message(&self, _message: &Message) -> Verdict {
        let reasons = (0..1_000_000).map(|_| Reason::new("x", "")).collect();
        Verdict { outcome: Outcome::Allow, reasons, measures: Vec::new(), increments: Vec::new() }
    }
}

groupgate_sdk::policy!(HugeVerdict);
