//! The records of the contract (`wit/policy.wit`), as Rust types that are at
//! once the JSON wire format (snake_case, unknown fields rejected) and the
//! component-model values lowered into policies, so a request is never copied
//! into a second representation on its way to a guest.
//!
//! Field order matters to the component model: it must match the WIT. The
//! linker checks every field's name and type against each component's own
//! types, so a record that drifted from `wit/policy.wit` fails at load, and
//! the contract's `bindgen!` (in `bindings`) uses these types for the
//! interface `groupgate:policy/types`.

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

/// Whole numbers as JSON may write them: `3`, or `3.0` as clients that keep
/// every number as a float send it (JSON Schema's `integer`, which the
/// server's OpenAPI document gives these fields, takes both). A fraction, a
/// sign or a value past the field's range (its type's, and for 64-bit
/// fields that of a signed 64-bit integer) is an error that says the range.
/// Public for the other bodies a platform sends (the server's counter
/// additions): `#[serde(deserialize_with = "groupgate::wire::whole::deserialize")]`.
pub mod whole {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserializer, Error, Unexpected, Visitor};

    /// An unsigned field type.
    pub trait Whole: TryFrom<u64> {
        /// The largest value taken.
        const MAX: u64;
    }

    impl Whole for u8 {
        const MAX: u64 = u8::MAX as u64;
    }

    impl Whole for u32 {
        const MAX: u64 = u32::MAX as u64;
    }

    /// Up to the largest signed 64-bit integer: what clients in most
    /// languages (a Java `long`, an OpenAPI `int64`) can send. Unix
    /// milliseconds and byte sizes are far below it.
    impl Whole for u64 {
        const MAX: u64 = i64::MAX as u64;
    }

    /// A whole number of type `T`, written as an integer or a whole float.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Whole>(d: D) -> Result<T, D::Error> {
        d.deserialize_any(WholeVisitor(PhantomData))
    }

    struct WholeVisitor<T>(PhantomData<T>);

    impl<T: Whole> Visitor<'_> for WholeVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a whole number from 0 to {}", T::MAX)
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
            match T::try_from(v) {
                Ok(whole) if v <= T::MAX => Ok(whole),
                _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
            }
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
            }
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
            // 2^64, exactly: every whole float below it converts exactly.
            const END: f64 = 18_446_744_073_709_551_616.0;
            if v.fract() == 0.0 && (0.0..END).contains(&v) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "whole and in range")]
                return self.visit_u64(v as u64);
            }
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }
}

/// A user, as the platform knows them (Art. 6, 7, 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct User {
    /// The platform's opaque user id.
    pub id: String,
    /// Whether the platform has verified the user's real identity.
    #[component(name = "identity-verified")]
    pub identity_verified: bool,
    /// Credit level, 0 the lowest.
    #[component(name = "credit-level")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub credit_level: u8,
    /// Region the user is registered in.
    pub region: String,
    /// Groups this user has founded.
    #[component(name = "groups-created")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub groups_created: u32,
    /// Groups this user is a member of.
    #[component(name = "groups-joined")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub groups_joined: u32,
    /// Labels the platform attaches.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A group as it exists now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct Group {
    /// The platform's opaque group id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Category, e.g. `community`.
    pub category: String,
    /// Region the group is served in; region scopes match this.
    pub region: String,
    /// Members now.
    #[component(name = "member-count")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub member_count: u32,
    /// Most members allowed.
    #[component(name = "member-limit")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub member_limit: u32,
    /// User id of the founder.
    #[component(name = "founder-id")]
    pub founder_id: String,
}

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[component(enum)]
#[repr(u8)]
#[non_exhaustive]
pub enum Role {
    /// Founded the group.
    #[component(name = "founder")]
    Founder,
    /// Manages it.
    #[component(name = "manager")]
    Manager,
    /// An ordinary member.
    #[component(name = "member")]
    Member,
}

/// A file attached to a message (never its contents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct Attachment {
    /// File name.
    pub name: String,
    /// Media type.
    #[component(name = "media-type")]
    pub media_type: String,
    /// Size in bytes.
    #[serde(deserialize_with = "whole::deserialize")]
    pub size: u64,
    /// Hex SHA-256 of the contents.
    pub sha256: String,
}

/// A message someone wants to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct Message {
    /// Message id.
    pub id: String,
    /// The group it is sent to.
    pub group: Group,
    /// Who sends it.
    pub sender: User,
    /// The sender's role in the group.
    #[component(name = "sender-role")]
    pub sender_role: Role,
    /// The text.
    pub text: String,
    /// Attached files.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Sent at, unix milliseconds.
    #[component(name = "sent-at")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub sent_at: u64,
}

/// A request to create a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct GroupCreation {
    /// Request id.
    pub id: String,
    /// Who would found it.
    pub founder: User,
    /// Requested name.
    pub name: String,
    /// Requested description.
    pub description: String,
    /// Requested category.
    pub category: String,
    /// Region it would be served in; region scopes match this.
    pub region: String,
    /// Requested member limit.
    #[component(name = "member-limit")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub member_limit: u32,
    /// Requested at, unix milliseconds.
    #[component(name = "requested-at")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub requested_at: u64,
}

/// Join or invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[component(enum)]
#[repr(u8)]
#[non_exhaustive]
pub enum MembershipKind {
    /// The subject asks to join.
    #[component(name = "join")]
    Join,
    /// The inviter invites the subject.
    #[component(name = "invite")]
    Invite,
}

/// A request for a user to join, or be invited into, a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct Membership {
    /// Request id.
    pub id: String,
    /// Join or invite.
    pub kind: MembershipKind,
    /// The group.
    pub group: Group,
    /// Who would become a member.
    pub subject: User,
    /// Who invites, for an invite.
    #[serde(default)]
    pub inviter: Option<User>,
    /// Requested at, unix milliseconds.
    #[component(name = "requested-at")]
    #[serde(deserialize_with = "whole::deserialize")]
    pub requested_at: u64,
}

/// What a report is about: `{"message": message}`, `{"user": user}` or
/// `{"group": group}` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReportTarget {
    /// A message, as it was published.
    Message(Box<Message>),
    /// A user.
    User(User),
    /// A group.
    Group(Group),
}

impl ReportTarget {
    /// `message`, `user` or `group`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReportTarget::Message(_) => "message",
            ReportTarget::User(_) => "user",
            ReportTarget::Group(_) => "group",
        }
    }

    /// The id of the message, user or group reported.
    pub fn id(&self) -> &str {
        match self {
            ReportTarget::Message(m) => &m.id,
            ReportTarget::User(u) => &u.id,
            ReportTarget::Group(g) => &g.id,
        }
    }
}

/// What a reporter says is wrong (Art. 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
#[non_exhaustive]
pub enum ReportCategory {
    /// Content the regulation prohibits (Art. 10).
    ProhibitedContent,
    /// Unsolicited advertising and the like.
    Spam,
    /// Abuse of a person.
    Harassment,
    /// Deception for gain.
    Fraud,
    /// Anything else.
    Other,
}

/// A complaint from the public (Art. 12): someone reports a message, a user
/// or a group through the platform's reporting portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The platform's report id.
    pub id: String,
    /// Who reports.
    pub reporter: User,
    /// What is reported.
    pub target: ReportTarget,
    /// What the reporter says is wrong.
    pub category: ReportCategory,
    /// The reporter's own words; none by default.
    #[serde(default)]
    pub text: String,
    /// Reported at, unix milliseconds.
    #[serde(deserialize_with = "whole::deserialize")]
    pub reported_at: u64,
}

/// A decision: deny beats review beats allow.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ComponentType, Lower, Lift,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[component(enum)]
#[repr(u8)]
#[non_exhaustive]
pub enum Outcome {
    /// Nothing against it.
    #[component(name = "allow")]
    Allow,
    /// Hold for a moderator.
    #[component(name = "review")]
    Review,
    /// Refuse it.
    #[component(name = "deny")]
    Deny,
}

impl Outcome {
    /// The outcome's name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Review => "review",
            Outcome::Deny => "deny",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a policy decided as it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct Reason {
    /// Stable kebab-case code, e.g. `prohibited-content`.
    pub code: String,
    /// A sentence for a moderator or the user.
    pub message: String,
    /// The regulation article applied, e.g. `Art. 10`.
    pub article: Option<String>,
    /// What triggered it, never the whole message.
    pub evidence: Option<String>,
}

/// What kind of measure the platform should take (Art. 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[component(enum)]
#[repr(u8)]
#[non_exhaustive]
pub enum MeasureKind {
    /// Warn the target.
    #[component(name = "warn")]
    Warn,
    /// Suspend the target's right to publish.
    #[component(name = "suspend-publication")]
    SuspendPublication,
    /// Close the target group.
    #[component(name = "close-group")]
    CloseGroup,
    /// Lower the target's credit level.
    #[component(name = "lower-credit")]
    LowerCredit,
    /// Revoke the target's right to found groups.
    #[component(name = "revoke-founding")]
    RevokeFounding,
    /// Blacklist the target.
    #[component(name = "blacklist")]
    Blacklist,
    /// Report to the authorities.
    #[component(name = "report")]
    Report,
}

/// Whom a measure is against: `{"user": id}` or `{"group": id}` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[component(variant)]
#[non_exhaustive]
pub enum Target {
    /// A user id.
    #[component(name = "user")]
    User(String),
    /// A group id.
    #[component(name = "group")]
    Group(String),
}

impl std::fmt::Display for Target {
    /// `user `ID`` or `group `ID``, as reports name a measure's target.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::User(id) => write!(f, "user `{id}`"),
            Target::Group(id) => write!(f, "group `{id}`"),
        }
    }
}

impl Target {
    /// The id of the user or group.
    pub fn id(&self) -> &str {
        match self {
            Target::User(id) | Target::Group(id) => id,
        }
    }
}

/// A measure attached to a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct Measure {
    /// What to do.
    pub kind: MeasureKind,
    /// To whom.
    pub target: Target,
    /// How long, for measures that last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[component(name = "duration-secs")]
    pub duration_secs: Option<u64>,
    /// How much, for measures with a size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u32>,
}

/// One policy's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lower, Lift)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[component(record)]
pub struct Verdict {
    /// The decision.
    pub outcome: Outcome,
    /// Why.
    pub reasons: Vec<Reason>,
    /// What to do about it.
    pub measures: Vec<Measure>,
}

/// A `[data]` file handed to a policy's `init`.
#[derive(Debug, Clone, ComponentType, Lower, Lift)]
#[component(record)]
#[doc(hidden)]
pub struct DataFile {
    pub name: String,
    pub contents: Vec<u8>,
}

/// The `types` interface defines no functions: what `bindgen!` asks of an
/// interface it is told lives here is nothing.
#[doc(hidden)]
pub trait Host {}

impl<T: ?Sized> Host for &mut T {}

/// See [`Host`].
#[doc(hidden)]
pub trait HostWithStore<T>: wasmtime::component::HasData {}

impl<H: ?Sized + wasmtime::component::HasData, T> HostWithStore<T> for H {}

/// What `bindgen!` asks of the `types` interface: nothing, since its (empty)
/// instance is defined for every version by the contract's linking.
#[doc(hidden)]
pub fn add_to_linker<T, D>(
    _linker: &mut wasmtime::component::Linker<T>,
    _host_getter: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    D: wasmtime::component::HasData,
    T: 'static,
{
    Ok(())
}
