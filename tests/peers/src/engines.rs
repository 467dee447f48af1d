//! The engines compared: groupgate (a whole set, or one policy alone), Rego
//! through `regorus`, Cedar through `cedar-policy`, and native Rust. Each
//! decides a request as an outcome and the set of reason codes given, which
//! is what the cross-check compares.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use anyhow::{Context, Result, anyhow};
use cedar_policy::{
    Authorizer, Context as CedarContext, Entities, Entity, EntityUid, PolicySet as CedarPolicies,
    Request as CedarRequest, RestrictedExpression,
};
use groupgate::{GroupCreation, Membership, Message, Outcome, PolicySet, Request, User};
use serde_json::json;

use crate::inputs::Input;

/// What an engine decided: the outcome, and the reason codes behind it.
/// groupgate's decision does not say which of a policy's reasons denied and
/// which asked for review, so the codes are one set: an engine that gave a
/// review reason as a deny alongside another deny would pass unnoticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    pub codes: BTreeSet<String>,
}

impl Answer {
    fn from_codes(deny: BTreeSet<String>, review: BTreeSet<String>) -> Answer {
        let outcome = if !deny.is_empty() {
            Outcome::Deny
        } else if !review.is_empty() {
            Outcome::Review
        } else {
            Outcome::Allow
        };
        Answer { outcome, codes: deny.into_iter().chain(review).collect() }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codes: Vec<&str> = self.codes.iter().map(String::as_str).collect();
        write!(f, "{} [{}]", self.outcome, codes.join(", "))
    }
}

/// A decision procedure. `prepare` does what the engine would do once per
/// request outside the decision (nothing, for most), and returns the call
/// that is timed.
pub trait Engine {
    fn prepare<'a>(&'a mut self, input: &'a Input) -> Box<dyn FnMut() -> Answer + 'a>;
}

/// A groupgate policy set, through `PolicySet::evaluate` as the server calls it.
pub struct Groupgate(pub PolicySet);

impl Engine for Groupgate {
    fn prepare<'a>(&'a mut self, input: &'a Input) -> Box<dyn FnMut() -> Answer + 'a> {
        Box::new(move || {
            let d = self.0.evaluate(&input.request).expect("the set accepts every benchmark request");
            Answer { outcome: d.outcome, codes: d.reasons.into_iter().map(|r| r.code).collect() }
        })
    }
}

/// The default set's lists and settings, read from a set folder, for the
/// engines that take them as data.
pub struct Lists {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    /// The deny lists (`words`, `severe`), then the review list (`watch`).
    pub deny: Vec<String>,
    pub watch: Vec<String>,
}

impl Lists {
    pub fn read(set: &Path) -> Result<Lists> {
        let list = |file: &str| -> Result<Vec<String>> {
            let path = set.join(file);
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
            Ok(text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect())
        };
        let mut deny = list("prohibited-content/words.txt")?;
        deny.extend(list("prohibited-content/severe.txt")?);
        Ok(Lists {
            users: list("blacklist/users.txt")?,
            groups: list("blacklist/groups.txt")?,
            deny,
            watch: list("prohibited-content/watch.txt")?,
        })
    }
}

/// The default set's `[config]` values, which the Rego data, the Cedar
/// policies and the native rules repeat; the cross-check fails if they drift.
mod config {
    pub const PUBLISH: u8 = 1;
    pub const PUBLISH_ATTACHMENTS: u8 = 2;
    pub const FOUND_GROUP: u8 = 3;
    pub const JOIN_GROUP: u8 = 0;
    /// `[config.categories.news]` of credit-levels.
    pub const NEWS: (u8, u8, u8) = (2, 3, 4);
    pub const MAX_MEMBERS: u32 = 500;
    /// `[config.categories.family]` of group-limits.
    pub const FAMILY_MAX_MEMBERS: u32 = 100;
    pub const MAX_GROUPS_FOUNDED: u32 = 20;
    pub const MAX_GROUPS_JOINED: u32 = 500;
    pub const LARGE_GROUP: u32 = 200;
    pub const LARGE_GROUP_FOUNDER_CREDIT: u8 = 4;
}

/// The Rego module, with the engine reused across calls and the input set per
/// call, as an embedding platform runs regorus.
pub struct Rego {
    engine: regorus::Engine,
}

impl Rego {
    pub fn new(lists: &Lists) -> Result<Rego> {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("groupgate.rego".into(), include_str!("../rules/groupgate.rego").into())
            .map_err(|e| anyhow!("groupgate.rego: {e}"))?;
        let data = json!({
            "blacklist": { "users": lists.users, "groups": lists.groups },
            "credit": {
                "publish": config::PUBLISH, "publish_attachments": config::PUBLISH_ATTACHMENTS,
                "found_group": config::FOUND_GROUP, "join_group": config::JOIN_GROUP,
                "categories": { "news": {
                    "publish": config::NEWS.0, "publish_attachments": config::NEWS.1, "found_group": config::NEWS.2,
                } },
            },
            "limits": {
                "max_members": config::MAX_MEMBERS, "max_groups_founded": config::MAX_GROUPS_FOUNDED,
                "max_groups_joined": config::MAX_GROUPS_JOINED, "large_group": config::LARGE_GROUP,
                "large_group_founder_credit": config::LARGE_GROUP_FOUNDER_CREDIT,
                "categories": { "family": { "max_members": config::FAMILY_MAX_MEMBERS } },
            },
            "words": lists.deny.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>(),
            "watch": lists.watch.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>(),
        });
        let data = regorus::Value::from_json_str(&data.to_string()).map_err(|e| anyhow!("rego data: {e}"))?;
        engine.add_data(data).map_err(|e| anyhow!("rego data: {e}"))?;
        Ok(Rego { engine })
    }
}

impl Engine for Rego {
    fn prepare<'a>(&'a mut self, input: &'a Input) -> Box<dyn FnMut() -> Answer + 'a> {
        // The platform holds its request as a value already; converting it
        // from JSON text is not the engine's cost.
        let value = regorus::Value::from_json_str(&input.json.to_string()).expect("JSON converts");
        let rule = match input.request {
            Request::Message(_) => "data.groupgate.message",
            Request::GroupCreation(_) => "data.groupgate.creation",
            Request::Membership(_) => "data.groupgate.membership",
            _ => unimplemented!("a hook the peers do not model"),
        };
        Box::new(move || {
            self.engine.set_input(value.clone());
            let result = self.engine.eval_rule(rule.into()).expect("the rules evaluate");
            let codes = |key: &str| -> BTreeSet<String> {
                let set = result[key].as_set().expect("a set of reason codes");
                set.iter().map(|v| v.as_string().expect("a reason code").to_string()).collect()
            };
            Answer::from_codes(codes("deny"), codes("review"))
        })
    }
}

/// The Cedar policies for a membership. With `prebuilt`, the request's
/// entities are built once outside the timed call (as an application whose
/// entities live in a store); without, every call builds them from the
/// request, as an application that receives the request does.
pub struct Cedar {
    policies: CedarPolicies,
    codes: HashMap<cedar_policy::PolicyId, String>,
    authorizer: Authorizer,
    users: HashSet<String>,
    groups: HashSet<String>,
    prebuilt: bool,
}

impl Cedar {
    pub fn new(lists: &Lists, prebuilt: bool) -> Result<Cedar> {
        let policies = CedarPolicies::from_str(include_str!("../rules/membership.cedar"))
            .map_err(|e| anyhow!("membership.cedar: {e}"))?;
        let codes =
            policies.policies().map(|p| (p.id().clone(), p.annotation("code").unwrap_or("").to_owned())).collect();
        Ok(Cedar {
            policies,
            codes,
            authorizer: Authorizer::new(),
            users: lists.users.iter().cloned().collect(),
            groups: lists.groups.iter().cloned().collect(),
            prebuilt,
        })
    }

    fn uid(kind: &str, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(kind.parse().expect("a type name"), id.parse().expect("an id"))
    }

    fn user(&self, u: &User) -> Entity {
        let parents = self.users.contains(&u.id).then(|| Cedar::uid("Blacklist", "users"));
        let attrs = HashMap::from([
            ("credit_level".to_owned(), RestrictedExpression::new_long(i64::from(u.credit_level))),
            ("groups_joined".to_owned(), RestrictedExpression::new_long(i64::from(u.groups_joined))),
            ("identity_verified".to_owned(), RestrictedExpression::new_bool(u.identity_verified)),
        ]);
        Entity::new(Cedar::uid("User", &u.id), attrs, parents.into_iter().collect()).expect("a valid user entity")
    }

    fn entities(&self, m: &Membership) -> Entities {
        let g = &m.group;
        let parents = self.groups.contains(&g.id).then(|| Cedar::uid("Blacklist", "groups"));
        let attrs = HashMap::from([
            ("member_count".to_owned(), RestrictedExpression::new_long(i64::from(g.member_count))),
            ("member_limit".to_owned(), RestrictedExpression::new_long(i64::from(g.member_limit))),
            ("category".to_owned(), RestrictedExpression::new_string(g.category.clone())),
        ]);
        let group = Entity::new(Cedar::uid("Group", &g.id), attrs, parents.into_iter().collect())
            .expect("a valid group entity");
        let mut all = vec![self.user(&m.subject), group];
        if let Some(inviter) = &m.inviter
            && inviter.id != m.subject.id
        {
            all.push(self.user(inviter));
        }
        Entities::from_entities(all, None).expect("entities without duplicates")
    }

    fn decide(&self, m: &Membership, entities: &Entities) -> Answer {
        let mut context = Vec::new();
        if let Some(inviter) = &m.inviter {
            context.push(("inviter".to_owned(), RestrictedExpression::new_entity_uid(Cedar::uid("User", &inviter.id))));
        }
        let context = CedarContext::from_pairs(context).expect("a valid context");
        let request = CedarRequest::new(
            Cedar::uid("User", &m.subject.id),
            Cedar::uid("Action", "join"),
            Cedar::uid("Group", &m.group.id),
            context,
            None,
        )
        .expect("a valid request");
        let response = self.authorizer.is_authorized(&request, &self.policies, entities);
        let deny = match response.decision() {
            cedar_policy::Decision::Allow => BTreeSet::new(),
            cedar_policy::Decision::Deny => response.diagnostics().reason().map(|id| self.codes[id].clone()).collect(),
        };
        Answer::from_codes(deny, BTreeSet::new())
    }
}

impl Engine for Cedar {
    fn prepare<'a>(&'a mut self, input: &'a Input) -> Box<dyn FnMut() -> Answer + 'a> {
        let Request::Membership(m) = &input.request else { panic!("Cedar answers memberships only") };
        if self.prebuilt {
            let entities = self.entities(m);
            Box::new(move || self.decide(m, &entities))
        } else {
            Box::new(move || self.decide(m, &self.entities(m)))
        }
    }
}

/// The same rules hand-written in Rust: hash-set look-ups, plain conditions,
/// and for the lists the plugin's own text folding (every step, as its lists
/// take them) scanned by an Aho-Corasick DFA over every folded form of each
/// entry, its pinyin included: the automaton the plugin builds. (The plugin
/// also tells a match's disguises apart and finds pinyin only as a whole
/// word, which no benchmark request needs: a match is rare.)
pub struct Native {
    users: HashSet<String>,
    groups: HashSet<String>,
    deny: AhoCorasick,
    watch: AhoCorasick,
    scratch: Vec<u8>,
    folded: groupgate_text::Folded,
}

impl Native {
    pub fn new(lists: &Lists) -> Result<Native> {
        let matcher = |words: &[String]| -> Result<AhoCorasick> {
            let steps = groupgate_text::Disguises::STEPS;
            let mut forms = Vec::new();
            for word in words {
                let spoken = groupgate_text::pinyin(word);
                for written in std::iter::once(word.as_str()).chain(spoken.as_deref()) {
                    forms.extend(groupgate_text::fold_entry(written, steps).into_iter().map(|f| f.text));
                }
            }
            Ok(AhoCorasick::builder().kind(Some(AhoCorasickKind::DFA)).build(forms)?)
        };
        Ok(Native {
            users: lists.users.iter().cloned().collect(),
            groups: lists.groups.iter().cloned().collect(),
            deny: matcher(&lists.deny)?,
            watch: matcher(&lists.watch)?,
            scratch: Vec::new(),
            folded: groupgate_text::Folded::default(),
        })
    }

    /// Whether any of `texts` holds a deny-list entry, and a watch-list entry.
    fn scan<'t>(&mut self, texts: impl IntoIterator<Item = &'t str>) -> (bool, bool) {
        let (mut deny, mut watch) = (false, false);
        for text in texts {
            groupgate_text::fold_bytes_into(
                text,
                groupgate_text::Disguises::STEPS,
                &mut self.scratch,
                &mut self.folded,
            );
            deny |= self.deny.is_match(self.scratch.as_slice());
            watch |= self.watch.is_match(self.scratch.as_slice());
        }
        (deny, watch)
    }

    fn message(&mut self, m: &Message) -> Answer {
        let mut deny = BTreeSet::new();
        let mut review = BTreeSet::new();
        if self.users.contains(&m.sender.id) {
            deny.insert("blacklisted".to_owned());
        }
        if self.groups.contains(&m.group.id) {
            deny.insert("group-blacklisted".to_owned());
        }
        if !m.sender.identity_verified {
            deny.insert("identity-unverified".to_owned());
        }
        let news = m.group.category == "news";
        let publish = if news { config::NEWS.0 } else { config::PUBLISH };
        let attachments = if news { config::NEWS.1 } else { config::PUBLISH_ATTACHMENTS };
        if m.sender.credit_level < publish || (!m.attachments.is_empty() && m.sender.credit_level < attachments) {
            deny.insert("credit-too-low".to_owned());
        }
        let texts = std::iter::once(m.text.as_str()).chain(m.attachments.iter().map(|a| a.name.as_str()));
        let (listed, watched) = self.scan(texts);
        if listed {
            deny.insert("prohibited-content".to_owned());
        }
        if watched {
            review.insert("prohibited-content".to_owned());
        }
        Answer::from_codes(deny, review)
    }

    fn group_creation(&mut self, c: &GroupCreation) -> Answer {
        let mut deny = BTreeSet::new();
        let mut review = BTreeSet::new();
        let founder = &c.founder;
        if self.users.contains(&founder.id) {
            deny.insert("blacklisted".to_owned());
        }
        if !founder.identity_verified {
            deny.insert("identity-unverified".to_owned());
        }
        let found_group = if c.category == "news" { config::NEWS.2 } else { config::FOUND_GROUP };
        if founder.credit_level < found_group {
            deny.insert("credit-too-low".to_owned());
        }
        let max = if c.category == "family" { config::FAMILY_MAX_MEMBERS } else { config::MAX_MEMBERS };
        if c.member_limit > max {
            deny.insert("member-limit-too-high".to_owned());
        }
        if founder.groups_created >= config::MAX_GROUPS_FOUNDED {
            deny.insert("founding-limit".to_owned());
        }
        if c.member_limit > config::LARGE_GROUP {
            if founder.credit_level < config::LARGE_GROUP_FOUNDER_CREDIT {
                deny.insert("founder-unqualified".to_owned());
            } else {
                review.insert("large-group-review".to_owned());
            }
        }
        let (listed, watched) = self.scan([c.name.as_str(), c.description.as_str()]);
        if listed {
            deny.insert("prohibited-content".to_owned());
        }
        if watched {
            review.insert("prohibited-content".to_owned());
        }
        Answer::from_codes(deny, review)
    }

    fn membership(&self, m: &Membership) -> Answer {
        let mut deny = BTreeSet::new();
        let inviter_listed = m.inviter.as_ref().is_some_and(|i| self.users.contains(&i.id));
        if self.users.contains(&m.subject.id) || inviter_listed {
            deny.insert("blacklisted".to_owned());
        }
        if self.groups.contains(&m.group.id) {
            deny.insert("group-blacklisted".to_owned());
        }
        // `join_group` is 0 in the default set, so this never denies there;
        // the rule stays so that every engine evaluates the same rules.
        #[allow(clippy::absurd_extreme_comparisons, reason = "the default set's join_group is 0")]
        if m.subject.credit_level < config::JOIN_GROUP {
            deny.insert("credit-too-low".to_owned());
        }
        if m.group.member_count >= m.group.member_limit {
            deny.insert("group-full".to_owned());
        }
        if m.subject.groups_joined >= config::MAX_GROUPS_JOINED {
            deny.insert("join-limit".to_owned());
        }
        Answer::from_codes(deny, BTreeSet::new())
    }
}

impl Engine for Native {
    fn prepare<'a>(&'a mut self, input: &'a Input) -> Box<dyn FnMut() -> Answer + 'a> {
        match &input.request {
            Request::Message(m) => Box::new(move || self.message(m)),
            Request::GroupCreation(c) => Box::new(move || self.group_creation(c)),
            Request::Membership(m) => Box::new(move || self.membership(m)),
            _ => unimplemented!("a hook the peers do not model"),
        }
    }
}
