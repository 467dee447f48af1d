//! Allows everything: the cheapest possible policy, and a well-behaved
//! neighbour for the hostile guests.
use groupgate_sdk::{DataFile, Policy};

struct AllowAll;

impl Policy for AllowAll {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(AllowAll)
    }
}

groupgate_sdk::policy!(AllowAll);
