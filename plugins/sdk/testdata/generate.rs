//! Writes the request-encoding fixtures in this folder (plugins/sdk/testdata)
//! with groupgate-encoding's `Writer` and `set_counts`, and `expected.json`,
//! the values groupgate-encoding's own reader views read back from them.
//! The SDK tests (plugins/sdk/js/test.mjs, plugins/sdk/python/test_groupgate.py)
//! compare their readers with it. See README.md here for how to run it.
use groupgate_encoding::*;
use std::fmt::Write as _;

fn js(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(o, "\\u{:04x}", c as u32).unwrap(),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
fn u64s(v: u64) -> String {
    js(&v.to_string())
}

struct U<'a> {
    id: &'a str,
    verified: bool,
    credit: u8,
    region: &'a str,
    created: u32,
    joined: u32,
    labels: &'a [&'a str],
}

fn put_user(w: &mut Writer, at: usize, u: &U) {
    w.string(at + user::ID, u.id);
    w.number(at + user::IDENTITY_VERIFIED, u.verified as u64);
    w.number(at + user::CREDIT_LEVEL, u.credit as u64);
    w.string(at + user::REGION, u.region);
    w.number(at + user::GROUPS_CREATED, u.created as u64);
    w.number(at + user::GROUPS_JOINED, u.joined as u64);
    w.strings(at + user::LABELS, u.labels.iter().copied());
}

fn put_group(w: &mut Writer, at: usize, g: [&str; 5], count: u32, limit: u32) {
    w.string(at + group::ID, g[0]);
    w.string(at + group::NAME, g[1]);
    w.string(at + group::CATEGORY, g[2]);
    w.string(at + group::REGION, g[3]);
    w.number(at + group::MEMBER_COUNT, count as u64);
    w.number(at + group::MEMBER_LIMIT, limit as u64);
    w.string(at + group::FOUNDER_ID, g[4]);
}

fn user_json(u: User<'_>) -> String {
    let labels: Vec<String> = u.labels().map(js).collect();
    format!(
        "{{\"id\": {}, \"identity_verified\": {}, \"credit_level\": {}, \"region\": {}, \"groups_created\": {}, \"groups_joined\": {}, \"labels\": [{}]}}",
        js(u.id()),
        u.identity_verified(),
        u.credit_level(),
        js(u.region()),
        u.groups_created(),
        u.groups_joined(),
        labels.join(", ")
    )
}

fn group_json(g: Group<'_>) -> String {
    format!(
        "{{\"id\": {}, \"name\": {}, \"category\": {}, \"region\": {}, \"member_count\": {}, \"member_limit\": {}, \"founder_id\": {}}}",
        js(g.id()),
        js(g.name()),
        js(g.category()),
        js(g.region()),
        g.member_count(),
        g.member_limit(),
        js(g.founder_id())
    )
}

fn attachment_json(a: Attachment<'_>) -> String {
    format!(
        "{{\"name\": {}, \"media_type\": {}, \"size\": {}, \"sha256\": {}}}",
        js(a.name()),
        js(a.media_type()),
        u64s(a.size()),
        js(a.sha256())
    )
}

/// A reported message: a message's fields, without counts.
fn reported_message_json(m: ReportedMessage<'_>) -> String {
    let atts: Vec<String> = m.attachments().map(attachment_json).collect();
    format!(
        "{{\"id\": {}, \"group\": {}, \"sender\": {}, \"sender_role\": {}, \"text\": {}, \"attachments\": [{}], \"sent_at\": {}}}",
        js(m.id()),
        group_json(m.group()),
        user_json(m.sender()),
        js(role(m.sender_role())),
        js(m.text()),
        atts.join(", "),
        u64s(m.sent_at())
    )
}

fn counts_json<'a>(counts: impl Iterator<Item = Count<'a>>) -> String {
    let c: Vec<String> =
        counts.map(|(c, w, v)| format!("[{}, {}, {}]", js(c), js(w), v.map_or("null".to_owned(), u64s))).collect();
    format!("[{}]", c.join(", "))
}

fn role(r: Role) -> &'static str {
    match r {
        Role::Founder => "founder",
        Role::Manager => "manager",
        Role::Member => "member",
    }
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("out dir"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut expected = Vec::new();

    // A message with two attachments, non-ASCII strings and counts, one unknown.
    let mut w = Writer::new(Hook::Message, 0);
    w.string(message::ID, "msg-1");
    put_group(&mut w, message::GROUP, ["grp-7", "读书会 · Riverside", "community", "CN-11", "usr-1"], 42, 500);
    put_user(
        &mut w,
        message::SENDER,
        &U {
            id: "usr-42",
            verified: true,
            credit: 3,
            region: "CN-44",
            created: 1,
            joined: 2,
            labels: &["verified-organisation", "café"],
        },
    );
    w.number(message::SENDER_ROLE, 1);
    w.string(message::TEXT, "see https://short.example/x 和 www.例子.cn 🙂");
    let first = w.list(message::ATTACHMENTS, 2, attachment::SLOTS);
    for (i, (name, ty, size, sha)) in [
        ("照片.jpg.exe", "application/octet-stream", 9_007_199_254_740_993u64, "ab".repeat(32)),
        ("notes.txt", "text/plain", 0, String::new()),
    ]
    .into_iter()
    .enumerate()
    {
        let at = first + i * attachment::SLOTS;
        w.string(at + attachment::NAME, name);
        w.string(at + attachment::MEDIA_TYPE, ty);
        w.number(at + attachment::SIZE, size);
        w.string(at + attachment::SHA256, &sha);
    }
    w.number(message::SENT_AT, 1_764_316_800_000);
    let mut buf = w.finish();
    let len = buf.len();
    set_counts(
        &mut buf,
        len,
        [("links", "1h", Some(7)), ("links", "24h", None), ("big", "7d", Some(u64::MAX))].into_iter(),
    );
    std::fs::write(dir.join("message.bin"), &buf).unwrap();
    let m = Message::new(buf).unwrap();
    let atts: Vec<String> = m.attachments().map(attachment_json).collect();
    expected.push(format!(
        "\"message.bin\": {{\"hook\": \"message\", \"id\": {}, \"group\": {}, \"sender\": {}, \"sender_role\": {}, \"text\": {}, \"attachments\": [{}], \"sent_at\": {}, \"counts\": {}}}",
        js(m.id()), group_json(m.group()), user_json(m.sender()), js(role(m.sender_role())), js(m.text()), atts.join(", "), u64s(m.sent_at()), counts_json(m.counts())
    ));

    // A group creation without counts (the manifest declares none).
    let mut w = Writer::new(Hook::GroupCreation, 0);
    w.string(group_creation::ID, "req-1");
    put_user(
        &mut w,
        group_creation::FOUNDER,
        &U { id: "usr-f", verified: false, credit: 0, region: "", created: 4_000_000_000, joined: 0, labels: &[] },
    );
    w.string(group_creation::NAME, "Ｏｆｆｉｃｉａｌ 公安 notices");
    w.string(group_creation::DESCRIPTION, "line one\nline \"two\"");
    w.string(group_creation::CATEGORY, "business");
    w.string(group_creation::REGION, "CN-44");
    w.number(group_creation::MEMBER_LIMIT, 200);
    w.number(group_creation::REQUESTED_AT, 1_700_000_000_123);
    let buf = w.finish();
    std::fs::write(dir.join("group-creation.bin"), &buf).unwrap();
    let c = GroupCreation::new(buf).unwrap();
    expected.push(format!(
        "\"group-creation.bin\": {{\"hook\": \"group-creation\", \"id\": {}, \"founder\": {}, \"name\": {}, \"description\": {}, \"category\": {}, \"region\": {}, \"member_limit\": {}, \"requested_at\": {}, \"counts\": {}}}",
        js(c.id()), user_json(c.founder()), js(c.name()), js(c.description()), js(c.category()), js(c.region()), c.member_limit(), u64s(c.requested_at()), counts_json(c.counts())
    ));

    // A group creation with the counter group-naming reads.
    let mut w = Writer::new(Hook::GroupCreation, 0);
    w.string(group_creation::ID, "req-2");
    put_user(
        &mut w,
        group_creation::FOUNDER,
        &U {
            id: "usr-g",
            verified: true,
            credit: 5,
            region: "CN-11",
            created: 2,
            joined: 3,
            labels: &["verified-organisation"],
        },
    );
    w.string(group_creation::NAME, "Riverside cycling club");
    w.number(group_creation::MEMBER_LIMIT, 100);
    let mut buf = w.finish();
    let len = buf.len();
    set_counts(&mut buf, len, [("naming_denials", "24h", Some(3))].into_iter());
    std::fs::write(dir.join("group-creation-counted.bin"), &buf).unwrap();
    let c = GroupCreation::new(buf).unwrap();
    expected.push(format!(
        "\"group-creation-counted.bin\": {{\"hook\": \"group-creation\", \"id\": {}, \"founder\": {}, \"name\": {}, \"description\": {}, \"category\": {}, \"region\": {}, \"member_limit\": {}, \"requested_at\": {}, \"counts\": {}}}",
        js(c.id()), user_json(c.founder()), js(c.name()), js(c.description()), js(c.category()), js(c.region()), c.member_limit(), u64s(c.requested_at()), counts_json(c.counts())
    ));

    // Memberships: an invite (with an inviter) and a join (none).
    for (file, kind, inviter) in [("membership-invite.bin", 1u64, true), ("membership-join.bin", 0, false)] {
        let mut w = Writer::new(Hook::Membership, 0);
        w.string(membership::ID, if inviter { "req-3" } else { "req-4" });
        w.number(membership::KIND, kind);
        put_group(&mut w, membership::GROUP, ["grp-9", "读书会", "", "CN-44", "usr-1"], 499, 500);
        put_user(
            &mut w,
            membership::SUBJECT,
            &U {
                id: "usr-s",
                verified: true,
                credit: 4,
                region: "CN-44",
                created: 2,
                joined: 30,
                labels: &["a", "verified-organisation"],
            },
        );
        if inviter {
            let at = w.list(membership::INVITER, 1, user::SLOTS);
            put_user(
                &mut w,
                at,
                &U {
                    id: "usr-i",
                    verified: false,
                    credit: 255,
                    region: "HK",
                    created: 0,
                    joined: 1,
                    labels: &["ünïcode"],
                },
            );
        }
        w.number(membership::REQUESTED_AT, 1_700_000_000_000);
        let mut buf = w.finish();
        let len = buf.len();
        set_counts(
            &mut buf,
            len,
            [("joins", "1h", Some(3)), ("invites", "24h", if inviter { Some(0) } else { None })].into_iter(),
        );
        std::fs::write(dir.join(file), &buf).unwrap();
        let m = Membership::new(buf).unwrap();
        let kind = match m.kind() {
            MembershipKind::Join => "join",
            MembershipKind::Invite => "invite",
        };
        expected.push(format!(
            "\"{file}\": {{\"hook\": \"membership\", \"id\": {}, \"kind\": {}, \"group\": {}, \"subject\": {}, \"inviter\": {}, \"requested_at\": {}, \"counts\": {}}}",
            js(m.id()), js(kind), group_json(m.group()), user_json(m.subject()), m.inviter().map_or("null".to_owned(), user_json), u64s(m.requested_at()), counts_json(m.counts())
        ));
    }

    // Reports, one per kind of target: a message (with an attachment, and
    // counts), a user (one count unknown) and a group (no counts). Every
    // field is set, to values no other field has, so a reader that takes
    // one slot for another is caught.
    let reporter = U {
        id: "usr-r",
        verified: true,
        credit: 6,
        region: "CN-31",
        created: 7,
        joined: 8,
        labels: &["long-standing", "举报人"],
    };
    let targets = [
        ("report-message.bin", report::TARGET_MESSAGE, 3u64, "rep-1", "they ask for \"deposits\"\nagain"),
        ("report-user.bin", report::TARGET_USER, 2, "rep-2", "messages me every night ☹"),
        ("report-group.bin", report::TARGET_GROUP, 4, "rep-3", ""),
    ];
    for (file, case, category, id, text) in targets {
        let mut w = Writer::new(Hook::Report, 0);
        w.string(report::ID, id);
        put_user(&mut w, report::REPORTER, &reporter);
        w.number(report::TARGET, case);
        let slots = match case {
            report::TARGET_MESSAGE => message::RECORD_SLOTS,
            report::TARGET_USER => user::SLOTS,
            _ => group::SLOTS,
        };
        let at = w.list(report::TARGET_PAYLOAD, 1, slots);
        match case {
            report::TARGET_MESSAGE => {
                // A message's fields from its `id`, as from slot 2 in a message.
                let field = |f: usize| at + f - message::ID;
                w.string(field(message::ID), "msg-9");
                put_group(&mut w, field(message::GROUP), ["grp-5", "二手交易", "market", "CN-44", "usr-5"], 321, 1000);
                put_user(
                    &mut w,
                    field(message::SENDER),
                    &U {
                        id: "usr-s",
                        verified: false,
                        credit: 1,
                        region: "CN-45",
                        created: 9,
                        joined: 10,
                        labels: &["new-account"],
                    },
                );
                w.number(field(message::SENDER_ROLE), 1);
                w.string(field(message::TEXT), "转账到这个账户 → 稳赚 💰");
                let first = w.list(field(message::ATTACHMENTS), 1, attachment::SLOTS);
                w.string(first + attachment::NAME, "收据.pdf");
                w.string(first + attachment::MEDIA_TYPE, "application/pdf");
                w.number(first + attachment::SIZE, 9_007_199_254_740_995);
                w.string(first + attachment::SHA256, &"cd".repeat(32));
                w.number(field(message::SENT_AT), 1_764_316_800_456);
            }
            report::TARGET_USER => put_user(
                &mut w,
                at,
                &U { id: "usr-t", verified: true, credit: 11, region: "MO", created: 12, joined: 13, labels: &[] },
            ),
            _ => put_group(&mut w, at, ["grp-t", "Ｆａｓｔ ｃａｓｈ", "business", "CN-51", "usr-f"], 14, 15),
        }
        w.number(report::CATEGORY, category);
        w.string(report::TEXT, text);
        w.number(report::REPORTED_AT, 1_764_403_200_789 + case);
        let mut buf = w.finish();
        let len = buf.len();
        let counts: &[Count<'_>] = match case {
            report::TARGET_MESSAGE => &[("reports", "24h", Some(2)), ("reports", "7d", Some(u64::MAX))],
            report::TARGET_USER => &[("reports", "24h", None)],
            _ => &[],
        };
        set_counts(&mut buf, len, counts.iter().copied());
        std::fs::write(dir.join(file), &buf).unwrap();
        let r = Report::new(buf).unwrap();
        let target = match r.target() {
            ReportTarget::Message(m) => format!("{{\"kind\": \"message\", \"message\": {}}}", reported_message_json(m)),
            ReportTarget::User(u) => format!("{{\"kind\": \"user\", \"user\": {}}}", user_json(u)),
            ReportTarget::Group(g) => format!("{{\"kind\": \"group\", \"group\": {}}}", group_json(g)),
        };
        expected.push(format!(
            "\"{file}\": {{\"hook\": \"report\", \"id\": {}, \"reporter\": {}, \"target\": {}, \"target_id\": {}, \"category\": {}, \"text\": {}, \"reported_at\": {}, \"counts\": {}}}",
            js(r.id()), user_json(r.reporter()), target, js(r.target().id()), js(r.category().as_str()), js(r.text()), u64s(r.reported_at()), counts_json(r.counts())
        ));
    }

    let json = format!("{{\n  {}\n}}\n", expected.join(",\n  "));
    std::fs::write(dir.join("expected.json"), json).unwrap();
}
