//! Write groupgate content policies in Rust. Implement [`Policy`] for a type,
//! override the hooks you care about (the others allow), and export it with
//! [`policy!`]; build with `cargo build --release --target wasm32-wasip2`.
//! The component implements `groupgate:policy@0.2.0` (`wit/policy.wit`).
//!
//! ```ignore
//! use groupgate_sdk::{DataFile, Message, Policy, Verdict, allow, review};
//!
//! struct NoShouting;
//!
//! impl Policy for NoShouting {
//!     fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
//!         Ok(NoShouting)
//!     }
//!     fn message(&self, m: &Message) -> Verdict {
//!         let text = m.text();
//!         if text.len() > 8 && text == text.to_uppercase() {
//!             return review("shouting").message("the message is all capitals").article("Art. 9");
//!         }
//!         allow()
//!     }
//! }
//!
//! groupgate_sdk::policy!(NoShouting);
//! ```
//!
//! # The request
//!
//! A hook is given the request ([`Message`], [`GroupCreation`],
//! [`Membership`], [`Report`]) as one buffer that the host copied into the policy's
//! memory, and reads it in place: `m.text()`, `m.sender().credit_level()`,
//! `c.founder().id()`, `m.inviter()` each read one field where it lies,
//! strings borrowed from the buffer, so a policy pays only for what it reads
//! and nothing is decoded twice. Users, groups and attachments are views
//! ([`User`], [`Group`], [`Attachment`]) with a method per field.
//!
//! # Counters
//!
//! A policy counts events across requests with counters declared in its
//! manifest, one `[counters.NAME]` table each:
//!
//! ```toml
//! on_state_error = "no_counts"   # or "error"; the default is "no_counts"
//!
//! [counters.messages]            # the policy's own: only its verdicts add to it
//! of = "sender"                  # whom: sender | group | founder | subject | inviter | reporter | target
//! windows = ["60s"]              # the windows it reads: NUMBER + s|m|h|d
//!
//! [counters.denials]             # kept by the host: final decisions of `hook`
//! of = "sender"                  # with `outcome`, citing one of `articles`
//! host = { hook = "message", outcome = "deny", articles = ["Art. 9", "Art. 10"] }
//! windows = ["24h", "30d"]
//! hooks = ["message"]            # read on these of the policy's hooks only
//! call_from = { "24h" = 3, "30d" = "blacklist_after" }   # a number or a [config] key
//!
//! [counters.reporters]           # distinct values, not events
//! of = "target"                  # per report target
//! distinct = "reporter"          # counts each reporter once, this request's included
//! host = { hook = "report" }
//! windows = ["24h"]
//!
//! [counters.rejected]            # the platform adds to it (POST /v1/counters/POLICY/rejected)
//! of = "reporter"
//! platform = true
//! windows = ["30d"]
//! ```
//!
//! An own counter (no `host`) holds what the policy's verdicts add to it. A
//! host counter holds the final, merged decisions of requests of `hook` with
//! `outcome` (every one, without `outcome`) and a reason of that outcome
//! citing one of `articles` (reasons of policies that failed do not count),
//! each counted once for the user who acted (the sender, the founder, the
//! subject) and once for the group; `of` says whose count the policy reads
//! in its own request. With `call_from` on every counter, the host calls the
//! policy only when some count reaches its threshold (or is none),
//! and otherwise takes its answer to be a plain [`allow`]: the policy must
//! allow, with no reason, measure or increment, below every threshold.
//!
//! Every request reads them with `count(counter, window) -> Option<u64>`: `m.count("messages", "60s")` is how many events counter
//! `messages` holds for whom its `of` names in this request, over the 60
//! seconds up to the request's own time (the request itself not yet
//! included). The host reads the counts before the call, so `count` never
//! waits. It is `None` when the counters' store could not be read and the
//! manifest says `on_state_error = "no_counts"` (the default; with `"error"`
//! the hook is not called at all: the policy fails and gives its `on_error`
//! verdict), and when the request has nobody the counter counts (an
//! `inviter` counter on a join). A counter, or a window, that the manifest
//! does not declare stops the call with an error naming what it does
//! declare: write both exactly as the manifest does (`"60s"` there is not
//! `"1m"` here).
//!
//! A verdict adds to the policy's own counters with
//! [`Verdict::increment`]: `allow().increment("messages", 1)`. The host
//! applies increments once the request's merged decision is final, whatever
//! it is, so a denied attempt counts too when the verdict says so. Only own
//! counters take increments, never host counters.
//!
//! # Verdicts
//!
//! Verdicts are built from [`allow`], [`deny`] and [`review`]; `.message()`,
//! `.article()` and `.evidence()` describe the latest reason, `.measure()`
//! asks the platform to act, `.increment()` adds to a counter, and
//! [`Verdict::and`] combines the verdicts of several rules. [`parse_config`]
//! reads `[config]` into a serde type with errors naming the key,
//! [`data_file`] and [`entries`] read `[data]` files, [`skeleton`] is the
//! text normalisation every standard policy matches on, and [`fold`] adds
//! the steps that undo disguises (Traditional characters, look-alike
//! letters, leetspeak, repeated letters) that `prohibited-content` takes.

extern crate self as groupgate_sdk;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "policy",
        pub_export_macro: true,
        export_macro_name: "__export_policy_world",
        default_bindings_module: "groupgate_sdk::bindings",
        runtime_path: "groupgate_sdk::__rt",
        additional_derives: [PartialEq, Eq],
    });
}

#[doc(hidden)]
pub use wit_bindgen::rt as __rt;

pub use bindings::groupgate::policy::types::{DataFile, Increment, Measure, MeasureKind, Outcome, Reason, Target};
pub use groupgate_encoding::{
    Attachment, Attachments, Group, MembershipKind, ReportCategory, ReportTarget, ReportedMessage, Role, Strings, User,
};
pub use groupgate_text::{
    ASCII_SKELETON, Disguises, Folded, fold, fold_entry, fold_into, pinyin, skeleton, skeleton_bytes_into,
    skeleton_into, skeleton_with_breaks_into,
};

/// A content policy. `init` builds it once per instance from the manifest's
/// `[config]` (as JSON) and `[data]` files; the hooks are then called for each
/// request whose hook and scope match the manifest, with the request as the
/// host copied it into the policy for the call (read its fields with its
/// methods). Hooks not overridden allow.
pub trait Policy: Sized + 'static {
    /// Builds the policy, or refuses its configuration with a message that
    /// names the offending key or file.
    fn init(config: &str, data: Vec<DataFile>) -> Result<Self, String>;

    /// May this message be published?
    fn message(&self, _message: &Message) -> Verdict {
        Verdict::allow()
    }

    /// May this group be created?
    fn group_creation(&self, _creation: &GroupCreation) -> Verdict {
        Verdict::allow()
    }

    /// May this user join, or be invited into, this group?
    fn membership(&self, _membership: &Membership) -> Verdict {
        Verdict::allow()
    }

    /// What should become of this report from the public (Art. 12)?
    fn report(&self, _report: &Report) -> Verdict {
        Verdict::allow()
    }
}

/// Exports a [`Policy`] implementation as the component's `policy` world.
#[macro_export]
macro_rules! policy {
    ($ty:ty) => {
        struct __GroupgatePolicy;

        ::std::thread_local! {
            static __GROUPGATE_STATE: ::std::cell::RefCell<::std::option::Option<$ty>> =
                const { ::std::cell::RefCell::new(::std::option::Option::None) };
        }

        fn __groupgate_with<R>(f: impl FnOnce(&$ty) -> R) -> R {
            __GROUPGATE_STATE.with(|state| match &*state.borrow() {
                ::std::option::Option::Some(policy) => f(policy),
                ::std::option::Option::None => panic!("evaluated before `init` succeeded"),
            })
        }

        impl $crate::bindings::Guest for __GroupgatePolicy {
            fn init(config: ::std::string::String, data: ::std::vec::Vec<$crate::DataFile>) -> ::std::result::Result<(), ::std::string::String> {
                let policy = <$ty as $crate::Policy>::init(&config, data)?;
                __GROUPGATE_STATE.with(|state| *state.borrow_mut() = ::std::option::Option::Some(policy));
                ::std::result::Result::Ok(())
            }
            fn evaluate_message(message: ::std::vec::Vec<u8>) -> $crate::Outcome {
                let message = $crate::Message::__new(message);
                $crate::__answer(__groupgate_with(|p| $crate::Policy::message(p, &message)))
            }
            fn evaluate_group_creation(creation: ::std::vec::Vec<u8>) -> $crate::Outcome {
                let creation = $crate::GroupCreation::__new(creation);
                $crate::__answer(__groupgate_with(|p| $crate::Policy::group_creation(p, &creation)))
            }
            fn evaluate_membership(membership: ::std::vec::Vec<u8>) -> $crate::Outcome {
                let membership = $crate::Membership::__new(membership);
                $crate::__answer(__groupgate_with(|p| $crate::Policy::membership(p, &membership)))
            }
            fn evaluate_report(report: ::std::vec::Vec<u8>) -> $crate::Outcome {
                let report = $crate::Report::__new(report);
                $crate::__answer(__groupgate_with(|p| $crate::Policy::report(p, &report)))
            }
        }

        $crate::bindings::__export_policy_world!(__GroupgatePolicy with_types_in $crate::bindings);
    };
}

macro_rules! request {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Its fields are read with the methods of the view it derefs to
        #[doc = concat!("([`groupgate_encoding::", stringify!($name), "`]);")]
        /// counts with [`count`](Self::count).
        pub struct $name(groupgate_encoding::$name);

        impl $name {
            #[doc(hidden)]
            pub fn __new(bytes: Vec<u8>) -> Self {
                match groupgate_encoding::$name::new(bytes) {
                    Ok(view) => $name(view),
                    Err(e) => abort(&format!("{e}")),
                }
            }

            /// How many events counter `counter` (a `[counters.NAME]` table
            /// of the manifest) holds for whom it counts in this request over
            /// `window` (as the manifest writes it), before this request.
            /// `None` when the count could not be read (see the crate's
            /// documentation). A counter or window the manifest does not
            /// declare stops the call with an error naming those it does.
            pub fn count(&self, counter: &str, window: &str) -> Option<u64> {
                match self.0.count(counter, window) {
                    Some(count) => count,
                    None => undeclared(self.0.counts(), counter, window),
                }
            }
        }

        impl std::ops::Deref for $name {
            type Target = groupgate_encoding::$name;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}

request!(
    /// A message someone wants to publish in a group.
    Message
);
request!(
    /// A request to create a group.
    GroupCreation
);
request!(
    /// A request for a user to join, or be invited into, a group.
    Membership
);
request!(
    /// A complaint from the public (Art. 12): someone reports a message, a
    /// user or a group.
    Report
);

/// Stops the call: the policy fails with `message` as its error, and gives
/// its `on_error` verdict.
pub fn abort(message: &str) -> ! {
    bindings::groupgate::policy::abort::abort(message);
    // The host never returns from `abort`.
    unreachable!("{message}")
}

#[cold]
fn undeclared(counts: groupgate_encoding::Counts<'_>, counter: &str, window: &str) -> ! {
    let declared: Vec<String> = counts.map(|(c, w, _)| format!("{c} over {w}")).collect();
    let declared = if declared.is_empty() { "none".to_owned() } else { declared.join(", ") };
    abort(&format!(
        "counter `{counter}` over `{window}` is not declared under `[counters]` in the policy's manifest \
         (declared: {declared})"
    ))
}

/// Nothing against it. Allocates nothing.
pub const fn allow() -> Verdict {
    Verdict::allow()
}

/// Refuse, for reason `code` (a stable, kebab-case code such as
/// `credit-too-low`); describe it with `.message()` and `.article()`.
pub fn deny(code: &str) -> Verdict {
    Verdict::deny(Reason::new(code, ""))
}

/// Hold for a moderator, for reason `code`.
pub fn review(code: &str) -> Verdict {
    Verdict::review(Reason::new(code, ""))
}

/// A policy's answer to one request: its outcome, why, what the platform
/// should do about it, and what to add to the policy's own counters.
///
/// Built with [`allow`], [`deny`] and [`review`] and the methods below. The
/// hook's generated export returns only the outcome to the host, and hands
/// the rest over through the contract's `verdict.explain` when there is any,
/// so an allow with nothing to say costs the host nothing to copy back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The decision.
    pub outcome: Outcome,
    /// Why; an allow usually has none.
    pub reasons: Vec<Reason>,
    /// What the platform should do about it.
    pub measures: Vec<Measure>,
    /// What to add to the policy's own counters.
    pub increments: Vec<Increment>,
}

/// Gives the host `verdict` as the contract asks: the lists, when any has
/// something, through `verdict.explain`, and the outcome as the hook's
/// return value. Called by the exports [`policy!`] generates.
#[doc(hidden)]
pub fn __answer(verdict: Verdict) -> Outcome {
    let Verdict { outcome, reasons, measures, increments } = &verdict;
    if !(reasons.is_empty() && measures.is_empty() && increments.is_empty()) {
        bindings::groupgate::policy::verdict::explain(reasons, measures, increments);
    }
    *outcome
}

/// How severe an outcome is: allow < review < deny.
fn severity(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Allow => 0,
        Outcome::Review => 1,
        Outcome::Deny => 2,
    }
}

impl Verdict {
    /// Nothing against it. Allocates nothing.
    pub const fn allow() -> Self {
        Verdict { outcome: Outcome::Allow, reasons: Vec::new(), measures: Vec::new(), increments: Vec::new() }
    }

    /// Refuse, for `reason`.
    pub fn deny(reason: Reason) -> Self {
        Verdict { outcome: Outcome::Deny, reasons: vec![reason], measures: Vec::new(), increments: Vec::new() }
    }

    /// Hold for a moderator, for `reason`.
    pub fn review(reason: Reason) -> Self {
        Verdict { outcome: Outcome::Review, reasons: vec![reason], measures: Vec::new(), increments: Vec::new() }
    }

    /// Adds a reason, e.g. a note on an allow.
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reasons.push(reason);
        self
    }

    /// Adds a measure for the platform to take.
    pub fn with_measure(mut self, measure: Measure) -> Self {
        self.measures.push(measure);
        self
    }

    /// Sets the latest reason's message: a sentence for a moderator or the user.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        if let Some(reason) = self.reasons.last_mut() {
            reason.message = message.into();
        }
        self
    }

    /// Sets the latest reason's regulation article, e.g. `Art. 7`.
    pub fn article(mut self, article: &str) -> Self {
        if let Some(reason) = self.reasons.last_mut() {
            reason.article = Some(article.to_owned());
        }
        self
    }

    /// Sets what triggered the latest reason (never a whole message).
    pub fn evidence(mut self, evidence: impl Into<String>) -> Self {
        if let Some(reason) = self.reasons.last_mut() {
            reason.evidence = Some(evidence.into());
        }
        self
    }

    /// Adds a measure for the platform to take.
    pub fn measure(self, measure: Measure) -> Self {
        self.with_measure(measure)
    }

    /// Adds `amount` to the policy's own counter `counter` (a
    /// `[counters.NAME]` table of its manifest without `host`), for whom that
    /// table's `of` names in this request. The host applies it once the
    /// request's merged decision is final, whatever that is. Adding to a
    /// counter the verdict already adds to sums the amounts.
    pub fn increment(mut self, counter: &str, amount: u32) -> Self {
        add_increment(&mut self.increments, counter, amount);
        self
    }

    /// Both verdicts at once: the more severe outcome, with the reasons and
    /// measures of each (measures asked for twice are kept once), and the
    /// increments of each (summed per counter). A policy that checks several
    /// rules combines them so a request breaking several hears about all of
    /// them.
    pub fn and(mut self, other: Verdict) -> Self {
        if severity(other.outcome) > severity(self.outcome) {
            self.outcome = other.outcome;
        }
        self.reasons.extend(other.reasons);
        for measure in other.measures {
            if !self.measures.contains(&measure) {
                self.measures.push(measure);
            }
        }
        if self.increments.is_empty() {
            self.increments = other.increments;
        } else {
            for increment in other.increments {
                add_increment(&mut self.increments, &increment.counter, increment.amount);
            }
        }
        self
    }

    /// Whether nothing is against it.
    pub fn is_allow(&self) -> bool {
        matches!(self.outcome, Outcome::Allow)
    }
}

/// Adds `amount` to `counter`'s entry in `increments`, or appends one.
fn add_increment(increments: &mut Vec<Increment>, counter: &str, amount: u32) {
    match increments.iter_mut().find(|i| i.counter == counter) {
        Some(existing) => existing.amount = existing.amount.saturating_add(amount),
        None => increments.push(Increment { counter: counter.to_owned(), amount }),
    }
}

/// Combines any number of verdicts with [`Verdict::and`]; allow when there
/// are none.
pub fn all(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    verdicts.into_iter().fold(allow(), Verdict::and)
}

impl Reason {
    /// A reason with a stable `code` and a human `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Reason { code: code.to_owned(), message: message.into(), article: None, evidence: None }
    }

    /// The regulation article applied, e.g. `Art. 10`.
    pub fn article(mut self, article: &str) -> Self {
        self.article = Some(article.to_owned());
        self
    }

    /// What triggered it (never a whole message).
    pub fn evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(evidence.into());
        self
    }
}

impl Measure {
    /// A measure of `kind` against a user.
    pub fn on_user(kind: MeasureKind, user_id: &str) -> Self {
        Measure { kind, target: Target::User(user_id.to_owned()), duration_secs: None, amount: None }
    }

    /// A measure of `kind` against a group.
    pub fn on_group(kind: MeasureKind, group_id: &str) -> Self {
        Measure { kind, target: Target::Group(group_id.to_owned()), duration_secs: None, amount: None }
    }

    /// For how long, in seconds (suspensions, blacklisting).
    pub fn for_secs(mut self, secs: u64) -> Self {
        self.duration_secs = Some(secs);
        self
    }

    /// By how much (e.g. the credit levels to lower).
    pub fn by(mut self, amount: u32) -> Self {
        self.amount = Some(amount);
        self
    }
}

/// Parses the `[config]` JSON into `T`. Errors name the key, e.g.
/// ``config key `lists`: invalid type: string "x", expected a sequence``.
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T, String> {
    // Through a `Value`, so errors carry the key but not a position in JSON
    // the author never wrote (they wrote TOML).
    let value: serde_json::Value = serde_json::from_str(config).map_err(|e| format!("config is not JSON: {e}"))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." { format!("config: {}", e.inner()) } else { format!("config key `{path}`: {}", e.inner()) }
    })
}

/// The entries of a line-oriented data file: one per line, trimmed, with
/// blank lines and lines starting with `#` skipped.
pub fn entries(contents: &[u8]) -> Result<impl Iterator<Item = &str>, String> {
    let text = std::str::from_utf8(contents).map_err(|e| format!("not UTF-8 text: {e}"))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')))
}

/// The `[data]` file named `name`, or an error naming it and the files there are.
pub fn data_file<'a>(data: &'a [DataFile], name: &str) -> Result<&'a DataFile, String> {
    data.iter().find(|d| d.name == name).ok_or_else(|| {
        let names: Vec<&str> = data.iter().map(|d| d.name.as_str()).collect();
        if names.is_empty() {
            format!("no data file named `{name}`: the manifest has no `[data]`")
        } else {
            format!("no data file named `{name}` (the manifest's `[data]` has `{}`)", names.join("`, `"))
        }
    })
}

/// Structured log lines, delivered to the host's log under the policy's name.
pub mod log {
    pub use crate::bindings::groupgate::policy::log::Level;
    use crate::bindings::groupgate::policy::log::log;

    /// Logs `message` at `level` with key/value `fields`.
    pub fn line(level: Level, message: &str, fields: &[(&str, &str)]) {
        let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        log(level, message, &fields);
    }

    /// Logs `message` at info level.
    pub fn info(message: &str) {
        line(Level::Info, message, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn increments(verdict: &Verdict) -> Vec<(&str, u32)> {
        verdict.increments.iter().map(|i| (i.counter.as_str(), i.amount)).collect()
    }

    #[test]
    fn allow_allocates_nothing() {
        let verdict = allow();
        assert_eq!(verdict.reasons.capacity(), 0);
        assert_eq!(verdict.measures.capacity(), 0);
        assert_eq!(verdict.increments.capacity(), 0);
    }

    #[test]
    fn increments_sum_per_counter() {
        let verdict = allow().increment("messages", 1).increment("links", 3).increment("messages", 2);
        assert_eq!(increments(&verdict), [("messages", 3), ("links", 3)]);
    }

    #[test]
    fn and_keeps_the_increments_of_both() {
        let first = allow().increment("messages", 1);
        let second = deny("flood").increment("messages", 1).increment("links", 2);
        let both = first.and(second);
        assert_eq!(both.outcome, Outcome::Deny);
        assert_eq!(increments(&both), [("messages", 2), ("links", 2)]);
        let combined = all([allow(), review("x").increment("links", 1), allow().increment("links", u32::MAX)]);
        assert_eq!(combined.outcome, Outcome::Review);
        assert_eq!(increments(&combined), [("links", u32::MAX)]);
    }
}
