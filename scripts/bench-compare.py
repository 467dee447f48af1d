#!/usr/bin/env python3
"""Compares two `groupgate` binaries with `groupgate bench`, interleaved.

    python3 scripts/bench-compare.py OLD_BINARY NEW_BINARY
    python3 scripts/bench-compare.py OLD NEW --rounds 7 --duration 3s

On the default set, for a message (examples/message.json) and a membership
(examples/membership.json), runs OLD and NEW in turn, round after round, so
both see the same machine: these machines share their caches with others
and one run can be 40% off the next. Prints, per input, each binary's best
(lowest) and median mean latency over the rounds, and NEW's best over OLD's
best: under 1.00 means NEW is faster. Each binary uses its own compile
cache, warmed before the first round.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
INPUTS = [("message", "examples/message.json"), ("membership", "examples/membership.json")]


def bench(binary, hook, request, duration, cache):
    out = subprocess.run(
        [binary, "bench", "--policies", str(ROOT / "policies/default"), "--hook", hook, str(ROOT / request),
         "--duration", duration, "--warmup", "1s", "--json", "--cache-dir", cache],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", default="3s")
    args = parser.parse_args()
    binaries = {"old": args.old, "new": args.new}
    with tempfile.TemporaryDirectory() as tmp:
        caches = {name: str(pathlib.Path(tmp) / name) for name in binaries}
        for name, binary in binaries.items():
            bench(binary, "membership", INPUTS[1][1], "100ms", caches[name])  # compile once, outside the rounds
        results = {(name, hook): [] for name in binaries for hook, _ in INPUTS}
        for round_ in range(args.rounds):
            for hook, request in INPUTS:
                for name, binary in binaries.items():
                    report = bench(binary, hook, request, args.duration, caches[name])
                    results[(name, hook)].append(report["mean_us"])
            print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
    print("| input | old best µs | old median µs | new best µs | new median µs | new/old (best) |")
    print("|---|---:|---:|---:|---:|---:|")
    for hook, _ in INPUTS:
        old, new = results[("old", hook)], results[("new", hook)]
        print(f"| {hook} | {min(old):.2f} | {statistics.median(old):.2f} | {min(new):.2f} | "
              f"{statistics.median(new):.2f} | {min(new) / min(old):.3f} |")


if __name__ == "__main__":
    main()
