#!/usr/bin/env python3
"""Soak test for `groupgate serve`: hot reload and hostile modules under load.

Serves a copy of `policies/default` for `--duration` seconds while `wrk`
posts messages, group creations and memberships without pause. Meanwhile a
policy file changes every few seconds (each change is a reload), and every
few changes a policy with a broken module is dropped into the folder and
removed again: the set it makes must be refused while the previous one keeps
serving. Reports requests, failures (non-2xx answers and socket errors),
reloads, RSS at the start, after the first minute and at the end, and the
p99 latency of each minute. Exits 1 if any request failed, a broken module
was activated or not refused, a change did not reload, the end RSS is more
than 10% over the first minute's, or the server died or did not exit 0 on
SIGTERM.

    cargo build --release
    python3 scripts/soak.py --duration 600

Needs `wrk` (Debian: `apt install wrk`) and Python 3.8+, nothing else.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LUA = r"""
local bodies = {}
for i, hook in ipairs({"message", "group-creation", "membership"}) do
  local f = io.open("%(examples)s/" .. hook .. ".json", "r")
  bodies[i] = { path = "/v1/evaluate/" .. hook, body = f:read("*a") }
  f:close()
end
local n = 0
request = function()
  n = n + 1
  -- Mostly messages, as on a real platform.
  local pick = (n %% 10 == 0) and 2 or ((n %% 10 == 5) and 3 or 1)
  return wrk.format("POST", bodies[pick].path, {["Content-Type"] = "application/json"}, bodies[pick].body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SOAK %%d %%d %%d %%d %%d %%d %%d %%.0f %%.0f\n", summary.requests, e.status, e.connect,
    e.read, e.write, e.timeout, summary.duration, latency:percentile(99), latency.max))
end
"""

BROKEN_MANIFEST = """name = "broken"
version = "0.0.1"
module = "broken.wasm"
hooks = ["message"]
"""


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.loads(response.read())


def metric(base, name):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    return 0


def replace(path, text):
    """Writes `path` whole, by renaming a finished file over it."""
    with open(path + ".new", "w") as f:
        f.write(text)
    os.replace(path + ".new", path)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Chaos(threading.Thread):
    """Changes a policy file every `every` seconds; every fourth change also
    drops in a policy whose module is not WebAssembly, then removes it."""

    def __init__(self, base, folder, every):
        super().__init__(daemon=True)
        self.base, self.folder, self.every = base, folder, every
        self.stop = threading.Event()
        self.changes = 0
        self.broken_dropped = 0
        self.broken_refused = 0
        self.broken_activated = 0
        self.problems = []

    def wait_for_reload(self, after_at):
        """The first reload report newer than `after_at`, or None."""
        # Not cut short by `stop`: a change in progress is seen through.
        deadline = time.time() + 15
        while time.time() < deadline:
            report = get_json(self.base, "/v1/policies")
            last = report.get("last_reload") or {}
            if last.get("at", "") > after_at:
                return report
            time.sleep(0.1)
        return None

    def last_at(self):
        return (get_json(self.base, "/v1/policies").get("last_reload") or {}).get("at", "")

    def run(self):
        words = os.path.join(self.folder, "prohibited-content", "words.txt")
        broken = os.path.join(self.folder, "broken")
        set_file = os.path.join(self.folder, "groupgate.toml")
        with open(set_file) as f:
            set_toml = f.read()
        if 'policies = [' not in set_toml:
            self.problems.append("groupgate.toml has no `policies` list to add the broken policy to")
            return
        try:
            while not self.stop.wait(self.every):
                self.changes += 1
                before = self.last_at()
                with open(words, "a") as f:
                    f.write(f"soakword{self.changes}\n")
                if self.wait_for_reload(before) is None:
                    self.problems.append(f"change {self.changes}: no reload followed")
                if self.changes % 4 != 0 or self.stop.is_set():
                    continue
                before = self.last_at()
                os.makedirs(broken)
                with open(os.path.join(broken, "broken.wasm"), "wb") as f:
                    f.write(b"\x00asm this is not a component")
                with open(os.path.join(broken, "policy.toml"), "w") as f:
                    f.write(BROKEN_MANIFEST)
                # The default set lists its policies: list the new one too.
                replace(set_file, set_toml.replace('policies = [', 'policies = ["broken", ', 1))
                self.broken_dropped += 1
                report = self.wait_for_reload(before)
                if report is None:
                    self.problems.append(f"broken module {self.broken_dropped}: no reload followed")
                else:
                    last = report["last_reload"]
                    names = [p["name"] for p in (report.get("active") or {}).get("policies", [])]
                    if "broken" in names:
                        self.broken_activated += 1
                    elif not last["ok"] and "broken" in (last.get("error") or ""):
                        self.broken_refused += 1
                    else:
                        self.problems.append(f"broken module {self.broken_dropped}: unexpected report {last}")
                time.sleep(min(self.every, 1.0) if self.stop.is_set() else self.every)
                before = self.last_at()
                replace(set_file, set_toml)
                shutil.rmtree(broken)
                report = self.wait_for_reload(before)
                if report is None or not report["last_reload"]["ok"]:
                    self.problems.append(f"removing broken module {self.broken_dropped}: set not restored")
        except Exception as e:  # reported, not raised: the soak goes on
            self.problems.append(f"chaos thread: {e!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=600,
                        help="seconds of load, at least 120 so the first minute can be compared (default 600)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "groupgate"))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--change-every", type=float, default=3.0, help="seconds between policy changes")
    parser.add_argument("--port", type=int, default=18750)
    args = parser.parse_args()
    if args.duration < 120:
        sys.exit("soak: --duration must be at least 120 s: RSS is compared with the end of the first minute")

    if shutil.which("wrk") is None:
        sys.exit("soak: `wrk` is not installed (Debian: apt install wrk)")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"soak: no binary at {args.binary}: run `cargo build --release` first")

    work = tempfile.mkdtemp(prefix="groupgate-soak-")
    folder = os.path.join(work, "set")
    shutil.copytree(os.path.join(ROOT, "policies", "default"), folder)
    lua = os.path.join(work, "load.lua")
    with open(lua, "w") as f:
        f.write(LUA % {"examples": os.path.join(ROOT, "examples")})
    base = f"http://127.0.0.1:{args.port}"
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen(
        [args.binary, "serve", "--policies", folder, "--listen", f"127.0.0.1:{args.port}"],
        stdout=log, stderr=log, env={**os.environ, "RUST_LOG": "warn"})
    try:
        deadline = time.time() + 60
        while True:
            try:
                if get_json(base, "/readyz").get("status") == "ready":
                    break
            except Exception:
                pass
            if time.time() > deadline or server.poll() is not None:
                sys.exit(f"soak: the server did not become ready; see {log.name}")
            time.sleep(0.2)
        rss_start = rss_kib(server.pid)
        chaos = Chaos(base, folder, args.change_every)
        chaos.start()

        minutes = []
        rss_first_minute = None
        remaining = args.duration
        while remaining > 0:
            span = min(60, remaining)
            if server.poll() is not None:
                chaos.problems.append(f"the server died with status {server.returncode}")
                break
            out = subprocess.run(
                ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{span}s", "-s", lua, base],
                capture_output=True, text=True, check=False)
            line = next((l for l in out.stdout.splitlines() if l.startswith("SOAK ")), None)
            if line is None:
                sys.exit(f"soak: wrk printed no summary:\n{out.stdout}\n{out.stderr}")
            requests, status, connect, read, write, timeout, duration_us, p99_us, max_us = map(float, line.split()[1:])
            failed = int(status + connect + read + write + timeout)
            rss = rss_kib(server.pid)
            if rss_first_minute is None:
                rss_first_minute = rss
            minutes.append((len(minutes) + 1, int(requests), failed, p99_us / 1000, max_us / 1000,
                            requests / (duration_us / 1e6), rss))
            m = minutes[-1]
            print(f"minute {m[0]:>2}: {m[1]:>9} requests, {m[2]} failed, {m[5]:>8.0f}/s, "
                  f"p99 {m[3]:.2f} ms, max {m[4]:.1f} ms, RSS {m[6] / 1024:.1f} MiB", flush=True)
            remaining -= span
        chaos.stop.set()
        # A change in progress takes at most about 35 s to see through.
        chaos.join(timeout=60)
        alive = server.poll() is None
        if alive:
            rss_end = rss_kib(server.pid)
            reloads_ok = metric(base, "groupgate_reloads_ok_total")
            reloads_failed = metric(base, "groupgate_reloads_failed_total")
        else:
            rss_end, reloads_ok, reloads_failed = 0, 0, 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    total = sum(m[1] for m in minutes)
    failed = sum(m[2] for m in minutes)
    growth = (rss_end - rss_first_minute) / rss_first_minute * 100 if rss_first_minute else float("inf")
    print()
    print(f"duration           {args.duration} s, wrk -t{args.threads} -c{args.connections}")
    print(f"requests           {total} ({total / args.duration:.0f}/s)")
    print(f"failed requests    {failed}")
    print(f"policy changes     {chaos.changes}")
    print(f"broken modules     {chaos.broken_dropped} dropped in, {chaos.broken_refused} refused, "
          f"{chaos.broken_activated} activated")
    print(f"reloads            {reloads_ok} ok, {reloads_failed} refused")
    print(f"RSS                {rss_start / 1024:.1f} MiB at start, {rss_first_minute / 1024:.1f} MiB after "
          f"minute 1, {rss_end / 1024:.1f} MiB at the end ({growth:+.1f}%)")
    print(f"server exit        {server.returncode} (SIGTERM)")
    print("p99 per minute     " + ", ".join(f"{m[3]:.2f}" for m in minutes) + " ms")
    for problem in chaos.problems:
        print(f"problem            {problem}")
    ok = (alive and failed == 0 and chaos.broken_activated == 0 and chaos.broken_refused == chaos.broken_dropped
          and not chaos.problems and growth <= 10 and server.returncode == 0)
    print("verdict            " + ("PASS" if ok else "FAIL") + f" (server log: {os.path.join(work, 'server.log')})")
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
