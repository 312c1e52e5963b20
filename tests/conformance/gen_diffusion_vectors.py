#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference vectors for the diffusion head and the DPM-Solver++ sampler.

Makes the tiny checkpoint with our own tool, runs the ORIGINAL Python
implementation (package `vibevoice`) on it in fp32 on CPU, and writes float32
.npy files plus manifest.json:

* head outputs `model.model.prediction_head(x, t, condition)` for seeded x,
  condition and several t (MODEL-SPEC §3);
* CFG sampling trajectories through the reference's own
  `sample_speech_tokens` (cfg 1.3; 5, 10 and 20 steps), recording x after
  every scheduler step (§2.4, §4.3), plus the scheduler's timesteps and
  sigmas and the initial noise (torch.randn(2, 64) after a manual seed,
  §12.3).

    python gen_diffusion_vectors.py --tool BUILD/tools/vibevoice \
        --out tests/conformance/vectors/diffusion

Needs the reference virtualenv (see tests/conformance/README.md). It is never
a build or test dependency: the C test only reads the files written here.
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
HEAD_ROWS = 4
HEAD_X_SEED, HEAD_COND_SEED = 41, 42
HEAD_TIMESTEPS = [999, 949, 500, 37, 1, 0]
POS_SEED, NEG_SEED = 51, 52
NOISE_SEED = 1234          # torch.manual_seed before sample_speech_tokens
CFG = 1.3
STEPS = [5, 10, 20]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to the built `vibevoice` tool")
    ap.add_argument("--out", required=True, help="output folder for .npy + manifest.json")
    args = ap.parse_args()

    from vibevoice.modular.modeling_vibevoice_inference import \
        VibeVoiceForConditionalGenerationInference

    torch.set_num_threads(1)
    vectors = Vectors(args.out, width=30)
    save, entries = vectors.save, vectors.entries

    with tiny_checkpoint(args.tool, PRESET, SEED) as (model_dir, model_sha256, tool_cmd):
        model = VibeVoiceForConditionalGenerationInference.from_pretrained(
            model_dir, torch_dtype=torch.float32)
    model.eval()
    head = model.model.prediction_head
    sched = model.model.noise_scheduler
    hidden = model.config.decoder_config.hidden_size
    latent = model.config.acoustic_vae_dim

    with torch.no_grad():
        print("diffusion head (fp32 t, no bf16 rounding)")
        x = save("head-x", np.random.default_rng(HEAD_X_SEED).standard_normal((HEAD_ROWS, latent)),
                 f"numpy.random.default_rng({HEAD_X_SEED}).standard_normal(({HEAD_ROWS}, {latent}))",
                 "noisy latents [rows, 64]")
        cond = save("head-cond",
                    np.random.default_rng(HEAD_COND_SEED).standard_normal((HEAD_ROWS, hidden)),
                    f"numpy.random.default_rng({HEAD_COND_SEED}).standard_normal(({HEAD_ROWS}, {hidden}))",
                    "conditions (LM hidden states) [rows, H]")
        for t in HEAD_TIMESTEPS:
            tt = torch.full((HEAD_ROWS,), float(t), dtype=torch.float32)
            v = head(torch.from_numpy(x), tt, condition=torch.from_numpy(cond)).numpy()
            save(f"head-v-t{t}", v, "head-x.npy, head-cond.npy",
                 f"model.model.prediction_head(x, torch.full(({HEAD_ROWS},), {t}.0), condition=cond)")

        print(f"CFG sampling through sample_speech_tokens (cfg {CFG})")
        h_pos = save("sample-h-pos", np.random.default_rng(POS_SEED).standard_normal((1, hidden)),
                     f"numpy.random.default_rng({POS_SEED}).standard_normal((1, {hidden}))",
                     "positive condition h+ [1, H]")
        h_neg = save("sample-h-neg", np.random.default_rng(NEG_SEED).standard_normal((1, hidden)),
                     f"numpy.random.default_rng({NEG_SEED}).standard_normal((1, {hidden}))",
                     "negative condition h- [1, H]")
        torch.manual_seed(NOISE_SEED)
        noise2 = torch.randn(2, latent)
        save("sample-noise", noise2.numpy(), f"torch.manual_seed({NOISE_SEED})",
             f"torch.randn(2, {latent}) (row 0 is the initial x; the draw sample_speech_tokens makes)")
        orig_step = sched.step
        for n in STEPS:
            traj = []

            def step(*a, **k):
                out = orig_step(*a, **k)
                traj.append(out.prev_sample[0].clone())
                return out
            sched.step = step
            model.set_ddpm_inference_steps(n)
            torch.manual_seed(NOISE_SEED)
            z = model.sample_speech_tokens(torch.from_numpy(h_pos), torch.from_numpy(h_neg),
                                           cfg_scale=CFG)
            sched.step = orig_step
            traj = torch.stack(traj).numpy()
            assert traj.shape == (n, latent)
            assert np.array_equal(traj[-1], z[0].numpy())
            save(f"sample-timesteps-{n}", sched.timesteps.numpy().astype(np.float32), "",
                 f"noise_scheduler.timesteps after set_timesteps({n})")
            save(f"sample-sigmas-{n}", sched.sigmas.numpy(), "",
                 f"noise_scheduler.sigmas after set_timesteps({n}) (N+1 values, last 0)")
            save(f"sample-traj-{n}", traj, "sample-h-pos.npy, sample-h-neg.npy, sample-noise.npy",
                 f"set_ddpm_inference_steps({n}); torch.manual_seed({NOISE_SEED}); "
                 f"sample_speech_tokens(h+, h-, cfg_scale={CFG}); row i = prev_sample[0] after "
                 f"scheduler step i (the last row is the returned latent)")

    manifest = {
        "description": "Reference vectors for the diffusion head and the DPM-Solver++ 2M CFG "
                       "sampler, from the original Python implementation (fp32, CPU, 1 thread).",
        "model": {"preset": PRESET, "seed": SEED,
                  "tool_command": "vibevoice " + " ".join(tool_cmd[:-1] + ["DIR"]),
                  "model_safetensors_sha256": model_sha256},
        "reference": {p: importlib.metadata.version(p) for p in ("vibevoice", "transformers", "torch")}
                     | {"numpy": np.__version__, "python": sys.version.split()[0],
                        "dtype": "float32", "device": "cpu", "torch_num_threads": 1,
                        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "generator": "tests/conformance/gen_diffusion_vectors.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tolerance": TOLERANCE,
        "head_timesteps": HEAD_TIMESTEPS, "cfg_scale": CFG, "steps": STEPS,
        "noise_seed": NOISE_SEED,
        "vectors": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {len(entries)} vectors + manifest.json to {args.out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
