//! `[counters.NAME]` in `policy.toml`: the counters a policy reads, whom
//! each counts and over which windows, and `on_state_error`; `[state]` in
//! `groupgate.toml`: where the set's counters live and how long a read may
//! take.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::hook::Hook;
use crate::state::Window;
use crate::wire::Outcome;

/// Whom a counter counts in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Party {
    /// A message's sender.
    Sender,
    /// The group a message is sent to or a membership is for, or the
    /// group reported.
    Group,
    /// A group creation's founder, or the founder of the group a message is
    /// sent to or a membership is for.
    Founder,
    /// The user who would become a member.
    Subject,
    /// Who invites them (nobody on a join).
    Inviter,
    /// Who reports.
    Reporter,
    /// What a report is about: a message, a user or a group, each counted
    /// apart (a user and a group of one id are two targets).
    Target,
}

impl Party {
    /// The party as a manifest writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Sender => "sender",
            Party::Group => "group",
            Party::Founder => "founder",
            Party::Subject => "subject",
            Party::Inviter => "inviter",
            Party::Reporter => "reporter",
            Party::Target => "target",
        }
    }

    /// Whether requests of `hook` have this party.
    pub fn in_hook(self, hook: Hook) -> bool {
        match hook {
            Hook::Message => matches!(self, Party::Sender | Party::Group | Party::Founder),
            Hook::GroupCreation => self == Party::Founder,
            Hook::Membership => matches!(self, Party::Subject | Party::Inviter | Party::Group | Party::Founder),
            // `group` is the group reported (nobody when a message or a
            // user is).
            Hook::Report => matches!(self, Party::Reporter | Party::Target | Party::Group),
        }
    }

    /// `group` for a group, `target` for a report's target (whose id says
    /// what it is), `user` for everyone else: the kind of id.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Party::Group => "group",
            Party::Target => "target",
            _ => "user",
        }
    }
}

/// The user who acts in a request of `hook`: whom the host counts its
/// decisions for, among users.
pub(crate) fn actor(hook: Hook) -> Party {
    match hook {
        Hook::Message => Party::Sender,
        Hook::GroupCreation => Party::Founder,
        Hook::Membership => Party::Subject,
        Hook::Report => Party::Reporter,
    }
}

/// What to do when a policy's counts cannot be read (the store is down or
/// slower than `[state] timeout_ms`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnStateError {
    /// Call the policy anyway; its counts read `none`.
    #[default]
    NoCounts,
    /// Do not call it: it fails, and gives its `on_error` verdict.
    Error,
}

/// A counter the host keeps itself: the final decisions of one hook, with
/// one outcome or any, for every set sharing the store's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HostCounter {
    /// Decisions of which hook.
    pub hook: Hook,
    /// With which outcome: `deny` or `review`; every decision of the hook,
    /// whatever its outcome, when absent (the requests made: a sender's
    /// messages for flood control).
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Only decisions with a reason of that outcome citing one of these
    /// articles; every such decision when empty.
    #[serde(default)]
    pub articles: Vec<String>,
}

impl HostCounter {
    /// The counter's name in series keys: hook, outcome, and the articles
    /// filter sorted (`*` for none), so two policies declaring the same
    /// filter read one series.
    pub(crate) fn series_name(&self) -> String {
        let mut articles = self.articles.clone();
        articles.sort();
        articles.dedup();
        let filter = if articles.is_empty() { "*".to_owned() } else { articles.join(",") };
        let outcome = self.outcome.map_or("any", Outcome::as_str);
        format!("host/{}/{outcome}/{filter}", self.hook)
    }

    /// [`HostCounter::series_name`] for a counter of distinct `values`:
    /// another series than the events', since a store keeps the two apart.
    pub(crate) fn distinct_series_name(&self, values: Party) -> String {
        format!("{}/distinct-{}", self.series_name(), values.as_str())
    }

    /// Whether a decision citing `articles` (for reasons of the counter's
    /// outcome) counts.
    pub(crate) fn matches<'a>(&self, mut articles: impl Iterator<Item = &'a str>) -> bool {
        self.articles.is_empty() || articles.any(|a| self.articles.iter().any(|f| f == a))
    }
}

/// One `[counters.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterSpec {
    /// The name the policy reads and increments it by.
    pub name: String,
    /// Whom it counts.
    pub of: Party,
    /// The windows the policy reads.
    pub windows: Vec<Window>,
    /// The hooks on which it is read: every one the policy answers, unless
    /// the manifest names fewer (`hooks`). On a hook whose requests have
    /// nobody it counts, its counts are none.
    pub hooks: Vec<Hook>,
    /// Set when the host keeps it; the policy's own counter otherwise.
    pub host: Option<HostCounter>,
    /// Set when it counts distinct values rather than events: the party
    /// whose id is the value (distinct reporters of a target, say). Read,
    /// such a counter gives the number of distinct values seen within the
    /// window, exactly, the request's own value included.
    pub distinct: Option<Party>,
    /// Whether the platform may add to it, through
    /// [`PolicySet::add_to_counter`](crate::PolicySet::add_to_counter) or
    /// the server's `POST /v1/counters/POLICY/COUNTER` (an own counter only).
    pub platform: bool,
    /// `call_from`, one per window in `windows` order: the count from which
    /// the policy needs calling. Below every one (and with every count
    /// read), the host takes the policy's answer to be a plain allow and
    /// does not call it. Either every counter of a policy has it or none.
    pub call_from: Option<Vec<u64>>,
}

/// `call_from` as written: one threshold for every window, or one per window.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a whole number, the name of a `[config]` key, or a table of window to either")]
pub(super) enum RawCallFrom {
    All(RawThreshold),
    PerWindow(BTreeMap<String, RawThreshold>),
}

/// A threshold as written: a number, or the name of an integer in the
/// policy's `[config]`, so the two cannot drift apart.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum RawThreshold {
    Count(i64),
    Config(String),
}

impl RawThreshold {
    fn resolve(&self, config: &toml::Table) -> Result<u64, String> {
        let n = match self {
            RawThreshold::Count(n) => *n,
            RawThreshold::Config(key) => match config.get(key) {
                Some(toml::Value::Integer(n)) => *n,
                Some(other) => {
                    return Err(format!(
                        "names `[config]` key `{key}`, which is a {}, not a whole number",
                        other.type_str()
                    ));
                }
                None => return Err(format!("names `[config]` key `{key}`, which the manifest does not set")),
            },
        };
        u64::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| match self {
            RawThreshold::Count(_) => format!("{n} must be at least 1"),
            RawThreshold::Config(key) => format!("`[config]` key `{key}` is {n}; it must be at least 1"),
        })
    }
}

/// `[counters.NAME]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCounter {
    of: Party,
    windows: Vec<String>,
    host: Option<HostCounter>,
    hooks: Option<Vec<Hook>>,
    call_from: Option<RawCallFrom>,
    distinct: Option<Party>,
    #[serde(default)]
    platform: bool,
}

/// Checks a policy's `[counters]` against the hooks it answers, resolving
/// `call_from` against its `[config]`. Errors are `(key, message)`.
pub(super) fn check_counters(
    raw: BTreeMap<String, RawCounter>,
    hooks: &[Hook],
    config: &toml::Table,
) -> Result<Vec<CounterSpec>, (String, String)> {
    let mut counters = Vec::with_capacity(raw.len());
    for (name, counter) in raw {
        let key = |k: &str| format!("counters.{name}.{k}");
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err((
                format!("counters.{name}"),
                "a counter's name must be 1 to 64 letters, digits, `-` or `_`".into(),
            ));
        }
        if !hooks.iter().any(|&h| counter.of.in_hook(h)) {
            let hooks: Vec<String> = hooks.iter().map(|h| format!("`{h}`")).collect();
            return Err((
                key("of"),
                format!("`{}` is in none of the hooks this policy answers ({})", counter.of.as_str(), hooks.join(", ")),
            ));
        }
        if counter.windows.is_empty() {
            return Err((key("windows"), "must list at least one window, e.g. `[\"60s\"]`".into()));
        }
        let mut windows: Vec<Window> = Vec::with_capacity(counter.windows.len());
        for text in &counter.windows {
            let window = Window::parse(text).map_err(|m| (key("windows"), m))?;
            if windows.contains(&window) {
                return Err((key("windows"), format!("`{text}` is listed twice")));
            }
            windows.push(window);
        }
        if let Some(host) = &counter.host {
            if host.outcome == Some(Outcome::Allow) {
                return Err((
                    key("host.outcome"),
                    "the host counts `deny` and `review` decisions, not `allow` (leave `outcome` out to count every \
                     decision)"
                        .into(),
                ));
            }
            if host.outcome.is_none() && !host.articles.is_empty() {
                return Err((
                    key("host.articles"),
                    "filters the reasons of an `outcome`, and none is given (`deny` or `review`)".into(),
                ));
            }
            // `/` separates the parts of a host counter's series name.
            if let Some(bad) = host.articles.iter().find(|a| a.is_empty() || a.contains([',', '|', '%', '/'])) {
                return Err((key("host.articles"), format!("`{bad}` must be non-empty, without `,`, `|`, `%` or `/`")));
            }
            if counter.of == Party::Target && host.hook != Hook::Report {
                return Err((key("of"), format!("a `{}` decision has no report target to count", host.hook)));
            }
            if counter.of == Party::Group && host.hook == Hook::GroupCreation {
                return Err((key("of"), "a group creation has no group yet to count decisions of".into()));
            }
            if counter.platform {
                return Err((
                    key("platform"),
                    "the host keeps this counter (`host`): only a policy's own counter takes the platform's additions"
                        .into(),
                ));
            }
        }
        if let Some(distinct) = counter.distinct {
            if distinct == counter.of {
                return Err((key("distinct"), format!("counts `{}` by itself: name another party", distinct.as_str())));
            }
            // Values are seen where the counter is written: the host's
            // decisions of `host.hook`, or the hooks the policy answers,
            // where the request has both whom it counts and the value.
            let written: Vec<Hook> = match &counter.host {
                Some(host) => vec![host.hook],
                None => hooks.iter().copied().filter(|&h| counter.of.in_hook(h)).collect(),
            };
            if !written.iter().any(|&h| distinct.in_hook(h)) {
                let written: Vec<String> = written.iter().map(|h| format!("`{h}`")).collect();
                return Err((
                    key("distinct"),
                    format!(
                        "`{}` is in none of the requests the counter is written on with its `of` ({})",
                        distinct.as_str(),
                        written.join(", ")
                    ),
                ));
            }
            // The host writes a user's count for the user who acted (see
            // `host_increments`): the same user as the value counts only
            // itself.
            if let Some(host) = &counter.host
                && counter.of.kind() == "user"
                && distinct == actor(host.hook)
            {
                return Err((
                    key("distinct"),
                    format!(
                        "the host counts `{}` decisions for the user who acted, the {}: distinct {} of theirs would \
                         only ever be them",
                        host.hook,
                        distinct.as_str(),
                        distinct.as_str()
                    ),
                ));
            }
            if counter.platform {
                return Err((
                    key("platform"),
                    "the platform adds events, not distinct values: leave out `distinct` or `platform`".into(),
                ));
            }
        }
        let call_from = match &counter.call_from {
            None => None,
            Some(RawCallFrom::All(t)) => {
                let n = t.resolve(config).map_err(|m| (key("call_from"), m))?;
                Some(vec![n; windows.len()])
            }
            Some(RawCallFrom::PerWindow(table)) => {
                if let Some(other) = table.keys().find(|w| !counter.windows.contains(w)) {
                    return Err((
                        key("call_from"),
                        format!(
                            "names window `{other}`, which `windows` does not list ({})",
                            counter.windows.join(", ")
                        ),
                    ));
                }
                let mut each = Vec::with_capacity(windows.len());
                for text in &counter.windows {
                    let t = table.get(text).ok_or_else(|| {
                        (key("call_from"), format!("gives no threshold for window `{text}`; give one for every window"))
                    })?;
                    each.push(t.resolve(config).map_err(|m| (key(&format!("call_from.{text}")), m))?);
                }
                Some(each)
            }
        };
        let read_on = match &counter.hooks {
            None => hooks.to_vec(),
            Some(listed) => {
                if listed.is_empty() {
                    return Err((key("hooks"), "lists no hook: leave it out to read the counter on every hook".into()));
                }
                if let Some(h) = listed.iter().find(|h| !hooks.contains(h)) {
                    return Err((key("hooks"), format!("`{h}` is not one of the hooks the policy answers")));
                }
                if let Some(h) = listed.iter().find(|&&h| !counter.of.in_hook(h)) {
                    return Err((key("hooks"), format!("a `{h}` request has no `{}`", counter.of.as_str())));
                }
                listed.clone()
            }
        };
        counters.push(CounterSpec {
            name,
            of: counter.of,
            windows,
            hooks: read_on,
            host: counter.host,
            distinct: counter.distinct,
            platform: counter.platform,
            call_from,
        });
    }
    // A counter without `call_from` would never be looked at when deciding
    // whether to call: the policy could miss a count it was written to see.
    if let Some(with) = counters.iter().find(|c| c.call_from.is_some())
        && let Some(without) = counters.iter().find(|c| c.call_from.is_none())
    {
        return Err((
            format!("counters.{}.call_from", without.name),
            format!(
                "is missing, while `counters.{}` has one: give every counter a `call_from`, or none, since the \
                 policy is called only when some count reaches its `call_from`",
                with.name
            ),
        ));
    }
    Ok(counters)
}

/// `[state]` in `groupgate.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StateSettings {
    /// Prefixes every counter key, so sets sharing a store keep apart or, with
    /// one namespace, share counts. The set folder's name by default.
    pub namespace: Option<String>,
    /// The longest a read or an apply may take, in milliseconds, before the
    /// request is decided without counts.
    #[serde(default = "default_state_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings { namespace: None, timeout_ms: default_state_timeout_ms() }
    }
}

fn default_state_timeout_ms() -> u64 {
    50
}
