//! Art. 8 group limits: how large a group may be, how many groups one person
//! founds or joins, and who may found a large group. Every rule that a
//! request breaks gives its own reason.
//!
//! Config: `max_members` (500; per category in `[config.categories.NAME]`),
//! `max_groups_founded` (20), `max_groups_joined` (500), `large_group` (200),
//! `large_group_founder_credit` (4).
//!
//! - Creation: a requested `member_limit` above the category's `max_members`
//!   → deny `member-limit-too-high`; a founder who has founded
//!   `max_groups_founded` groups → deny `founding-limit`; a `member_limit`
//!   above `large_group` needs a founder of credit level
//!   `large_group_founder_credit` (deny `founder-unqualified`), and is held
//!   for review (`large-group-review`) when the founder qualifies.
//! - Membership: a group at its `member_limit` → deny `group-full`; a user in
//!   `max_groups_joined` groups → deny `join-limit`.

use std::collections::BTreeMap;

use groupgate_sdk::{DataFile, GroupCreation, Membership, Policy, Verdict, all, allow, deny, parse_config, review};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct GroupLimits {
    max_members: u32,
    max_groups_founded: u32,
    max_groups_joined: u32,
    large_group: u32,
    large_group_founder_credit: u8,
    categories: BTreeMap<String, Category>,
}

impl Default for GroupLimits {
    fn default() -> Self {
        GroupLimits {
            max_members: 500,
            max_groups_founded: 20,
            max_groups_joined: 500,
            large_group: 200,
            large_group_founder_credit: 4,
            categories: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Category {
    max_members: u32,
}

impl GroupLimits {
    fn max_members(&self, category: &str) -> u32 {
        self.categories.get(category).map_or(self.max_members, |c| c.max_members)
    }
}

impl Policy for GroupLimits {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        parse_config(config)
    }

    fn group_creation(&self, c: &GroupCreation) -> Verdict {
        let (category, member_limit, founder) = (c.category(), c.member_limit(), c.founder());
        let max = self.max_members(category);
        let size = if member_limit > max {
            deny("member-limit-too-high")
                .message(format!("a `{category}` group may have at most {max} members; {member_limit} were requested"))
                .article("Art. 8")
        } else {
            allow()
        };
        let founded = if founder.groups_created() >= self.max_groups_founded {
            deny("founding-limit")
                .message(format!(
                    "user `{}` has founded {} groups; one person may found at most {}",
                    founder.id(),
                    founder.groups_created(),
                    self.max_groups_founded
                ))
                .article("Art. 8")
        } else {
            allow()
        };
        let large = if member_limit <= self.large_group {
            allow()
        } else if founder.credit_level() < self.large_group_founder_credit {
            deny("founder-unqualified")
                .message(format!(
                    "a group of more than {} members needs a founder of credit level {}; user `{}` has {}",
                    self.large_group,
                    self.large_group_founder_credit,
                    founder.id(),
                    founder.credit_level()
                ))
                .article("Art. 8")
        } else {
            review("large-group-review")
                .message(format!("a group of more than {} members is verified before it is created", self.large_group))
                .article("Art. 8")
        };
        all([size, founded, large])
    }

    fn membership(&self, m: &Membership) -> Verdict {
        let (group, subject) = (m.group(), m.subject());
        let full = if group.member_count() >= group.member_limit() {
            deny("group-full")
                .message(format!(
                    "group `{}` has {} members, its limit of {}",
                    group.id(),
                    group.member_count(),
                    group.member_limit()
                ))
                .article("Art. 8")
        } else {
            allow()
        };
        let joined = if subject.groups_joined() >= self.max_groups_joined {
            deny("join-limit")
                .message(format!(
                    "user `{}` is in {} groups; one person may join at most {}",
                    subject.id(),
                    subject.groups_joined(),
                    self.max_groups_joined
                ))
                .article("Art. 8")
        } else {
            allow()
        };
        all([full, joined])
    }
}

groupgate_sdk::policy!(GroupLimits);
