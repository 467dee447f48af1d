//! Art. 6 real identity: no publication service without verified identity.
//! Denies a message from an unverified sender and a group founded by an
//! unverified user; with `require_for_join = true`, also an unverified user
//! joining or invited into a group. Code `identity-unverified`.
//!
//! Config: `require_for_join` (bool, default `false`).

use groupgate_sdk::{DataFile, GroupCreation, Membership, Message, Policy, User, Verdict, allow, deny, parse_config};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RealName {
    #[serde(default)]
    require_for_join: bool,
}

/// Deny unless `user` is verified, saying what they may not do.
fn verified(user: User<'_>, doing: &str) -> Verdict {
    if user.identity_verified() {
        return allow();
    }
    deny("identity-unverified")
        .message(format!("user `{}` has not verified their real identity, which {doing} requires", user.id()))
        .article("Art. 6")
}

impl Policy for RealName {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        parse_config(config)
    }

    fn message(&self, m: &Message) -> Verdict {
        verified(m.sender(), "publishing")
    }

    fn group_creation(&self, c: &GroupCreation) -> Verdict {
        verified(c.founder(), "founding a group")
    }

    fn membership(&self, m: &Membership) -> Verdict {
        if self.require_for_join { verified(m.subject(), "joining a group") } else { allow() }
    }
}

groupgate_sdk::policy!(RealName);
