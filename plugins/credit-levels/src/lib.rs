//! Art. 7 credit levels: each service needs a minimum credit level, set per
//! service and overridable per group category. Below it → deny
//! `credit-too-low`, naming the level required.
//!
//! Config: `publish` (1), `publish_attachments` (2), `found_group` (3),
//! `join_group` (0), and `[config.categories.NAME]` tables overriding any of
//! them for groups of that category.

use std::collections::BTreeMap;

use groupgate_sdk::{DataFile, GroupCreation, Membership, Message, Policy, User, Verdict, allow, deny, parse_config};
use serde::Deserialize;

/// Minimum levels; in a category table, only the ones it overrides.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct Levels {
    publish: Option<u8>,
    publish_attachments: Option<u8>,
    found_group: Option<u8>,
    join_group: Option<u8>,
}

/// The policy-wide levels, and per-category overrides. (Written out rather
/// than flattened from [`Levels`]: serde cannot reject unknown keys of a
/// flattened struct.)
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    publish: Option<u8>,
    publish_attachments: Option<u8>,
    found_group: Option<u8>,
    join_group: Option<u8>,
    #[serde(default)]
    categories: BTreeMap<String, Levels>,
}

impl Config {
    fn levels(&self) -> Levels {
        Levels {
            publish: self.publish,
            publish_attachments: self.publish_attachments,
            found_group: self.found_group,
            join_group: self.join_group,
        }
    }
}

struct CreditLevels {
    levels: Levels,
    categories: BTreeMap<String, Levels>,
}

/// The four services, with their defaults.
#[derive(Clone, Copy)]
enum Service {
    Publish,
    PublishAttachments,
    FoundGroup,
    JoinGroup,
}

impl Service {
    fn get(self, levels: &Levels) -> Option<u8> {
        match self {
            Service::Publish => levels.publish,
            Service::PublishAttachments => levels.publish_attachments,
            Service::FoundGroup => levels.found_group,
            Service::JoinGroup => levels.join_group,
        }
    }

    fn default_level(self) -> u8 {
        match self {
            Service::Publish => 1,
            Service::PublishAttachments => 2,
            Service::FoundGroup => 3,
            Service::JoinGroup => 0,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Service::Publish => "publishing",
            Service::PublishAttachments => "publishing attachments",
            Service::FoundGroup => "founding a group",
            Service::JoinGroup => "joining a group",
        }
    }
}

impl CreditLevels {
    /// The minimum for `service` in `category`: the category's override, else
    /// the policy-wide level, else the default.
    fn minimum(&self, service: Service, category: &str) -> u8 {
        let by_category = self.categories.get(category).and_then(|l| service.get(l));
        by_category.or_else(|| service.get(&self.levels)).unwrap_or_else(|| service.default_level())
    }

    fn check(&self, user: User<'_>, service: Service, category: &str) -> Verdict {
        let (required, level) = (self.minimum(service, category), user.credit_level());
        if level >= required {
            return allow();
        }
        deny("credit-too-low")
            .message(format!(
                "{} in a `{category}` group requires credit level {required}; user `{}` has {level}",
                service.describe(),
                user.id()
            ))
            .article("Art. 7")
    }
}

impl Policy for CreditLevels {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        let config: Config = parse_config(config)?;
        Ok(CreditLevels { levels: config.levels(), categories: config.categories })
    }

    fn message(&self, m: &Message) -> Verdict {
        let (sender, category) = (m.sender(), m.group().category());
        // Attachments need their own level on top of the one for publishing.
        let publish = self.check(sender, Service::Publish, category);
        if !publish.is_allow() || m.attachments().len() == 0 {
            publish
        } else {
            self.check(sender, Service::PublishAttachments, category)
        }
    }

    fn group_creation(&self, c: &GroupCreation) -> Verdict {
        self.check(c.founder(), Service::FoundGroup, c.category())
    }

    fn membership(&self, m: &Membership) -> Verdict {
        self.check(m.subject(), Service::JoinGroup, m.group().category())
    }
}

groupgate_sdk::policy!(CreditLevels);
