#!/usr/bin/env python3
"""What counters cost, measured in one run, interleaved round by round.

    cargo build --release
    python3 scripts/bench-state.py [--binary target/release/groupgate] [--rounds 5] [--duration 3s]

Three comparisons, each of the best (lowest) figure over the rounds, since
these machines share their caches and one run can be 40% off the next:

1. `groupgate bench` of a message (examples/message.json) through
   `policies/default` with the memory store, against a copy of the set
   without its three counting policies (flood-control, repeat-offender,
   group-violations): what they add per message, at p50 and mean.
2. The same message through `policies/default`, counters in memory against
   counters in a `redis-server` on loopback (started here, on a free port,
   data in a temp folder): p50 and p99 per decision.
3. `groupgate serve` under `wrk` (4 connections, messages from 1,000
   senders per connection in turn), memory against Redis: decisions per
   second and p99.

Every run spreads its messages over 1,000 senders (`--senders`), each
sending once every 10 s of request time, so the counting policies see
ordinary traffic, not one sender's flood. Needs
`redis-server` and `wrk` (Debian packages of those names).
"""
import argparse
import json
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
MESSAGE = ROOT / "examples/message.json"
STATEFUL = ["flood-control", "repeat-offender", "group-violations"]
SENDERS = 1_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(binary, policies, state, duration, cache):
    out = subprocess.run(
        [binary, "bench", "--policies", str(policies), "--hook", "message", str(MESSAGE), "--duration", duration,
         "--warmup", "1s", "--json", "--cache-dir", cache, "--state", state, "--senders", str(SENDERS)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def without_counting(tmp):
    """policies/default without its counting policies."""
    copy = pathlib.Path(tmp) / "default"
    shutil.copytree(ROOT / "policies/default", copy)
    toml = (copy / "groupgate.toml").read_text()
    for name in STATEFUL:
        toml = re.sub(rf'^\s*"{name}",.*\n', "", toml, flags=re.M)
        shutil.rmtree(copy / name)
    (copy / "groupgate.toml").write_text(toml)
    (copy / "tests/set.toml").unlink()  # its cases name the counting policies
    return copy


WRK_SCRIPT = """
local body = [[%s]]
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local senders = %d
request = function()
  n = n + 1
  local at = string.format("%%.0f", 1764316800000 + math.floor(n / senders) * 10000)
  local b = body:gsub('"usr%%-42"', '"usr-' .. (n %% senders) .. '-' .. wrk.thread:get("id") .. '"')
  b = b:gsub('"sent_at": %%d+', '"sent_at": ' .. at)
  return wrk.format(nil, "/v1/evaluate/message", nil, b)
end
setup = function(thread) thread:set("id", tostring(math.random(1000000))) end
"""


def serve_rate(binary, policies, state, duration, cache, tmp):
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--policies", str(policies), "--listen", f"127.0.0.1:{port}", "--state", state,
         "--cache-dir", cache],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in s.recv(100):
                        break
            except OSError:
                pass
            time.sleep(0.1)
        script = pathlib.Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT % (MESSAGE.read_text(), SENDERS))
        out = subprocess.run(
            ["wrk", "-t2", "-c4", "-d", duration, "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
            check=True, capture_output=True, text=True,
        ).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        scale = {"us": 1, "ms": 1000, "s": 1_000_000}[p99.group(2)]
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if non2xx:
            sys.exit(f"{non2xx.group(1)} requests failed:\n{out}")
        return rate, float(p99.group(1)) * scale
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / "target/release/groupgate"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", default="3s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(pathlib.Path(tmp) / "cache")
        data = pathlib.Path(tmp) / "redis"
        data.mkdir()
        port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(data)],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            redis_url = f"redis://127.0.0.1:{port}"
            default = ROOT / "policies/default"
            plain = without_counting(tmp)
            runs = {
                "without counting policies": (plain, "memory"),
                "default, memory": (default, "memory"),
                "default, redis": (default, redis_url),
            }
            for policies, state in runs.values():
                bench(args.binary, policies, state, "100ms", cache)  # compile once, outside the rounds
            results = {name: [] for name in runs}
            served = {"memory": [], "redis": []}
            for round_ in range(args.rounds):
                for name, (policies, state) in runs.items():
                    results[name].append(bench(args.binary, policies, state, args.duration, cache))
                for name, state in [("memory", "memory"), ("redis", redis_url)]:
                    served[name].append(serve_rate(args.binary, default, state, args.duration, cache, tmp))
                print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
        finally:
            redis.terminate()
            redis.wait()

    best = lambda name, key: min(r[key] for r in results[name])
    print("| message through | best p50 µs | best mean µs | best p99 µs | outcome |")
    print("|---|---:|---:|---:|---|")
    for name in runs:
        outcome = results[name][0]["outcome"]
        print(f"| {name} | {best(name, 'p50_us'):.2f} | {best(name, 'mean_us'):.2f} | {best(name, 'p99_us'):.2f} | {outcome} |")
    print()
    added = best("default, memory", "p50_us") - best("without counting policies", "p50_us")
    print(f"counting policies with memory state add {added:.2f} µs at p50 (best against best)")
    ratio = best("default, redis", "p50_us") / best("default, memory", "p50_us")
    print(f"redis / memory at p50: {ratio:.2f}; at p99: "
          f"{best('default, redis', 'p99_us') / best('default, memory', 'p99_us'):.2f}")
    print()
    print("| groupgate serve, wrk -t2 -c4 | best decisions/s | best p99 µs |")
    print("|---|---:|---:|")
    for name, figures in served.items():
        print(f"| {name} | {max(r for r, _ in figures):.0f} | {min(p for _, p in figures):.0f} |")


if __name__ == "__main__":
    main()
