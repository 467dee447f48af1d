"""Tests groupgate.py under CPython, outside any component:
`python3 test_groupgate.py` (3.10 or later) exits 0 when every check passes.

It reads the buffers in ../testdata, written by the Rust reference
(plugins/encoding's `Writer` and `set_counts`), and compares every field
with ../testdata/expected.json, which that crate's own reader read back from
them. The modules componentize-py generates (`wit_world`,
`wit_world.imports.abort`, `wit_world.imports.text`,
`wit_world.imports.types` and `wit_world.imports.verdict`) are stubs here:
`abort` records its message, `fold` what it was asked, `pinyin` answers one
text (the folding itself is the host's, tested there) and `explain` what it
was given, the enums and flags are those of the WIT, numbered as the
generated ones are, and `wit_world.WitWorld` is, as generated, a protocol
whose every export is abstract.
"""

import dataclasses
import enum
import typing
from abc import abstractmethod
import json
import struct
import sys
import types as pytypes
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
TESTDATA = HERE.parent / "testdata"

aborted: list[str] = []


class Role(enum.Enum):
    FOUNDER = 0
    MANAGER = 1
    MEMBER = 2


class MembershipKind(enum.Enum):
    JOIN = 0
    INVITE = 1


class Outcome(enum.Enum):
    ALLOW = 0
    REVIEW = 1
    DENY = 2


explained: list[tuple] = []


class FoldSteps(enum.Flag):
    TRADITIONAL = enum.auto()
    CONFUSABLE = enum.auto()
    LEET = enum.auto()
    REPEAT = enum.auto()


@dataclasses.dataclass
class Folded:
    text: str
    offsets: list[int]


folds: list[tuple[str, FoldSteps]] = []


class WitWorld(typing.Protocol):
    """As componentize-py generates it."""

    @abstractmethod
    def init(self, config: str, data: list) -> None:
        raise NotImplementedError

    @abstractmethod
    def evaluate_message(self, message: bytes) -> Outcome:
        raise NotImplementedError

    @abstractmethod
    def evaluate_group_creation(self, creation: bytes) -> Outcome:
        raise NotImplementedError

    @abstractmethod
    def evaluate_membership(self, membership: bytes) -> Outcome:
        raise NotImplementedError

    @abstractmethod
    def evaluate_report(self, report: bytes) -> Outcome:
        raise NotImplementedError


def _fold(text: str, steps: FoldSteps) -> Folded:
    """Records the call; lower-cases and drops spaces, with offsets."""
    folds.append((text, steps))
    kept = [(c.lower(), i) for i, c in enumerate(text) if not c.isspace()]
    return Folded(text="".join(c for c, _ in kept), offsets=[i for _, i in kept])


def _stub_bindings() -> None:
    wit_world = pytypes.ModuleType("wit_world")
    wit_world.WitWorld = WitWorld
    imports = pytypes.ModuleType("wit_world.imports")
    abort = pytypes.ModuleType("wit_world.imports.abort")
    abort.abort = aborted.append
    text = pytypes.ModuleType("wit_world.imports.text")
    text.FoldSteps, text.Folded, text.fold = FoldSteps, Folded, _fold
    text.pinyin = lambda t: "hei yun quan" if t == "黑雲券" else None
    wit_types = pytypes.ModuleType("wit_world.imports.types")
    wit_types.Role = Role
    wit_types.MembershipKind = MembershipKind
    wit_types.Outcome = Outcome
    verdict = pytypes.ModuleType("wit_world.imports.verdict")
    verdict.explain = lambda reasons, measures, increments: explained.append((reasons, measures, increments))
    wit_world.imports = imports
    imports.abort, imports.text, imports.types, imports.verdict = abort, text, wit_types, verdict
    for module in (wit_world, imports, abort, text, wit_types, verdict):
        sys.modules[module.__name__] = module


_stub_bindings()
sys.path.insert(0, str(HERE))
import groupgate  # noqa: E402
import wit_world  # noqa: E402

EXPECTED = json.loads((TESTDATA / "expected.json").read_text(encoding="utf-8"))
MALFORMED = "the request buffer is malformed: it points outside itself or holds invalid UTF-8 (a host bug)"


def fixture(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


class Fixtures(unittest.TestCase):
    def aborts(self, f, message: str) -> None:
        """`f()` must abort with `message`, and raise."""
        aborted.clear()
        with self.assertRaises(RuntimeError) as raised:
            f()
        self.assertEqual(str(raised.exception), message)
        self.assertEqual(aborted, [message])

    def check_user(self, user, want: dict) -> None:
        self.assertIsInstance(user, groupgate.User)
        self.assertEqual(user.id, want["id"])
        self.assertIs(user.identity_verified, want["identity_verified"])
        self.assertEqual(user.credit_level, want["credit_level"])
        self.assertEqual(user.region, want["region"])
        self.assertEqual(user.groups_created, want["groups_created"])
        self.assertEqual(user.groups_joined, want["groups_joined"])
        self.assertEqual(user.labels, want["labels"])
        for label in want["labels"]:
            self.assertTrue(user.has_label(label))
        self.assertFalse(user.has_label("no-such-label"))

    def check_group(self, group, want: dict) -> None:
        self.assertEqual(group.id, want["id"])
        self.assertEqual(group.name, want["name"])
        self.assertEqual(group.category, want["category"])
        self.assertEqual(group.region, want["region"])
        self.assertEqual(group.member_count, want["member_count"])
        self.assertEqual(group.member_limit, want["member_limit"])
        self.assertEqual(group.founder_id, want["founder_id"])

    def check_message(self, m, want: dict) -> None:
        """A message's fields, on a `Message` or a `ReportedMessage`."""
        self.assertEqual(m.id(), want["id"])
        self.check_group(m.group(), want["group"])
        self.check_user(m.sender(), want["sender"])
        self.assertIs(m.sender_role(), Role[want["sender_role"].upper()])
        self.assertEqual(m.text(), want["text"])
        for a in m.attachments():
            self.assertIsInstance(a, groupgate.Attachment)
        got = [(a.name, a.media_type, a.size, a.sha256) for a in m.attachments()]
        self.assertEqual(got, [(a["name"], a["media_type"], int(a["size"]), a["sha256"]) for a in want["attachments"]])
        self.assertEqual(m.sent_at(), int(want["sent_at"]))

    def check_counts(self, request, want: list) -> None:
        def value(v):
            return None if v is None else int(v)

        self.assertEqual(request.counts(), [(c, w, value(v)) for c, w, v in want])
        for counter, window, v in want:
            self.assertEqual(request.count(counter, window), value(v))
        declared = ", ".join(f"{c} over {w}" for c, w, _ in want) or "none"
        counter = want[0][0] if want else "naming_denials"
        self.aborts(
            lambda: request.count(counter, "1d"),
            f"counter `{counter}` over `1d` is not declared under `[counters]` in the policy's manifest "
            f"(declared: {declared})",
        )

    def test_every_fixture_reads_as_the_rust_reader_read_it(self) -> None:
        for name, want in EXPECTED.items():
            with self.subTest(fixture=name):
                data = fixture(name)
                if want["hook"] == "message":
                    m = groupgate.message(data)
                    self.check_message(m, want)
                elif want["hook"] == "report":
                    m = groupgate.report(data)
                    self.assertIsInstance(m, groupgate.Report)
                    self.assertEqual(m.id(), want["id"])
                    self.check_user(m.reporter(), want["reporter"])
                    target = m.target()
                    self.assertIsInstance(target, groupgate.ReportTarget)
                    kind = want["target"]["kind"]
                    self.assertEqual(target.kind, kind)
                    self.assertEqual(target.id, want["target_id"])
                    # The attribute of the target's kind is it, the other two None.
                    for other in {"message", "user", "group"} - {kind}:
                        self.assertIsNone(getattr(target, other), other)
                    if kind == "message":
                        self.assertIsInstance(target.message, groupgate.ReportedMessage)
                        self.check_message(target.message, want["target"]["message"])
                        self.assertFalse(hasattr(target.message, "count"), "a reported message has no counts")
                    elif kind == "user":
                        self.check_user(target.user, want["target"]["user"])
                    else:
                        self.assertIsInstance(target.group, groupgate.Group)
                        self.check_group(target.group, want["target"]["group"])
                    self.assertEqual(m.category(), want["category"])
                    self.assertEqual(m.text(), want["text"])
                    self.assertEqual(m.reported_at(), int(want["reported_at"]))
                elif want["hook"] == "group-creation":
                    c = groupgate.group_creation(data)
                    self.assertEqual(c.id(), want["id"])
                    self.check_user(c.founder(), want["founder"])
                    self.assertEqual(c.name(), want["name"])
                    self.assertEqual(c.description(), want["description"])
                    self.assertEqual(c.category(), want["category"])
                    self.assertEqual(c.region(), want["region"])
                    self.assertEqual(c.member_limit(), want["member_limit"])
                    self.assertEqual(c.requested_at(), int(want["requested_at"]))
                    m = c
                else:
                    m = groupgate.membership(data)
                    self.assertEqual(m.id(), want["id"])
                    self.assertIs(m.kind(), MembershipKind[want["kind"].upper()])
                    self.check_group(m.group(), want["group"])
                    self.check_user(m.subject(), want["subject"])
                    if want["inviter"] is None:
                        self.assertIsNone(m.inviter())
                    else:
                        self.check_user(m.inviter(), want["inviter"])
                    self.assertEqual(m.requested_at(), int(want["requested_at"]))
                self.check_counts(m, want["counts"])

    def test_a_buffer_of_another_hook_version_or_length_is_refused(self) -> None:
        join = fixture("membership-join.bin")
        self.aborts(lambda: groupgate.message(join), "the request is of hook 2 where hook 0 was expected")
        self.aborts(lambda: groupgate.message(b""), "the request is 0 bytes, shorter than the 168 its slots take")
        self.aborts(lambda: groupgate.report(join), "the request is of hook 2 where hook 3 was expected")
        self.aborts(
            lambda: groupgate.report(fixture("report-group.bin")[:119]),
            "the request is 119 bytes, shorter than the 120 its slots take",
        )
        report = fixture("report-user.bin")
        self.aborts(lambda: groupgate.membership(report), "the request is of hook 3 where hook 2 was expected")
        self.aborts(
            lambda: groupgate.membership(join[:100]), "the request is 100 bytes, shorter than the 160 its slots take"
        )
        self.aborts(lambda: groupgate.membership(b"X" + join[1:]), "the request does not begin with `GGRQ`")
        self.aborts(
            lambda: groupgate.membership(join[:4] + b"\x09" + join[5:]),
            "the request is in encoding version 9; this SDK reads 1",
        )

    def test_a_target_or_category_beyond_the_contracts_reads_as_the_rust_reader_reads_it(self) -> None:
        data = bytearray(fixture("report-group.bin"))
        struct.pack_into("<Q", data, 10 * 8, 7)
        struct.pack_into("<Q", data, 12 * 8, 9)
        r = groupgate.report(bytes(data))
        self.assertEqual((r.target().kind, r.target().group.id, r.category()), ("group", "grp-t", "other"))

    def test_fields_are_read_when_asked_for_not_before(self) -> None:
        # The text points outside the buffer: the id still reads.
        data = bytearray(fixture("message.bin"))
        struct.pack_into("<I", data, 18 * 8, 0xFFFF)
        m = groupgate.message(bytes(data))
        self.assertEqual(m.id(), "msg-1")
        self.aborts(m.text, MALFORMED)
        # The sender's id is not UTF-8.
        data = bytearray(fixture("message.bin"))
        at, _ = struct.unpack_from("<II", data, 10 * 8)
        data[at] = 0xFF
        m = groupgate.message(bytes(data))
        self.assertEqual(m.sender().region, "CN-44")
        self.aborts(lambda: m.sender().id, MALFORMED)


class Hooks(unittest.TestCase):
    """A policy's class derives from the generated `WitWorld`, defined after
    `import groupgate`."""

    def test_a_policy_that_does_not_answer_reports_allows_them(self) -> None:
        class Policy(wit_world.WitWorld):
            def init(self, config: str, data: list) -> None:
                pass

            def evaluate_message(self, message: bytes) -> Outcome:
                return Outcome.DENY

            def evaluate_group_creation(self, creation: bytes) -> Outcome:
                return Outcome.DENY

            def evaluate_membership(self, membership: bytes) -> Outcome:
                return Outcome.DENY

        explained.clear()
        policy = Policy()
        self.assertIs(policy.evaluate_report(fixture("report-user.bin")), Outcome.ALLOW)
        self.assertIs(policy.evaluate_message(b""), Outcome.DENY)
        self.assertEqual(explained, [])

    def test_a_policy_that_answers_reports_is_called(self) -> None:
        class Policy(wit_world.WitWorld):
            def init(self, config: str, data: list) -> None:
                pass

            def evaluate_message(self, message: bytes) -> Outcome:
                return Outcome.ALLOW

            def evaluate_group_creation(self, creation: bytes) -> Outcome:
                return Outcome.ALLOW

            def evaluate_membership(self, membership: bytes) -> Outcome:
                return Outcome.ALLOW

            def evaluate_report(self, report: bytes) -> Outcome:
                return Outcome.REVIEW if groupgate.report(report).category() == "fraud" else Outcome.ALLOW

        self.assertIs(Policy().evaluate_report(fixture("report-message.bin")), Outcome.REVIEW)
        self.assertIs(Policy().evaluate_report(fixture("report-user.bin")), Outcome.ALLOW)

    def test_the_other_hooks_must_still_be_defined(self) -> None:
        class Policy(wit_world.WitWorld):
            def init(self, config: str, data: list) -> None:
                pass

            def evaluate_message(self, message: bytes) -> Outcome:
                return Outcome.ALLOW

        with self.assertRaises(TypeError):
            Policy()


class TextFolding(unittest.TestCase):
    def test_the_steps_given_reach_the_host_as_its_flags(self) -> None:
        folds.clear()
        folded = groupgate.fold("Ａ b𝐂", confusable=True, leet=True)
        self.assertEqual((folded.text, folded.offsets), ("ａb𝐂", [0, 2, 3]))
        self.assertEqual(folds.pop(), ("Ａ b𝐂", FoldSteps.CONFUSABLE | FoldSteps.LEET))
        groupgate.fold("x")
        self.assertEqual(folds.pop(), ("x", FoldSteps(0)), "no step: the skeleton")
        groupgate.fold("x", traditional=True, confusable=True, leet=True, repeat=True)
        every = FoldSteps.TRADITIONAL | FoldSteps.CONFUSABLE | FoldSteps.LEET | FoldSteps.REPEAT
        self.assertEqual(folds.pop(), ("x", every))
        with self.assertRaises(TypeError):
            groupgate.fold("x", repeats=True)
        with self.assertRaises(TypeError):
            groupgate.fold("x", True)
        self.assertEqual(folds, [], "a wrong call reaches no host")

    def test_pinyin_is_the_hosts(self) -> None:
        self.assertEqual(groupgate.pinyin("黑雲券"), "hei yun quan")
        self.assertIsNone(groupgate.pinyin("zorblax"))


class Answer(unittest.TestCase):
    def setUp(self) -> None:
        explained.clear()

    def test_an_allow_with_nothing_to_say_explains_nothing(self) -> None:
        self.assertIs(groupgate.answer(groupgate.Verdict(Outcome.ALLOW)), Outcome.ALLOW)
        self.assertEqual(explained, [])

    def test_a_deny_gives_its_lists_then_its_outcome(self) -> None:
        reason, measure = object(), object()
        verdict = groupgate.Verdict(Outcome.DENY, reasons=[reason], measures=[measure])
        self.assertIs(groupgate.answer(verdict), Outcome.DENY)
        self.assertEqual(explained, [([reason], [measure], [])])

    def test_an_allow_that_counts_gives_its_increments(self) -> None:
        increment = object()
        self.assertIs(groupgate.answer(groupgate.Verdict(Outcome.ALLOW, increments=[increment])), Outcome.ALLOW)
        self.assertEqual(explained, [([], [], [increment])])


if __name__ == "__main__":
    unittest.main()
