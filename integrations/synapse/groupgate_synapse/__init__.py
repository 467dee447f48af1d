"""Moderate a Matrix Synapse homeserver with groupgate.

A Synapse module whose spam-checker callbacks ask a groupgate server
(`groupgate serve`) for a decision: a message (`check_event_for_spam`), a
room creation (`user_may_create_room`), a join (`user_may_join_room`) and an
invitation (`user_may_invite`). A room is a group and a Matrix user id is a
groupgate user id; see README.md for the mapping and the configuration.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from synapse.module_api import NOT_SPAM, ModuleApi
from twisted.internet import defer, reactor
from synapse.module_api.errors import Codes, ConfigError

logger = logging.getLogger(__name__)

# The state event a room carries its groupgate facts in (state key "").
GROUP_EVENT = "org.groupgate.group"
# Message types whose content is a file: the file is passed as an attachment.
FILE_TYPES = ("m.image", "m.file", "m.video", "m.audio")
USER_FACTS = ("identity_verified", "credit_level", "region", "groups_created", "groups_joined", "labels")
U8, U32, U64 = 2**8 - 1, 2**32 - 1, 2**64 - 1
# What a user is when nothing says otherwise.
FALLBACK_USER = {"identity_verified": False, "credit_level": 0, "region": "", "groups_created": 0,
                 "groups_joined": 0, "labels": []}


def _whole(value: Any, most: int) -> bool:
    """Whether `value` is a whole number from 0 to `most` (JSON has no other kind groupgate takes)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


def _valid_fact(key: str, value: Any) -> bool:
    """Whether `value` is what groupgate's `user.<key>` takes."""
    if key == "identity_verified":
        return isinstance(value, bool)
    if key == "credit_level":
        return _whole(value, U8)
    if key in ("groups_created", "groups_joined"):
        return _whole(value, U32)
    if key == "region":
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(label, str) for label in value)


@dataclass
class Config:
    endpoint: str
    user_facts_file: str | None = None
    default_user: dict[str, Any] = field(default_factory=dict)
    default_group: dict[str, Any] = field(default_factory=dict)
    timeout_ms: int = 500
    fail_open: bool = False
    on_review: str = "deny"
    measures_webhook: str | None = None


def parse_config(raw: dict[str, Any]) -> Config:
    """Checks the module's `config`, naming the key at fault."""
    known = set(Config.__dataclass_fields__)
    for key in raw:
        if key not in known:
            raise ConfigError(f"unknown key `{key}` (known: {', '.join(sorted(known))})", ("config", key))
    endpoint = raw.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise ConfigError("`endpoint` must be the groupgate server's URL, e.g. http://127.0.0.1:8750", ("config",))
    config = Config(endpoint=endpoint.rstrip("/"))
    for key, kind in (("user_facts_file", str), ("measures_webhook", str)):
        if raw.get(key) is not None and not isinstance(raw[key], kind):
            raise ConfigError(f"`{key}` must be a string", ("config", key))
        setattr(config, key, raw.get(key))
    for key in ("default_user", "default_group"):
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping", ("config", key))
        setattr(config, key, value)
    unknown = set(config.default_user) - set(USER_FACTS)
    if unknown:
        raise ConfigError(f"`default_user` has unknown keys {sorted(unknown)}", ("config", "default_user"))
    for key, value in config.default_user.items():
        if not _valid_fact(key, value):
            raise ConfigError(f"`default_user.{key}` cannot be {value!r}", ("config", "default_user", key))
    unknown = set(config.default_group) - {"category", "region", "member_limit"}
    if unknown:
        raise ConfigError(f"`default_group` has unknown keys {sorted(unknown)}", ("config", "default_group"))
    if _group_facts(config.default_group) != config.default_group:
        raise ConfigError("`default_group` takes `category` and `region` (strings) and `member_limit` "
                          f"(a whole number up to {U32})", ("config", "default_group"))
    timeout = raw.get("timeout_ms", 500)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigError("`timeout_ms` must be a positive number of milliseconds", ("config", "timeout_ms"))
    config.timeout_ms = timeout
    fail_open = raw.get("fail_open", False)
    if not isinstance(fail_open, bool):
        raise ConfigError("`fail_open` must be true or false", ("config", "fail_open"))
    config.fail_open = fail_open
    on_review = raw.get("on_review", "deny")
    if on_review not in ("deny", "allow"):
        raise ConfigError("`on_review` must be `deny` or `allow`", ("config", "on_review"))
    config.on_review = on_review
    return config


class UserFacts:
    """The facts Synapse cannot know, from a JSON file re-read when it changes.
    A file that cannot be read or parsed keeps the facts last read."""

    def __init__(self, path: str | None, defaults: dict[str, Any]):
        self._path = path
        self._defaults = defaults
        self._stamp: tuple[int, int] | None = None
        self._facts: dict[str, dict[str, Any]] = {}
        self._error: str | None = None

    def _refresh(self) -> None:
        # A stat per callback (on the reactor: cheap); the file is read only
        # when it changed.
        if self._path is None:
            return
        try:
            stat = os.stat(self._path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp:
                return
            with open(self._path, encoding="utf-8") as f:
                facts = json.load(f)
            if not isinstance(facts, dict) or not all(isinstance(v, dict) for v in facts.values()):
                raise ValueError("expected an object of objects keyed by Matrix user id")
        except (OSError, ValueError) as e:
            if str(e) != self._error:  # once per problem, not once per request
                logger.error("groupgate: cannot read user facts `%s`, keeping the previous ones: %s", self._path, e)
                self._error = str(e)
            return
        self._facts, self._stamp, self._error = facts, stamp, None

    def user(self, user_id: str) -> dict[str, Any]:
        """A groupgate `user` for `user_id`: the file's facts, else the defaults."""
        self._refresh()
        known = self._facts.get(user_id, {})
        user: dict[str, Any] = {"id": user_id}
        for key in USER_FACTS:
            value = known.get(key)
            if key in known and not _valid_fact(key, value):
                logger.warning("groupgate: user facts of `%s`: `%s` cannot be %r; using the default", user_id, key,
                               value)
            user[key] = value if _valid_fact(key, value) else self._defaults.get(key, FALLBACK_USER[key])
        return user


class GroupgateModule:
    """The Synapse module: `modules: [{module: groupgate_synapse.GroupgateModule, config: {...}}]`."""

    def __init__(self, config: Config, api: ModuleApi):
        self._config = config
        self._api = api
        self._facts = UserFacts(config.user_facts_file, config.default_user)
        api.register_spam_checker_callbacks(
            check_event_for_spam=self.check_event_for_spam,
            user_may_create_room=self.user_may_create_room,
            user_may_join_room=self.user_may_join_room,
            user_may_invite=self.user_may_invite,
        )

    @staticmethod
    def parse_config(config: dict[str, Any]) -> Config:
        return parse_config(config)

    # --- the callbacks ---------------------------------------------------------

    async def check_event_for_spam(self, event: Any) -> Any:
        if event.type != "m.room.message" or event.is_state():
            return NOT_SPAM
        content = event.content
        body = content.get("body")
        attachments = []
        if content.get("msgtype") in FILE_TYPES:
            info = content.get("info") if isinstance(content.get("info"), Mapping) else {}
            size = info.get("size")
            attachments.append({
                "name": str(content.get("filename") or body or ""),
                "media_type": str(info.get("mimetype") or "application/octet-stream"),
                "size": size if _whole(size, U64) else 0,
                "sha256": "",
            })
        group, creator = await self._group(event.room_id)
        request = {
            "id": event.event_id,
            "group": group,
            "sender": self._facts.user(event.sender),
            "sender_role": "founder" if event.sender == creator else "member",
            "text": body if isinstance(body, str) else "",
            "attachments": attachments,
            "sent_at": max(0, int(event.origin_server_ts)),
        }
        return await self._decide("message", request)

    async def user_may_create_room(self, user_id: str, room_config: dict[str, Any] | None = None) -> Any:
        room_config = room_config or {}
        facts = dict(self._config.default_group)
        name, topic = room_config.get("name"), room_config.get("topic")
        # A name or topic may also come as initial state; both are checked.
        names, topics = [name] if isinstance(name, str) else [], [topic] if isinstance(topic, str) else []
        for entry in room_config.get("initial_state") or []:
            if not isinstance(entry, Mapping) or entry.get("state_key", "") != "":
                continue
            content = entry.get("content") if isinstance(entry.get("content"), Mapping) else {}
            if entry.get("type") == GROUP_EVENT:
                facts.update(_group_facts(content))
            elif entry.get("type") == "m.room.name" and isinstance(content.get("name"), str):
                names.append(content["name"])
            elif entry.get("type") == "m.room.topic" and isinstance(content.get("topic"), str):
                topics.append(content["topic"])
        request = {
            "id": f"create-{uuid.uuid4()}",
            "founder": self._facts.user(user_id),
            "name": "\n".join(names),
            "description": "\n".join(topics),
            "category": str(facts.get("category", "")),
            "region": str(facts.get("region", "")),
            "member_limit": int(facts.get("member_limit", 0)),
            "requested_at": int(time.time() * 1000),
        }
        return await self._decide("group-creation", request)

    async def user_may_join_room(self, user_id: str, room_id: str, is_invited: bool) -> Any:
        return await self._membership("join", user_id, room_id, None)

    async def user_may_invite(self, inviter: str, invitee: str, room_id: str) -> Any:
        return await self._membership("invite", invitee, room_id, inviter)

    # --- mapping ----------------------------------------------------------------

    async def _membership(self, kind: str, user_id: str, room_id: str, inviter: str | None) -> Any:
        group, _ = await self._group(room_id)
        request = {
            "id": f"{kind}-{uuid.uuid4()}",
            "kind": kind,
            "group": group,
            "subject": self._facts.user(user_id),
            "inviter": self._facts.user(inviter) if inviter else None,
            "requested_at": int(time.time() * 1000),
        }
        return await self._decide("membership", request)

    async def _group(self, room_id: str) -> tuple[dict[str, Any], str]:
        """The room as a groupgate `group`, and its creator."""
        state = await self._api.get_room_state(
            room_id, [("m.room.create", ""), ("m.room.name", ""), (GROUP_EVENT, ""), ("m.room.member", None)]
        )
        create = state.get(("m.room.create", ""))
        creator = (create.content.get("creator") or create.sender) if create else ""
        name = state.get(("m.room.name", ""))
        facts = dict(self._config.default_group)
        own = state.get((GROUP_EVENT, ""))
        if own is not None:
            facts.update(_group_facts(own.content))
        members = sum(1 for (kind, _), ev in state.items()
                      if kind == "m.room.member" and ev.content.get("membership") == "join")
        group = {
            "id": room_id,
            "name": str(name.content.get("name", "")) if name else "",
            "category": str(facts.get("category", "")),
            "region": str(facts.get("region", "")),
            "member_count": members,
            "member_limit": int(facts.get("member_limit", 0)),
            "founder_id": creator,
        }
        return group, creator

    # --- asking groupgate --------------------------------------------------------

    async def _decide(self, hook: str, request: dict[str, Any]) -> Any:
        url = f"{self._config.endpoint}/v1/evaluate/{hook}"
        try:
            decision = await self._ask(url, request)
        except Refused as e:
            # groupgate answered that the request is malformed: a mapping
            # fault, never a reason to let the request through.
            logger.error("groupgate: %s %s refused as malformed, so denied: %s", hook, request["id"], e)
            return Codes.FORBIDDEN, {"org.groupgate.error": "the content policy service refused the request"}
        except Exception as e:  # unreachable, slow, or no decision: the configured stance
            if self._config.fail_open:
                logger.warning("groupgate: %s %s not decided (%s): allowed (fail_open)", hook, request["id"], e)
                return NOT_SPAM
            logger.error("groupgate: %s %s not decided (%s): refused (fail closed)", hook, request["id"], e)
            return Codes.FORBIDDEN, {"org.groupgate.error": "the content policy service did not decide"}
        outcome = decision.get("outcome")
        measures = decision.get("measures") or []
        if measures:
            logger.info("groupgate: decision %s on %s %s asks for measures %s",
                        decision.get("decision_id"), hook, request["id"], json.dumps(measures))
            if self._config.measures_webhook:
                payload = {"decision_id": decision.get("decision_id"), "hook": hook, "request_id": request["id"],
                           "outcome": outcome, "measures": measures}
                _background(self._api, self._send_measures, payload)
        if outcome == "allow" or (outcome == "review" and self._config.on_review == "allow"):
            return NOT_SPAM
        reasons = [
            {k: r.get(k) for k in ("policy", "code", "message", "article")}
            for r in decision.get("reasons") or []
        ]
        return Codes.FORBIDDEN, {
            "org.groupgate.outcome": outcome,
            "org.groupgate.decision_id": decision.get("decision_id"),
            "org.groupgate.reasons": reasons,
        }

    async def _ask(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POSTs `body` and returns groupgate's decision, within `timeout_ms` in
        all: the wait for a worker thread counts, and a server trickling its
        answer is cut off."""
        seconds = self._config.timeout_ms / 1000
        call = defer.ensureDeferred(self._api.defer_to_thread(_post, url, body, seconds))
        call.addTimeout(seconds, reactor)
        decision = await call
        if not isinstance(decision, dict) or decision.get("outcome") not in ("allow", "review", "deny"):
            raise ValueError(f"not a decision: {str(decision)[:200]}")
        return decision

    async def _send_measures(self, payload: dict[str, Any]) -> None:
        try:
            await self._api.defer_to_thread(_post, self._config.measures_webhook, payload,
                                            self._config.timeout_ms / 1000)
        except Exception as e:
            logger.error("groupgate: cannot deliver measures of decision %s to the webhook: %s",
                         payload.get("decision_id"), e)


class Refused(Exception):
    """groupgate answered 4xx: the request itself is at fault."""


def _background(api: ModuleApi, f: Any, *args: Any) -> None:
    """Runs `f(*args)` without waiting for it, as Synapse wants that done."""
    run = getattr(api, "run_as_background_process", None)
    if run is None:  # Synapse before the method: the module-level function
        from synapse.module_api import run_as_background_process as run
    run("groupgate_measures", f, *args)


def _group_facts(content: Any) -> dict[str, Any]:
    """The `category`, `region` and `member_limit` an `org.groupgate.group` sets."""
    # Event content is an immutable mapping, not a dict.
    if not isinstance(content, Mapping):
        return {}
    facts: dict[str, Any] = {}
    for key in ("category", "region"):
        if isinstance(content.get(key), str):
            facts[key] = content[key]
    limit = content.get("member_limit")
    if _whole(limit, U32):
        facts["member_limit"] = limit
    return facts


def _post(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POSTs `body` as JSON and returns the JSON answer; raises on anything else."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"}, method="POST")
    try:
        with _OPENER.open(req, timeout=timeout) as answer:
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        detail = e.read(2000).decode("utf-8", "replace")
        if 400 <= e.code < 500:
            raise Refused(f"HTTP {e.code}: {detail}") from None
        raise RuntimeError(f"HTTP {e.code} from {url}: {detail}") from None


# groupgate is reached directly: a proxy from the environment would only add a hop.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
