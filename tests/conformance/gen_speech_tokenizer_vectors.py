#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference vectors for the sigma-VAE speech tokenizers and the connectors.

Makes the tiny checkpoint with our own tool, runs the ORIGINAL Python
implementation (package `vibevoice`) on it in fp32 on CPU, and writes float32
.npy files plus manifest.json. Layouts: latents / means are time-major
[frames, dim]; audio is a flat [n_samples] array.

    python gen_speech_tokenizer_vectors.py --tool BUILD/tools/vibevoice \
        --out tests/conformance/vectors/speech-tokenizer

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
SR = 24000
TOLERANCE = "max|ours - ref| <= 1e-4 * (1 + max|ref|), fp32"

# Input signals: formula (for the manifest) and the code that evaluates it
# in float64 before the cast to float32.
SIGNALS = {
    "sine": ("0.5*sin(2*pi*440*t) + 0.25*sin(2*pi*1300*t), t = n/24000, n = 0..9599 "
             "(exactly 3 frames)",
             lambda: (lambda t: 0.5 * np.sin(2 * np.pi * 440 * t)
                      + 0.25 * np.sin(2 * np.pi * 1300 * t))(np.arange(9600) / SR)),
    "chirp": ("0.6*sin(2*pi*(100*t + (4000-100)/(2*D)*t^2)), t = n/24000, n = 0..10999, "
              "D = 11000/24000 (linear chirp 100 Hz -> 4 kHz; not a multiple of 3200: "
              "right-padding rule, 4 frames)",
              lambda: (lambda t, d: 0.6 * np.sin(2 * np.pi * (100 * t + (4000 - 100) / (2 * d) * t * t)))(
                  np.arange(11000) / SR, 11000 / SR)),
    "noise": ("0.1 * numpy.random.default_rng(1234).standard_normal(6400) (2 frames)",
              lambda: 0.1 * np.random.default_rng(1234).standard_normal(6400)),
}
LATENT_SEED, LATENT_FRAMES = 2024, 10      # never 64 frames (MODEL-SPEC §12.9)
DECODE_CHUNKINGS = {"chunk1": [1] * LATENT_FRAMES, "chunk334": [3, 3, 4]}
CONNECTOR_ROWS = 5
CONNECTOR_SEEDS = {"acoustic": 31, "semantic": 32}


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to the built `vibevoice` tool")
    ap.add_argument("--out", required=True, help="output folder for .npy + manifest.json")
    args = ap.parse_args()

    from vibevoice.modular.modeling_vibevoice_inference import \
        VibeVoiceForConditionalGenerationInference
    from vibevoice.modular.modular_vibevoice_tokenizer import VibeVoiceTokenizerStreamingCache

    torch.set_num_threads(1)
    torch.manual_seed(0)
    vectors = Vectors(args.out, width=34)
    save, entries = vectors.save, vectors.entries

    with tiny_checkpoint(args.tool, PRESET, SEED) as (model_dir, model_sha256, tool_cmd):
        model = VibeVoiceForConditionalGenerationInference.from_pretrained(
            model_dir, torch_dtype=torch.float32)
    model.eval()
    m = model.model
    tokenizers = {"acoustic": m.acoustic_tokenizer, "semantic": m.semantic_tokenizer}
    one = torch.tensor([0])

    def encode_whole(tok, x):        # [n] -> [frames, dim]
        return tok.encode(torch.from_numpy(x)[None, None, :]).mean[0].numpy()

    def encode_stream(tok, x, hop):
        cache = VibeVoiceTokenizerStreamingCache()
        outs = [tok.encode(torch.from_numpy(x[i:i + hop])[None, None, :], cache=cache,
                           sample_indices=one, use_cache=True).mean[0].numpy()
                for i in range(0, len(x), hop)]
        return np.concatenate(outs, axis=0)

    def decode(lat, chunks=None):    # [frames, 64] -> [frames * hop]; passed as [1, 64, T]
        z = torch.from_numpy(np.ascontiguousarray(lat.T))[None]
        tok = m.acoustic_tokenizer
        if chunks is None:
            return tok.decode(z)[0, 0].numpy()
        cache, outs, pos = VibeVoiceTokenizerStreamingCache(), [], 0
        for c in chunks:
            outs.append(tok.decode(z[:, :, pos:pos + c], cache=cache, sample_indices=one,
                                   use_cache=True)[0, 0].numpy())
            pos += c
        return np.concatenate(outs)

    with torch.no_grad():
        print("input signals")
        signals = {}
        for name, (formula, fn) in SIGNALS.items():
            signals[name] = save(f"input-{name}", fn(), formula, "float64 formula, cast to float32")

        print("encoder means (non-streaming: encode(audio[1, 1, n]).mean, already [B, T, D])")
        for kind, tok in tokenizers.items():
            for name, x in signals.items():
                save(f"{kind}-mean-{name}", encode_whole(tok, x), f"input-{name}.npy",
                     f"model.model.{kind}_tokenizer.encode(x[None, None, :]).mean[0]")

        print("streaming encoder (chunks of 3200 samples, VibeVoiceTokenizerStreamingCache)")
        for kind, tok in tokenizers.items():
            ref = encode_stream(tok, signals["sine"], 3200)
            d = maxdiff(ref, encode_whole(tok, signals["sine"]))
            print(f"  {kind}: streamed vs whole max|diff| = {d:.3g}")
            save(f"{kind}-stream-mean-sine", ref, "input-sine.npy",
                 f"model.model.{kind}_tokenizer.encode(chunk, cache, sample_indices=[0], "
                 f"use_cache=True) over 3 chunks of 3200 samples, concatenated; "
                 f"max|streamed - whole| = {d:.3g}")

        print("acoustic decoder")
        lat = save("decoder-latents", np.random.default_rng(LATENT_SEED)
                   .standard_normal((LATENT_FRAMES, 64)),
                   f"numpy.random.default_rng({LATENT_SEED}).standard_normal(({LATENT_FRAMES}, 64))",
                   "decoder input [frames, 64] (already z/scale - bias)")
        # Per-stage output magnitudes of the whole decode (sanity of make-model's
        # init). forward_features calls the blocks' parts, not the stages, so
        # each stage's output is taken as the input of the next upsampler/head.
        stage_rms, hooks = [], []
        dec = m.acoustic_tokenizer.decoder
        nexts = [dec.upsample_layers[i + 1][0] for i in range(len(dec.stages) - 1)] + [dec.head]
        for i, nxt in enumerate(nexts):
            hooks.append(nxt.register_forward_pre_hook(
                lambda mod, inp, i=i: stage_rms.append(
                    {"stage": i, "channels": inp[0].shape[1], "frames": inp[0].shape[2],
                     "rms": float(inp[0].pow(2).mean().sqrt()),
                     "max_abs": float(inp[0].abs().max())})))
        whole = decode(lat)
        for h in hooks:
            h.remove()
        stage_rms.append({"stage": "head (audio)", "channels": 1, "frames": len(whole),
                          "rms": float(np.sqrt(np.mean(whole.astype(np.float64) ** 2))),
                          "max_abs": float(np.max(np.abs(whole)))})
        for st in stage_rms:
            print(f"  stage {st['stage']}: [{st['channels']}, {st['frames']}] "
                  f"rms {st['rms']:.4g} max|x| {st['max_abs']:.4g}")
        assert np.all(np.isfinite(whole)), "decoder output is not finite"
        save("decoder-audio-whole", whole, "decoder-latents.npy",
             "model.model.acoustic_tokenizer.decode(latents.T[None]) (non-streaming)[0, 0]")
        for cname, chunks in DECODE_CHUNKINGS.items():
            ref = decode(lat, chunks)
            d = maxdiff(ref, whole)
            print(f"  {cname} {chunks}: streamed vs whole max|diff| = {d:.3g}")
            save(f"decoder-audio-{cname}", ref, "decoder-latents.npy",
                 f"acoustic_tokenizer.decode(chunk, cache, sample_indices=[0], use_cache=True) "
                 f"with chunks of {chunks} frames from one fresh cache, concatenated; "
                 f"max|streamed - whole| = {d:.3g}")

        print("connectors (SpeechConnector: fc1 -> RMSNorm(eps 1e-6) -> fc2)")
        for kind, d_in in (("acoustic", 64), ("semantic", 128)):
            seed = CONNECTOR_SEEDS[kind]
            x = save(f"{kind}-connector-input",
                     np.random.default_rng(seed).standard_normal((CONNECTOR_ROWS, d_in)),
                     f"numpy.random.default_rng({seed}).standard_normal(({CONNECTOR_ROWS}, {d_in}))",
                     "connector input [rows, d_in]")
            conn = getattr(m, f"{kind}_connector")
            save(f"{kind}-connector-output", conn(torch.from_numpy(x)).numpy(),
                 f"{kind}-connector-input.npy", f"model.model.{kind}_connector(x)")

    manifest = {
        "description": "Reference vectors for the sigma-VAE speech tokenizers and speech "
                       "connectors, from the original Python implementation (fp32, CPU, "
                       "1 thread). Latents/means are time-major [frames, dim]; audio is a "
                       "flat [n_samples] array; all float32.",
        "model": {"preset": PRESET, "seed": SEED,
                  "tool_command": "vibevoice " + " ".join(tool_cmd[:-1] + ["DIR"]),
                  "model_safetensors_sha256": model_sha256},
        "reference": {p: importlib.metadata.version(p) for p in ("vibevoice", "transformers", "torch")}
                     | {"numpy": np.__version__, "python": sys.version.split()[0],
                        "dtype": "float32", "device": "cpu", "torch_num_threads": 1},
        "generator": "tests/conformance/gen_speech_tokenizer_vectors.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tolerance": TOLERANCE,
        "decoder_stage_magnitudes": stage_rms,
        "vectors": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {len(entries)} vectors + manifest.json to {args.out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
