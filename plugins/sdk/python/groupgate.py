"""groupgate: read a groupgate request (contract groupgate:policy@0.2.0) in a
Python policy.

Each hook receives its request as one `bytes` in the request encoding (the
`request` interface of wit/policy.wit; plugins/encoding is the Rust
reference). Wrap it and read the fields you need::

    import groupgate

    def evaluate_group_creation(self, data: bytes) -> types.Outcome:
        creation = groupgate.group_creation(data)
        creation.name()                             # a str
        creation.founder().labels                   # a list of str
        creation.count("naming_denials", "24h")     # an int, or None
        return groupgate.answer(groupgate.Verdict(types.Outcome.ALLOW))

A hook returns `groupgate.answer(verdict)`, where `verdict` is a
`groupgate.Verdict` (outcome, reasons, measures, increments; the lists
default to empty): the contract has a hook return only its outcome and hand
the rest to the host first, which `answer` does, so an allow with nothing to
say crosses back as one number.

Nothing is decoded until it is asked for, and then only that field, in
place: `creation.founder()` is a view, and `.id` on it decodes one string.
Each call reads the buffer again, so keep what you use twice in a local.

The names are those the bindings gave the records before 0.2.0: a request's
fields are methods (`text()`, `sender_role()`, `sent_at()`, `inviter()`),
those of a user, group or attachment attributes (`sender.credit_level`,
`group.member_count`, `attachment.name`). Numbers are `int`; enums the
generated `types.Role` and `types.MembershipKind`; an absent option `None`.

A report's category is its name in the wire format, a `str` such as
`"prohibited-content"`, and its target a view whose `kind` is `"message"`,
`"user"` or `"group"` and whose attribute of that name is the reported
thing (the other two are None): a user or group as in any request, a
reported message with the methods of a `Message` but no counts (the report
has those)::

    def evaluate_report(self, data: bytes) -> types.Outcome:
        report = groupgate.report(data)
        target = report.target()
        if target.kind == "message" and report.category() == "prohibited-content":
            target.message.text()                   # a str
        return groupgate.answer(groupgate.Verdict(types.Outcome.ALLOW))

A `WitWorld` whose policy does not answer reports need not define
`evaluate_report`: importing this module, before the class is defined, gives
the generated `wit_world.WitWorld` one that allows, which the host never
calls for a policy whose manifest's `hooks` leave `report` out. Every other
hook must be defined, as componentize-py requires.

Text folding comes from the host (the contract's `text` interface), so a
policy matches disguised words as the standard policies do without Unicode
tables of its own::

    folded = groupgate.fold("Ｚ0RBL@X", leet=True)
    folded.text                 # "zorbiax"
    folded.offsets              # per character of folded.text, the index
                                # in the original string it came from
    groupgate.pinyin("黑雲券")   # "hei yun quan", or None

componentize-py finds this module on its Python path: give its folder with
`-p` (`groupgate build` passes the folder it writes this file into).
"""

import abc
import dataclasses
import struct

import wit_world as _world
from wit_world.imports import abort, types
from wit_world.imports import text as _text
from wit_world.imports import verdict as _verdict

#: The encoding's version this module reads.
VERSION = 1

_SLOT = 8
_U64 = struct.Struct("<Q")
_PAIR = struct.Struct("<II")
_HEADER = struct.Struct("<4sHH")

# Slots, as in plugins/encoding/src/lib.rs (and the `request` interface of
# wit/policy.wit). A field's slot is written where it is read: a user's,
# group's, attachment's or count's from where that starts (a user's `id` is
# `at + 0` ... `labels` `at + 6`), a request's from the buffer's start
# (a message's `id` is 2, its `sender` 10 to 16, `sent-at` 20), a reported
# message's from its `id` (`sender` 8 to 14 after it, `sent-at` 18).
_ATTACHMENT_SLOTS, _COUNT_SLOTS, _COUNTS = 4, 4, 1
_MESSAGE_SLOTS, _CREATION_SLOTS, _MEMBERSHIP_SLOTS, _REPORT_SLOTS = 21, 16, 20, 15
_TARGET_KINDS = ("message", "user", "group")
_REPORT_CATEGORIES = ("prohibited-content", "spam", "harassment", "fraud", "other")


def _fail(why: str):
    """Stops the call with `why` as the policy's error (the host never
    returns)."""
    abort.abort(why)
    raise RuntimeError(why)


def _malformed():
    _fail("the request buffer is malformed: it points outside itself or holds invalid UTF-8 (a host bug)")


def _check(data: bytes, hook: int, slots: int) -> bytes:
    needed = slots * _SLOT
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("a groupgate request is bytes, as the hook receives it")
    if len(data) < _SLOT:
        _fail(f"the request is {len(data)} bytes, shorter than the {needed} its slots take")
    magic, version, found = _HEADER.unpack_from(data, 0)
    if magic != b"GGRQ":
        _fail("the request does not begin with `GGRQ`")
    if version != VERSION:
        _fail(f"the request is in encoding version {version}; this SDK reads {VERSION}")
    if found != hook:
        _fail(f"the request is of hook {found} where hook {hook} was expected")
    if len(data) < needed:
        _fail(f"the request is {len(data)} bytes, shorter than the {needed} its slots take")
    return bytes(data)


def _number(b: bytes, slot: int) -> int:
    try:
        return _U64.unpack_from(b, slot * _SLOT)[0]
    except struct.error:
        _malformed()


def _pair(b: bytes, slot: int) -> tuple[int, int]:
    try:
        return _PAIR.unpack_from(b, slot * _SLOT)
    except struct.error:
        _malformed()


def _string(b: bytes, slot: int) -> str:
    at, n = _pair(b, slot)
    if at + n > len(b):
        _malformed()
    try:
        return b[at : at + n].decode("utf-8")
    except UnicodeDecodeError:
        _malformed()


def _role(b: bytes, slot: int) -> "types.Role":
    role = _number(b, slot)
    return types.Role(role) if role < 2 else types.Role.MEMBER


def _list(b: bytes, slot: int) -> tuple[int, int]:
    """The slot of a list's first element, and how many there are."""
    at, n = _pair(b, slot)
    if at % _SLOT:
        _malformed()
    return at // _SLOT, n


class User:
    """A user, read in place: its fields are attributes."""

    __slots__ = ("_b", "_at")

    def __init__(self, b: bytes, at: int):
        self._b, self._at = b, at

    @property
    def id(self) -> str:
        """The platform's opaque user id."""
        return _string(self._b, self._at)

    @property
    def identity_verified(self) -> bool:
        """Whether the platform has verified the user's real identity (Art. 6)."""
        return _number(self._b, self._at + 1) != 0

    @property
    def credit_level(self) -> int:
        """The user's credit level, 0 the lowest (Art. 7)."""
        return _number(self._b, self._at + 2) & 0xFF

    @property
    def region(self) -> str:
        """The region the user is registered in."""
        return _string(self._b, self._at + 3)

    @property
    def groups_created(self) -> int:
        """Groups the user has founded (Art. 8)."""
        return _number(self._b, self._at + 4) & 0xFFFFFFFF

    @property
    def groups_joined(self) -> int:
        """Groups the user is a member of (Art. 8)."""
        return _number(self._b, self._at + 5) & 0xFFFFFFFF

    @property
    def labels(self) -> list[str]:
        """The labels the platform attaches."""
        first, n = _list(self._b, self._at + 6)
        return [_string(self._b, first + i) for i in range(n)]

    def has_label(self, label: str) -> bool:
        """Whether the user carries `label`."""
        first, n = _list(self._b, self._at + 6)
        return any(_string(self._b, first + i) == label for i in range(n))


class Group:
    """A group as it exists now, read in place: its fields are attributes."""

    __slots__ = ("_b", "_at")

    def __init__(self, b: bytes, at: int):
        self._b, self._at = b, at

    @property
    def id(self) -> str:
        return _string(self._b, self._at)

    @property
    def name(self) -> str:
        return _string(self._b, self._at + 1)

    @property
    def category(self) -> str:
        return _string(self._b, self._at + 2)

    @property
    def region(self) -> str:
        return _string(self._b, self._at + 3)

    @property
    def member_count(self) -> int:
        return _number(self._b, self._at + 4) & 0xFFFFFFFF

    @property
    def member_limit(self) -> int:
        return _number(self._b, self._at + 5) & 0xFFFFFFFF

    @property
    def founder_id(self) -> str:
        return _string(self._b, self._at + 6)


class Attachment:
    """A file attached to a message, read in place: its fields are attributes."""

    __slots__ = ("_b", "_at")

    def __init__(self, b: bytes, at: int):
        self._b, self._at = b, at

    @property
    def name(self) -> str:
        """The file name as the sender gave it."""
        return _string(self._b, self._at)

    @property
    def media_type(self) -> str:
        """Its media type, e.g. `image/png`."""
        return _string(self._b, self._at + 1)

    @property
    def size(self) -> int:
        """Its size in bytes."""
        return _number(self._b, self._at + 2)

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of its contents."""
        return _string(self._b, self._at + 3)


class _Request:
    """What the requests share: the counts read for the call."""

    __slots__ = ("_b",)

    def __init__(self, data: bytes, hook: int, slots: int):
        self._b = _check(data, hook, slots)

    def counts(self) -> list[tuple[str, str, int | None]]:
        """Every count the host read for the call, as the manifest declares
        them: (counter, window, the count or None when it is not known)."""
        b = self._b
        first, n = _list(b, _COUNTS)
        counts = []
        for i in range(n):
            at = first + i * _COUNT_SLOTS
            known = _number(b, at + 2) != 0
            counts.append((_string(b, at), _string(b, at + 1), _number(b, at + 3) if known else None))
        return counts

    def count(self, counter: str, window: str) -> int | None:
        """How many events counter `counter` (a `[counters.NAME]` table of
        the manifest) holds for whom it counts in this request over `window`
        (as the manifest writes it), before this request; None when it
        could not be read. A counter or window the manifest does not declare
        stops the call with an error naming those it does."""
        b = self._b
        first, n = _list(b, _COUNTS)
        for i in range(n):
            at = first + i * _COUNT_SLOTS
            if _string(b, at) == counter and _string(b, at + 1) == window:
                return _number(b, at + 3) if _number(b, at + 2) != 0 else None
        declared = ", ".join(f"{c} over {w}" for c, w, _ in self.counts()) or "none"
        _fail(
            f"counter `{counter}` over `{window}` is not declared under `[counters]` in the policy's manifest "
            f"(declared: {declared})"
        )

    def as_bytes(self) -> bytes:
        """The buffer."""
        return self._b


class Message(_Request):
    """A message someone wants to publish in a group."""

    __slots__ = ()

    def __init__(self, data: bytes):
        super().__init__(data, 0, _MESSAGE_SLOTS)

    def id(self) -> str:
        """The platform's message id."""
        return _string(self._b, 2)

    def group(self) -> Group:
        """The group it is sent to."""
        return Group(self._b, 3)

    def sender(self) -> User:
        """The user who sends it."""
        return User(self._b, 10)

    def sender_role(self) -> "types.Role":
        """The sender's role in that group."""
        return _role(self._b, 17)

    def text(self) -> str:
        """The message text."""
        return _string(self._b, 18)

    def attachments(self) -> list[Attachment]:
        """Files attached to it."""
        first, n = _list(self._b, 19)
        return [Attachment(self._b, first + i * _ATTACHMENT_SLOTS) for i in range(n)]

    def sent_at(self) -> int:
        """When it was sent, in unix milliseconds."""
        return _number(self._b, 20)


class GroupCreation(_Request):
    """A request to create a group."""

    __slots__ = ()

    def __init__(self, data: bytes):
        super().__init__(data, 1, _CREATION_SLOTS)

    def id(self) -> str:
        """The platform's request id."""
        return _string(self._b, 2)

    def founder(self) -> User:
        """The user who wants to found the group."""
        return User(self._b, 3)

    def name(self) -> str:
        """The requested group name."""
        return _string(self._b, 10)

    def description(self) -> str:
        """The requested group description."""
        return _string(self._b, 11)

    def category(self) -> str:
        """The requested category."""
        return _string(self._b, 12)

    def region(self) -> str:
        """The region the group would be served in."""
        return _string(self._b, 13)

    def member_limit(self) -> int:
        """The requested member limit."""
        return _number(self._b, 14) & 0xFFFFFFFF

    def requested_at(self) -> int:
        """When it was requested, in unix milliseconds."""
        return _number(self._b, 15)


class Membership(_Request):
    """A request for a user to join, or be invited into, a group."""

    __slots__ = ()

    def __init__(self, data: bytes):
        super().__init__(data, 2, _MEMBERSHIP_SLOTS)

    def id(self) -> str:
        """The platform's request id."""
        return _string(self._b, 2)

    def kind(self) -> "types.MembershipKind":
        """Join or invite."""
        return types.MembershipKind.JOIN if _number(self._b, 3) == 0 else types.MembershipKind.INVITE

    def group(self) -> Group:
        """The group to be joined."""
        return Group(self._b, 4)

    def subject(self) -> User:
        """The user who would become a member."""
        return User(self._b, 11)

    def inviter(self) -> User | None:
        """Who invites them, for an invite; None for a join."""
        first, n = _list(self._b, 18)
        return User(self._b, first) if n else None

    def requested_at(self) -> int:
        """When it was requested, in unix milliseconds."""
        return _number(self._b, 19)


class ReportedMessage:
    """A reported message, read in place: the methods of a `Message`
    (`text()`, `sender()`, `attachments()`, ...), without counts."""

    __slots__ = ("_b", "_at")

    def __init__(self, b: bytes, at: int):
        # `at` is the slot of its `id`; the other fields follow as a
        # message's follow slot 2.
        self._b, self._at = b, at

    def id(self) -> str:
        """The platform's message id."""
        return _string(self._b, self._at)

    def group(self) -> Group:
        """The group it was sent to."""
        return Group(self._b, self._at + 1)

    def sender(self) -> User:
        """The user who sent it."""
        return User(self._b, self._at + 8)

    def sender_role(self) -> "types.Role":
        """The sender's role in that group."""
        return _role(self._b, self._at + 15)

    def text(self) -> str:
        """The message text."""
        return _string(self._b, self._at + 16)

    def attachments(self) -> list[Attachment]:
        """Files attached to it."""
        first, n = _list(self._b, self._at + 17)
        return [Attachment(self._b, first + i * _ATTACHMENT_SLOTS) for i in range(n)]

    def sent_at(self) -> int:
        """When it was sent, in unix milliseconds."""
        return _number(self._b, self._at + 18)


class ReportTarget:
    """What a report is about, read in place: `kind` says which, and the
    attribute of that name is it; the other two are None."""

    __slots__ = ("_b",)

    def __init__(self, b: bytes):
        self._b = b

    def _payload(self) -> int:
        """The slot the reported record starts at."""
        return _list(self._b, 11)[0]

    @property
    def kind(self) -> str:
        """`"message"`, `"user"` or `"group"`."""
        case = _number(self._b, 10)
        return _TARGET_KINDS[case] if case < len(_TARGET_KINDS) else "group"

    @property
    def message(self) -> ReportedMessage | None:
        """The reported message, when `kind` is `"message"`."""
        return ReportedMessage(self._b, self._payload()) if self.kind == "message" else None

    @property
    def user(self) -> User | None:
        """The reported user, when `kind` is `"user"`."""
        return User(self._b, self._payload()) if self.kind == "user" else None

    @property
    def group(self) -> Group | None:
        """The reported group, when `kind` is `"group"`."""
        return Group(self._b, self._payload()) if self.kind == "group" else None

    @property
    def id(self) -> str:
        """The id of the message, user or group reported."""
        # A message's, user's and group's ids all come first.
        return _string(self._b, self._payload())


class Report(_Request):
    """A complaint from the public (Art. 12): someone reports a message, a
    user or a group."""

    __slots__ = ()

    def __init__(self, data: bytes):
        super().__init__(data, 3, _REPORT_SLOTS)

    def id(self) -> str:
        """The platform's report id."""
        return _string(self._b, 2)

    def reporter(self) -> User:
        """The user who reports."""
        return User(self._b, 3)

    def target(self) -> ReportTarget:
        """What is reported."""
        return ReportTarget(self._b)

    def category(self) -> str:
        """What the reporter says is wrong: `"prohibited-content"`, `"spam"`,
        `"harassment"`, `"fraud"` or `"other"`."""
        case = _number(self._b, 12)
        return _REPORT_CATEGORIES[case] if case < len(_REPORT_CATEGORIES) else "other"

    def text(self) -> str:
        """The reporter's own words."""
        return _string(self._b, 13)

    def reported_at(self) -> int:
        """When it was reported, in unix milliseconds."""
        return _number(self._b, 14)


@dataclasses.dataclass
class Verdict:
    """A policy's answer to one request: its outcome (`types.Outcome`), why
    (`types.Reason`), what the platform should do about it
    (`types.Measure`) and what to add to the policy's own counters
    (`types.Increment`)."""

    outcome: "types.Outcome"
    reasons: list = dataclasses.field(default_factory=list)
    measures: list = dataclasses.field(default_factory=list)
    increments: list = dataclasses.field(default_factory=list)


def answer(verdict: Verdict) -> "types.Outcome":
    """What a hook returns for `verdict`: its reasons, measures and
    increments go to the host through the contract's `verdict.explain` when
    any has something, and its outcome is returned."""
    if verdict.reasons or verdict.measures or verdict.increments:
        _verdict.explain(verdict.reasons, verdict.measures, verdict.increments)
    return verdict.outcome


def message(data: bytes) -> Message:
    """The message in `data`, what `evaluate_message` receives."""
    return Message(data)


def group_creation(data: bytes) -> GroupCreation:
    """The group creation in `data`, what `evaluate_group_creation` receives."""
    return GroupCreation(data)


def membership(data: bytes) -> Membership:
    """The membership in `data`, what `evaluate_membership` receives."""
    return Membership(data)


def report(data: bytes) -> Report:
    """The report in `data`, what `evaluate_report` receives."""
    return Report(data)


def _allow_report(self, _data: bytes) -> "types.Outcome":
    """Allows: `evaluate_report` of a policy that does not answer reports."""
    return types.Outcome.ALLOW


# The generated `WitWorld` makes every hook abstract, so a policy's class
# that lacks one cannot be made, and componentize-py fails the whole policy.
# The report hook is the one a policy may leave out, so that a policy
# written for the other three still builds: defined here, before the
# policy's class is, it is no longer abstract in the classes derived from
# `WitWorld`, and a class that defines its own overrides it.
_World = getattr(_world, "WitWorld", None)
if _World is not None and "evaluate_report" in getattr(_World, "__abstractmethods__", ()):
    _World.evaluate_report = _allow_report
    abc.update_abstractmethods(_World)


_FOLD_STEP_NAMES = ("TRADITIONAL", "CONFUSABLE", "LEET", "REPEAT")
_FOLD_STEPS: dict = {}


def fold(
    text: str, *, traditional: bool = False, confusable: bool = False, leet: bool = False, repeat: bool = False
) -> "_text.Folded":
    """`text` folded by the host as the standard `prohibited-content` policy
    folds it: the skeleton (NFKC, lower case, the diacritics of Latin, Greek
    and Cyrillic letters dropped, everything but letters and digits
    dropped), then each step given as True: `traditional` (Traditional Han as
    Simplified), `confusable` (look-alike letters of other scripts as Latin
    ones), `leet` (`0` `1` `3` `4` `5` `7` `@` `$` as letters, and `l` as
    `i`), `repeat` (a letter written several times as one). Fold what you
    look for with the same steps as the text.

    Returns a record with `text`, the folded text, and `offsets`, one int per
    character of it: the index in `text` (the original) of the character it
    comes from, so `text[offsets[i] : offsets[j - 1] + 1]` is what a match at
    `folded.text[i:j]` stands for. At most 65,536 bytes of UTF-8 a call: a
    longer text stops the call as a failure."""
    key = (bool(traditional), bool(confusable), bool(leet), bool(repeat))
    steps = _FOLD_STEPS.get(key)
    if steps is None:
        # Made once per combination: arithmetic on an `enum.Flag` is slow
        # in an interpreter without a JIT.
        steps = _text.FoldSteps(0)
        for wanted, step in zip(key, _FOLD_STEP_NAMES):
            if wanted:
                steps |= _text.FoldSteps[step]
        _FOLD_STEPS[key] = steps
    return _text.fold(text, steps)


def pinyin(text: str) -> str | None:
    """The toneless pinyin of `text`, syllables spaced, other letters and
    digits kept (`"黑雲券"` → `"hei yun quan"`); None when it has no Han
    character, or one without a reading."""
    return _text.pinyin(text)
