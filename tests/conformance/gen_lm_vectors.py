#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference vectors for the Qwen2 decoder LM (MODEL-SPEC §2.1-2.3, §6).

Makes the tiny checkpoint with our own tool, runs the ORIGINAL Python
implementation (package `vibevoice`; its `model.language_model` is the HF
Qwen2Model) on it in fp32 on CPU, and writes float32 .npy files plus
manifest.json:

* prompt-ids.npy            [L] token ids (int64 saved as float32: all < 2^24)
* prompt-embeds.npy         [L, H] embed_tokens(ids) with VOICE_ROWS replaced
                            by seeded N(0, 1) rows (as voice embeddings are)
* prefill-hidden.npy        [L, H] last_hidden_state (after the final norm)
* step-embeds.npy           [S, H] seeded inputs of S single-token steps
* step-hidden.npy           [S, H] hidden state of each step through the HF
                            cache (positions L, L+1, ...)
* prefill-control-logits.npy [1, 4] lm_head rows 151652, 151653, 151654,
                            151643 on the last prompt row
* step-control-logits.npy   [S, 4] the same on each step's hidden state

    python gen_lm_vectors.py --tool BUILD/tools/vibevoice \
        --out tests/conformance/vectors/lm

Needs the reference virtualenv (see tests/conformance/README.md).
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import Vectors, tiny_checkpoint  # noqa: E402

PRESET, SEED = "tiny", 11
TOLERANCE = "max|ours - ref| <= 1e-4 * (1 + max|ref|), fp32"
CONTROL_IDS = [151652, 151653, 151654, 151643]   # speech_start, speech_end, diffusion, eos
# system prompt (MODEL-SPEC §1.3) + " Voice input:\n Speaker 0:"-like ids,
# <speech_start> <diffusion>x5 <speech_end> "\n" ... <speech_start>
SYSTEM = [15226, 279, 1467, 3897, 553, 5257, 21326, 1119, 8806, 2550, 11, 34888, 279,
          12460, 7743, 315, 1817, 19511, 18601, 624]
PROMPT = SYSTEM + [20166, 1946, 510, 29073, 220, 15, 25,
                   151652, 151654, 151654, 151654, 151654, 151654, 151653, 198,
                   2918, 1946, 510, 29073, 220, 15, 25, 21927, 13, 198,
                   38061, 2550, 510, 151652]
VOICE_ROWS = list(range(28, 33))     # the five <diffusion> slots
VOICE_SEED, STEP_SEED, N_STEPS = 77, 78, 3


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
    vectors = Vectors(args.out, width=30)
    save, entries = vectors.save, vectors.entries

    with tiny_checkpoint(args.tool, PRESET, SEED) as (model_dir, model_sha256, tool_cmd):
        model = VibeVoiceForConditionalGenerationInference.from_pretrained(
            model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    lm = model.model.language_model
    head = model.lm_head.weight
    H = lm.config.hidden_size
    assert len(PROMPT) == 49 and all(PROMPT[r] == 151654 for r in VOICE_ROWS)

    with torch.no_grad():
        ids = torch.tensor(PROMPT, dtype=torch.long)
        save("prompt-ids", ids.numpy(), "MODEL-SPEC §1.3 system prompt ids + a voice/text "
             "layout with control tokens", "token ids as float32 (exact below 2^24)")
        emb = lm.embed_tokens(ids).clone()
        emb[VOICE_ROWS] = torch.from_numpy(np.random.default_rng(VOICE_SEED)
                                           .standard_normal((len(VOICE_ROWS), H)).astype(np.float32))
        emb = save("prompt-embeds", emb.numpy(), "prompt-ids.npy",
                   f"language_model.embed_tokens(ids) with rows {VOICE_ROWS} replaced by "
                   f"numpy.random.default_rng({VOICE_SEED}).standard_normal((5, H))")
        cache = DynamicCache()
        out = lm(inputs_embeds=torch.from_numpy(emb)[None], past_key_values=cache,
                 use_cache=True)
        cache = out.past_key_values
        hid = save("prefill-hidden", out.last_hidden_state[0].numpy(), "prompt-embeds.npy",
                   "language_model(inputs_embeds=E[None], use_cache=True).last_hidden_state[0]")
        save("prefill-control-logits", (torch.from_numpy(hid[-1:]) @ head[CONTROL_IDS].T).numpy(),
             "prefill-hidden.npy", f"h[-1:] @ lm_head.weight[{CONTROL_IDS}].T")
        steps = save("step-embeds", np.random.default_rng(STEP_SEED).standard_normal((N_STEPS, H)),
                     f"numpy.random.default_rng({STEP_SEED}).standard_normal(({N_STEPS}, H))",
                     "inputs of the cached single-token steps")
        hs = []
        for s in range(N_STEPS):
            out = lm(inputs_embeds=torch.from_numpy(steps[s:s + 1])[None], past_key_values=cache,
                     use_cache=True)
            cache = out.past_key_values
            hs.append(out.last_hidden_state[0, -1].numpy())
        hs = save("step-hidden", np.stack(hs), "step-embeds.npy, the prefill's past_key_values",
                  "one language_model call per row with past_key_values (positions L, L+1, ...)")
        save("step-control-logits", (torch.from_numpy(hs) @ head[CONTROL_IDS].T).numpy(),
             "step-hidden.npy", f"h @ lm_head.weight[{CONTROL_IDS}].T")
        # sanity: the cached steps equal one uncached pass over prompt + steps
        full = lm(inputs_embeds=torch.cat([torch.from_numpy(emb), torch.from_numpy(steps)])[None])
        d = float((full.last_hidden_state[0, -N_STEPS:] - torch.from_numpy(hs)).abs().max())
        print(f"  cached steps vs one uncached pass: max|diff| = {d:.3g}")

    manifest = {
        "description": "Reference vectors for the Qwen2 decoder LM (language_model of "
                       "VibeVoiceForConditionalGenerationInference, eager attention, fp32, CPU, "
                       "1 thread). Rows are tokens; all float32.",
        "model": {"preset": PRESET, "seed": SEED,
                  "tool_command": "vibevoice " + " ".join(tool_cmd[:-1] + ["DIR"]),
                  "model_safetensors_sha256": model_sha256},
        "reference": {p: importlib.metadata.version(p) for p in ("vibevoice", "transformers", "torch")}
                     | {"numpy": np.__version__, "python": sys.version.split()[0],
                        "dtype": "float32", "device": "cpu", "torch_num_threads": 1,
                        "attn_implementation": "eager"},
        "generator": "tests/conformance/gen_lm_vectors.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tolerance": TOLERANCE,
        "control_ids": CONTROL_IDS,
        "voice_rows": VOICE_ROWS,
        "cached_vs_uncached_max_diff": d,
        "vectors": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {len(entries)} vectors + manifest.json to {args.out}")


if __name__ == "__main__":
    main()
