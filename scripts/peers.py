#!/usr/bin/env python3
"""Runs the peers benchmark and draws its chart.

    python3 scripts/peers.py                 # about 90 s after the build: JSON and chart
    python3 scripts/peers.py --duration 3s   # steadier numbers, longer
    python3 scripts/peers.py --chart-only    # redraw the chart from the JSON

Builds and runs `groupgate-peers` (tests/peers) in release mode, which
cross-checks every engine's decisions and times them, writing
docs/benchmarks/peers.json and printing the Markdown tables of BENCHMARKS.md;
then draws docs/benchmarks/latency-by-words.png from that JSON: the mean
latency of each engine on a 1 KB message against the size of the word list.
The chart needs matplotlib (`python3 -m pip install matplotlib`).
"""

import argparse
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks" / "peers.json"
CHART = ROOT / "docs" / "benchmarks" / "latency-by-words.png"


def run(args):
    command = [
        "cargo", "run", "--release", "--quiet", "-p", "groupgate-peers", "--",
        "--duration", args.duration, "--warmup", args.warmup,
        "--variants", str(args.variants), "--json", str(RESULTS.relative_to(ROOT)),
    ]
    print("$ " + " ".join(command), file=sys.stderr)
    done = subprocess.run(command, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"the peers benchmark failed (exit {done.returncode}): see above")


def chart():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("drawing the chart needs matplotlib: python3 -m pip install matplotlib")
    results = json.loads(RESULTS.read_text())
    rows = [r for r in results["rows"] if r["words"] is not None]
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for index, engine in enumerate(engines):
        colour = f"C{index}"
        for matched, style in (("no match", "-"), ("a match", "--")):
            points = sorted(
                (r["words"], r["mean_us"]) for r in rows if r["engine"] == engine and r["workload"].endswith(matched)
            )
            if points:
                label = engine if matched == "no match" else None
                ax.plot(*zip(*points), style, marker="o", color=colour, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("words in the list")
    ax.set_ylabel("mean latency per decision (µs, log scale)")
    ax.set_title("A 1 KB message against a word list (solid: no match, dashed: a match)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    machine = results["machine"]
    fig.text(0.01, 0.01, f"{results['date']} · {machine['cpu']} · {machine['cores']} cores", fontsize=7, alpha=0.7)
    fig.tight_layout()
    fig.savefig(CHART)
    print(f"wrote {CHART.relative_to(ROOT)}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", default="1s", help="time per engine and workload (default 1s)")
    parser.add_argument("--warmup", default="200ms", help="warm-up per engine and workload (default 200ms)")
    parser.add_argument("--variants", type=int, default=300, help="random requests per hook to cross-check")
    parser.add_argument("--chart-only", action="store_true", help="only redraw the chart from the JSON")
    args = parser.parse_args()
    if not args.chart_only:
        run(args)
    chart()


if __name__ == "__main__":
    main()
