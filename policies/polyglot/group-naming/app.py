"""group-naming: a groupgate policy written in Python (Art. 8).

At group creation, a name or description that presents the group as an
official body (configured terms such as "official", "government", "police"
and their Chinese forms) is held for a moderator unless the founder carries
one of the configured labels (e.g. `verified-organisation`). A name longer
than `max_name_chars` characters, or one with no letter or digit in it, is
denied.

Terms are matched on the text as the host folds it (the contract's `text`
interface, through `groupgate.fold`), the folding the standard
`prohibited-content` policy matches on: case, full-width forms, diacritics
and everything but letters and digits set aside, and three disguises undone,
look-alike letters of other scripts (`Gоvernment` with a Cyrillic `о`),
digits and symbols for letters (`P0L1CE`) and Traditional characters for
Simplified ones. The evidence names the term, and how the name wrote it when
that differs.

Before any of that, a founder whose group creations were denied citing
Art. 8 `max_denied_names` times or more in the last 24 hours has the next
one held for a moderator (`naming-attempts`): someone trying name after
name until one passes. The policy does not count this itself: it reads the
host's counter `naming_denials`, which its manifest declares as

    [counters.naming_denials]
    of = "founder"
    host = { hook = "group-creation", outcome = "deny", articles = ["Art. 8"] }
    windows = ["24h"]

so it counts the set's final decisions (this policy's denials, and those of
any other policy citing Art. 8), and the policy returns no increments. When
the counter cannot be read (`on_state_error = "no_counts"`), `count` returns
None and the check is skipped.

Contract groupgate:policy@0.2.0: each hook receives the request as one
buffer (`bytes` in the request encoding), which the SDK module `groupgate`
(plugins/sdk/python) reads in place, a field when it is asked for:
`creation.name()`, `creation.founder().labels`,
`creation.count("naming_denials", "24h")` (an int, or None). A hook returns
`groupgate.answer(verdict)`: the outcome, with the reasons handed to the
host.

Built into a component by `groupgate build` with componentize-py,
with plugins/sdk/python on its Python path; see plugins/README.md, "Policies
in Python".
"""

import json

import groupgate
import wit_world
from componentize_py_types import Err
from wit_world.imports import log, types

DEFAULT_TERMS = ["official", "government", "police", "官方", "政府", "公安", "警察"]
KNOWN_KEYS = {"official_terms", "exempt_labels", "max_name_chars", "check_description", "max_denied_names"}

# The host's counter of the founder's denied creations, and the window read,
# both written exactly as in the manifest: `count` stops the call, naming the
# counters the manifest declares, on any other.
COUNTER = "naming_denials"
WINDOW = "24h"


# The disguises undone before terms are matched, on the text and on the
# terms alike. Not `repeat`: doubled letters are how many names are spelt.
FOLD_STEPS = {"traditional": True, "confusable": True, "leet": True}


def folded(text: str) -> str:
    """The text as terms are matched on it, folded by the host: so
    `O.F.F.I.C.I.A.L`, `ＯＦＦＩＣＩＡＬ`, `0ff1c1al` and `оfficial` (a
    Cyrillic `о`) all read as `official` does."""
    return groupgate.fold(text, **FOLD_STEPS).text


def allow() -> groupgate.Verdict:
    return groupgate.Verdict(types.Outcome.ALLOW)


class Settings:
    """What `init` accepted; every evaluation reads it."""

    terms: list[tuple[str, str]] = []
    exempt: set[str] = set()
    max_chars: int = 30
    check_description: bool = True
    max_denied: int = 3


# Module state, not attributes of `WitWorld`: componentize-py makes a new
# `WitWorld` object for every call, so `self` does not live from `init` on.
settings = Settings()


class WitWorld(wit_world.WitWorld):
    """The exports of the `policy` world."""

    def init(self, config: str, data: list[types.DataFile]) -> None:
        # Raising `Err(message)` returns the `err` of init's `result`.
        try:
            given = json.loads(config)
        except ValueError as e:
            raise Err(f"config is not JSON: {e}")
        unknown = sorted(set(given) - KNOWN_KEYS)
        if unknown:
            raise Err(f"unknown config key `{unknown[0]}` (known: {', '.join(sorted(KNOWN_KEYS))})")
        terms = given.get("official_terms", DEFAULT_TERMS)
        if not isinstance(terms, list) or not all(isinstance(t, str) and folded(t) for t in terms):
            raise Err("config `official_terms` must be a list of terms, each with a letter or digit")
        labels = given.get("exempt_labels", [])
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise Err("config `exempt_labels` must be a list of user labels")
        max_chars = given.get("max_name_chars", 30)
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or not 1 <= max_chars <= 1000:
            raise Err(f"config `max_name_chars` must be a whole number from 1 to 1000, not {max_chars!r}")
        check_description = given.get("check_description", True)
        if not isinstance(check_description, bool):
            raise Err("config `check_description` must be true or false")
        max_denied = given.get("max_denied_names", 3)
        if isinstance(max_denied, bool) or not isinstance(max_denied, int) or max_denied < 1:
            raise Err(f"config `max_denied_names` must be a whole number of at least 1, not {max_denied!r}")
        settings.terms = [(folded(t), t) for t in terms]
        settings.exempt = set(labels)
        settings.max_chars = max_chars
        settings.check_description = check_description
        settings.max_denied = max_denied
        log.log(
            log.Level.INFO,
            "group-naming ready",
            [("terms", str(len(terms))), ("max_name_chars", str(max_chars)), ("max_denied_names", str(max_denied))],
        )

    def evaluate_group_creation(self, creation: bytes) -> types.Outcome:
        verdict = self.judge_creation(groupgate.group_creation(creation))
        if self.counts_unavailable:
            # Said, so a moderator knows the check was skipped.
            verdict.reasons.append(
                types.Reason(
                    code="counts-unavailable",
                    message="group-naming could not read the founder's denied creations, so they were not checked",
                    article="Art. 8",
                    evidence=None,
                )
            )
        return groupgate.answer(verdict)

    def judge_creation(self, creation: groupgate.GroupCreation) -> groupgate.Verdict:
        # `creation` reads the request in place: each method decodes one
        # field when called, so each is called once, and only when needed.
        # The founder's denied creations in the last 24 hours (the host's
        # count, an int), or None when the counter could not be read.
        denied = creation.count(COUNTER, WINDOW)
        self.counts_unavailable = denied is None
        if denied is not None and denied >= settings.max_denied:
            reason = types.Reason(
                code="naming-attempts",
                message=f"the founder's group creations were denied {denied} times in the last 24 hours; "
                "a moderator must check this one",
                article="Art. 8",
                evidence=f"{denied} denials in {WINDOW}",
            )
            return groupgate.Verdict(types.Outcome.REVIEW, reasons=[reason])
        name = creation.name().strip()
        if len(name) > settings.max_chars:
            return deny(
                "group-name-too-long",
                f"a group name may have at most {settings.max_chars} characters; this one has {len(name)}",
                f"{len(name)} characters",
            )
        if not any(c.isalnum() for c in name):
            return deny("group-name-symbols", "a group name needs at least one letter or digit", None)
        if settings.exempt.intersection(creation.founder().labels):
            return allow()
        fields = [("name", name)]
        if settings.check_description:
            fields.append(("description", creation.description()))
        for field, text in fields:
            found = official_term(text)
            if found is not None:
                log.log(log.Level.DEBUG, "official-sounding group name", [("request", creation.id()), ("term", found)])
                reason = types.Reason(
                    code="impersonates-official-body",
                    message=f"the group's {field} presents it as an official body; a moderator must confirm it",
                    article="Art. 8",
                    evidence=found,
                )
                return groupgate.Verdict(types.Outcome.REVIEW, reasons=[reason])
        return allow()

    # The manifest attaches this policy to group creation only; these answer
    # anyway, since the contract asks every policy for them (`evaluate_report`
    # comes from `groupgate`, which allows).
    def evaluate_message(self, message: bytes) -> types.Outcome:
        return groupgate.answer(allow())

    def evaluate_membership(self, membership: bytes) -> types.Outcome:
        return groupgate.answer(allow())


def official_term(text: str) -> str | None:
    """The configured term, as written in the config, found in `text`; with
    what `text` wrote for it when that is not the term itself."""
    flat = groupgate.fold(text, **FOLD_STEPS)
    for term_folded, term in settings.terms:
        at = flat.text.find(term_folded)
        if at < 0:
            continue
        # `offsets` gives, per character of the folded text, the index of the
        # character of `text` it comes from: Python slices the original.
        written = text[flat.offsets[at] : flat.offsets[at + len(term_folded) - 1] + 1]
        return term if written.casefold() == term.casefold() else f"{term}, written `{written}`"
    return None


def deny(code: str, message: str, evidence: str | None) -> groupgate.Verdict:
    reason = types.Reason(code=code, message=message, article="Art. 8", evidence=evidence)
    return groupgate.Verdict(types.Outcome.DENY, reasons=[reason])
