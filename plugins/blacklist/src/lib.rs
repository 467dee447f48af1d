//! Art. 11 blacklist: users and groups entered on the platform's black list
//! for serious violations lose the group services. Denies, each with a
//! `report` measure on whoever is listed:
//! - a message from a listed sender, a group founded by a listed user, and a
//!   membership whose subject or inviter is listed: `blacklisted`;
//! - a message, or a membership, in a listed group: `group-blacklisted`.
//!   (A group being created has no id yet, so only its founder is checked.)
//!
//! Data: `users` and `groups`, one id per line, `#` comments; either may be
//! left out of `[data]`.

use std::collections::HashSet;

use groupgate_sdk::{
    DataFile, Group, GroupCreation, Measure, MeasureKind, Membership, Message, Policy, User, Verdict, all, allow, deny,
    entries, parse_config,
};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {}

struct Blacklist {
    users: HashSet<String>,
    groups: HashSet<String>,
}

/// The ids in data file `name`, or none if the manifest has no such file.
fn ids(data: &[DataFile], name: &str) -> Result<HashSet<String>, String> {
    match data.iter().find(|d| d.name == name) {
        Some(file) => {
            Ok(entries(&file.contents).map_err(|e| format!("data file `{name}`: {e}"))?.map(str::to_owned).collect())
        }
        None => Ok(HashSet::new()),
    }
}

impl Blacklist {
    /// Deny if `user`, who takes part in the request as `role`, is listed.
    fn user(&self, user: User<'_>, role: &str) -> Verdict {
        let id = user.id();
        if !self.users.contains(id) {
            return allow();
        }
        deny("blacklisted")
            .message(format!("the {role}, user `{id}`, is on the black list"))
            .article("Art. 11")
            .evidence(format!("user `{id}`"))
            .measure(Measure::on_user(MeasureKind::Report, id))
    }

    /// Deny if `group` is listed.
    fn group(&self, group: Group<'_>) -> Verdict {
        let id = group.id();
        if !self.groups.contains(id) {
            return allow();
        }
        deny("group-blacklisted")
            .message(format!("group `{id}` is on the black list"))
            .article("Art. 11")
            .evidence(format!("group `{id}`"))
            .measure(Measure::on_group(MeasureKind::Report, id))
    }
}

impl Policy for Blacklist {
    fn init(config: &str, data: Vec<DataFile>) -> Result<Self, String> {
        let Config {} = parse_config(config)?;
        if let Some(other) = data.iter().find(|d| d.name != "users" && d.name != "groups") {
            return Err(format!("data file `{}`: the blacklist reads only `users` and `groups`", other.name));
        }
        Ok(Blacklist { users: ids(&data, "users")?, groups: ids(&data, "groups")? })
    }

    fn message(&self, m: &Message) -> Verdict {
        self.user(m.sender(), "sender").and(self.group(m.group()))
    }

    fn group_creation(&self, c: &GroupCreation) -> Verdict {
        self.user(c.founder(), "founder")
    }

    fn membership(&self, m: &Membership) -> Verdict {
        let inviter = m.inviter().map_or_else(allow, |i| self.user(i, "inviter"));
        all([self.user(m.subject(), "user joining"), inviter, self.group(m.group())])
    }
}

groupgate_sdk::policy!(Blacklist);
