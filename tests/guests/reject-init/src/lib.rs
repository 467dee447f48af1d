//! Refuses every config in `init`: a policy that a set cannot load.
use groupgate_sdk::{DataFile, Policy};

struct RejectInit;

impl Policy for RejectInit {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Err("config key `threshold`: this policy refuses every config".into())
    }
}

groupgate_sdk::policy!(RejectInit);
