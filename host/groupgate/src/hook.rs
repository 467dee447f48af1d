//! The moments at which a platform asks groupgate, and the one table that
//! says, for each, its name, the export that answers it and the request it
//! carries. Code that must do something per hook reads this table instead of
//! spelling out the hooks again.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The moment at which a platform asks groupgate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Hook {
    /// May this message be published?
    Message,
    /// May this group be created?
    GroupCreation,
    /// May this person join, or be invited into, this group?
    Membership,
    /// What should become of this report from the public (Art. 12)?
    Report,
}

/// What the host knows of one hook.
#[derive(Debug)]
#[non_exhaustive]
pub struct HookSpec {
    /// The hook.
    pub hook: Hook,
    /// Its name in manifests, on the command line, in HTTP routes
    /// (`/v1/evaluate/NAME`) and as the `hook` label of metrics.
    pub name: &'static str,
    /// The component export that answers it.
    pub export: &'static str,
    /// The WIT record its request is (`message`, `group-creation`, ...).
    pub request_type: &'static str,
}

/// Every hook, in the order the contract lists them; `HOOKS[h.index()]` is
/// the spec of hook `h`.
pub const HOOKS: [HookSpec; 4] = [
    HookSpec { hook: Hook::Message, name: "message", export: "evaluate-message", request_type: "message" },
    HookSpec {
        hook: Hook::GroupCreation,
        name: "group-creation",
        export: "evaluate-group-creation",
        request_type: "group-creation",
    },
    HookSpec { hook: Hook::Membership, name: "membership", export: "evaluate-membership", request_type: "membership" },
    HookSpec { hook: Hook::Report, name: "report", export: "evaluate-report", request_type: "report" },
];

impl Hook {
    /// Every hook, in the order the contract lists them.
    pub const ALL: [Hook; HOOKS.len()] = [HOOKS[0].hook, HOOKS[1].hook, HOOKS[2].hook, HOOKS[3].hook];

    /// The hook's row in [`HOOKS`].
    pub fn spec(self) -> &'static HookSpec {
        &HOOKS[self.index()]
    }

    /// The hook's position in [`Hook::ALL`] and [`HOOKS`], for tables indexed
    /// by hook (counters per hook, say).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The hook's name in manifests and on the command line.
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// The names of every hook, as an error message lists them.
    pub fn expected() -> String {
        let names: Vec<String> = HOOKS.iter().map(|h| format!("`{}`", h.name)).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{}, {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }
}

// The table is indexed by the enum's discriminant.
const _: () = {
    let mut i = 0;
    while i < HOOKS.len() {
        assert!(HOOKS[i].hook as usize == i);
        i += 1;
    }
};

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook name that is none of [`HOOKS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook `{name}`, expected one of {}", Hook::expected())]
pub struct UnknownHook {
    /// The name given.
    pub name: String,
}

impl FromStr for Hook {
    type Err = UnknownHook;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HOOKS.iter().find(|h| h.name == s).map(|h| h.hook).ok_or_else(|| UnknownHook { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hook_reads_back_from_its_name() {
        for hook in Hook::ALL {
            assert_eq!(hook.as_str().parse::<Hook>(), Ok(hook));
            assert_eq!(hook.spec().hook, hook);
        }
        let err = "post".parse::<Hook>().unwrap_err().to_string();
        assert_eq!(err, "unknown hook `post`, expected one of `message`, `group-creation`, `membership`, `report`");
    }
}
