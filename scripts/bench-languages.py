#!/usr/bin/env python3
"""Times a policy in each language on the same inputs, with `groupgate bench`.

    python3 scripts/bench-languages.py                 # about 40 s after the builds
    python3 scripts/bench-languages.py --duration 10s  # steadier numbers, longer

Builds the release binary, then the JavaScript and Python components with
its `groupgate build`, then copies policies/polyglot to target/bench-languages/
with `real-name` (Rust), `link-guard` (JavaScript) and `group-naming`
(Python) all attached to every hook, so every input below runs through all
three. On each input one policy does its real work and the others answer
from their early return, which is what a call into that language costs at
the least. Prints the Markdown table of BENCHMARKS.md and writes
docs/benchmarks/languages.json.
"""

import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench-languages"
RESULTS = ROOT / "docs" / "benchmarks" / "languages.json"
POLICIES = [("real-name", "Rust"), ("link-guard", "JavaScript"), ("group-naming", "Python")]

GROUP = {"id": "grp-7", "name": "Riverside cycling club", "category": "community", "region": "CN-11",
         "member_count": 42, "member_limit": 500, "founder_id": "usr-1"}
USER = {"id": "usr-42", "identity_verified": True, "credit_level": 3, "region": "CN-11",
        "groups_created": 1, "groups_joined": 12, "labels": []}
FILLER = "Saturday's ride starts at the north gate at 8:00, bring water and a spare tube. "


def message(text, attachments):
    return {"id": "msg-1", "group": GROUP, "sender": USER, "sender_role": "member", "text": text,
            "attachments": attachments, "sent_at": 1764316800000}


def creation(name, description):
    return {"id": "req-1", "founder": USER, "name": name, "description": description, "category": "community",
            "region": "CN-11", "member_limit": 200, "requested_at": 1764316800000}


PNG = {"name": "route-map.png", "media_type": "image/png", "size": 48213, "sha256": "00" * 32}
INPUTS = [
    ("message, 80 B, one link to a doubtful domain, one attachment", "message",
     message("Photos of the ride: https://short.example/r1 " + FILLER[:34], [PNG])),
    ("message, 1 KB, five links, no attachment", "message",
     message((FILLER * 12)[:900] + " https://a.example/1 https://b.example/2 www.c.example "
             "http://d.example/x https://e.example/y", [])),
    ("group creation, official-sounding name", "group-creation",
     creation("City police notices", "Weekend rides along the river.")),
    ("group creation, 1 KB description, no term", "group-creation",
     creation("Riverside cycling club", (FILLER * 13)[:1000])),
]


def run(command, **kwargs):
    print("$ " + " ".join(str(c) for c in command), file=sys.stderr)
    done = subprocess.run(command, cwd=ROOT, **kwargs)
    if done.returncode != 0:
        sys.exit(f"`{' '.join(str(c) for c in command)}` failed (exit {done.returncode})")
    return done


def prepare():
    run(["cargo", "build", "--release", "--quiet", "-p", "groupgate-cli"])
    run([ROOT / "target" / "release" / "groupgate", "build", "policies/polyglot", "--build-dir", ROOT / "target" / "components"])
    if WORK.exists():
        shutil.rmtree(WORK)
    shutil.copytree(ROOT / "policies" / "polyglot", WORK / "set")
    every_hook = 'hooks = ["message", "group-creation", "membership"]'
    for name, _ in POLICIES:
        manifest = WORK / "set" / name / "policy.toml"
        text = re.sub(r"^hooks = .*$", every_hook, manifest.read_text(), count=1, flags=re.M)
        manifest.write_text(text)


def bench(args, hook, request):
    path = WORK / f"{hook}.json"
    path.write_text(json.dumps(request))
    done = run([ROOT / "target" / "release" / "groupgate", "bench", "--policies", WORK / "set", "--hook", hook,
                "--duration", args.duration, "--warmup", args.warmup, "--cache-dir", WORK / "cache", "--json", path],
               capture_output=True, text=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="5s", help="measured time per input (default 5s)")
    parser.add_argument("--warmup", default="1s", help="warm-up per input (default 1s)")
    args = parser.parse_args()
    prepare()
    results = []
    for label, hook, request in INPUTS:
        report = bench(args, hook, request)
        results.append({"input": label, "hook": hook, "report": report})
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    head = " | ".join(f"{name} ({language}) µs" for name, language in POLICIES)
    print(f"| input | decision | {head} | whole decision p50 µs | p99 µs |")
    print("|---|---|" + "---:|" * (len(POLICIES) + 2))
    for r in results:
        report = r["report"]
        by_name = {p["name"]: p for p in report["policies"]}
        cells = " | ".join(f"{by_name[name]['mean_us']:.2f}" for name, _ in POLICIES)
        print(f"| {r['input']} | {report['outcome']} | {cells} | {report['p50_us']:.2f} | {report['p99_us']:.2f} |")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
