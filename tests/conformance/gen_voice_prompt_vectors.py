#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference vectors for the voice-prompt path (MODEL-SPEC §1.6, §12.1, §12.2).

Makes the tiny checkpoint with our own tool (the same one as the
speech-tokenizer vectors), and runs the ORIGINAL Python implementation on it
in fp32 on CPU: the processor's AudioNormalizer (dB normalisation) and
prepare_speech_inputs (zero-padding to the longest clip, frame masks), then
torch.manual_seed(seed) and the inference model's own
_process_speech_inputs (acoustic encode, sigma-VAE "gaussian" sampling,
(a + bias) * scale, acoustic connector, masked rows) — the path generate()
takes. The deterministic variant sets the acoustic tokenizer's std_dist_type
to "none" so the same code uses the encoder means.

    python gen_voice_prompt_vectors.py --tool BUILD/tools/vibevoice \
        --out tests/conformance/vectors/voice-prompt

torch runs with ATEN_CPU_CAPABILITY=default (portable normal_fill kernel,
MODEL-SPEC §12.4; only the T_max = 1 case draws through it). Needs the
reference virtualenv (tests/conformance/README.md); never a build or test
dependency.
"""
import os
import sys

if os.environ.get("ATEN_CPU_CAPABILITY") != "default":
    os.environ["ATEN_CPU_CAPABILITY"] = "default"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import argparse
import datetime
import importlib.metadata
import json
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import Vectors, tiny_checkpoint  # noqa: E402

PRESET, SEED = "tiny", 11
SR = 24000
TOLERANCE = "max|ours - ref| <= 1e-4 * (1 + max|ref|), fp32"
NEXT_DRAWS = 20     # torch.randn(20) after the call: checks how many draws were consumed


def clip_a():
    t = np.arange(8000) / SR
    return 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)


def clip_b():
    x = 0.05 * np.random.default_rng(77).standard_normal(13000)
    x[4321] = 3.0          # a spike: the -25 dBFS gain pushes it over 1 -> clip guard
    return x


def clip_c():
    t = np.arange(2500) / SR
    return 0.8 * np.sin(2 * np.pi * (150 * t + 2000 * t * t))


CLIPS = {
    "a": ("0.3*sin(2*pi*220*t) + 0.1*sin(2*pi*3100*t), t = n/24000, n = 0..7999 "
          "(3 frames, last one partial)", clip_a),
    "b": ("0.05*numpy.random.default_rng(77).standard_normal(13000), then x[4321] = 3.0 "
          "(5 frames; the spike makes the clip guard divide by max|x| + eps)", clip_b),
    "c": ("0.8*sin(2*pi*(150*t + 2000*t^2)), t = n/24000, n = 0..2499 (1 frame)", clip_c),
}
# name: (clips, torch seed); T_max > 1 -> non-contiguous noise (scalar path);
# "short" has T_max = 1 -> torch counts the view as contiguous (normal_fill).
CASES = {
    "two": (["a", "b"], 1234),
    "short": (["c"], 7),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to the built `vibevoice` tool")
    ap.add_argument("--out", required=True, help="output folder for .npy + manifest.json")
    args = ap.parse_args()

    from vibevoice.modular.modeling_vibevoice_inference import \
        VibeVoiceForConditionalGenerationInference
    from vibevoice.processor.vibevoice_processor import VibeVoiceProcessor
    from vibevoice.processor.vibevoice_tokenizer_processor import AudioNormalizer

    torch.set_num_threads(1)
    vectors = Vectors(args.out, width=30)
    save, entries = vectors.save, vectors.entries

    with tiny_checkpoint(args.tool, PRESET, SEED) as (model_dir, model_sha256, tool_cmd):
        with open(os.path.join(model_dir, "preprocessor_config.json")) as f:
            pp = json.load(f)
        model = VibeVoiceForConditionalGenerationInference.from_pretrained(
            model_dir, torch_dtype=torch.float32)
    model.eval()
    tok = model.model.acoustic_tokenizer
    assert tok.std_dist_type == "gaussian", tok.std_dist_type
    ap_cfg = pp["audio_processor"]
    # The processor builds AudioNormalizer() with its defaults; the checkpoint's
    # preprocessor config holds the same values.
    normalizer = AudioNormalizer()
    assert (normalizer.target_dB_FS, normalizer.eps) == (ap_cfg["target_dB_FS"], ap_cfg["eps"])
    proc = types.SimpleNamespace(speech_tok_compress_ratio=pp["speech_tok_compress_ratio"])

    print("input clips and dB normalisation (AudioNormalizer)")
    normed = {}
    for name, (formula, fn) in CLIPS.items():
        x = save(f"input-{name}", fn(), formula, "float64 formula, cast to float32")
        normed[name] = save(f"normalized-{name}", normalizer(np.array(x, dtype=np.float32)),
                            f"input-{name}.npy", "AudioNormalizer()(x) on float32")

    cases = {}
    with torch.no_grad():
        for cname, (clip_names, seed) in CASES.items():
            wavs = [normed[n] for n in clip_names]
            sp = VibeVoiceProcessor.prepare_speech_inputs(proc, wavs, return_tensors="pt")
            speech, masks = sp["padded_speeches"], sp["speech_masks"]
            frames = [int(v) for v in masks.sum(dim=1)]
            t_max = masks.shape[1]
            print(f"case {cname}: clips {clip_names}, padded {list(speech.shape)}, "
                  f"frames {frames}, seed {seed}")
            for mode in ("sampled", "means"):
                tok.std_dist_type = "gaussian" if mode == "sampled" else "none"
                torch.manual_seed(seed)
                feats, emb = model._process_speech_inputs(speech.to(model.dtype), masks)
                after = torch.randn(NEXT_DRAWS)
                how = (f"torch.manual_seed({seed}); model._process_speech_inputs(padded, masks) "
                       f"with acoustic_tokenizer.std_dist_type = {tok.std_dist_type!r}")
                save(f"features-{cname}-{mode}", feats[masks], f"normalized clips {clip_names}",
                     how + "; acoustic_features[speech_masks] (connector input)")
                save(f"embeddings-{cname}-{mode}", emb, f"normalized clips {clip_names}",
                     how + "; connector output (already masked)")
                save(f"next-randn-{cname}-{mode}", after, "generator state after the call",
                     f"torch.randn({NEXT_DRAWS}) right after the call")
            tok.std_dist_type = "gaussian"
            # §12.1: the padded batch changes the last partial frame of shorter clips.
            pad_effect = {}
            for i, n in enumerate(clip_names):
                alone = tok.encode(torch.from_numpy(normed[n])[None, None, :]).mean[0]
                batch = tok.encode(speech.unsqueeze(1)).mean[i, :frames[i]]
                pad_effect[n] = float((alone - batch).abs().max())
            print(f"  max|padded-batch mean - clip alone| per clip: {pad_effect}")
            cases[cname] = {"clips": clip_names, "seed": seed, "frames_per_clip": frames,
                            "t_max": t_max, "next_draws": NEXT_DRAWS,
                            "padding_effect_max_abs": pad_effect}

    manifest = {
        "description": "Voice-prompt embeddings from the original Python implementation (fp32, "
                       "CPU, 1 thread, ATEN_CPU_CAPABILITY=default). input-*: raw clips; "
                       "normalized-*: AudioNormalizer output; features-<case>-<mode>: "
                       "[n_frames, 64] connector inputs ((a + bias) * scale); "
                       "embeddings-<case>-<mode>: [n_frames, H]; next-randn-*: torch.randn(20) "
                       "drawn right after the call. Rows: clip 0's frames, then clip 1's.",
        "model": {"preset": PRESET, "seed": SEED,
                  "tool_command": "vibevoice " + " ".join(tool_cmd[:-1] + ["DIR"]),
                  "model_safetensors_sha256": model_sha256},
        "reference": {p: importlib.metadata.version(p) for p in ("vibevoice", "transformers", "torch")}
                     | {"numpy": np.__version__, "python": sys.version.split()[0],
                        "dtype": "float32", "device": "cpu", "torch_num_threads": 1,
                        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "generator": "tests/conformance/gen_voice_prompt_vectors.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tolerance": TOLERANCE,
        "cases": cases,
        "vectors": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {len(entries)} vectors + manifest.json to {args.out}")


if __name__ == "__main__":
    main()
