#!/usr/bin/env python3
"""The HTTP sidecar against nginx on the same machine, with `wrk`.

    python3 scripts/bench-http.py                  # 3 rounds of 8 s at 16 and 64 connections
    python3 scripts/bench-http.py --rounds 5 --duration 10s --binary target/release/groupgate

Starts `groupgate serve --policies policies/default` and nginx, each on a
free loopback port. nginx answers every POST with a fixed JSON body the
size of a decision, which is the ceiling these cores allow with the load
generator beside the server. Then, round after round, with the same
settings for both (`wrk -t2 -cN -dD --latency`, a POST of
examples/message.json), it runs groupgate and then nginx at each connection
count. Prints a Markdown table with each one's best requests per second and
its p50/p99 latency over the rounds (the round with the best requests per
second), and groupgate's share of nginx's requests per second and its p99
over nginx's.

wrk and nginx are installed with apt-get when missing
(scripts/ensure-packages); the release binary is built unless --binary
names one.
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
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within {seconds} s")


def wrk(url, connections, duration, script):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}", "--latency", "-s", script, url],
        check=True, capture_output=True, text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)

    def percentile(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return {
        "rps": rps, "p50": percentile(50), "p99": percentile(99),
        "bad": int(errors.group(1)) if errors else 0, "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", default="8s")
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--binary", help="a groupgate binary (default: build target/release/groupgate)")
    args = parser.parse_args()

    subprocess.run([ROOT / "scripts/ensure-packages", "wrk", "nginx"], check=True)
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "groupgate-cli"], cwd=ROOT, check=True)
        binary = ROOT / "target/release/groupgate"

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-http-"))
    request = ROOT / "examples/message.json"
    script = work / "post.lua"
    body = json.dumps(request.read_text())
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {body}\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    procs = []
    try:
        gg_port = free_port()
        procs.append(subprocess.Popen(
            [binary, "serve", "--policies", ROOT / "policies/default", "--listen", f"127.0.0.1:{gg_port}",
             "--cache-dir", work / "cache"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"RUST_LOG": "warn", "PATH": "/usr/bin:/bin"},
        ))
        gg = f"http://127.0.0.1:{gg_port}"
        wait_ready(gg + "/readyz")
        # nginx's fixed answer: a decision as groupgate gives it, so both
        # write bodies of the same size.
        with urllib.request.urlopen(urllib.request.Request(
                gg + "/v1/evaluate/message", data=request.read_bytes(),
                headers={"Content-Type": "application/json"})) as r:
            answer = r.read().decode()
        ng_port = free_port()
        (work / "answer.json").write_text(answer)
        (work / "nginx.conf").write_text(f"""
worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{ng_port};
        location / {{
            default_type application/json;
            return 200 '{answer.replace("'", "")}';
        }}
    }}
}}
""")
        procs.append(subprocess.Popen([nginx_bin, "-c", work / "nginx.conf", "-p", work],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_ready(f"http://127.0.0.1:{ng_port}/")
        ng = f"http://127.0.0.1:{ng_port}"

        connections = [int(c) for c in args.connections.split(",")]
        best = {}
        for r in range(args.rounds):
            for c in connections:
                for name, url in [("groupgate", gg + "/v1/evaluate/message"), ("nginx", ng + "/")]:
                    got = wrk(url, c, args.duration, str(script))
                    print(f"round {r + 1} c{c} {name}: {got['rps']:.0f}/s p50 {got['p50']:.2f} ms "
                          f"p99 {got['p99']:.2f} ms{' BAD ' + str(got['bad']) if got['bad'] else ''}", file=sys.stderr)
                    key = (c, name)
                    if key not in best or got["rps"] > best[key]["rps"]:
                        best[key] = got
        print(f"\n`wrk -t2 -cN -d{args.duration} --latency`, POST examples/message.json, best of {args.rounds} rounds:\n")
        print("| connections | groupgate decisions/s | p50 / p99 | nginx fixed body/s | p50 / p99 | groupgate / nginx (req/s) | p99 groupgate / nginx |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for c in connections:
            g, n = best[(c, "groupgate")], best[(c, "nginx")]
            print(f"| {c} | {g['rps']:,.0f} | {g['p50']:.2f} / {g['p99']:.2f} ms | {n['rps']:,.0f} | "
                  f"{n['p50']:.2f} / {n['p99']:.2f} ms | {g['rps'] / n['rps']:.2f} | {g['p99'] / n['p99']:.1f} |")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
