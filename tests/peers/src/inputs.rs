//! The workloads and the inputs the engines are cross-checked on, all from a
//! fixed seed so every run decides the same requests.

use groupgate::{Hook, Request};
use serde_json::{Value, json};

/// The word-list sizes the message workloads run with.
pub const WORD_COUNTS: [usize; 3] = [10, 1_000, 10_000];

/// A deterministic xorshift stream.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// `count` distinct pseudo-words of 7 to 11 consonants: no English text
/// holds one, so a text matches only where a word was put in.
pub fn words(count: usize) -> Vec<String> {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let len = 7 + rng.below(5) as usize;
        let word: String = (0..len).map(|_| b"bcdfghjkmnpqrstvwxz"[rng.below(19) as usize] as char).collect();
        if seen.insert(word.clone()) {
            out.push(word);
        }
    }
    out
}

/// 1 KB of ordinary chat text.
pub fn text_1kb() -> String {
    let sentence = "Saturday's ride starts at the north gate at eight, bring water and a spare tube. ";
    sentence.repeat(1024 / sentence.len() + 1)[..1024].to_owned()
}

/// 1 KB of text with `word` in the middle.
pub fn text_1kb_with(word: &str) -> String {
    let text = text_1kb();
    let head = &text[..500];
    let tail = &text[500 + word.len() + 2..];
    format!("{head} {word} {tail}")
}

/// One request, as JSON (what Rego reads) and as groupgate's typed request
/// (what groupgate, Cedar and native Rust read).
pub struct Input {
    pub json: Value,
    pub request: Request,
}

impl Input {
    pub fn new(hook: Hook, json: Value) -> Input {
        let request = Request::from_json(hook, json.to_string().as_bytes()).expect("a valid benchmark request");
        Input { json, request }
    }
}

fn user(id: &str, verified: bool, credit: u64, created: u64, joined: u64) -> Value {
    json!({
        "id": id, "identity_verified": verified, "credit_level": credit, "region": "CN-11",
        "groups_created": created, "groups_joined": joined, "labels": [],
    })
}

fn group(id: &str, category: &str, count: u64, limit: u64) -> Value {
    json!({
        "id": id, "name": "Riverside cycling club", "category": category, "region": "CN-11",
        "member_count": count, "member_limit": limit, "founder_id": "usr-1",
    })
}

/// A message from a verified member of credit level 3 in a community group.
pub fn message(text: &str) -> Input {
    Input::new(
        Hook::Message,
        json!({
            "id": "msg-1", "group": group("grp-7", "community", 42, 500),
            "sender": user("usr-42", true, 3, 1, 12), "sender_role": "member",
            "text": text, "attachments": [], "sent_at": 1_764_316_800_000u64,
        }),
    )
}

/// The benchmark's membership: an invitation every rule allows.
pub fn membership() -> Input {
    membership_of(
        user("usr-77", true, 1, 0, 3),
        Some(user("usr-1", true, 5, 2, 20)),
        group("grp-7", "community", 42, 500),
    )
}

fn membership_of(subject: Value, inviter: Option<Value>, group: Value) -> Input {
    let kind = if inviter.is_some() { "invite" } else { "join" };
    Input::new(
        Hook::Membership,
        json!({
            "id": "req-3001", "kind": kind, "group": group, "subject": subject,
            "inviter": inviter, "requested_at": 1_764_316_800_000u64,
        }),
    )
}

/// The benchmark's group creation: a 200-member community group that every
/// rule allows.
pub fn group_creation() -> Input {
    creation_of(user("usr-42", true, 4, 1, 12), "Weekend hikers", "community", 200)
}

fn creation_of(founder: Value, name: &str, category: &str, limit: u64) -> Input {
    Input::new(
        Hook::GroupCreation,
        json!({
            "id": "req-2001", "founder": founder, "name": name,
            "description": "Routes, weather and meeting points for weekend hikes.",
            "category": category, "region": "CN-11", "member_limit": limit,
            "requested_at": 1_764_316_800_000u64,
        }),
    )
}

const USERS: &[&str] = &["usr-42", "usr-77", "usr-666", "usr-1313", "usr-5"];
const GROUPS: &[&str] = &["grp-7", "grp-13", "grp-99"];
const CATEGORIES: &[&str] = &["community", "news", "family", "business"];

fn random_user(rng: &mut Rng, id: &str) -> Value {
    let created = [0, 19, 20, 25][rng.below(4) as usize];
    let joined = [3, 499, 500, 800][rng.below(4) as usize];
    user(id, rng.below(5) > 0, rng.below(6), created, joined)
}

/// Memberships that break every rule, alone and together: listed users,
/// inviters and groups, full groups, users at the join limit.
pub fn membership_variants(count: usize) -> Vec<Input> {
    let mut rng = Rng::new(7);
    (0..count)
        .map(|_| {
            let id = rng.pick(USERS);
            let subject = random_user(&mut rng, id);
            let inviter = match rng.below(2) {
                0 => None,
                _ => {
                    let id = rng.pick(USERS);
                    Some(random_user(&mut rng, id))
                }
            };
            let limit = [100, 200, 500][rng.below(3) as usize];
            let count = [0, limit - 1, limit, limit + 3][rng.below(4) as usize];
            let (id, category) = (rng.pick(GROUPS), rng.pick(CATEGORIES));
            membership_of(subject, inviter, group(id, category, count, limit))
        })
        .collect()
}

/// Group creations around every limit: member limits around the category's
/// maximum and the large-group size, founders at the founding limit, of every
/// credit level, listed or unverified.
pub fn creation_variants(count: usize) -> Vec<Input> {
    let mut rng = Rng::new(11);
    (0..count)
        .map(|_| {
            let id = rng.pick(USERS);
            let founder = random_user(&mut rng, id);
            let limit = [50, 100, 101, 200, 201, 500, 501][rng.below(7) as usize];
            // Plain names, and names holding an entry of each of the default
            // set's lists: `words` (Latin and Han), `severe`, and `watch`.
            let name = rng.pick(&[
                "Weekend hikers",
                "Book club",
                "Chess",
                "Zorblax traders",
                "Frimblegate fans",
                "紫星草 garden",
                "Vorpex club",
                "Glimmerdust fans",
            ]);
            creation_of(founder, name, rng.pick(CATEGORIES), limit)
        })
        .collect()
}

/// Messages from every kind of sender, with and without an attachment, with
/// and without one of `listed` in the text.
pub fn message_variants(count: usize, listed: &[String]) -> Vec<Input> {
    let mut rng = Rng::new(13);
    (0..count)
        .map(|_| {
            let text = match rng.below(3) {
                0 => text_1kb_with(&listed[rng.below(listed.len() as u64) as usize]),
                _ => text_1kb(),
            };
            let mut input = message(&text).json;
            let id = rng.pick(USERS);
            input["sender"] = random_user(&mut rng, id);
            input["group"]["id"] = rng.pick(GROUPS).into();
            input["group"]["category"] = rng.pick(CATEGORIES).into();
            if rng.below(2) == 0 {
                input["attachments"] =
                    json!([{ "name": "route-map.png", "media_type": "image/png", "size": 48213, "sha256": "9f2c" }]);
            }
            Input::new(Hook::Message, input)
        })
        .collect()
}
