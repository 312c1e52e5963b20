#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a cheaper setting changes in the output: the same script, voices,
seed and injected diffusion noise through `vibevoice synth` twice, the
reference settings (--a, default: --weights checkpoint) and the variant (--b,
default: --weights int8; e.g. --b "--power low"), then the latents and the
audio compared. Not part of the test suite (needs numpy).

    python3 tools/bench/variant-effect.py --tool build/tools/vibevoice \
        --model /work/models/vv-1.5b --frames 20 --threads 2 --forced-diffusion

Printed (and with --json, one JSON object): frames made by each run; per
frame, the relative L2 error of the variant's latent z against the
reference run's, ‖zb − za‖ / ‖za‖, for the frames both made; the audio's
signal-to-error ratio in dB over the common length, 10·log10(Σa² / Σ(b − a)²).
Frame 0 is the cleanest figure: prefill and one diffusion with the same
noise. Later frames feed their latents back through the LM, so differences
compound; with a random-weight model that feedback is chaotic and the
figures there say little about a trained checkpoint.
"""
import argparse
import json
import os
import shlex
import struct
import subprocess
import sys
import tempfile

import numpy as np


def read_wav_f32(path):
    """The float32 (or 16-bit PCM) samples of a RIFF/WAVE file."""
    data = open(path, "rb").read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SystemExit(f"{path}: not a WAV file")
    pos, fmt, bits = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt, _, _, _, _, bits = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            if fmt == 3 and bits == 32:
                return np.frombuffer(body, dtype="<f4").astype(np.float64)
            if fmt == 1 and bits == 16:
                return np.frombuffer(body, dtype="<i2").astype(np.float64) / 32768.0
            raise SystemExit(f"{path}: format {fmt}/{bits} bits is not float32 or PCM16")
        pos += 8 + size + (size & 1)
    raise SystemExit(f"{path}: no data chunk")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True, help="the vibevoice binary")
    ap.add_argument("--model", required=True, help="model folder")
    here = os.path.dirname(os.path.abspath(__file__))
    ex = os.path.join(here, "..", "..", "docs", "examples")
    ap.add_argument("--script", default=os.path.join(ex, "two-speakers.txt"))
    ap.add_argument("--voice", action="append",
                    help="voice sample per speaker (default: the two examples)")
    ap.add_argument("--frames", type=int, default=20, help="noise rows = max frames per window")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--forced-diffusion", action="store_true",
                    help="every step a frame (random-weight models stop at once otherwise)")
    ap.add_argument("--a", default="--weights checkpoint", help="reference run's extra synth options")
    ap.add_argument("--b", default="--weights int8", help="variant run's extra synth options")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    voices = a.voice or [os.path.join(ex, "voice-a.wav"), os.path.join(ex, "voice-b.wav")]

    with tempfile.TemporaryDirectory(prefix="vv-int8-effect-") as tmp:
        noise = np.random.default_rng(a.seed).standard_normal((a.frames, 64)).astype("<f4")
        noise_path = os.path.join(tmp, "noise.npy")
        np.save(noise_path, noise)
        runs = {}
        for w, extra in (("a", a.a), ("b", a.b)):
            z_path, wav = os.path.join(tmp, f"z-{w}.npy"), os.path.join(tmp, f"{w}.wav")
            cmd = [a.tool, "synth", "--model", a.model, "--script", a.script, "--seed", str(a.seed),
                   "--noise", noise_path, "--max-frames", str(a.frames),
                   "--dump-latents", z_path, "--out", wav] + shlex.split(extra)
            if a.threads:
                cmd += ["--threads", str(a.threads)]
            for v in voices:
                cmd += ["--voice", v]
            if a.forced_diffusion:
                cmd.append("--forced-diffusion")
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"{' '.join(cmd)}\n{p.stdout}{p.stderr}")
            runs[w] = (np.load(z_path).astype(np.float64), read_wav_f32(wav))

    (z, x), (z8, x8) = runs["a"], runs["b"]
    n = min(len(z), len(z8))
    rel = [float(np.linalg.norm(z8[i] - z[i]) / max(np.linalg.norm(z[i]), 1e-30)) for i in range(n)]
    m = min(len(x), len(x8))
    err = float(np.sum((x8[:m] - x[:m]) ** 2))
    snr = float(10 * np.log10(np.sum(x[:m] ** 2) / err)) if err > 0 else float("inf")
    out = {
        "model": a.model, "a": a.a, "b": a.b, "frames_a": len(z), "frames_b": len(z8),
        "latent_rel_l2_frame0": rel[0] if rel else None,
        "latent_rel_l2_median": float(np.median(rel)) if rel else None,
        "latent_rel_l2_max": max(rel) if rel else None,
        "latent_rel_l2_per_frame": rel,
        "audio_samples_compared": m, "audio_snr_db": snr,
    }
    if a.json:
        print(json.dumps(out))
        return
    print(f"model: {a.model}; frames: a ({a.a}) {len(z)}, b ({a.b}) {len(z8)}")
    if rel:
        print(f"latent relative L2 error: frame 0 {rel[0]:.4f}, median {np.median(rel):.4f}, "
              f"max {max(rel):.4f} over {n} frames")
        print("per frame: " + " ".join(f"{r:.3f}" for r in rel))
    print(f"audio: signal-to-error {snr:.1f} dB over {m} samples")


if __name__ == "__main__":
    main()
