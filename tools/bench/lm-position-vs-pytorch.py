#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""LM cost per frame deep into the context: `vibevoice bench synth
--position N` vs the original PyTorch implementation's Qwen2 LM at the same
positions, in one run. Not part of the test suite (needs the reference
virtualenv).

    /work/refenv/bin/python tools/bench/lm-position-vs-pytorch.py \
        --tool build/tools/vibevoice --model /work/models/vv-1.5b \
        --positions 0,4096,16384 --threads 2

For each N, ours runs first: `bench synth --position N --json` puts N
synthetic KV positions in front of the prompt of L tokens in both CFG
caches, so its frames run at context position N + L + i (positive branch)
and N + i (negative branch); its `lm_ms_per_frame` is all the LM work of a
frame, both branches.

The reference: `VibeVoiceForConditionalGenerationInference.from_pretrained`
on the same folder (bfloat16, `torch.set_num_threads`), and its Qwen2 LM
`model.model.language_model` run on one input embedding with a
`DynamicCache` filled with random bfloat16 keys/values (`torch.randn` · 0.5,
shape [1, kv_heads, n, head_dim] per layer). The reference's `generate`
runs the two CFG branches as two batch-1 passes a frame, so its LM per frame
is one pass at ours' positive position N + L plus one at the negative
position N (median of --reps each, the cache cropped back after every
pass). The reference's lm_head over the whole vocabulary, which `generate`
also runs per pass, is not included (ours computes 4 control logits).

KV bytes per token per branch are layers × 2 × kv_heads × head_dim × the
element size; ours reports its own from the cache, the reference's is
computed for its bfloat16 cache.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def run_ours(a, n, kv_dtype):
    cmd = [a.tool, "bench", "synth", "--model", a.model, "--frames", str(a.frames),
           "--steps", str(a.steps), "--threads", str(a.threads), "--iters", str(a.iters),
           "--position", str(n), "--kv-dtype", kv_dtype, "--bandwidth-mib", "0", "--json"]
    print("$ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to the built `vibevoice` tool")
    ap.add_argument("--model", required=True, help="model folder (config.json + safetensors)")
    ap.add_argument("--positions", default="0,4096",
                    help="comma-separated synthetic context positions N")
    ap.add_argument("--frames", type=int, default=8, help="frames per run of ours")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3, help="timed runs of ours (median)")
    ap.add_argument("--reps", type=int, default=9, help="timed reference passes (median)")
    ap.add_argument("--kv-dtypes", default="bf16",
                    help="comma-separated KV cache dtypes of ours to run (bf16, f32)")
    a = ap.parse_args()
    try:
        positions = [int(x) for x in a.positions.split(",")]
    except ValueError:
        ap.error(f"--positions: not a comma-separated list of integers: {a.positions}")
    if any(n < 0 for n in positions) or a.reps < 1:
        ap.error("--positions must be >= 0 and --reps >= 1")

    dts = a.kv_dtypes.split(",")
    if any(d not in ("bf16", "f32") for d in dts):
        ap.error(f"--kv-dtypes: bf16 and/or f32, not {a.kv_dtypes}")
    ours = {(n, d): run_ours(a, n, d) for n in positions for d in dts}

    import torch
    import transformers
    from transformers import DynamicCache
    import vibevoice.modular.modeling_vibevoice_inference as mvi

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = mvi.VibeVoiceForConditionalGenerationInference.from_pretrained(
        a.model, torch_dtype=torch.bfloat16)
    load_s = time.perf_counter() - t0
    model.eval()
    lm = model.model.language_model
    cfg = lm.config
    layers, kv_heads = cfg.num_hidden_layers, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    ref_kv_tok = layers * 2 * kv_heads * head_dim * 2
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 1, cfg.hidden_size, generator=gen).to(torch.bfloat16)

    def one_pass_ms(n):
        """(median, min) ms of one single-token pass at position n over n cached."""
        cache = DynamicCache()
        for layer in range(layers):
            k = (0.5 * torch.randn(1, kv_heads, n, head_dim, generator=gen)).to(torch.bfloat16)
            v = (0.5 * torch.randn(1, kv_heads, n, head_dim, generator=gen)).to(torch.bfloat16)
            cache.update(k, v, layer)
        pos = torch.tensor([[n]])
        times = []
        with torch.inference_mode():
            for i in range(a.reps + 1):         # the first is a warm-up
                t = time.perf_counter()
                lm(inputs_embeds=x, past_key_values=cache, position_ids=pos,
                   cache_position=pos[0], use_cache=True)
                dt = time.perf_counter() - t
                cache.crop(n)
                if i > 0:
                    times.append(1e3 * dt)
        del cache
        return statistics.median(times), min(times)

    ref = {}
    for n in positions:
        o = ours[(n, dts[0])]
        pos_ms = one_pass_ms(o["first_frame_position"])
        neg_ms = one_pass_ms(n)
        ref[n] = (pos_ms[0] + neg_ms[0], pos_ms[1] + neg_ms[1])
        print(f"N={n}: reference passes at {o['first_frame_position']} / {n}: median "
              f"{pos_ms[0]:.2f} / {neg_ms[0]:.2f} ms, fastest {pos_ms[1]:.2f} / {neg_ms[1]:.2f} ms",
              flush=True)
    ref_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print()
    print(f"model {a.model}; {a.threads} thread(s); ours: {a.frames} frames per run, median of "
          f"{a.iters} runs; reference: median of {a.reps} passes")
    print(f"reference: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"bfloat16, attention {cfg._attn_implementation}, loaded in {load_s:.1f} s")
    print()
    print("| N | ours KV dtype | frames' positions (pos. / neg.) | ours LM ms/frame | reference LM ms/frame "
          "(median; fastest) | reference / ours | ours ms/frame (all blocks) "
          "| ours KV B/token/branch | reference KV B/token/branch | ours peak RSS MB |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, d in ours:
        o = ours[(n, d)]
        r, rmin = ref[n]
        ol = o["lm_ms_per_frame"]
        ratio = r / ol if ol > 0 else float("nan")
        print(f"| {n} | {d} | {o['first_frame_position']} / {n} | {ol:.3f} | {r:.3f}; {rmin:.3f} "
              f"| {ratio:.2f}× "
              f"| {o['ms_per_frame']['total']:.2f} "
              f"| {o['kv_cache']['bytes_per_token_per_branch']} | {ref_kv_tok} "
              f"| {o['peak_rss_mb']:.0f} |")
    print()
    print(f"reference peak RSS (model + the largest caches): {ref_rss_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
