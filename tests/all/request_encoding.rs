//! The fixtures the JavaScript and Python SDKs test their readers on
//! (`plugins/sdk/testdata`) read back with the Rust reader as their
//! `expected.json` says: a change to the request encoding that the fixtures
//! do not follow fails here, not only in the other languages.

use groupgate_encoding::{
    Attachment, Counts, Group, GroupCreation, Membership, MembershipKind, Message, Report, ReportTarget, Role, User,
};
use groupgate_tests::repo_root;
use serde_json::{Value, json};

fn user(u: User<'_>) -> Value {
    json!({
        "id": u.id(),
        "identity_verified": u.identity_verified(),
        "credit_level": u.credit_level(),
        "region": u.region(),
        "groups_created": u.groups_created(),
        "groups_joined": u.groups_joined(),
        "labels": u.labels().collect::<Vec<_>>(),
    })
}

fn group(g: Group<'_>) -> Value {
    json!({
        "id": g.id(),
        "name": g.name(),
        "category": g.category(),
        "region": g.region(),
        "member_count": g.member_count(),
        "member_limit": g.member_limit(),
        "founder_id": g.founder_id(),
    })
}

fn attachment(a: Attachment<'_>) -> Value {
    json!({"name": a.name(), "media_type": a.media_type(), "size": a.size().to_string(), "sha256": a.sha256()})
}

fn counts(counts: Counts<'_>) -> Value {
    counts.map(|(c, w, n)| json!([c, w, n.map(|n| n.to_string())])).collect()
}

fn role(role: Role) -> &'static str {
    match role {
        Role::Founder => "founder",
        Role::Manager => "manager",
        Role::Member => "member",
    }
}

fn read(bytes: Vec<u8>, hook: &str) -> Value {
    match hook {
        "message" => {
            let m = Message::new(bytes).unwrap();
            let role = role(m.sender_role());
            json!({
                "hook": hook,
                "id": m.id(),
                "group": group(m.group()),
                "sender": user(m.sender()),
                "sender_role": role,
                "text": m.text(),
                "attachments": m.attachments().map(attachment).collect::<Vec<_>>(),
                "sent_at": m.sent_at().to_string(),
                "counts": counts(m.counts()),
            })
        }
        "group-creation" => {
            let c = GroupCreation::new(bytes).unwrap();
            json!({
                "hook": hook,
                "id": c.id(),
                "founder": user(c.founder()),
                "name": c.name(),
                "description": c.description(),
                "category": c.category(),
                "region": c.region(),
                "member_limit": c.member_limit(),
                "requested_at": c.requested_at().to_string(),
                "counts": counts(c.counts()),
            })
        }
        "report" => {
            let r = Report::new(bytes).unwrap();
            let target = match r.target() {
                ReportTarget::Message(m) => json!({ "kind": "message", "message": {
                    "id": m.id(),
                    "group": group(m.group()),
                    "sender": user(m.sender()),
                    "sender_role": role(m.sender_role()),
                    "text": m.text(),
                    "attachments": m.attachments().map(attachment).collect::<Vec<_>>(),
                    "sent_at": m.sent_at().to_string(),
                }}),
                ReportTarget::User(u) => json!({ "kind": "user", "user": user(u) }),
                ReportTarget::Group(g) => json!({ "kind": "group", "group": group(g) }),
            };
            json!({
                "hook": hook,
                "id": r.id(),
                "reporter": user(r.reporter()),
                "target": target,
                "target_id": r.target().id(),
                "category": r.category().as_str(),
                "text": r.text(),
                "reported_at": r.reported_at().to_string(),
                "counts": counts(r.counts()),
            })
        }
        _ => {
            let m = Membership::new(bytes).unwrap();
            let kind = if m.kind() == MembershipKind::Join { "join" } else { "invite" };
            json!({
                "hook": hook,
                "id": m.id(),
                "kind": kind,
                "group": group(m.group()),
                "subject": user(m.subject()),
                "inviter": m.inviter().map(user),
                "requested_at": m.requested_at().to_string(),
                "counts": counts(m.counts()),
            })
        }
    }
}

#[test]
fn the_sdk_fixtures_read_back_with_the_rust_reader_as_expected_json_says() {
    let dir = repo_root().join("plugins/sdk/testdata");
    let expected: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(expected.len(), 8, "{:?}", expected.keys());
    for (file, want) in expected {
        let bytes = std::fs::read(dir.join(&file)).unwrap();
        let got = read(bytes, want["hook"].as_str().unwrap());
        assert_eq!(got, want, "{file}");
    }
}
