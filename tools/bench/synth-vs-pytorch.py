#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Side-by-side generation cost: `vibevoice bench synth` vs the original
PyTorch implementation on the same model folder, prompt and settings, in one
run. Not part of the test suite (needs the reference virtualenv).

    /work/refenv/bin/python tools/bench/synth-vs-pytorch.py \
        --tool build/tools/vibevoice --model /work/models/vv-1.5b --threads 2

Ours runs first (its JSON gives the exact script and prompt length), then the
reference: `VibeVoiceForConditionalGenerationInference.from_pretrained` on
the same folder, `set_ddpm_inference_steps(steps)`, `torch.set_num_threads`,
and its own `generate(..., cfg_scale, max_new_tokens=frames)` with one change:
the token-constraint logits processor (called once per step) leaves only
⟨diffusion⟩, so every step makes a frame, as `bench synth` forces with
`force_diffusion`. Per-block times come from wrapping, on the model instance:

* `forward`: the first call is the prefill (minus `_process_speech_inputs`,
  the voice encoding, which `bench synth` does not time either), later
  calls with `logits_to_keep=1` are the positive pass, `logits_to_keep=0`
  the negative pass; each includes the reference's lm_head on the whole
  vocabulary (that is what it computes);
* `sample_speech_tokens`: the diffusion head, all steps, both CFG rows;
* `acoustic_tokenizer.decode` / `semantic_tokenizer.encode` (streaming);
* everything else in `generate` (connectors, embeddings, logits processing,
  cache bookkeeping) is "connectors + other".

--dtype auto times a short run in float32 and in bfloat16 and keeps the
faster (weights loaded once in float32: the checkpoint is bfloat16, so the
conversions lose nothing; the peak RSS then includes the float32 copy).
--dtype float32 / bfloat16 loads straight in that dtype.
"""
import argparse
import gc
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FRAME_MS = 3200 / 24000 * 1000
BLOCKS = [("lm", "LM (positive pass)"), ("neg_lm", "LM (negative pass)"),
          ("head", "diffusion head (all steps)"), ("decoder", "σ-VAE decoder"),
          ("semantic", "semantic encoder"), ("other", "connectors + other"),
          ("total", "total per frame")]


def run_ours(a, extra=()):
    # leading NAME=value words of a variant are environment variables for
    # it (e.g. --also='VV_CPU_GEMM=sgemm' for the kernels before a change)
    extra = list(extra)
    env = dict(os.environ)
    prefix = []
    while extra and re.match(r"^[A-Z_][A-Z0-9_]*=", extra[0]):
        k, v = extra.pop(0).split("=", 1)
        env[k] = v
        prefix.append(f"{k}={v}")
    cmd = [a.tool, "bench", "synth", "--model", a.model, "--frames", str(a.frames),
           "--cfg", str(a.cfg), "--prompt-tokens", str(a.prompt_tokens),
           "--voice-seconds", str(a.voice_seconds), "--iters", str(a.iters), "--json"]
    # the variant's own options (e.g. --power low) pick steps and threads
    # unless it names them; the baseline gets --steps/--threads
    if "--power" not in extra:
        cmd += ["--steps", str(a.steps), "--threads", str(a.threads)]
    cmd += list(extra)
    print("$ " + " ".join(prefix + cmd), flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out), prefix + cmd


class RefTimer:
    """Wraps the reference model's blocks; collects per-call wall time."""

    def __init__(self, model):
        self.model = model
        self.reset()
        m = model.model
        self._wrap(model, "forward", self._forward)
        self._wrap(model, "_process_speech_inputs", self._timed("voice"))
        self._wrap(model, "sample_speech_tokens", self._timed("head"))
        self._wrap(m.acoustic_tokenizer, "decode", self._timed("decoder"))
        self._wrap(m.semantic_tokenizer, "encode", self._timed("semantic"))

    def reset(self):
        self.t = {k: 0.0 for k in ("prefill", "lm", "neg_lm", "head", "decoder", "semantic",
                                   "voice")}
        self.n = {"lm": 0, "neg_lm": 0, "prefill": 0}
        self.in_prefill = False

    @staticmethod
    def _wrap(obj, name, make):
        orig = getattr(obj, name)
        setattr(obj, name, make(orig))

    def _timed(self, key):
        def make(orig):
            def f(*args, **kw):
                t0 = time.perf_counter()
                try:
                    return orig(*args, **kw)
                finally:
                    dt = time.perf_counter() - t0
                    # the semantic/acoustic encoders also run inside the
                    # prefill's voice encoding: count them there only
                    if not (self.in_prefill and key != "voice"):
                        self.t[key] += dt
            return f
        return make

    def _forward(self, orig):
        def f(*args, **kw):
            keep = kw.get("logits_to_keep", 0)
            if self.n["prefill"] == 0:
                key = "prefill"
                self.in_prefill = True
            else:
                key = "lm" if keep == 1 else "neg_lm"
            t0 = time.perf_counter()
            try:
                return orig(*args, **kw)
            finally:
                self.t[key] += time.perf_counter() - t0
                self.n[key] += 1
                self.in_prefill = False
        return f


def ref_generate(model, processor, inputs, a, frames, timer):
    """One timed generate(); every row of the batch must have made `frames`
    frames, one per generated token. Returns the wall time in seconds."""
    timer.reset()
    t0 = time.perf_counter()
    out = model.generate(**inputs, max_new_tokens=frames, cfg_scale=a.cfg,
                         tokenizer=processor.tokenizer, generation_config={"do_sample": False},
                         show_progress_bar=False)
    total = time.perf_counter() - t0
    prompt_len = int(inputs["input_ids"].shape[1])
    made = out.sequences.shape[1] - prompt_len
    for row in range(out.sequences.shape[0]):
        n_frames = int((out.sequences[row, prompt_len:]
                        == processor.tokenizer.speech_diffusion_id).sum())
        assert n_frames == frames == made, (row, n_frames, frames, made)
    return total


def ref_run(torch, model, processor, inputs, a, frames, timer):
    total = ref_generate(model, processor, inputs, a, frames, timer)
    t = timer.t
    prefill = t["prefill"] - t["voice"]
    other = total - t["prefill"] - t["lm"] - t["neg_lm"] - t["head"] - t["decoder"] - t["semantic"]
    ms = {
        "lm": 1e3 * t["lm"] / max(timer.n["lm"], 1),
        "neg_lm": 1e3 * t["neg_lm"] / frames,
        "head": 1e3 * t["head"] / frames,
        "decoder": 1e3 * t["decoder"] / frames,
        "semantic": 1e3 * t["semantic"] / frames,
        "other": 1e3 * other / frames,
    }
    ms["total"] = sum(ms.values())
    return {"total_s": total, "prefill_ms": 1e3 * prefill, "voice_ms": 1e3 * t["voice"],
            "ms_per_frame": ms, "n_lm": timer.n["lm"], "n_neg": timer.n["neg_lm"]}


def ref_batch_run(torch, model, processor, inputs, a, frames, timer):
    """The reference's generate() on a batch: ms per step of the frame loop
    (everything after the prefill, which includes the voice encoding)."""
    total = ref_generate(model, processor, inputs, a, frames, timer)
    return 1e3 * (total - timer.t["prefill"]) / frames


def streams_table(a, ours, torch, model, processor, voice, cast_inputs, timer):
    counts = [int(x) for x in a.streams.split(",")]
    cmd = [a.tool, "bench", "streams", "--model", a.model, "--frames", str(a.frames),
           "--steps", str(a.steps), "--cfg", str(a.cfg), "--threads", str(a.threads),
           "--prompt-tokens", str(a.prompt_tokens), "--voice-seconds", str(a.voice_seconds),
           "--iters", str(a.iters), "--streams", a.streams, "--json"]
    print("$ " + " ".join(cmd), flush=True)
    mine = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    ref = {}
    for n in counts:
        binputs = cast_inputs(processor(text=[ours["script"]] * n, voice_samples=[[voice]] * n,
                                        padding=True, return_tensors="pt",
                                        return_attention_mask=True))
        ref_batch_run(torch, model, processor, binputs, a, 2, timer)      # warm-up
        runs = sorted(ref_batch_run(torch, model, processor, binputs, a, a.frames, timer)
                      for _ in range(a.iters))
        ref[n] = runs[len(runs) // 2]
        print(f"reference, batch of {n}: {ref[n]:.0f} ms per step", flush=True)
    print()
    print(f"batched streams: {a.threads} thread(s), {a.steps} steps, {a.frames} frames per "
          f"stream, frame loop only (prefills excluded), median of {a.iters}")
    print("| streams | ours batched ms/step | × one | ours aggregate RTF | ours one-by-one "
          "ms/step | reference batch ms/step | × one | reference aggregate RTF | "
          "reference / ours |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    r1 = ref.get(1)
    rows = []
    for st in mine["streams"]:
        n = st["n"]
        r = ref[n]
        rows.append({"n": n, "ours_batched_ms_per_step": st["batched_ms_per_step"],
                     "ours_sequential_ms_per_step": st["sequential_ms_per_step"],
                     "reference_ms_per_step": r,
                     "reference_aggregate_rtf": r / (n * FRAME_MS)})
        print(f"| {n} | {st['batched_ms_per_step']:.0f} | {st['batched_vs_one']:.2f} | "
              f"{st['batched_aggregate_rtf']:.3f} | {st['sequential_ms_per_step']:.0f} | "
              f"{r:.0f} | {r / r1 if r1 else float('nan'):.2f} | {r / (n * FRAME_MS):.3f} | "
              f"{r / st['batched_ms_per_step']:.2f}× |")
    if a.streams_json:
        with open(a.streams_json, "w") as f:
            json.dump({"ours": mine, "reference": rows, "threads": a.threads,
                       "steps": a.steps, "frames": a.frames}, f, indent=1)
        print(f"wrote {a.streams_json}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to the built `vibevoice` tool")
    ap.add_argument("--model", required=True, help="model folder (config.json + safetensors)")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--cfg", type=float, default=1.3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--voice-seconds", type=float, default=4.0)
    ap.add_argument("--iters", type=int, default=3, help="timed runs per side (median shown)")
    ap.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto")
    ap.add_argument("--also", action="append", default=[],
                    help="also time ours with these extra bench-synth options, e.g. "
                         "--also='--weights int8' --also='--power low' (each against the "
                         "same reference run); leading NAME=value words set environment "
                         "variables for that run, e.g. --also='VV_CPU_GEMM=sgemm'")
    ap.add_argument("--streams",
                    help="also time batched streams, e.g. 1,2,4: ours with `bench streams` "
                         "(the frame loop of N sessions stepped as one batch), the reference's "
                         "own generate() on a batch of N copies of the prompt")
    ap.add_argument("--streams-json",
                    help="write the streams figures here (tools/bench/streams-rtf.py "
                         "--reference plots them)")
    ap.add_argument("--probe-frames", type=int, default=3,
                    help="frames of the dtype probe runs (--dtype auto)")
    a = ap.parse_args()

    ours, ours_cmd = run_ours(a)
    print(f"ours: prompt {ours['prompt_tokens']} tokens, {ours['ms_per_frame']['total']:.1f} "
          f"ms/frame, run totals {ours['run_totals_ms']} ms", flush=True)
    variants = []
    for extra in a.also:
        v, vcmd = run_ours(a, shlex.split(extra))
        print(f"ours {extra}: {v['ms_per_frame']['total']:.1f} ms/frame", flush=True)
        variants.append((extra, v, vcmd))

    import numpy as np
    import torch
    import transformers
    import vibevoice.modular.modeling_vibevoice_inference as mvi
    from vibevoice.processor.vibevoice_processor import VibeVoiceProcessor

    torch.set_num_threads(a.threads)
    # Same model folder, seen through a folder of links whose preprocessor
    # config names the shipped Qwen2.5 tokenizer instead of the Hub.
    tmp = tempfile.mkdtemp(prefix="vv-bench-")
    try:
        for name in os.listdir(a.model):
            if name != "preprocessor_config.json":
                os.symlink(os.path.abspath(os.path.join(a.model, name)), os.path.join(tmp, name))
        with open(os.path.join(a.model, "preprocessor_config.json")) as f:
            pp = json.load(f)
        pp["language_model_pretrained_name"] = os.path.abspath(
            os.path.join(ROOT, "data", "qwen2-tokenizer"))
        with open(os.path.join(tmp, "preprocessor_config.json"), "w") as f:
            json.dump(pp, f)
        processor = VibeVoiceProcessor.from_pretrained(tmp)
        t0 = time.perf_counter()
        model = mvi.VibeVoiceForConditionalGenerationInference.from_pretrained(
            tmp, torch_dtype=torch.float32 if a.dtype == "auto" else getattr(torch, a.dtype))
        load_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp)
    model.eval()
    model.set_ddpm_inference_steps(num_steps=a.steps)

    # Every step takes ⟨diffusion⟩ (the constraint processor runs once per
    # step on the positive logits).
    diff_id = processor.tokenizer.speech_diffusion_id

    def force_diffusion(self, input_ids, scores):
        out = torch.full_like(scores, float("-inf"))
        out[:, diff_id] = 0.0
        return out
    mvi.VibeVoiceTokenConstraintProcessor.__call__ = force_diffusion

    voice = (0.1 * np.random.default_rng(5).standard_normal(ours["voice_samples"])).astype(
        np.float32)
    inputs = processor(text=[ours["script"]], voice_samples=[[voice]], padding=True,
                       return_tensors="pt", return_attention_mask=True)
    prompt_len = int(inputs["input_ids"].shape[1])
    print(f"reference: prompt {prompt_len} tokens (ours {ours['prompt_tokens']}), "
          f"loaded in {load_s:.1f} s", flush=True)
    timer = RefTimer(model)

    def cast(dtype):
        model.to(dtype)
        gc.collect()
        for k, v in inputs.items():
            if torch.is_tensor(v) and v.is_floating_point():
                inputs[k] = v.to(dtype)

    probes = {}
    if a.dtype == "auto":
        for dt in (torch.float32, torch.bfloat16):
            cast(dt)
            ref_run(torch, model, processor, inputs, a, 2, timer)          # warm-up
            r = ref_run(torch, model, processor, inputs, a, a.probe_frames, timer)
            probes[str(dt).replace("torch.", "")] = r["ms_per_frame"]["total"]
            print(f"probe {dt}: {r['ms_per_frame']['total']:.0f} ms/frame", flush=True)
        dtype = min(probes, key=probes.get)
    else:
        dtype = a.dtype
    cast(getattr(torch, dtype))
    ref_run(torch, model, processor, inputs, a, 2, timer)                  # warm-up
    runs = [ref_run(torch, model, processor, inputs, a, a.frames, timer) for _ in range(a.iters)]
    runs.sort(key=lambda r: r["total_s"])
    ref = runs[len(runs) // 2]
    ref_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    om, rm = ours["ms_per_frame"], ref["ms_per_frame"]
    print()
    print(f"model {a.model}; {a.threads} thread(s), {a.steps} steps, cfg {a.cfg}, "
          f"{a.frames} frames per run, median of {a.iters} runs per side")
    print(f"prompt: ours {ours['prompt_tokens']} tokens, reference {prompt_len} tokens "
          f"({ours['voice_frames']} voice frames)")
    print(f"reference: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"dtype {dtype}" + (f" (probe ms/frame: {probes})" if probes else "")
          + f", attention {model.config._attn_implementation}")
    print(f"ours: `{' '.join(ours_cmd)}`")
    print()
    print("| per frame (ms) | vibevoice | PyTorch reference | reference / vibevoice |")
    print("| --- | ---: | ---: | ---: |")
    for key, label in BLOCKS:
        ratio = rm[key] / om[key] if om[key] > 0 else float("nan")
        fmt = ".1f" if om[key] >= 10 else ".2f"
        print(f"| {label} | {om[key]:{fmt}} | {rm[key]:{fmt}} | {ratio:.2f}× |")
    print(f"| real-time factor (÷ {FRAME_MS:.1f} ms) | {om['total'] / FRAME_MS:.2f} | "
          f"{rm['total'] / FRAME_MS:.2f} | |")
    print(f"| prefill ({prompt_len} tokens), ms | {ours['prefill_ms']:.0f} | "
          f"{ref['prefill_ms']:.0f} | {ref['prefill_ms'] / ours['prefill_ms']:.2f}× |")
    print(f"| peak RSS, MB | {ours['peak_rss_mb']:.0f} | {ref_rss_mb:.0f} | |")
    print()
    print(f"run totals, s: ours {[round(x / 1e3, 2) for x in ours['run_totals_ms']]}, "
          f"reference {[round(r['total_s'], 2) for r in runs]}")
    print(f"reference voice encoding in its prefill (excluded above): {ref['voice_ms']:.0f} ms")
    b = ours["bytes_per_frame"]
    print(f"ours: weights read per frame {b['total'] / 1e9:.2f} GB, read bandwidth "
          f"{ours['bandwidth_gbs']:.1f} GB/s, bound {ours['bound_ms_per_frame']:.1f} ms/frame, "
          f"achieved {ours['achieved_gbs']:.2f} GB/s ({ours['ratio_to_bound']:.2f}× the bound)")
    if a.streams:
        def cast_inputs(d):
            for k, v in d.items():
                if torch.is_tensor(v) and v.is_floating_point():
                    d[k] = v.to(getattr(torch, dtype))
            return d
        streams_table(a, ours, torch, model, processor, voice, cast_inputs, timer)
    if variants:
        print()
        cols = [("vibevoice", ours)] + [(extra, v) for extra, v, _ in variants]
        print("| per frame (ms) | " + " | ".join(c for c, _ in cols) + " | PyTorch reference |")
        print("| --- |" + " ---: |" * (len(cols) + 1))
        for key, label in BLOCKS:
            print(f"| {label} | " + " | ".join(f"{o['ms_per_frame'][key]:.1f}" for _, o in cols)
                  + f" | {rm[key]:.1f} |")
        print("| real-time factor | " + " | ".join(f"{o['ms_per_frame']['total'] / FRAME_MS:.2f}"
                                                  for _, o in cols)
              + f" | {rm['total'] / FRAME_MS:.2f} |")
        print("| reference / ours, per frame | " + " | ".join(
            f"{rm['total'] / o['ms_per_frame']['total']:.2f}×" for _, o in cols) + " | |")
        print("| prefill ms | " + " | ".join(f"{o['prefill_ms']:.0f}" for _, o in cols)
              + f" | {ref['prefill_ms']:.0f} |")
        print("| steps, threads, weights | " + " | ".join(
            f"{o['steps']}, {o['threads']}, {o.get('weights', 'checkpoint')}" for _, o in cols)
              + f" | {a.steps}, {a.threads}, {dtype} |")
        print("| CPU-s per audio-s | " + " | ".join(f"{o['cpu_s_per_audio_s']:.2f}" for _, o in cols)
              + " | |")
        for extra, _, vcmd in variants:
            print(f"ours {extra}: `{' '.join(vcmd)}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
