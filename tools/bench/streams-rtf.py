#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Batched streams against aggregate real-time factor, for the checkpoint's
weights and int8 weights, in one run, with a PNG plot. Not part of the test
suite (the plot needs python3-matplotlib).

    python3 tools/bench/streams-rtf.py --tool build/tools/vibevoice \\
        --model /work/models/1.5b --threads 2 --out docs/streams-rtf.png

Each configuration is one `vibevoice bench streams --json` (which itself
interleaves the stream counts and the batched / one-by-one modes). Prints a
Markdown table (ms per step, its ratio to one stream, aggregate RTF batched
and one by one) and writes the plot: aggregate RTF (wall time over the audio
of all streams; lower is better) against the number of streams; with
--reference, also the PyTorch reference's batched generate() measured by
`synth-vs-pytorch.py --streams` (and ours from that same run).
"""
import argparse
import json
import subprocess
import sys


def bench(a, extra):
    cmd = [a.tool, "bench", "streams", "--model", a.model, "--frames", str(a.frames),
           "--iters", str(a.iters), "--streams", a.streams, "--threads", str(a.threads),
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
    ap.add_argument("--streams", default="1,2,4")
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--out", help="PNG to write")
    ap.add_argument("--reference",
                    help="JSON of `synth-vs-pytorch.py --streams ... --streams-json FILE` (the "
                         "reference's batched generate() on the same machine) to plot beside")
    a = ap.parse_args()
    configs = [("checkpoint weights", []), ("int8 weights", ["--weights", "int8"])]
    res = {}
    for name, extra in configs:
        res[name] = bench(a, extra)
        print(f"{name}: done", file=sys.stderr, flush=True)

    print("| weights | streams | batched ms/step | × one stream | one-by-one ms/step | "
          "aggregate RTF batched | aggregate RTF one-by-one | batched LM / head / decoder / "
          "semantic ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, _ in configs:
        for s in res[name]["streams"]:
            b = s["batched_blocks_ms_per_step"]
            print(f"| {name} | {s['n']} | {s['batched_ms_per_step']:.1f} | "
                  f"{s['batched_vs_one']:.2f} | {s['sequential_ms_per_step']:.1f} | "
                  f"{s['batched_aggregate_rtf']:.3f} | {s['sequential_aggregate_rtf']:.3f} | "
                  f"{b['lm']:.0f} / {b['head']:.0f} / {b['decoder']:.0f} / {b['semantic']:.0f} |")
    if a.out:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for (name, _), colour in zip(configs, ["tab:blue", "tab:orange"]):
            st = res[name]["streams"]
            n = [s["n"] for s in st]
            ax.plot(n, [s["batched_aggregate_rtf"] for s in st], "o-", color=colour,
                    label=f"{name}, batched")
            ax.plot(n, [s["sequential_aggregate_rtf"] for s in st], "s--", color=colour,
                    alpha=0.6, label=f"{name}, one by one")
        if a.reference:
            with open(a.reference) as f:
                ref = json.load(f)
            rr = ref["reference"]
            ax.plot([r["n"] for r in rr], [r["reference_aggregate_rtf"] for r in rr], "^-",
                    color="tab:green", label="PyTorch reference, batched generate()")
            # the same JSON's own run of ours, for the same-run ratio
            ax.plot([r["n"] for r in rr],
                    [r["ours_batched_ms_per_step"] / (r["n"] * res[configs[0][0]]["frame_ms"])
                     for r in rr], "x:", color="tab:blue", alpha=0.8,
                    label="checkpoint weights, batched (the reference's run)")
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("streams on one engine")
        ax.set_ylabel("aggregate RTF (wall / audio of all streams)")
        r0 = res[configs[0][0]]
        ax.set_title(f"Batched streams, {r0['threads']} threads, {r0['steps']} steps "
                     f"(lower is better)", fontsize=10)
        ax.set_xticks(sorted({s["n"] for s in r0["streams"]}))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(a.out, dpi=110)
        print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
