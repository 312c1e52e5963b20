#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference vectors for the Qwen2 decoder LM at a long context (~8K positions).

The short LM vectors (gen_lm_vectors.py) stop at position 52; these check
attention over thousands of cached rows and RoPE at large positions, where
fp32 rounding of the angle (position x inv_freq) and of long softmax sums
matter. Makes the tiny checkpoint with our own tool, runs the ORIGINAL Python
implementation (package `vibevoice`; its `model.language_model` is the HF
Qwen2Model) on it in fp32 on CPU, eager attention, one thread, and writes
float32 .npy files plus manifest.json. The prompt is not stored: its ids come
from a formula (PROMPT_IDS_FORMULA, also in the manifest), embedded with the
model's embed_tokens on both sides, so the committed files stay small.

Two prompt lengths, L = 8200 and L = 1032 (the first 1032 ids of the same
formula; the C test runs it on the emulated CUDA backend, too slow for 8K).
Per length, files prefixed `L<L>-`:

* L<L>-prompt-embeds-last4.npy   [4, H] embed_tokens of the last 4 prompt ids
* L<L>-prompt-hidden-last4.npy   [4, H] last_hidden_state (after the final
                                 norm) of the last 4 prompt rows (positions
                                 L-4 .. L-1)
* L<L>-prompt-control-logits.npy [4, 4] lm_head rows 151652, 151653, 151654,
                                 151643 on those rows
* L<L>-step-hidden.npy           [S, H] S single-token steps through the
                                 prefill's HF cache (positions L, L+1, ...)
* L<L>-step-control-logits.npy   [S, 4] the control logits of each step

and once:

* step-ids.npy              [S] ids of the steps (float32, exact)
* step-embeds.npy           [S, H] embed_tokens(step ids)
* short-step-hidden.npy     [S, H] the same steps from an EMPTY cache
                            (positions 0, 1, ...): the second row of the
                            engine's joint two-cache step (the CFG branches)

    python gen_lm_long_vectors.py --tool BUILD/tools/vibevoice \
        --out tests/conformance/vectors/lm-long

Needs the reference virtualenv (see tests/conformance/README.md). Runs in
about two minutes: per length it also runs the model in float64, with
SDPA attention and with a few deliberate long-context mistakes, and records
how far those are from the fp32 eager reference (scale for the tolerance).
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import Vectors, tiny_checkpoint  # noqa: E402

PRESET, SEED = "tiny", 11
TOLERANCE = "max|ours - ref| <= 1e-4 * (1 + max|ref|), fp32"
CONTROL_IDS = [151652, 151653, 151654, 151643]   # speech_start, speech_end, diffusion, eos
# 8200 = 32 chunks of the engine's default 256 rows + 8: the last rows fall
# in a partial chunk, and positions pass 2^13. 1032 = 4 chunks + 8, past 2^10.
PROMPT_LENS = [8200, 1032]
PROMPT_IDS_FORMULA = "ids[i] = (i * 7919 + 13) % 151643 for i in 0 .. L-1"
# control tokens the engine feeds as single steps (MODEL-SPEC §2.2)
STEP_IDS = [151652, 151654, 151653]
N_LAST = 4


def prompt_ids(n):
    i = np.arange(n, dtype=np.int64)
    return (i * 7919 + 13) % 151643


def run(lm, emb, steps):
    """(hidden rows of the last N_LAST prompt positions, of each cached step)."""
    from transformers import DynamicCache
    out = lm(inputs_embeds=emb[None], past_key_values=DynamicCache(), use_cache=True)
    cache = out.past_key_values
    last = out.last_hidden_state[0, -N_LAST:].clone()
    hs = []
    for s in range(steps.shape[0]):
        out = lm(inputs_embeds=steps[s:s + 1][None], past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        hs.append(out.last_hidden_state[0, -1])
    return last, torch.stack(hs)


def rope_fp64(self, x, position_ids):
    """Qwen2RotaryEmbedding.forward with the angle formed in float64 (a
    deliberate deviation: the reference forms it in float32)."""
    f = position_ids[..., None].double() * self.inv_freq.double()
    f = torch.cat((f, f), dim=-1)
    return ((f.cos() * self.attention_scaling).to(x.dtype),
            (f.sin() * self.attention_scaling).to(x.dtype))


def sensitivity(lm, emb, last):
    """What some long-context mistakes change on the last prompt rows, so the
    tolerance is known to catch them (or not): two early tokens swapped (order
    seen across the whole context), the first 8 keys lost (a window or
    cache-growth bug), the RoPE angle formed in float64."""
    L = emb.shape[0]
    pos = torch.arange(L)[None]
    sens = {}
    e2 = emb.clone()
    e2[[10, 11]] = e2[[11, 10]]
    sens["swap_rows_10_11"] = lm(inputs_embeds=e2[None]).last_hidden_state[0, -N_LAST:]
    sens["drop_first_8_rows"] = lm(inputs_embeds=emb[None, 8:], position_ids=pos[:, 8:]) \
        .last_hidden_state[0, -N_LAST:]
    cls = type(lm.rotary_emb)
    rope_fwd = cls.forward
    cls.forward = rope_fp64
    try:
        sens["rope_angle_fp64"] = lm(inputs_embeds=emb[None]).last_hidden_state[0, -N_LAST:]
    finally:
        cls.forward = rope_fwd
    sens = {k: float((v - last).abs().max()) for k, v in sens.items()}
    sens["bound"] = 1e-4 * (1 + float(last.abs().max()))
    return sens


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to the built `vibevoice` tool")
    ap.add_argument("--out", required=True, help="output folder for .npy + manifest.json")
    args = ap.parse_args()

    from vibevoice.modular.modeling_vibevoice_inference import \
        VibeVoiceForConditionalGenerationInference
    from transformers import DynamicCache

    torch.set_num_threads(1)
    torch.manual_seed(0)
    vectors = Vectors(args.out, width=34)
    save, entries = vectors.save, vectors.entries
    t0 = time.monotonic()

    def load(attn, dtype=torch.float32):
        m = VibeVoiceForConditionalGenerationInference.from_pretrained(
            model_dir, torch_dtype=dtype, attn_implementation=attn)
        m.eval()
        return m

    with tiny_checkpoint(args.tool, PRESET, SEED) as (model_dir, model_sha256, tool_cmd):
        model, sdpa, model64 = load("eager"), load("sdpa"), load("eager").double()
    lm = model.model.language_model
    head = model.lm_head.weight
    assert lm.config._attn_implementation == "eager"
    assert lm.config.vocab_size > max(CONTROL_IDS) and 151643 <= lm.config.vocab_size
    assert lm.config.max_position_embeddings >= max(PROMPT_LENS) + len(STEP_IDS)

    cases = {}
    with torch.no_grad():
        save("step-ids", np.array(STEP_IDS), "MODEL-SPEC §2.2 control tokens",
             "token ids as float32 (exact below 2^24)")
        steps = lm.embed_tokens(torch.tensor(STEP_IDS, dtype=torch.long))
        save("step-embeds", steps.numpy(), "step-ids.npy", "language_model.embed_tokens(ids)")
        cache, short = DynamicCache(), []
        for s in range(len(STEP_IDS)):
            out = lm(inputs_embeds=steps[s:s + 1][None], past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            short.append(out.last_hidden_state[0, -1])
        save("short-step-hidden", torch.stack(short).numpy(), "step-embeds.npy, an empty cache",
             "one language_model call per row from an empty DynamicCache (positions 0, 1, ...)")

        for L in PROMPT_LENS:
            p = f"L{L}-"
            ids = prompt_ids(L)
            emb = lm.embed_tokens(torch.from_numpy(ids))
            save(p + "prompt-embeds-last4", emb[-N_LAST:].numpy(), PROMPT_IDS_FORMULA,
                 f"language_model.embed_tokens(ids)[-{N_LAST}:]")
            last, hs = run(lm, emb, steps)
            save(p + "prompt-hidden-last4", last.numpy(), "embed_tokens(ids) of the formula",
                 f"language_model(inputs_embeds=E[None], use_cache=True).last_hidden_state[0, "
                 f"-{N_LAST}:] (positions {L - N_LAST} .. {L - 1})")
            save(p + "prompt-control-logits", (last @ head[CONTROL_IDS].T).numpy(),
                 p + "prompt-hidden-last4.npy", f"h @ lm_head.weight[{CONTROL_IDS}].T")
            save(p + "step-hidden", hs.numpy(), "step-embeds.npy, the prefill's past_key_values",
                 f"one language_model call per row with past_key_values (positions {L}, "
                 f"{L + 1}, ...)")
            save(p + "step-control-logits", (hs @ head[CONTROL_IDS].T).numpy(),
                 p + "step-hidden.npy", f"h @ lm_head.weight[{CONTROL_IDS}].T")

            # For scale: the fp32 eager reference against one uncached pass,
            # against SDPA attention and against the model in float64.
            ref = torch.cat([last, hs])
            full = lm(inputs_embeds=torch.cat([emb, steps])[None]).last_hidden_state[0]
            scale = {"cached_vs_uncached": float((full[-ref.shape[0]:] - ref).abs().max())}
            s_last, s_hs = run(sdpa.model.language_model, emb, steps)
            scale["eager_vs_sdpa"] = float((torch.cat([s_last, s_hs]) - ref).abs().max())
            d_last, d_hs = run(model64.model.language_model, emb.double(), steps.double())
            scale["fp32_vs_fp64"] = float((torch.cat([d_last, d_hs]) - ref.double()).abs().max())
            sens = sensitivity(lm, emb, last)
            for k, v in scale.items():
                print(f"  L={L} reference {k}: max|diff| = {v:.3g}")
            for k, v in sens.items():
                print(f"  L={L} prompt-hidden-last4 {k}: max|diff| = {v:.3g}")
            cases[p[:-1]] = {
                "prompt_length": L,
                "prompt_ids_check": {"first": ids[:4].tolist(), "last": ids[-4:].tolist()},
                "reference_self_differences": scale,
                "sensitivity_prompt_hidden_last4": sens,
            }

    manifest = {
        "description": "Reference vectors for the Qwen2 decoder LM at long contexts "
                       f"({' and '.join(map(str, PROMPT_LENS))}-token prompts + "
                       f"{len(STEP_IDS)} cached steps; language_model of "
                       "VibeVoiceForConditionalGenerationInference, eager attention, fp32, "
                       "CPU, 1 thread). Rows are tokens; all float32.",
        "model": {"preset": PRESET, "seed": SEED,
                  "tool_command": "vibevoice " + " ".join(tool_cmd[:-1] + ["DIR"]),
                  "model_safetensors_sha256": model_sha256},
        "reference": {p: importlib.metadata.version(p) for p in ("vibevoice", "transformers", "torch")}
                     | {"numpy": np.__version__, "python": sys.version.split()[0],
                        "dtype": "float32", "device": "cpu", "torch_num_threads": 1,
                        "attn_implementation": "eager"},
        "generator": "tests/conformance/gen_lm_long_vectors.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tolerance": TOLERANCE,
        "method": "prompt ids from the formula -> language_model.embed_tokens -> one "
                  "language_model call over the whole prompt with a DynamicCache; then one call "
                  "per step id (embed_tokens) with that cache; short-step-hidden: the same steps "
                  "from an empty cache. Control logits: hidden @ lm_head.weight[control_ids].T "
                  "(lm_head tied to embed_tokens). Sensitivity: max|diff| of the last prompt "
                  "rows under deliberate deviations (swap_rows_10_11: ids 10 and 11 exchanged; "
                  "drop_first_8_rows: the prompt without its first 8 rows at the same "
                  "positions; rope_angle_fp64: RoPE angle formed in float64), next to the "
                  "tolerance bound.",
        "prompt_ids_formula": PROMPT_IDS_FORMULA,
        "step_ids": STEP_IDS,
        "control_ids": CONTROL_IDS,
        "cases": cases,
        "generator_seconds": round(time.monotonic() - t0, 1),
        "vectors": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {len(entries)} vectors + manifest.json to {args.out}")


if __name__ == "__main__":
    main()
