//! Art. 11 blacklist: users and groups entered on the platform's black list
//! for serious violations lose the group services. Denies, each with a
//! `report` measure on whoever is listed:
//! - a message from a listed sender, a group founded by a listed user, and a
//!   membership whose subject or inviter is listed: `blacklisted`;
//! - a message, or a membership, in a listed group: `group-blacklisted`.
//!   (A group being created has no id yet, so only its founder is checked.)
//!
//! Data: `users` and `groups`, one id per line, `#` comments; either may be
//! left out of `[data]`. A request's users are read only when `users` lists
//! someone, and its group only when `groups` does.

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
    /// Deny if the user that `read` returns is listed; `read` is called only
    /// when some user is.
    fn user(&self, read: impl FnOnce() -> User, role: &str) -> Verdict {
        if self.users.is_empty() {
            return allow();
        }
        self.listed_user(&read(), role)
    }

    fn listed_user(&self, user: &User, role: &str) -> Verdict {
        if !self.users.contains(&user.id) {
            return allow();
        }
        deny("blacklisted")
            .message(format!("the {role}, user `{}`, is on the black list", user.id))
            .article("Art. 11")
            .evidence(format!("user `{}`", user.id))
            .measure(Measure::on_user(MeasureKind::Report, &user.id))
    }

    /// Deny if the group that `read` returns is listed; `read` is called
    /// only when some group is.
    fn group(&self, read: impl FnOnce() -> Group) -> Verdict {
        if self.groups.is_empty() {
            return allow();
        }
        let group = read();
        if !self.groups.contains(&group.id) {
            return allow();
        }
        deny("group-blacklisted")
            .message(format!("group `{}` is on the black list", group.id))
            .article("Art. 11")
            .evidence(format!("group `{}`", group.id))
            .measure(Measure::on_group(MeasureKind::Report, &group.id))
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
        self.user(|| m.sender(), "sender").and(self.group(|| m.group()))
    }

    fn group_creation(&self, c: &GroupCreation) -> Verdict {
        self.user(|| c.founder(), "founder")
    }

    fn membership(&self, m: &Membership) -> Verdict {
        let subject = self.user(|| m.subject(), "user joining");
        let inviter = if self.users.is_empty() {
            allow()
        } else {
            m.inviter().map_or_else(allow, |i| self.listed_user(&i, "inviter"))
        };
        all([subject, inviter, self.group(|| m.group())])
    }
}

groupgate_sdk::policy!(Blacklist);
