//! The request encoding of contract `groupgate:policy@0.2.0` (the `request`
//! interface of `wit/policy.wit` is its definition): how a hook receives its
//! request and the counts read for the call, as one buffer that a policy
//! reads in place. The host writes it with [`Writer`] once per decision
//! (and puts each policy's counts after it with [`set_counts`]);
//! the SDK reads it with the views [`Message`], [`GroupCreation`],
//! [`Membership`] and [`Report`], which decode nothing until a field is asked for and
//! borrow every string from the buffer.
//!
//! Why a buffer and not a resource with a method per field: a call from a
//! policy into the host costs about 0.1 µs for a number and 0.2 µs for a
//! string (`groupgate bench` on a policy reading one field 20 times), so a
//! policy reading three ids paid more for them than for the call itself,
//! while the whole buffer costs one allocation in the policy and one copy.
//!
//! The layout: 8-byte slots, little-endian. A number, `bool` or enum case is
//! a `u64`; a string is a `u32` offset from the start of the buffer and a
//! `u32` length; a list is the offset of its first element (a multiple of 8)
//! and its number of elements, each as many slots as its type takes; an
//! option is a list of none or one. Records take their fields' slots in
//! order, nested records inline. Slot 0 holds `GGRQ`, the version (`u16`)
//! and the hook (`u16`); slot 1 the list of counts; the request from slot 2.

#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

/// The first four bytes of every buffer.
pub const MAGIC: [u8; 4] = *b"GGRQ";
/// The version of the layout this crate writes and reads.
pub const VERSION: u16 = 1;
/// Bytes per slot.
pub const SLOT: usize = 8;

/// Which request a buffer holds (slot 0's last two bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Hook {
    Message = 0,
    GroupCreation = 1,
    Membership = 2,
    Report = 3,
}

impl Hook {
    /// Slots the request takes, header included.
    pub const fn slots(self) -> usize {
        match self {
            Hook::Message => message::SLOTS,
            Hook::GroupCreation => group_creation::SLOTS,
            Hook::Membership => membership::SLOTS,
            Hook::Report => report::SLOTS,
        }
    }
}

/// Slot 1: the counts read for the call.
pub const COUNTS: usize = 1;

/// A user's fields, from the slot the user starts at.
pub mod user {
    pub const ID: usize = 0;
    pub const IDENTITY_VERIFIED: usize = 1;
    pub const CREDIT_LEVEL: usize = 2;
    pub const REGION: usize = 3;
    pub const GROUPS_CREATED: usize = 4;
    pub const GROUPS_JOINED: usize = 5;
    pub const LABELS: usize = 6;
    pub const SLOTS: usize = 7;
}

/// A group's fields, from the slot the group starts at.
pub mod group {
    pub const ID: usize = 0;
    pub const NAME: usize = 1;
    pub const CATEGORY: usize = 2;
    pub const REGION: usize = 3;
    pub const MEMBER_COUNT: usize = 4;
    pub const MEMBER_LIMIT: usize = 5;
    pub const FOUNDER_ID: usize = 6;
    pub const SLOTS: usize = 7;
}

/// An attachment's fields, from the slot it starts at.
pub mod attachment {
    pub const NAME: usize = 0;
    pub const MEDIA_TYPE: usize = 1;
    pub const SIZE: usize = 2;
    pub const SHA256: usize = 3;
    pub const SLOTS: usize = 4;
}

/// A count's fields, from the slot it starts at.
pub mod count {
    pub const COUNTER: usize = 0;
    pub const WINDOW: usize = 1;
    pub const KNOWN: usize = 2;
    pub const VALUE: usize = 3;
    pub const SLOTS: usize = 4;
}

/// A message's fields: slots from the start of the buffer.
pub mod message {
    pub const ID: usize = 2;
    pub const GROUP: usize = 3;
    pub const SENDER: usize = GROUP + super::group::SLOTS;
    pub const SENDER_ROLE: usize = SENDER + super::user::SLOTS;
    pub const TEXT: usize = SENDER_ROLE + 1;
    pub const ATTACHMENTS: usize = TEXT + 1;
    pub const SENT_AT: usize = ATTACHMENTS + 1;
    pub const SLOTS: usize = SENT_AT + 1;
    /// Slots a message takes as a record inside another (a reported
    /// message): its fields from `id`, without the header and counts.
    pub const RECORD_SLOTS: usize = SLOTS - ID;
}

/// A group creation's fields: slots from the start of the buffer.
pub mod group_creation {
    pub const ID: usize = 2;
    pub const FOUNDER: usize = 3;
    pub const NAME: usize = FOUNDER + super::user::SLOTS;
    pub const DESCRIPTION: usize = NAME + 1;
    pub const CATEGORY: usize = DESCRIPTION + 1;
    pub const REGION: usize = CATEGORY + 1;
    pub const MEMBER_LIMIT: usize = REGION + 1;
    pub const REQUESTED_AT: usize = MEMBER_LIMIT + 1;
    pub const SLOTS: usize = REQUESTED_AT + 1;
}

/// A membership's fields: slots from the start of the buffer.
pub mod membership {
    pub const ID: usize = 2;
    pub const KIND: usize = 3;
    pub const GROUP: usize = 4;
    pub const SUBJECT: usize = GROUP + super::group::SLOTS;
    pub const INVITER: usize = SUBJECT + super::user::SLOTS;
    pub const REQUESTED_AT: usize = INVITER + 1;
    pub const SLOTS: usize = REQUESTED_AT + 1;
}

/// A report's fields: slots from the start of the buffer.
pub mod report {
    pub const ID: usize = 2;
    pub const REPORTER: usize = 3;
    /// The target's case: 0 message, 1 user, 2 group.
    pub const TARGET: usize = REPORTER + super::user::SLOTS;
    /// The target's payload: a list of one record.
    pub const TARGET_PAYLOAD: usize = TARGET + 1;
    pub const CATEGORY: usize = TARGET_PAYLOAD + 1;
    pub const TEXT: usize = CATEGORY + 1;
    pub const REPORTED_AT: usize = TEXT + 1;
    pub const SLOTS: usize = REPORTED_AT + 1;
    /// The target's cases.
    pub const TARGET_MESSAGE: u64 = 0;
    pub const TARGET_USER: u64 = 1;
    pub const TARGET_GROUP: u64 = 2;
}

// The layout the contract's documentation gives.
const _: () = assert!(message::SENDER == 10 && message::SENT_AT == 20);
const _: () = assert!(group_creation::NAME == 10 && group_creation::REQUESTED_AT == 15);
const _: () = assert!(membership::SUBJECT == 11 && membership::REQUESTED_AT == 19);
const _: () = assert!(report::TARGET == 10 && report::REPORTED_AT == 14 && message::RECORD_SLOTS == 19);

// ---------------------------------------------------------------------------
// Writing (the host)

/// Writes a buffer: the header and the request's slots first (zero until
/// set), then whatever strings and lists the fields point to, appended as
/// they are set. Fields are addressed by slot number from the start of the
/// buffer; a list's elements by the slot [`Writer::list`] returns.
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A buffer for `hook` with room for `extra` bytes of strings and lists
    /// (a guess: it grows as needed).
    pub fn new(hook: Hook, extra: usize) -> Writer {
        let fixed = hook.slots() * SLOT;
        let mut buf = Vec::with_capacity(fixed + extra);
        buf.extend_from_slice(&MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&(hook as u16).to_le_bytes());
        buf.resize(fixed, 0);
        Writer { buf }
    }

    fn put(&mut self, slot: usize, low: u32, high: u32) {
        let at = slot * SLOT;
        self.buf[at..at + 4].copy_from_slice(&low.to_le_bytes());
        self.buf[at + 4..at + 8].copy_from_slice(&high.to_le_bytes());
    }

    /// Sets a number, `bool` or enum case.
    pub fn number(&mut self, slot: usize, value: u64) {
        let at = slot * SLOT;
        self.buf[at..at + SLOT].copy_from_slice(&value.to_le_bytes());
    }

    /// Sets a string.
    pub fn string(&mut self, slot: usize, value: &str) {
        let offset = offset(self.buf.len());
        self.buf.extend_from_slice(value.as_bytes());
        self.put(slot, offset, len(value.len()));
    }

    /// Sets a list of `count` elements of `slots_each` slots, all zero until
    /// set, and returns the slot its first element starts at.
    pub fn list(&mut self, slot: usize, count: usize, slots_each: usize) -> usize {
        let first = self.buf.len().div_ceil(SLOT);
        self.buf.resize((first + count * slots_each) * SLOT, 0);
        self.put(slot, offset(first * SLOT), len(count));
        first
    }

    /// Sets a list of strings.
    pub fn strings<'a>(&mut self, slot: usize, values: impl ExactSizeIterator<Item = &'a str>) {
        let first = self.list(slot, values.len(), 1);
        for (i, value) in values.enumerate() {
            self.string(first + i, value);
        }
    }

    /// The buffer.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// One count for [`set_counts`]: a counter, one of its windows, and its
/// value (`None` when it is not known).
pub type Count<'a> = (&'a str, &'a str, Option<u64>);

/// Puts `counts` after the request in `buf`, in place of any counts put
/// there before, and lists them in slot 1: `request_len` is the length of
/// the request alone, as [`Writer::finish`] made it. With no counts, slot 1
/// is the empty list again. So one buffer serves every policy deciding a
/// request, each with its own counts, without copying the request.
pub fn set_counts<'a>(buf: &mut Vec<u8>, request_len: usize, counts: impl ExactSizeIterator<Item = Count<'a>>) {
    buf.truncate(request_len);
    let mut writer = Writer { buf: core::mem::take(buf) };
    if counts.len() == 0 {
        writer.put(COUNTS, 0, 0);
    } else {
        let first = writer.list(COUNTS, counts.len(), count::SLOTS);
        for (i, (counter, window, value)) in counts.enumerate() {
            let at = first + i * count::SLOTS;
            writer.string(at + count::COUNTER, counter);
            writer.string(at + count::WINDOW, window);
            writer.number(at + count::KNOWN, u64::from(value.is_some()));
            writer.number(at + count::VALUE, value.unwrap_or(0));
        }
    }
    *buf = writer.buf;
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).expect("a request buffer is under 4 GiB")
}

fn len(n: usize) -> u32 {
    u32::try_from(n).expect("a request buffer is under 4 GiB")
}

// ---------------------------------------------------------------------------
// Reading (the policy)

/// Why a buffer is not a request of the expected hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than its header and slots.
    Short { len: usize, needed: usize },
    /// It does not begin with `GGRQ`.
    Magic,
    /// A layout version this reader does not know.
    Version(u16),
    /// Another hook's request.
    Hook { expected: u16, found: u16 },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Short { len, needed } => {
                write!(f, "the request is {len} bytes, shorter than the {needed} its slots take")
            }
            Malformed::Magic => f.write_str("the request does not begin with `GGRQ`"),
            Malformed::Version(v) => write!(f, "the request is in encoding version {v}; this SDK reads {VERSION}"),
            Malformed::Hook { expected, found } => {
                write!(f, "the request is of hook {found} where hook {expected} was expected")
            }
        }
    }
}

/// A buffer being read: slots by number, strings and lists they point to.
/// Out-of-range offsets and invalid UTF-8 (which the host never writes)
/// panic, with a message naming the request encoding.
#[derive(Clone, Copy)]
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn check(buf: &'a [u8], hook: Hook) -> Result<Reader<'a>, Malformed> {
        let needed = hook.slots() * SLOT;
        if buf.len() < SLOT {
            return Err(Malformed::Short { len: buf.len(), needed });
        }
        if buf[..4] != MAGIC {
            return Err(Malformed::Magic);
        }
        let version = u16::from_le_bytes([buf[4], buf[5]]);
        if version != VERSION {
            return Err(Malformed::Version(version));
        }
        let found = u16::from_le_bytes([buf[6], buf[7]]);
        if found != hook as u16 {
            return Err(Malformed::Hook { expected: hook as u16, found });
        }
        if buf.len() < needed {
            return Err(Malformed::Short { len: buf.len(), needed });
        }
        Ok(Reader(buf))
    }

    fn bytes(self, slot: usize) -> [u8; SLOT] {
        let at = slot * SLOT;
        match self.0.get(at..at + SLOT) {
            Some(b) => b.try_into().unwrap_or([0; SLOT]),
            None => malformed(),
        }
    }

    fn number(self, slot: usize) -> u64 {
        u64::from_le_bytes(self.bytes(slot))
    }

    /// The (offset, length) pair of a string or list.
    fn pair(self, slot: usize) -> (usize, usize) {
        let b = self.bytes(slot);
        (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize)
    }

    fn string(self, slot: usize) -> &'a str {
        match core::str::from_utf8(self.string_bytes(slot)) {
            Ok(s) => s,
            Err(_) => malformed(),
        }
    }

    /// A string's bytes, not checked to be UTF-8.
    fn string_bytes(self, slot: usize) -> &'a [u8] {
        let (at, len) = self.pair(slot);
        match self.0.get(at..at.saturating_add(len)) {
            Some(bytes) => bytes,
            None => malformed(),
        }
    }

    /// The first slot and the length of a list.
    fn list(self, slot: usize) -> (usize, usize) {
        let (at, count) = self.pair(slot);
        if at % SLOT != 0 {
            malformed();
        }
        (at / SLOT, count)
    }
}

#[cold]
fn malformed() -> ! {
    panic!("the request buffer is malformed: it points outside itself or holds invalid UTF-8 (a host bug)")
}

/// The sender's role in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Founder,
    Manager,
    Member,
}

impl Role {
    fn from_case(case: u64) -> Role {
        match case {
            0 => Role::Founder,
            1 => Role::Manager,
            _ => Role::Member,
        }
    }
}

/// How someone comes to be a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipKind {
    /// The subject asks to join.
    Join,
    /// A member (the inviter) invites the subject.
    Invite,
}

/// A user, read in place.
#[derive(Clone, Copy)]
pub struct User<'a> {
    r: Reader<'a>,
    at: usize,
}

impl<'a> User<'a> {
    /// The platform's opaque user id.
    pub fn id(&self) -> &'a str {
        self.r.string(self.at + user::ID)
    }
    /// Whether the platform has verified the user's real identity (Art. 6).
    pub fn identity_verified(&self) -> bool {
        self.r.number(self.at + user::IDENTITY_VERIFIED) != 0
    }
    /// The user's credit level, 0 the lowest (Art. 7).
    pub fn credit_level(&self) -> u8 {
        self.r.number(self.at + user::CREDIT_LEVEL) as u8
    }
    /// The region the user is registered in.
    pub fn region(&self) -> &'a str {
        self.r.string(self.at + user::REGION)
    }
    /// Groups the user has founded (Art. 8).
    pub fn groups_created(&self) -> u32 {
        self.r.number(self.at + user::GROUPS_CREATED) as u32
    }
    /// Groups the user is a member of (Art. 8).
    pub fn groups_joined(&self) -> u32 {
        self.r.number(self.at + user::GROUPS_JOINED) as u32
    }
    /// The labels the platform attaches.
    pub fn labels(&self) -> Strings<'a> {
        Strings(Items::new(self.r, self.at + user::LABELS))
    }
    /// Whether the user carries `label`.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels().any(|l| l == label)
    }
}

impl fmt::Debug for User<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id())
            .field("identity_verified", &self.identity_verified())
            .field("credit_level", &self.credit_level())
            .field("region", &self.region())
            .field("groups_created", &self.groups_created())
            .field("groups_joined", &self.groups_joined())
            .field("labels", &self.labels())
            .finish()
    }
}

/// A group as it exists now, read in place.
#[derive(Clone, Copy)]
pub struct Group<'a> {
    r: Reader<'a>,
    at: usize,
}

impl<'a> Group<'a> {
    /// The platform's opaque group id.
    pub fn id(&self) -> &'a str {
        self.r.string(self.at + group::ID)
    }
    /// The group's display name.
    pub fn name(&self) -> &'a str {
        self.r.string(self.at + group::NAME)
    }
    /// The group's category (Art. 7).
    pub fn category(&self) -> &'a str {
        self.r.string(self.at + group::CATEGORY)
    }
    /// The region the group is served in.
    pub fn region(&self) -> &'a str {
        self.r.string(self.at + group::REGION)
    }
    /// Members right now.
    pub fn member_count(&self) -> u32 {
        self.r.number(self.at + group::MEMBER_COUNT) as u32
    }
    /// The most members the group may have.
    pub fn member_limit(&self) -> u32 {
        self.r.number(self.at + group::MEMBER_LIMIT) as u32
    }
    /// The user id of the group's founder.
    pub fn founder_id(&self) -> &'a str {
        self.r.string(self.at + group::FOUNDER_ID)
    }
}

impl fmt::Debug for Group<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("category", &self.category())
            .field("region", &self.region())
            .field("member_count", &self.member_count())
            .field("member_limit", &self.member_limit())
            .field("founder_id", &self.founder_id())
            .finish()
    }
}

/// A file attached to a message, read in place.
#[derive(Clone, Copy)]
pub struct Attachment<'a> {
    r: Reader<'a>,
    at: usize,
}

impl<'a> Attachment<'a> {
    /// The file name as the sender gave it.
    pub fn name(&self) -> &'a str {
        self.r.string(self.at + attachment::NAME)
    }
    /// Its media type, e.g. `image/png`.
    pub fn media_type(&self) -> &'a str {
        self.r.string(self.at + attachment::MEDIA_TYPE)
    }
    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.r.number(self.at + attachment::SIZE)
    }
    /// The hex SHA-256 of its contents.
    pub fn sha256(&self) -> &'a str {
        self.r.string(self.at + attachment::SHA256)
    }
}

impl fmt::Debug for Attachment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name())
            .field("media_type", &self.media_type())
            .field("size", &self.size())
            .field("sha256", &self.sha256())
            .finish()
    }
}

/// A list being walked: where each element starts, in turn.
#[derive(Clone)]
struct Items<'a> {
    r: Reader<'a>,
    first: usize,
    next: usize,
    len: usize,
}

impl<'a> Items<'a> {
    /// The list in `slot`.
    fn new(r: Reader<'a>, slot: usize) -> Items<'a> {
        let (first, len) = r.list(slot);
        Items { r, first, next: 0, len }
    }

    /// The slot the next element starts at, its elements `slots` slots each.
    fn next_at(&mut self, slots: usize) -> Option<usize> {
        if self.next == self.len {
            return None;
        }
        self.next += 1;
        Some(self.first + (self.next - 1) * slots)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len - self.next, Some(self.len - self.next))
    }
}

/// A list of strings (a user's labels), read in place.
#[derive(Clone)]
pub struct Strings<'a>(Items<'a>);

impl<'a> Iterator for Strings<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let at = self.0.next_at(1)?;
        Some(self.0.r.string(at))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Strings<'_> {}

impl fmt::Debug for Strings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// A message's attachments, read in place.
#[derive(Clone)]
pub struct Attachments<'a>(Items<'a>);

impl<'a> Iterator for Attachments<'a> {
    type Item = Attachment<'a>;
    fn next(&mut self) -> Option<Attachment<'a>> {
        let at = self.0.next_at(attachment::SLOTS)?;
        Some(Attachment { r: self.0.r, at })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Attachments<'_> {}

impl fmt::Debug for Attachments<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The counts in a buffer, in the order the host listed them.
#[derive(Clone)]
pub struct Counts<'a>(Items<'a>);

impl<'a> Iterator for Counts<'a> {
    /// Counter, window, and the count if known.
    type Item = Count<'a>;
    fn next(&mut self) -> Option<Count<'a>> {
        let at = self.0.next_at(count::SLOTS)?;
        let r = self.0.r;
        let known = r.number(at + count::KNOWN) != 0;
        Some((r.string(at + count::COUNTER), r.string(at + count::WINDOW), known.then(|| r.number(at + count::VALUE))))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Counts<'_> {}

/// What every request view shares: the counts.
macro_rules! request_view {
    ($name:ident, $hook:expr) => {
        impl $name {
            /// Reads `bytes`, checking its header only: fields are read when
            /// asked for.
            pub fn new(bytes: Vec<u8>) -> Result<$name, Malformed> {
                Reader::check(&bytes, $hook)?;
                Ok($name { bytes })
            }

            fn r(&self) -> Reader<'_> {
                Reader(&self.bytes)
            }

            /// Every count the host read for the call.
            pub fn counts(&self) -> Counts<'_> {
                Counts(Items::new(self.r(), COUNTS))
            }

            /// The count of `counter` over `window`: `Some(None)` when it is
            /// declared but unknown, `None` when the host read no such count
            /// (the manifest does not declare it).
            pub fn count(&self, counter: &str, window: &str) -> Option<Option<u64>> {
                self.counts().find(|(c, w, _)| *c == counter && *w == window).map(|(_, _, value)| value)
            }

            /// The buffer.
            pub fn as_bytes(&self) -> &[u8] {
                &self.bytes
            }
        }
    };
}

/// A message someone wants to publish in a group.
pub struct Message {
    bytes: Vec<u8>,
}

request_view!(Message, Hook::Message);

impl Message {
    /// The platform's message id.
    pub fn id(&self) -> &str {
        self.r().string(message::ID)
    }
    /// The group it is sent to.
    pub fn group(&self) -> Group<'_> {
        Group { r: self.r(), at: message::GROUP }
    }
    /// The user who sends it.
    pub fn sender(&self) -> User<'_> {
        User { r: self.r(), at: message::SENDER }
    }
    /// The sender's role in that group.
    pub fn sender_role(&self) -> Role {
        Role::from_case(self.r().number(message::SENDER_ROLE))
    }
    /// The message text.
    pub fn text(&self) -> &str {
        self.r().string(message::TEXT)
    }
    /// The message text's bytes, without the check that they are UTF-8
    /// which [`text`](Self::text) makes (the host writes only UTF-8): for a
    /// policy that reads a long text byte by byte, and that can skip a pass
    /// over it by checking for ASCII itself.
    pub fn text_bytes(&self) -> &[u8] {
        self.r().string_bytes(message::TEXT)
    }
    /// Files attached to it.
    pub fn attachments(&self) -> Attachments<'_> {
        Attachments(Items::new(self.r(), message::ATTACHMENTS))
    }
    /// When it was sent, in unix milliseconds.
    pub fn sent_at(&self) -> u64 {
        self.r().number(message::SENT_AT)
    }
}

/// A request to create a group.
pub struct GroupCreation {
    bytes: Vec<u8>,
}

request_view!(GroupCreation, Hook::GroupCreation);

impl GroupCreation {
    /// The platform's request id.
    pub fn id(&self) -> &str {
        self.r().string(group_creation::ID)
    }
    /// The user who wants to found the group.
    pub fn founder(&self) -> User<'_> {
        User { r: self.r(), at: group_creation::FOUNDER }
    }
    /// The requested group name.
    pub fn name(&self) -> &str {
        self.r().string(group_creation::NAME)
    }
    /// The requested group description.
    pub fn description(&self) -> &str {
        self.r().string(group_creation::DESCRIPTION)
    }
    /// The requested category.
    pub fn category(&self) -> &str {
        self.r().string(group_creation::CATEGORY)
    }
    /// The region the group would be served in.
    pub fn region(&self) -> &str {
        self.r().string(group_creation::REGION)
    }
    /// The requested member limit.
    pub fn member_limit(&self) -> u32 {
        self.r().number(group_creation::MEMBER_LIMIT) as u32
    }
    /// When it was requested, in unix milliseconds.
    pub fn requested_at(&self) -> u64 {
        self.r().number(group_creation::REQUESTED_AT)
    }
}

/// A request for a user to join, or be invited into, a group.
pub struct Membership {
    bytes: Vec<u8>,
}

request_view!(Membership, Hook::Membership);

impl Membership {
    /// The platform's request id.
    pub fn id(&self) -> &str {
        self.r().string(membership::ID)
    }
    /// Join or invite.
    pub fn kind(&self) -> MembershipKind {
        match self.r().number(membership::KIND) {
            0 => MembershipKind::Join,
            _ => MembershipKind::Invite,
        }
    }
    /// The group to be joined.
    pub fn group(&self) -> Group<'_> {
        Group { r: self.r(), at: membership::GROUP }
    }
    /// The user who would become a member.
    pub fn subject(&self) -> User<'_> {
        User { r: self.r(), at: membership::SUBJECT }
    }
    /// Who invites them, for an invite.
    pub fn inviter(&self) -> Option<User<'_>> {
        let (first, len) = self.r().list(membership::INVITER);
        (len > 0).then(|| User { r: self.r(), at: first })
    }
    /// When it was requested, in unix milliseconds.
    pub fn requested_at(&self) -> u64 {
        self.r().number(membership::REQUESTED_AT)
    }
}

/// What a reporter says is wrong (Art. 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportCategory {
    ProhibitedContent,
    Spam,
    Harassment,
    Fraud,
    Other,
}

impl ReportCategory {
    /// Every category, in the contract's order (a category's index is its
    /// case in the encoding).
    pub const ALL: [ReportCategory; 5] = [
        ReportCategory::ProhibitedContent,
        ReportCategory::Spam,
        ReportCategory::Harassment,
        ReportCategory::Fraud,
        ReportCategory::Other,
    ];

    /// The category as the JSON wire format writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportCategory::ProhibitedContent => "prohibited-content",
            ReportCategory::Spam => "spam",
            ReportCategory::Harassment => "harassment",
            ReportCategory::Fraud => "fraud",
            ReportCategory::Other => "other",
        }
    }
}

/// A reported message, read in place: a message's fields, as
/// [`Message`] has them, without its counts.
#[derive(Clone, Copy)]
pub struct ReportedMessage<'a> {
    r: Reader<'a>,
    /// The slot its `id` is in.
    at: usize,
}

impl<'a> ReportedMessage<'a> {
    /// The slot of a field of [`message`], counted from the message's `id`.
    fn slot(&self, field: usize) -> usize {
        self.at + field - message::ID
    }
    /// The platform's message id.
    pub fn id(&self) -> &'a str {
        self.r.string(self.slot(message::ID))
    }
    /// The group it was sent to.
    pub fn group(&self) -> Group<'a> {
        Group { r: self.r, at: self.slot(message::GROUP) }
    }
    /// The user who sent it.
    pub fn sender(&self) -> User<'a> {
        User { r: self.r, at: self.slot(message::SENDER) }
    }
    /// The sender's role in that group.
    pub fn sender_role(&self) -> Role {
        Role::from_case(self.r.number(self.slot(message::SENDER_ROLE)))
    }
    /// The message text.
    pub fn text(&self) -> &'a str {
        self.r.string(self.slot(message::TEXT))
    }
    /// Files attached to it.
    pub fn attachments(&self) -> Attachments<'a> {
        Attachments(Items::new(self.r, self.slot(message::ATTACHMENTS)))
    }
    /// When it was sent, in unix milliseconds.
    pub fn sent_at(&self) -> u64 {
        self.r.number(self.slot(message::SENT_AT))
    }
}

impl fmt::Debug for ReportedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportedMessage")
            .field("id", &self.id())
            .field("group", &self.group())
            .field("sender", &self.sender())
            .field("sender_role", &self.sender_role())
            .field("text", &self.text())
            .field("attachments", &self.attachments())
            .field("sent_at", &self.sent_at())
            .finish()
    }
}

/// What a report is about.
#[derive(Debug, Clone, Copy)]
pub enum ReportTarget<'a> {
    /// A message, as it was published.
    Message(ReportedMessage<'a>),
    /// A user.
    User(User<'a>),
    /// A group.
    Group(Group<'a>),
}

impl ReportTarget<'_> {
    /// The id of the message, user or group reported.
    pub fn id(&self) -> &str {
        match self {
            ReportTarget::Message(m) => m.id(),
            ReportTarget::User(u) => u.id(),
            ReportTarget::Group(g) => g.id(),
        }
    }
}

/// A complaint from the public (Art. 12): someone reports a message, a user
/// or a group.
pub struct Report {
    bytes: Vec<u8>,
}

request_view!(Report, Hook::Report);

impl Report {
    /// The platform's report id.
    pub fn id(&self) -> &str {
        self.r().string(report::ID)
    }
    /// The user who reports.
    pub fn reporter(&self) -> User<'_> {
        User { r: self.r(), at: report::REPORTER }
    }
    /// What is reported.
    pub fn target(&self) -> ReportTarget<'_> {
        let (at, _) = self.r().list(report::TARGET_PAYLOAD);
        let r = self.r();
        match r.number(report::TARGET) {
            report::TARGET_MESSAGE => ReportTarget::Message(ReportedMessage { r, at }),
            report::TARGET_USER => ReportTarget::User(User { r, at }),
            _ => ReportTarget::Group(Group { r, at }),
        }
    }
    /// What the reporter says is wrong.
    pub fn category(&self) -> ReportCategory {
        let case = self.r().number(report::CATEGORY);
        ReportCategory::ALL.get(case as usize).copied().unwrap_or(ReportCategory::Other)
    }
    /// The reporter's own words.
    pub fn text(&self) -> &str {
        self.r().string(report::TEXT)
    }
    /// When it was reported, in unix milliseconds.
    pub fn reported_at(&self) -> u64 {
        self.r().number(report::REPORTED_AT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(w: &mut Writer, at: usize, id: &str, labels: &[&str]) {
        w.string(at + user::ID, id);
        w.number(at + user::IDENTITY_VERIFIED, 1);
        w.number(at + user::CREDIT_LEVEL, 4);
        w.string(at + user::REGION, "CN-44");
        w.number(at + user::GROUPS_CREATED, 2);
        w.number(at + user::GROUPS_JOINED, 30);
        w.strings(at + user::LABELS, labels.iter().copied());
    }

    #[test]
    fn a_membership_reads_back_field_for_field_with_its_counts() {
        let mut w = Writer::new(Hook::Membership, 0);
        w.string(membership::ID, "req-1");
        w.number(membership::KIND, 1);
        w.string(membership::GROUP + group::ID, "grp-9");
        w.string(membership::GROUP + group::NAME, "读书会");
        w.number(membership::GROUP + group::MEMBER_COUNT, 499);
        w.number(membership::GROUP + group::MEMBER_LIMIT, 500);
        user(&mut w, membership::SUBJECT, "usr-s", &["a", "verified-organisation"]);
        let inviter = w.list(membership::INVITER, 1, user::SLOTS);
        user(&mut w, inviter, "usr-i", &[]);
        w.number(membership::REQUESTED_AT, 1_700_000_000_000);
        let base = w.finish();

        let m = Membership::new(base.clone()).unwrap();
        assert_eq!(m.id(), "req-1");
        assert_eq!(m.kind(), MembershipKind::Invite);
        assert_eq!(m.group().id(), "grp-9");
        assert_eq!(m.group().name(), "读书会");
        assert_eq!(m.group().category(), "");
        assert_eq!((m.group().member_count(), m.group().member_limit()), (499, 500));
        let s = m.subject();
        assert_eq!((s.id(), s.identity_verified(), s.credit_level(), s.region()), ("usr-s", true, 4, "CN-44"));
        assert_eq!((s.groups_created(), s.groups_joined()), (2, 30));
        assert_eq!(s.labels().collect::<Vec<_>>(), ["a", "verified-organisation"]);
        assert!(s.has_label("verified-organisation") && !s.has_label("b"));
        assert_eq!(m.inviter().unwrap().id(), "usr-i");
        assert_eq!(m.inviter().unwrap().labels().len(), 0);
        assert_eq!(m.requested_at(), 1_700_000_000_000);
        assert_eq!(m.counts().len(), 0);
        assert_eq!(m.count("x", "1h"), None);

        let mut with = base.clone();
        set_counts(&mut with, base.len(), [("joins", "1h", Some(3)), ("joins", "24h", None)].into_iter());
        let m = Membership::new(with.clone()).unwrap();
        assert_eq!(m.count("joins", "1h"), Some(Some(3)));
        assert_eq!(m.count("joins", "24h"), Some(None));
        assert_eq!(m.count("joins", "60m"), None);
        // The request itself is untouched by the counts after it.
        assert_eq!(m.inviter().unwrap().id(), "usr-i");
        assert_eq!(m.subject().labels().collect::<Vec<_>>(), ["a", "verified-organisation"]);
        // Other counts replace them; none leave the request as it was.
        set_counts(&mut with, base.len(), [("x", "1d", Some(1))].into_iter());
        assert_eq!(Membership::new(with.clone()).unwrap().counts().collect::<Vec<_>>(), [("x", "1d", Some(1))]);
        set_counts(&mut with, base.len(), core::iter::empty());
        assert_eq!(with, base);
    }

    #[test]
    fn a_message_reads_its_attachments_and_a_creation_its_founder() {
        let mut w = Writer::new(Hook::Message, 0);
        w.string(message::TEXT, "hello");
        w.number(message::SENDER_ROLE, 1);
        let first = w.list(message::ATTACHMENTS, 2, attachment::SLOTS);
        for (i, name) in ["a.png", "b.exe"].iter().enumerate() {
            let at = first + i * attachment::SLOTS;
            w.string(at + attachment::NAME, name);
            w.number(at + attachment::SIZE, 10 + i as u64);
        }
        w.number(message::SENT_AT, 7);
        let m = Message::new(w.finish()).unwrap();
        assert_eq!((m.text(), m.sender_role(), m.sent_at(), m.id()), ("hello", Role::Manager, 7, ""));
        let names: Vec<_> = m.attachments().map(|a| (a.name(), a.size())).collect();
        assert_eq!(names, [("a.png", 10), ("b.exe", 11)]);
        assert_eq!(m.sender().labels().len(), 0);

        let mut w = Writer::new(Hook::GroupCreation, 0);
        user(&mut w, group_creation::FOUNDER, "usr-f", &[]);
        w.string(group_creation::NAME, "n");
        w.number(group_creation::MEMBER_LIMIT, 200);
        let c = GroupCreation::new(w.finish()).unwrap();
        assert_eq!((c.founder().id(), c.name(), c.member_limit()), ("usr-f", "n", 200));
    }

    #[test]
    fn a_report_reads_its_reporter_and_each_kind_of_target() {
        for case in [report::TARGET_MESSAGE, report::TARGET_USER, report::TARGET_GROUP] {
            let mut w = Writer::new(Hook::Report, 0);
            w.string(report::ID, "rep-1");
            user(&mut w, report::REPORTER, "usr-r", &["x"]);
            w.number(report::TARGET, case);
            let slots = match case {
                report::TARGET_MESSAGE => message::RECORD_SLOTS,
                report::TARGET_USER => user::SLOTS,
                _ => group::SLOTS,
            };
            let at = w.list(report::TARGET_PAYLOAD, 1, slots);
            match case {
                report::TARGET_MESSAGE => {
                    let field = |f: usize| at + f - message::ID;
                    w.string(field(message::ID), "msg-7");
                    w.string(field(message::GROUP) + group::ID, "grp-2");
                    user(&mut w, field(message::SENDER), "usr-s", &[]);
                    w.number(field(message::SENDER_ROLE), 0);
                    w.string(field(message::TEXT), "bad words");
                    let first = w.list(field(message::ATTACHMENTS), 1, attachment::SLOTS);
                    w.string(first + attachment::NAME, "a.png");
                    w.number(field(message::SENT_AT), 11);
                }
                report::TARGET_USER => user(&mut w, at, "usr-t", &[]),
                _ => w.string(at + group::ID, "grp-t"),
            }
            w.number(report::CATEGORY, 2);
            w.string(report::TEXT, "they keep at it");
            w.number(report::REPORTED_AT, 99);
            let r = Report::new(w.finish()).unwrap();
            assert_eq!((r.id(), r.reporter().id(), r.reporter().labels().len()), ("rep-1", "usr-r", 1));
            assert_eq!((r.category(), r.text(), r.reported_at()), (ReportCategory::Harassment, "they keep at it", 99));
            match r.target() {
                ReportTarget::Message(m) => {
                    assert_eq!(
                        (m.id(), m.group().id(), m.sender().id(), m.text()),
                        ("msg-7", "grp-2", "usr-s", "bad words")
                    );
                    assert_eq!((m.sender_role(), m.sent_at(), m.sender().credit_level()), (Role::Founder, 11, 4));
                    assert_eq!(m.attachments().map(|a| a.name()).collect::<Vec<_>>(), ["a.png"]);
                }
                ReportTarget::User(u) => {
                    assert_eq!((case, u.id(), u.region()), (report::TARGET_USER, "usr-t", "CN-44"))
                }
                ReportTarget::Group(g) => assert_eq!((case, g.id()), (report::TARGET_GROUP, "grp-t")),
            }
            assert_eq!(r.target().id(), ["msg-7", "usr-t", "grp-t"][case as usize]);
        }
    }

    #[test]
    fn a_buffer_of_another_hook_version_or_length_is_refused() {
        let membership = Writer::new(Hook::Membership, 0).finish();
        assert_eq!(Message::new(membership.clone()).err(), Some(Malformed::Hook { expected: 0, found: 2 }));
        assert_eq!(Message::new(Vec::new()).err(), Some(Malformed::Short { len: 0, needed: message::SLOTS * SLOT }));
        let mut bad = membership.clone();
        bad[0] = b'X';
        assert_eq!(Membership::new(bad).err(), Some(Malformed::Magic));
        let mut bad = membership;
        bad[4] = 9;
        assert_eq!(Membership::new(bad).err(), Some(Malformed::Version(9)));
    }
}
