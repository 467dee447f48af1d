//! The requests a platform sends, one per hook, and decoding them from JSON
//! with errors that name the offending field.

use crate::hook::Hook;
use crate::wire::{Group, GroupCreation, Membership, Message, Report, ReportTarget, User};

/// A request for one of the hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// A message to publish.
    Message(Message),
    /// A group to create.
    GroupCreation(GroupCreation),
    /// A membership to grant.
    Membership(Membership),
    /// A report from the public.
    Report(Report),
}

/// A request that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid {hook} request: {message}")]
pub struct RequestError {
    hook: Hook,
    message: String,
    too_large: bool,
}

impl RequestError {
    /// A request over one of the set's size limits.
    pub(crate) fn too_large(hook: Hook, message: String) -> Self {
        RequestError { hook, message, too_large: true }
    }

    fn invalid(hook: Hook, message: String) -> Self {
        RequestError { hook, message, too_large: false }
    }

    /// Whether the request was refused for its size (HTTP 413) rather than
    /// for its form (HTTP 400).
    pub fn is_too_large(&self) -> bool {
        self.too_large
    }
}

impl Request {
    /// Decodes a request for `hook` from its JSON wire format. Unknown fields,
    /// missing fields and wrong types are errors that name the field.
    pub fn from_json(hook: Hook, json: &[u8]) -> Result<Request, RequestError> {
        if json.iter().all(u8::is_ascii_whitespace) {
            return Err(RequestError::invalid(hook, "the request is empty: expected a JSON object".into()));
        }
        let de = &mut serde_json::Deserializer::from_slice(json);
        let request = decode(hook, &mut *de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner();
            let message = if inner.is_syntax() || inner.is_eof() {
                format!("not valid JSON: {inner}")
            } else if path == "." {
                inner.to_string()
            } else {
                format!("field `{path}`: {inner}")
            };
            RequestError::invalid(hook, message)
        })?;
        de.end().map_err(|e| RequestError::invalid(hook, format!("not valid JSON: {e}")))?;
        Ok(request)
    }

    /// Decodes a request for `hook` from an already-parsed JSON value, with
    /// the same checks as [`Request::from_json`].
    pub fn from_value(hook: Hook, value: serde_json::Value) -> Result<Request, RequestError> {
        decode(hook, value).map_err(|e| {
            let path = e.path().to_string();
            let message = if path == "." { e.inner().to_string() } else { format!("field `{path}`: {}", e.inner()) };
            RequestError::invalid(hook, message)
        })
    }

    /// The request as its JSON wire format.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Request::Message(m) => serde_json::to_value(m),
            Request::GroupCreation(c) => serde_json::to_value(c),
            Request::Membership(m) => serde_json::to_value(m),
            Request::Report(r) => serde_json::to_value(r),
        }
        .expect("a request serialises")
    }

    /// Moves the request's own time (`sent_at`, `requested_at`) on by
    /// `ms`: for benchmarks and simulations that replay one request over time.
    pub fn advance(&mut self, ms: u64) {
        let at = match self {
            Request::Message(m) => &mut m.sent_at,
            Request::GroupCreation(c) => &mut c.requested_at,
            Request::Membership(m) => &mut m.requested_at,
            Request::Report(r) => &mut r.reported_at,
        };
        *at = at.saturating_add(ms);
    }

    /// The hook this request is for.
    pub fn hook(&self) -> Hook {
        self.as_ref().hook()
    }

    /// The request, borrowed.
    pub(crate) fn as_ref(&self) -> RequestRef<'_> {
        match self {
            Request::Message(m) => RequestRef::Message(m),
            Request::GroupCreation(c) => RequestRef::GroupCreation(c),
            Request::Membership(m) => RequestRef::Membership(m),
            Request::Report(r) => RequestRef::Report(r),
        }
    }
}

/// A borrowed [`Request`], so typed entry points need not move their input.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RequestRef<'a> {
    Message(&'a Message),
    GroupCreation(&'a GroupCreation),
    Membership(&'a Membership),
    Report(&'a Report),
}

impl<'a> RequestRef<'a> {
    pub(crate) fn hook(self) -> Hook {
        match self {
            RequestRef::Message(_) => Hook::Message,
            RequestRef::GroupCreation(_) => Hook::GroupCreation,
            RequestRef::Membership(_) => Hook::Membership,
            RequestRef::Report(_) => Hook::Report,
        }
    }

    /// The region and category that policy scopes are matched against: the
    /// group's for messages and memberships, the requested ones for
    /// creations; for a report, those of the group reported or the reported
    /// message's group, and for a reported user their region, with no
    /// category.
    pub(crate) fn scope_keys(self) -> (&'a str, &'a str) {
        match self {
            RequestRef::Message(m) => (&m.group.region, &m.group.category),
            RequestRef::GroupCreation(c) => (&c.region, &c.category),
            RequestRef::Membership(m) => (&m.group.region, &m.group.category),
            RequestRef::Report(r) => match &r.target {
                ReportTarget::Message(m) => (&m.group.region, &m.group.category),
                ReportTarget::User(u) => (&u.region, ""),
                ReportTarget::Group(g) => (&g.region, &g.category),
            },
        }
    }
}

/// Calls `f` with the path and value of every string field of a request
/// (`text`, `group.name`, `sender.labels[2]`, ...), in field order: what the
/// set-wide `max_text_bytes` is checked against. The path is built only if
/// asked for, so checking a request allocates nothing.
pub(crate) fn each_string(request: RequestRef<'_>, f: &mut dyn FnMut(&dyn Fn() -> String, &str)) {
    fn user(prefix: &str, u: &User, f: &mut dyn FnMut(&dyn Fn() -> String, &str)) {
        f(&|| format!("{prefix}.id"), &u.id);
        f(&|| format!("{prefix}.region"), &u.region);
        for (i, label) in u.labels.iter().enumerate() {
            f(&|| format!("{prefix}.labels[{i}]"), label);
        }
    }
    fn group(prefix: &str, g: &Group, f: &mut dyn FnMut(&dyn Fn() -> String, &str)) {
        for (name, value) in [
            ("id", &g.id),
            ("name", &g.name),
            ("category", &g.category),
            ("region", &g.region),
            ("founder_id", &g.founder_id),
        ] {
            f(&|| format!("{prefix}{name}"), value);
        }
    }
    // The prefixes are given whole, so a check allocates no path it does
    // not report.
    fn message(prefix: [&str; 3], m: &Message, f: &mut dyn FnMut(&dyn Fn() -> String, &str)) {
        let [prefix, group_prefix, sender] = prefix;
        f(&|| format!("{prefix}id"), &m.id);
        group(group_prefix, &m.group, f);
        user(sender, &m.sender, f);
        f(&|| format!("{prefix}text"), &m.text);
        for (i, a) in m.attachments.iter().enumerate() {
            for (name, value) in [("name", &a.name), ("media_type", &a.media_type), ("sha256", &a.sha256)] {
                f(&|| format!("{prefix}attachments[{i}].{name}"), value);
            }
        }
    }
    match request {
        RequestRef::Message(m) => message(["", "group.", "sender"], m, f),
        RequestRef::GroupCreation(c) => {
            f(&|| "id".into(), &c.id);
            user("founder", &c.founder, f);
            for (name, value) in
                [("name", &c.name), ("description", &c.description), ("category", &c.category), ("region", &c.region)]
            {
                f(&|| name.into(), value);
            }
        }
        RequestRef::Membership(m) => {
            f(&|| "id".into(), &m.id);
            group("group.", &m.group, f);
            user("subject", &m.subject, f);
            if let Some(inviter) = &m.inviter {
                user("inviter", inviter, f);
            }
        }
        RequestRef::Report(r) => {
            f(&|| "id".into(), &r.id);
            user("reporter", &r.reporter, f);
            match &r.target {
                ReportTarget::Message(m) => {
                    message(["target.message.", "target.message.group.", "target.message.sender"], m, f);
                }
                ReportTarget::User(u) => user("target.user", u, f),
                ReportTarget::Group(g) => group("target.group.", g, f),
            }
            f(&|| "text".into(), &r.text);
        }
    }
}

/// The request for `hook` from `de`, with the path of any bad field.
fn decode<'de, D: serde::Deserializer<'de>>(
    hook: Hook,
    de: D,
) -> Result<Request, serde_path_to_error::Error<D::Error>> {
    match hook {
        Hook::Message => serde_path_to_error::deserialize(de).map(Request::Message),
        Hook::GroupCreation => serde_path_to_error::deserialize(de).map(Request::GroupCreation),
        Hook::Membership => serde_path_to_error::deserialize(de).map(Request::Membership),
        Hook::Report => serde_path_to_error::deserialize(de).map(Request::Report),
    }
}

impl Request {
    /// The JSON Schema of `hook`'s request, as [`Request::from_json`] reads
    /// it, from `generator` (a `$ref` into its definitions).
    #[cfg(feature = "schema")]
    pub fn json_schema(hook: Hook, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        match hook {
            Hook::Message => generator.subschema_for::<Message>(),
            Hook::GroupCreation => generator.subschema_for::<GroupCreation>(),
            Hook::Membership => generator.subschema_for::<Membership>(),
            Hook::Report => generator.subschema_for::<Report>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = r#"{"id":"u1","identity_verified":true,"credit_level":3,"region":"CN-11","groups_created":0,"groups_joined":1}"#;
    const GROUP: &str = r#"{"id":"g1","name":"g","category":"community","region":"CN-11","member_count":3,"member_limit":500,"founder_id":"u0"}"#;

    fn message(extra: &str) -> String {
        format!(
            r#"{{"id":"m1","group":{GROUP},"sender":{USER},"sender_role":"member","text":"hi","sent_at":1{extra}}}"#
        )
    }

    #[test]
    fn a_complete_message_decodes_with_optional_fields_defaulted() {
        let Request::Message(m) = Request::from_json(Hook::Message, message("").as_bytes()).unwrap() else {
            panic!("wrong hook")
        };
        assert!(m.attachments.is_empty());
        assert!(m.sender.labels.is_empty());
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let err = Request::from_json(Hook::Message, message(r#","colour":"red""#).as_bytes()).unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn out_of_range_numbers_name_the_field() {
        let json = message("").replace(r#""credit_level":3"#, r#""credit_level":300"#);
        let err = Request::from_json(Hook::Message, json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("field `sender.credit_level`"), "{err}");
    }

    #[test]
    fn a_count_may_be_written_as_a_whole_float_but_nothing_else() {
        let with = |value: &str| message("").replace(r#""credit_level":3"#, &format!(r#""credit_level":{value}"#));
        for whole in ["3.0", "3e0", "255.0", "-0.0"] {
            let request = Request::from_json(Hook::Message, with(whole).as_bytes());
            assert!(request.is_ok(), "{whole}: {:?}", request.err());
        }
        let Ok(Request::Message(m)) = Request::from_json(Hook::Message, with("3.0").as_bytes()) else { panic!() };
        assert_eq!(m.sender.credit_level, 3);
        for (bad, why) in [
            ("3.5", "floating point `3.5`"),
            ("256.0", "integer `256`"),
            ("256", "integer `256`"),
            ("-1", "integer `-1`"),
            ("1e300", "floating point `"),
            (r#""3""#, "invalid type: string"),
        ] {
            let err = Request::from_json(Hook::Message, with(bad).as_bytes()).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("a whole number from 0 to 255"), "{bad}: {err}");
        }
        // Parsed exactly (below 2^53, where every whole number is a float):
        // a whole float is not taken for its neighbour.
        let json = message("").replace(r#""sent_at":1"#, r#""sent_at":4207076911016754.0"#);
        let Ok(Request::Message(m)) = Request::from_json(Hook::Message, json.as_bytes()) else { panic!() };
        assert_eq!(m.sent_at, 4_207_076_911_016_754);
        // The widest fields end where a signed 64-bit integer does, as the
        // OpenAPI document's `int64` says.
        let json = message("").replace(r#""sent_at":1"#, r#""sent_at":9223372036854775807"#);
        assert!(Request::from_json(Hook::Message, json.as_bytes()).is_ok());
        let json = message("").replace(r#""sent_at":1"#, r#""sent_at":9223372036854775808"#);
        let err = Request::from_json(Hook::Message, json.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("a whole number from 0 to 9223372036854775807"), "{err}");
    }

    #[test]
    fn missing_fields_are_named() {
        let json = message("").replace(r#""text":"hi","#, "");
        let err = Request::from_json(Hook::Message, json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("missing field `text`"), "{err}");
    }

    #[test]
    fn trailing_garbage_and_non_json_are_rejected() {
        assert!(Request::from_json(Hook::Message, format!("{} x", message("")).as_bytes()).is_err());
        assert!(Request::from_json(Hook::Message, b"").is_err());
        assert!(Request::from_json(Hook::Membership, b"[]").is_err());
    }
}
