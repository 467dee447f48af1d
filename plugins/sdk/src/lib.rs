//! Write groupgate content policies in Rust. Implement [`Policy`] for a type,
//! override the hooks you care about (the others allow), and export it with
//! [`policy!`]; build with `cargo build --release --target wasm32-wasip2`.
//!
//! ```ignore
//! use groupgate_sdk::{Message, Policy, Reason, Verdict};
//!
//! struct NoShouting;
//!
//! impl Policy for NoShouting {
//!     fn init(_config: &str, _data: Vec<groupgate_sdk::DataFile>) -> Result<Self, String> {
//!         Ok(NoShouting)
//!     }
//!     fn message(&self, m: &Message) -> Verdict {
//!         if m.text.len() > 8 && m.text == m.text.to_uppercase() {
//!             return Verdict::review(Reason::new("shouting", "the message is all capitals"));
//!         }
//!         Verdict::allow()
//!     }
//! }
//!
//! groupgate_sdk::policy!(NoShouting);
//! ```

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
    });
}

#[doc(hidden)]
pub use wit_bindgen::rt as __rt;

pub use bindings::groupgate::policy::types::{
    Attachment, DataFile, Group, GroupCreation, Measure, MeasureKind, Membership, MembershipKind, Message, Outcome,
    Reason, Role, Target, User, Verdict,
};
pub use groupgate_text::{ASCII_SKELETON, skeleton, skeleton_bytes_into, skeleton_into};

/// A content policy. `init` builds it once per instance from the manifest's
/// `[config]` (as JSON) and `[data]` files; the hooks are then called for each
/// request whose hook and scope match the manifest. Hooks not overridden allow.
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
            fn evaluate_message(message: $crate::Message) -> $crate::Verdict {
                __groupgate_with(|p| $crate::Policy::message(p, &message))
            }
            fn evaluate_group_creation(creation: $crate::GroupCreation) -> $crate::Verdict {
                __groupgate_with(|p| $crate::Policy::group_creation(p, &creation))
            }
            fn evaluate_membership(membership: $crate::Membership) -> $crate::Verdict {
                __groupgate_with(|p| $crate::Policy::membership(p, &membership))
            }
        }

        $crate::bindings::__export_policy_world!(__GroupgatePolicy with_types_in $crate::bindings);
    };
}

impl Verdict {
    /// Nothing against it.
    pub fn allow() -> Self {
        Verdict { outcome: Outcome::Allow, reasons: Vec::new(), measures: Vec::new() }
    }

    /// Refuse, for `reason`.
    pub fn deny(reason: Reason) -> Self {
        Verdict { outcome: Outcome::Deny, reasons: vec![reason], measures: Vec::new() }
    }

    /// Hold for a moderator, for `reason`.
    pub fn review(reason: Reason) -> Self {
        Verdict { outcome: Outcome::Review, reasons: vec![reason], measures: Vec::new() }
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
}

/// Parses the `[config]` JSON into `T`. Errors name the key, e.g.
/// ``config key `lists`: invalid type: string "x", expected a sequence``.
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_str(config);
    serde_path_to_error::deserialize(de).map_err(|e| {
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
