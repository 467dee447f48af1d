#!/usr/bin/env python3
"""End to end: a real Synapse moderated by groupgate through this package.

    python3 integrations/synapse/tests/e2e.py --groupgate target/debug/groupgate

Makes a virtual environment with `matrix-synapse` (the version pinned below)
and this package (pip, from the package index), starts `groupgate serve` on a
copy of policies/default (whose blacklist also lists `@mallory:localhost`) and
a Synapse with SQLite, both on free loopback ports, registers users through
the shared-secret admin API, and drives the Matrix client-server API through
the cases the integration's README lists under Tests. Every process it starts
is stopped when it ends, fails or is terminated (and dies with it if it is
killed). Prints `N passed, N failed` and exits 1 if a case failed.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import venv

ROOT = pathlib.Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "integrations" / "synapse"
SYNAPSE = "matrix-synapse==1.163.2"
SECRET = "groupgate-e2e-shared-secret"
SERVER = "localhost"


def die_with_parent() -> None:
    """In a child: receive SIGTERM when this script dies, even by SIGKILL."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, what: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {seconds:.0f} s")


class Webhook(http.server.BaseHTTPRequestHandler):
    """Collects what the module POSTs to `measures_webhook`."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (the handler's API)
        length = int(self.headers.get("content-length", 0))
        Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"{}")
        except ValueError:
            return e.code, {"raw": raw.decode("utf-8", "replace")}


class Matrix:
    """A minimal client of the Matrix client-server API."""

    def __init__(self, base: str):
        self.base = base
        self.txn = 0

    def register(self, name: str) -> str:
        url = f"{self.base}/_synapse/admin/v1/register"
        status, body = call("GET", url)
        nonce = body["nonce"]
        message = "\x00".join((nonce, name, "password-" + name, "notadmin"))
        mac = hmac.new(SECRET.encode(), message.encode(), hashlib.sha1)
        status, body = call("POST", url, {"nonce": nonce, "username": name, "password": "password-" + name,
                                          "admin": False, "mac": mac.hexdigest()})
        if status != 200:
            raise RuntimeError(f"cannot register `{name}`: {status} {body}")
        return body["access_token"]

    def create_room(self, token: str, name: str, group: dict | None = None) -> tuple[int, dict]:
        body: dict = {"name": name, "preset": "public_chat"}
        if group is not None:
            body["initial_state"] = [{"type": "org.groupgate.group", "state_key": "", "content": group}]
        return call("POST", f"{self.base}/_matrix/client/v3/createRoom", body, token)

    def send(self, token: str, room: str, text: str) -> tuple[int, dict]:
        self.txn += 1
        url = f"{self.base}/_matrix/client/v3/rooms/{room}/send/m.room.message/t{self.txn}"
        return call("PUT", url, {"msgtype": "m.text", "body": text}, token)

    def send_file(self, token: str, room: str, name: str, mimetype: str, size: int) -> tuple[int, dict]:
        self.txn += 1
        url = f"{self.base}/_matrix/client/v3/rooms/{room}/send/m.room.message/t{self.txn}"
        content = {"msgtype": "m.image", "body": name, "url": "mxc://localhost/none",
                   "info": {"mimetype": mimetype, "size": size}}
        return call("PUT", url, content, token)

    def invite(self, token: str, room: str, user_id: str) -> tuple[int, dict]:
        return call("POST", f"{self.base}/_matrix/client/v3/rooms/{room}/invite", {"user_id": user_id}, token)

    def join(self, token: str, room: str) -> tuple[int, dict]:
        return call("POST", f"{self.base}/_matrix/client/v3/join/{room}", {}, token)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groupgate", required=True, help="the groupgate binary")
    parser.add_argument("--venv", help="reuse this virtual environment (made if missing)")
    args = parser.parse_args()

    # A terminated run still stops what it started (`finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = pathlib.Path(tempfile.mkdtemp(prefix="groupgate-synapse-"))
    processes: list[subprocess.Popen] = []
    logs: list = []
    webhook = None
    failed = True
    try:
        env_dir = pathlib.Path(args.venv) if args.venv else work / "venv"
        python = env_dir / "bin" / "python"
        if not python.exists():
            venv.EnvBuilder(with_pip=True).create(env_dir)
        subprocess.run([str(python), "-m", "pip", "install", "-q", SYNAPSE, str(PACKAGE)], check=True)
        # The module's own checks (its configuration errors), in the same environment.
        subprocess.run([str(python), "-m", "unittest", "discover", "-q", "-s", str(PACKAGE / "tests"), "-p", "test_*.py"], check=True)

        # The default set, with a Matrix user on its blacklist.
        policies = work / "policies"
        shutil.copytree(ROOT / "policies" / "default", policies)
        with open(policies / "blacklist" / "users.txt", "a", encoding="utf-8") as f:
            f.write("\n@mallory:localhost\n")
        gg_port = free_port()
        gg_log = open(work / "groupgate.log", "w")
        logs.append(gg_log)
        groupgate = subprocess.Popen([args.groupgate, "serve", "--policies", str(policies), "--listen",
                                      f"127.0.0.1:{gg_port}", "--no-watch"], stdout=gg_log, stderr=gg_log,
                                     preexec_fn=die_with_parent)
        processes.append(groupgate)
        wait_for(f"http://127.0.0.1:{gg_port}/readyz", "groupgate", groupgate)

        webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
        threading.Thread(target=webhook.serve_forever, daemon=True).start()

        facts = work / "users.json"
        facts.write_text(json.dumps({
            "@alice:localhost": {"identity_verified": True, "credit_level": 4, "region": "CN-11"},
            "@bob:localhost": {"identity_verified": False, "credit_level": 2},
            "@carol:localhost": {"identity_verified": True, "credit_level": 1},
            "@mallory:localhost": {"identity_verified": True, "credit_level": 3},
        }))
        syn_port = free_port()
        config = work / "homeserver.yaml"
        config.write_text(json.dumps({
            "server_name": SERVER,
            "pid_file": str(work / "homeserver.pid"),
            "listeners": [{"port": syn_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                           "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(work / "homeserver.db")}},
            "log_config": None,
            "media_store_path": str(work / "media"),
            "registration_shared_secret": SECRET,
            "report_stats": False,
            "macaroon_secret_key": "groupgate-e2e-macaroon",
            "form_secret": "groupgate-e2e-form",
            "signing_key_path": str(work / "signing.key"),
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "enable_metrics": False,
            "rc_message": {"per_second": 1000, "burst_count": 1000},
            "rc_joins": {"local": {"per_second": 1000, "burst_count": 1000}},
            "rc_registration": {"per_second": 1000, "burst_count": 1000},
            "rc_login": {"address": {"per_second": 1000, "burst_count": 1000},
                         "account": {"per_second": 1000, "burst_count": 1000}},
            "modules": [{"module": "groupgate_synapse.GroupgateModule", "config": {
                "endpoint": f"http://127.0.0.1:{gg_port}",
                "user_facts_file": str(facts),
                "default_user": {"identity_verified": False, "credit_level": 0, "region": "CN-11"},
                "default_group": {"category": "community", "region": "CN-11", "member_limit": 200},
                "timeout_ms": 500,
                "fail_open": False,
                "on_review": "deny",
                "measures_webhook": f"http://127.0.0.1:{webhook.server_address[1]}/measures",
            }}],
        }))
        subprocess.run([str(python), "-m", "synapse.app.homeserver", "--config-path", str(config),
                        "--generate-keys"], check=True, cwd=work, stdout=subprocess.DEVNULL)
        syn_log = open(work / "synapse.log", "w")
        logs.append(syn_log)
        synapse = subprocess.Popen([str(python), "-m", "synapse.app.homeserver", "--config-path", str(config)],
                                   cwd=work, stdout=syn_log, stderr=syn_log, preexec_fn=die_with_parent)
        processes.append(synapse)
        base = f"http://127.0.0.1:{syn_port}"
        wait_for(f"{base}/health", "Synapse", synapse, seconds=120)

        m = Matrix(base)
        alice, bob, carol, mallory = (m.register(n) for n in ("alice", "bob", "carol", "mallory"))
        results: list[tuple[str, bool, str]] = []

        def case(name: str, ok: bool, detail: object) -> None:
            results.append((name, ok, "" if ok else str(detail)))
            print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)

        def forbidden(answer: tuple[int, dict], code: str) -> bool:
            status, body = answer
            codes = [r.get("code") for r in body.get("org.groupgate.reasons", [])]
            return status == 403 and body.get("errcode") == "M_FORBIDDEN" and code in codes

        status, body = m.create_room(alice, "Riverside cycling club")
        case("a verified user with enough credit creates a room", status == 200, (status, body))
        room = body.get("room_id", "")
        answer = m.send(alice, room, "Saturday's ride starts at the north gate at eight.")
        case("and sends a clean message", answer[0] == 200, answer)
        answer = m.send(alice, room, "get your zorblax here")
        case("a listed word is refused, naming prohibited-content", forbidden(answer, "prohibited-content"), answer)
        answer = m.send(alice, room, "get your ｚｏｒｂｌａｘ here")
        case("its full-width form too", forbidden(answer, "prohibited-content"), answer)
        deadline = time.monotonic() + 10
        while not Webhook.received and time.monotonic() < deadline:
            time.sleep(0.1)
        warned = [x for x in Webhook.received for k in x.get("measures", []) if k.get("kind") == "warn"]
        case("the measures of a denial reach measures_webhook", bool(warned), Webhook.received)
        answer = m.join(bob, room)
        case("an unverified user may still join", answer[0] == 200, answer)
        answer = m.send(bob, room, "hello all")
        case("but their message is refused, naming identity-unverified",
             forbidden(answer, "identity-unverified"), answer)
        answer = m.send_file(alice, room, "zorblax-price-list.png", "image/png", 48213)
        case("a file whose name holds a listed word is refused", forbidden(answer, "prohibited-content"), answer)
        facts.write_text(json.dumps({**json.loads(facts.read_text()),
                                     "@bob:localhost": {"identity_verified": True, "credit_level": 2}}))
        answer = m.send(bob, room, "hello all, verified now")
        case("the facts file is re-read: once verified, the same user may publish", answer[0] == 200, answer)
        answer = m.create_room(alice, "A large club", {"category": "community", "region": "CN-11",
                                                       "member_limit": 300})
        case("a large room held for review is refused (on_review: deny)",
             forbidden(answer, "large-group-review") and answer[1].get("org.groupgate.outcome") == "review",
             answer)
        answer = m.create_room(carol, "Carol's club")
        case("a user below found_group credit cannot create a room", forbidden(answer, "credit-too-low"), answer)
        answer = m.join(mallory, room)
        case("a blacklisted user cannot join", forbidden(answer, "blacklisted"), answer)
        answer = m.invite(alice, room, "@mallory:localhost")
        case("nor be invited", forbidden(answer, "blacklisted"), answer)
        answer = m.invite(alice, room, "@carol:localhost")
        case("while another user is invited", answer[0] == 200, answer)
        status, body = m.create_room(alice, "A full room", {"category": "community", "region": "CN-11",
                                                             "member_limit": 1})
        full = body.get("room_id", "")
        answer = m.join(carol, full) if status == 200 else (status, body)
        case("a room at its org.groupgate.group member_limit refuses a join", forbidden(answer, "group-full"),
             answer)
        status, body = m.create_room(alice, "Local news", {"category": "community", "region": "CN-44",
                                                            "member_limit": 200})
        local = body.get("room_id", "")
        answer = m.send(alice, local, "blorptide for sale") if status == 200 else (status, body)
        case("a region-scoped word is refused in a CN-44 room", forbidden(answer, "prohibited-content"), answer)
        answer = m.send(bob, room, "blorptide for sale")
        case("and accepted in another region's room", answer[0] == 200, answer)
        # Alice's messages were denied four times for prohibited content
        # (Art. 10) today: the next, however clean, is refused (Art. 11).
        answer = m.send(alice, room, "See you all on Saturday.")
        case("a sender denied three times in a day is suspended, naming repeat-offender",
             forbidden(answer, "repeat-offender"), answer)

        groupgate.terminate()
        groupgate.wait(timeout=30)
        answer = m.send(alice, room, "is anyone there?")
        case("with groupgate stopped, a message is refused (fail closed)",
             answer[0] == 403 and answer[1].get("errcode") == "M_FORBIDDEN", answer)
        status, _ = call("GET", f"{base}/_matrix/client/versions")
        case("and Synapse keeps serving", status == 200, status)

        failures = sum(1 for _, ok, _ in results if not ok)
        print(f"{len(results) - failures} passed, {failures} failed")
        failed = failures > 0
        return 1 if failed else 0
    finally:
        if webhook is not None:
            webhook.shutdown()
        for log in logs:
            log.close()
        if failed:  # a failed case, or an error before the cases ran
            for log in ("synapse.log", "groupgate.log"):
                if (work / log).exists():
                    print(f"--- last lines of {log}")
                    print("\n".join((work / log).read_text(errors="replace").splitlines()[-40:]))
        for p in processes:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
