#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real-time factor against diffusion steps, for the checkpoint's weights and
int8 weights (and the low-power preset's thread count), in one run, with a
PNG plot. Not part of the test suite (the plot needs python3-matplotlib).

    python3 tools/bench/rtf-vs-steps.py --tool build/tools/vibevoice \\
        --model /work/models/vv-1.5b --threads 2 --out docs/rtf-vs-steps.png

Each point is `vibevoice bench synth --json` (forced frames, median of
--iters runs); the configurations are interleaved step by step so that a
drift of the shared machine's speed shows in all of them alike. Prints a
Markdown table (RTF, ms per frame, CPU-s per audio-s) and writes the plot.
"""
import argparse
import json
import subprocess
import sys


def bench(a, steps, extra):
    cmd = [a.tool, "bench", "synth", "--model", a.model, "--frames", str(a.frames),
           "--iters", str(a.iters), "--bandwidth-mib", "0", "--steps", str(steps),
           "--json"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}\n{p.stderr}")
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--low-threads", type=int, default=1,
                    help="threads of the low-power configuration (power=low: half the processors)")
    ap.add_argument("--steps", default="2,5,10,20")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--iters", type=int, default=1)
    ap.add_argument("--out", help="PNG to write")
    a = ap.parse_args()
    steps = [int(s) for s in a.steps.split(",")]
    configs = [
        (f"checkpoint weights, {a.threads} threads", ["--threads", str(a.threads)]),
        (f"int8 weights, {a.threads} threads", ["--threads", str(a.threads), "--weights", "int8"]),
        (f"int8 weights, {a.low_threads} thread(s)", ["--threads", str(a.low_threads),
                                                      "--weights", "int8"]),
    ]
    res = {name: {} for name, _ in configs}
    for s in steps:
        for name, extra in configs:
            r = bench(a, s, extra)
            res[name][s] = r
            print(f"{name}, {s} steps: RTF {r['rtf']:.3f}", file=sys.stderr, flush=True)

    print("| steps | " + " | ".join(f"{n}: RTF (ms/frame, CPU-s/audio-s)" for n, _ in configs) + " |")
    print("| ---: |" + " ---: |" * len(configs))
    for s in steps:
        cells = []
        for name, _ in configs:
            r = res[name][s]
            cells.append(f"{r['rtf']:.2f} ({r['ms_per_frame']['total']:.0f}, "
                         f"{r['cpu_s_per_audio_s']:.2f})")
        print(f"| {s} | " + " | ".join(cells) + " |")

    if a.out:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for name, _ in configs:
            ax.plot(steps, [res[name][s]["rtf"] for s in steps], marker="o", label=name)
        ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("diffusion steps per frame")
        ax.set_ylabel("real-time factor (lower is faster)")
        ax.set_xticks(steps)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"{a.model.rstrip('/').split('/')[-1]}: RTF vs steps and weight precision")
        fig.tight_layout()
        fig.savefig(a.out, dpi=100)
        print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
