//! How contract 0.2.0 hands a policy its request: written once per decision
//! in the request encoding (`groupgate-encoding`, the `request` interface of
//! `wit/policy.wit`), copied into each policy's memory in one piece, and
//! read there in place by the policy's SDK. A policy that reads counters
//! gets the request followed by its counts. And `abort`, which a policy
//! calls to fail with a message of its own.

use groupgate_encoding::{Hook, SLOT, Writer, attachment, group, group_creation, membership, message, report, user};

use super::state::PolicyState;
use crate::bindings::v2::abort;
use crate::request::RequestRef;
use crate::state::PolicyCounts;
use crate::wire::{Group, MembershipKind, Message, ReportTarget, Role, User};

/// The most of an `abort` message kept, in bytes.
const ABORT_BYTES: usize = 1024;

/// `request` in the request encoding, without counts.
pub(crate) fn encode(request: RequestRef<'_>) -> Vec<u8> {
    match request {
        RequestRef::Message(m) => {
            let mut w = Writer::new(Hook::Message, message_bytes(m));
            write_message(&mut w, message::ID, m);
            w.finish()
        }
        RequestRef::GroupCreation(c) => {
            let extra = c.id.len()
                + user_bytes(&c.founder)
                + c.name.len()
                + c.description.len()
                + c.category.len()
                + c.region.len();
            let mut w = Writer::new(Hook::GroupCreation, extra);
            w.string(group_creation::ID, &c.id);
            write_user(&mut w, group_creation::FOUNDER, &c.founder);
            w.string(group_creation::NAME, &c.name);
            w.string(group_creation::DESCRIPTION, &c.description);
            w.string(group_creation::CATEGORY, &c.category);
            w.string(group_creation::REGION, &c.region);
            w.number(group_creation::MEMBER_LIMIT, c.member_limit.into());
            w.number(group_creation::REQUESTED_AT, c.requested_at);
            w.finish()
        }
        RequestRef::Membership(m) => {
            let inviter = m.inviter.as_ref().map_or(0, |u| user_bytes(u) + user::SLOTS * SLOT + SLOT);
            let extra = m.id.len() + group_bytes(&m.group) + user_bytes(&m.subject) + inviter;
            let mut w = Writer::new(Hook::Membership, extra);
            w.string(membership::ID, &m.id);
            w.number(
                membership::KIND,
                match m.kind {
                    MembershipKind::Join => 0,
                    MembershipKind::Invite => 1,
                },
            );
            write_group(&mut w, membership::GROUP, &m.group);
            write_user(&mut w, membership::SUBJECT, &m.subject);
            let inviters = w.list(membership::INVITER, usize::from(m.inviter.is_some()), user::SLOTS);
            if let Some(inviter) = &m.inviter {
                write_user(&mut w, inviters, inviter);
            }
            w.number(membership::REQUESTED_AT, m.requested_at);
            w.finish()
        }
        RequestRef::Report(r) => {
            let target = match &r.target {
                ReportTarget::Message(m) => message_bytes(m) + message::RECORD_SLOTS * SLOT,
                ReportTarget::User(u) => user_bytes(u) + user::SLOTS * SLOT,
                ReportTarget::Group(g) => group_bytes(g) + group::SLOTS * SLOT,
            };
            let extra = r.id.len() + user_bytes(&r.reporter) + target + r.text.len() + SLOT;
            let mut w = Writer::new(Hook::Report, extra);
            w.string(report::ID, &r.id);
            write_user(&mut w, report::REPORTER, &r.reporter);
            let (case, slots) = match &r.target {
                ReportTarget::Message(_) => (report::TARGET_MESSAGE, message::RECORD_SLOTS),
                ReportTarget::User(_) => (report::TARGET_USER, user::SLOTS),
                ReportTarget::Group(_) => (report::TARGET_GROUP, group::SLOTS),
            };
            w.number(report::TARGET, case);
            let at = w.list(report::TARGET_PAYLOAD, 1, slots);
            match &r.target {
                ReportTarget::Message(m) => write_message(&mut w, at, m),
                ReportTarget::User(u) => write_user(&mut w, at, u),
                ReportTarget::Group(g) => write_group(&mut w, at, g),
            }
            w.number(report::CATEGORY, r.category as u64);
            w.string(report::TEXT, &r.text);
            w.number(report::REPORTED_AT, r.reported_at);
            w.finish()
        }
    }
}

/// The bytes a message's strings and lists take after its slots.
fn message_bytes(m: &Message) -> usize {
    let attachments: usize = m
        .attachments
        .iter()
        .map(|a| a.name.len() + a.media_type.len() + a.sha256.len() + attachment::SLOTS * SLOT)
        .sum();
    m.id.len() + group_bytes(&m.group) + user_bytes(&m.sender) + m.text.len() + attachments + SLOT
}

/// Writes a message's fields from slot `at`, where its `id` goes: slot 2 of
/// a message's own buffer, or a reported message's place in a report.
fn write_message(w: &mut Writer, at: usize, m: &Message) {
    let field = |f: usize| at + f - message::ID;
    w.string(field(message::ID), &m.id);
    write_group(w, field(message::GROUP), &m.group);
    write_user(w, field(message::SENDER), &m.sender);
    w.number(
        field(message::SENDER_ROLE),
        match m.sender_role {
            Role::Founder => 0,
            Role::Manager => 1,
            Role::Member => 2,
        },
    );
    w.string(field(message::TEXT), &m.text);
    let first = w.list(field(message::ATTACHMENTS), m.attachments.len(), attachment::SLOTS);
    for (i, a) in m.attachments.iter().enumerate() {
        let at = first + i * attachment::SLOTS;
        w.string(at + attachment::NAME, &a.name);
        w.string(at + attachment::MEDIA_TYPE, &a.media_type);
        w.number(at + attachment::SIZE, a.size);
        w.string(at + attachment::SHA256, &a.sha256);
    }
    w.number(field(message::SENT_AT), m.sent_at);
}

/// The bytes a user's strings and labels take after the slots (a guess
/// that is exact but for padding, so the buffer is allocated once).
fn user_bytes(u: &User) -> usize {
    u.id.len() + u.region.len() + u.labels.iter().map(|l| l.len() + SLOT).sum::<usize>() + SLOT
}

fn group_bytes(g: &Group) -> usize {
    g.id.len() + g.name.len() + g.category.len() + g.region.len() + g.founder_id.len()
}

fn write_user(w: &mut Writer, at: usize, u: &User) {
    w.string(at + user::ID, &u.id);
    w.number(at + user::IDENTITY_VERIFIED, u.identity_verified.into());
    w.number(at + user::CREDIT_LEVEL, u.credit_level.into());
    w.string(at + user::REGION, &u.region);
    w.number(at + user::GROUPS_CREATED, u.groups_created.into());
    w.number(at + user::GROUPS_JOINED, u.groups_joined.into());
    w.strings(at + user::LABELS, u.labels.iter().map(String::as_str));
}

fn write_group(w: &mut Writer, at: usize, g: &Group) {
    w.string(at + group::ID, &g.id);
    w.string(at + group::NAME, &g.name);
    w.string(at + group::CATEGORY, &g.category);
    w.string(at + group::REGION, &g.region);
    w.number(at + group::MEMBER_COUNT, g.member_count.into());
    w.number(at + group::MEMBER_LIMIT, g.member_limit.into());
    w.string(at + group::FOUNDER_ID, &g.founder_id);
}

/// A request in the request encoding, as the policies on contract 0.2
/// deciding it receive it: written once per decision, when the first of them
/// runs, and given each policy's counts in place.
pub(crate) struct Encoded {
    bytes: Vec<u8>,
    /// The length of the request alone.
    request_len: usize,
    /// Whether counts follow it now.
    counted: bool,
}

impl Encoded {
    pub(crate) fn new(request: RequestRef<'_>) -> Encoded {
        let bytes = encode(request);
        Encoded { request_len: bytes.len(), bytes, counted: false }
    }

    /// The request followed by `counts` (none when it is empty).
    pub(crate) fn with(&mut self, counts: &PolicyCounts) -> &[u8] {
        if !counts.is_empty() || self.counted {
            groupgate_encoding::set_counts(&mut self.bytes, self.request_len, counts.iter());
            self.counted = !counts.is_empty();
        }
        &self.bytes
    }
}

/// A call the policy ended with `abort`: its own message, cut and made
/// printable. A type of its own, so that no text a policy chooses can pass
/// for one of the host's errors.
#[derive(Debug)]
pub(crate) struct Aborted(pub(crate) String);

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Aborted {}

impl abort::Host for PolicyState {
    fn abort(&mut self, message: String) -> wasmtime::Result<()> {
        let message = crate::policy::shortened_to(&message, ABORT_BYTES);
        Err(wasmtime::Error::new(Aborted(crate::sandbox::printable(message).into_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Attachment, GroupCreation, Membership, Message};
    use groupgate_encoding as enc;

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            identity_verified: true,
            credit_level: 3,
            region: "CN-44".into(),
            groups_created: 2,
            groups_joined: 9,
            labels: vec!["verified-organisation".into(), "标签".into()],
        }
    }

    fn group() -> Group {
        Group {
            id: "grp-1".into(),
            name: "读书会".into(),
            category: "community".into(),
            region: "CN-11".into(),
            member_count: 41,
            member_limit: 500,
            founder_id: "usr-f".into(),
        }
    }

    fn same_user(read: enc::User<'_>, u: &User) {
        assert_eq!(read.id(), u.id);
        assert_eq!(read.identity_verified(), u.identity_verified);
        assert_eq!(read.credit_level(), u.credit_level);
        assert_eq!(read.region(), u.region);
        assert_eq!(read.groups_created(), u.groups_created);
        assert_eq!(read.groups_joined(), u.groups_joined);
        assert_eq!(read.labels().collect::<Vec<_>>(), u.labels);
    }

    fn same_group(read: enc::Group<'_>, g: &Group) {
        assert_eq!(
            (read.id(), read.name(), read.category(), read.region(), read.founder_id()),
            (&*g.id, &*g.name, &*g.category, &*g.region, &*g.founder_id)
        );
        assert_eq!((read.member_count(), read.member_limit()), (g.member_count, g.member_limit));
    }

    #[test]
    fn every_field_of_every_request_reads_back_as_the_sdk_reads_it() {
        let m = Message {
            id: "msg-1".into(),
            group: group(),
            sender: user("usr-s"),
            sender_role: Role::Manager,
            text: "你好 hello".into(),
            attachments: vec![
                Attachment { name: "a.png".into(), media_type: "image/png".into(), size: 7, sha256: "ab".into() },
                Attachment { name: "b.exe".into(), media_type: "".into(), size: 0, sha256: "cd".into() },
            ],
            sent_at: 1_700_000_000_123,
        };
        let read = enc::Message::new(encode(RequestRef::Message(&m))).unwrap();
        assert_eq!((read.id(), read.text(), read.sent_at()), ("msg-1", "你好 hello", m.sent_at));
        assert_eq!(read.sender_role(), enc::Role::Manager);
        same_group(read.group(), &m.group);
        same_user(read.sender(), &m.sender);
        let attachments: Vec<_> =
            read.attachments().map(|a| (a.name(), a.media_type(), a.size(), a.sha256())).collect();
        assert_eq!(attachments, [("a.png", "image/png", 7, "ab"), ("b.exe", "", 0, "cd")]);

        let c = GroupCreation {
            id: "req-2".into(),
            founder: user("usr-f"),
            name: "name".into(),
            description: "description".into(),
            category: "business".into(),
            region: "CN-44".into(),
            member_limit: 200,
            requested_at: 5,
        };
        let read = enc::GroupCreation::new(encode(RequestRef::GroupCreation(&c))).unwrap();
        same_user(read.founder(), &c.founder);
        assert_eq!(
            (read.id(), read.name(), read.description(), read.category(), read.region()),
            ("req-2", "name", "description", "business", "CN-44")
        );
        assert_eq!((read.member_limit(), read.requested_at()), (200, 5));

        for inviter in [None, Some(user("usr-i"))] {
            let kind = if inviter.is_some() { MembershipKind::Invite } else { MembershipKind::Join };
            let m = Membership {
                id: "req-3".into(),
                kind,
                group: group(),
                subject: user("usr-j"),
                inviter: inviter.clone(),
                requested_at: 9,
            };
            let read = enc::Membership::new(encode(RequestRef::Membership(&m))).unwrap();
            assert_eq!((read.id(), read.requested_at()), ("req-3", 9));
            assert_eq!(read.kind() == enc::MembershipKind::Invite, inviter.is_some());
            same_group(read.group(), &m.group);
            same_user(read.subject(), &m.subject);
            match (read.inviter(), &inviter) {
                (Some(read), Some(u)) => same_user(read, u),
                (None, None) => {}
                (read, u) => panic!("inviter {read:?} read for {u:?}"),
            }
        }
    }

    #[test]
    fn a_report_of_each_kind_of_target_reads_back_as_the_sdk_reads_it() {
        use crate::wire::{Report, ReportCategory};
        let m = Message {
            id: "msg-9".into(),
            group: group(),
            sender: user("usr-s"),
            sender_role: Role::Founder,
            text: "买QQ号".into(),
            attachments: vec![Attachment {
                name: "x.png".into(),
                media_type: "image/png".into(),
                size: 3,
                sha256: "ef".into(),
            }],
            sent_at: 42,
        };
        for target in [
            ReportTarget::Message(Box::new(m.clone())),
            ReportTarget::User(user("usr-t")),
            ReportTarget::Group(group()),
        ] {
            let r = Report {
                id: "rep-1".into(),
                reporter: user("usr-r"),
                target: target.clone(),
                category: ReportCategory::Fraud,
                text: "scam".into(),
                reported_at: 1_700_000_000_000,
            };
            let read = enc::Report::new(encode(RequestRef::Report(&r))).unwrap();
            assert_eq!((read.id(), read.text(), read.reported_at()), ("rep-1", "scam", r.reported_at));
            assert_eq!(read.category(), enc::ReportCategory::Fraud);
            same_user(read.reporter(), &r.reporter);
            match (read.target(), &target) {
                (enc::ReportTarget::Message(read), ReportTarget::Message(m)) => {
                    assert_eq!((read.id(), read.text(), read.sent_at()), ("msg-9", "买QQ号", 42));
                    assert_eq!(read.sender_role(), enc::Role::Founder);
                    same_group(read.group(), &m.group);
                    same_user(read.sender(), &m.sender);
                    let names: Vec<_> = read.attachments().map(|a| (a.name(), a.size(), a.sha256())).collect();
                    assert_eq!(names, [("x.png", 3, "ef")]);
                }
                (enc::ReportTarget::User(read), ReportTarget::User(u)) => same_user(read, u),
                (enc::ReportTarget::Group(read), ReportTarget::Group(g)) => same_group(read, g),
                (read, target) => panic!("{read:?} read for {target:?}"),
            }
        }
        // Every category reads back as itself.
        for (i, category) in enc::ReportCategory::ALL.iter().enumerate() {
            let json = serde_json::to_value(category.as_str()).unwrap();
            let wire: ReportCategory = serde_json::from_value(json).unwrap();
            assert_eq!(wire as usize, i, "{category:?}");
        }
    }

    #[test]
    fn counts_follow_the_request_without_changing_it() {
        let m = Membership {
            id: "req".into(),
            kind: MembershipKind::Join,
            group: group(),
            subject: user("usr-j"),
            inviter: None,
            requested_at: 1,
        };
        let mut encoded = Encoded::new(RequestRef::Membership(&m));
        let alone = encoded.with(&PolicyCounts::new()).to_vec();
        let mut counts = PolicyCounts::new();
        counts.insert("joins", "1h", Some(4));
        counts.insert("joins", "24h", None);
        let read = enc::Membership::new(encoded.with(&counts).to_vec()).unwrap();
        assert_eq!(read.count("joins", "1h"), Some(Some(4)));
        assert_eq!(read.count("joins", "24h"), Some(None));
        assert_eq!(read.count("joins", "1d"), None);
        same_user(read.subject(), &m.subject);
        // The next policy, which reads no counts, gets the request alone.
        assert_eq!(encoded.with(&PolicyCounts::new()), alone);
        assert_eq!(enc::Membership::new(alone).unwrap().counts().len(), 0);
    }
}
