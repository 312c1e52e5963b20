#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference vectors for whole long-form generations (MODEL-SPEC §2).

Makes the tiny checkpoint with our own tool (the same one as the other
conformance vectors) and runs the ORIGINAL Python implementation on it in
fp32 on CPU, the way the reference demo `demo/inference_from_file.py` does:
`VibeVoiceProcessor.from_pretrained(model_dir)` on a 2-speaker script and two
voice WAV files, `set_ddpm_inference_steps(10)`, then
`VibeVoiceForConditionalGenerationInference.generate(**inputs,
max_new_tokens=None, cfg_scale=1.3, tokenizer=processor.tokenizer,
generation_config={'do_sample': False})`.

Cases (same script and voices):

* "injected" — what `vibevoice synth --deterministic-voice --noise noise.npy`
  reproduces. Two patches make the reference deterministic:
  - voices: the acoustic tokenizer's `std_dist_type` is set to "none", so the
    σ-VAE `encoder_output.sample(dist_type=...)` in `_process_speech_inputs`
    returns the encoder means (MODEL-SPEC §1.6 step 4, §12.2) — the switch
    gen_voice_prompt_vectors.py uses for its "means" vectors;
  - diffusion noise: `sample_speech_tokens` draws `torch.randn(2, 64)` per
    frame (row 0 is the x both CFG branches start from, row 1 is carried
    along and discarded, §2.4, §12.3). The model's `sample_speech_tokens` is
    wrapped so that during the call `torch.randn` returns [row i, row i] of a
    seeded numpy array for frame i.
* "seeded-eos", "seeded-limit" — the stock reference, no patch:
  `torch.manual_seed(seed)` then `generate(...)`, i.e. σ-VAE-sampled voices
  and torch's own per-frame noise; `vibevoice synth --seed N` must reproduce
  them with its torch-compatible generator (§12.2–§12.4). Seed 6 ends with
  eos after 16 frames; seed 1 runs into the min(P − L, 2·L) step limit (§2.5).

In every case `sample_speech_tokens` is wrapped to record each returned
latent (normalised, as the LM's connector sees it), and
`VibeVoiceTokenConstraintProcessor.__call__` to record the 4 control logits
of every step (how close each argmax decision was).

    python gen_generation_vectors.py --tool BUILD/tools/vibevoice \
        --out tests/conformance/vectors/generation

torch runs with ATEN_CPU_CAPABILITY=default (the portable normal_fill, the
definition our generator follows, MODEL-SPEC §12.4). Needs the reference
virtualenv (tests/conformance/README.md), whose `soundfile` package (also
librosa's reader) checks the float32 WAV voices written here; never a build or
test dependency.
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
import struct

import numpy as np
import soundfile
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conformance_common import Vectors, tiny_checkpoint  # noqa: E402

ROOT = os.path.join(HERE, "..", "..")
PRESET, SEED = "tiny", 11
SR, HOP = 24000, 3200
CFG, STEPS = 1.3, 10
# The tiny random model stops (eos) after a frame or two for most inputs; the
# script, voices and noise seed were picked by trying a few scripts and
# noise seeds 0..29 for a run with ⟨speech_end⟩ and ⟨speech_start⟩
# transitions, diffusion right after ⟨speech_end⟩ (negative branch kept) and
# after ⟨speech_start⟩ (negative branch reset), and no close argmax call.
SCRIPT = ("Speaker 1: Hello!\n"
          "Speaker 2: Hello, how was your trip?\n"
          "Speaker 1: Long, but worth it.\n"
          "Speaker 2: Tell me everything.\n")
NOISE_SEED = 4
NOISE_ROWS = 1024          # drawn; only the rows the run used are saved
CASES = {
    # name: (torch seed or None, synth arguments besides model/script/voices/out)
    "injected": (None, ["--deterministic-voice", "--noise", "noise.npy"]),
    "seeded-eos": (6, ["--seed", "6"]),
    "seeded-limit": (1, ["--seed", "1"]),
}
CONTROL = {151652: "speech_start", 151653: "speech_end", 151654: "diffusion",
           151643: "eos"}
CONTROL_IDS = [151652, 151653, 151654, 151643]
TOLERANCE = {
    "tokens": "identical sequence (so identical frame count)",
    "latents": "max|ours - ref| <= 1e-3 * (1 + max|ref|), fp32 (errors compound over frames)",
    "audio": "max|ours - ref| <= 1e-3 * (1 + max|ref|), fp32 (errors compound over frames)",
}


def voice_a():
    t = np.arange(8000) / SR
    return 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)


def voice_b():
    return 0.05 * np.random.default_rng(77).standard_normal(13000)


VOICES = {
    "a": ("0.3*sin(2*pi*220*t) + 0.1*sin(2*pi*3100*t), t = n/24000, n = 0..7999 (3 frames)",
          voice_a),
    "b": ("0.05*numpy.random.default_rng(77).standard_normal(13000) (5 frames)", voice_b),
}


def write_float_wav(path, x):
    """Mono 24 kHz IEEE-float WAV (fmt tag 3, 18-byte fmt, fact chunk), written
    by hand: soundfile adds a PEAK chunk with a timestamp, so its files would
    change at every regeneration."""
    data = np.asarray(x, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, 1, SR, SR * 4, 4, 32, 0)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<II", 4, len(x))
            + b"data" + struct.pack("<I", len(data)) + data)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to the built `vibevoice` tool")
    ap.add_argument("--out", required=True, help="output folder for the vectors + manifest.json")
    args = ap.parse_args()

    import vibevoice.modular.modeling_vibevoice_inference as mvi
    from vibevoice.processor.vibevoice_processor import VibeVoiceProcessor

    torch.set_num_threads(1)
    vectors = Vectors(args.out, width=28)
    save, entries = vectors.save, vectors.entries

    # Inputs: the script and the voices as float32 WAV (read back exactly by
    # librosa.load (soundfile) here and by libsndfile in `vibevoice synth`).
    with open(os.path.join(args.out, "script.txt"), "w", encoding="utf-8") as f:
        f.write(SCRIPT)
    voice_files, voice_info = [], {}
    for name, (formula, fn) in VOICES.items():
        path = os.path.join(args.out, f"voice-{name}.wav")
        x = fn().astype(np.float32)
        write_float_wav(path, x)
        back, sr = soundfile.read(path, dtype="float32")
        assert sr == SR and np.array_equal(back, x)
        voice_files.append(path)
        voice_info[f"voice-{name}.wav"] = {"formula": formula, "samples": len(x),
                                           "format": "WAV, 24 kHz mono IEEE float32"}
        print(f"  voice-{name}.wav  {len(x)} samples")
    noise_all = np.random.default_rng(NOISE_SEED).standard_normal((NOISE_ROWS, 64)).astype(
        np.float32)

    with tiny_checkpoint(args.tool, PRESET, SEED) as (model_dir, model_sha256, tool_cmd):
        # The demo's processor, its tokenizer taken from the shipped Qwen2.5
        # files instead of the Hub (same vocabulary, see the processor vectors).
        pp_path = os.path.join(model_dir, "preprocessor_config.json")
        with open(pp_path) as f:
            pp = json.load(f)
        pp["language_model_pretrained_name"] = os.path.abspath(
            os.path.join(ROOT, "data", "qwen2-tokenizer"))
        with open(pp_path, "w") as f:
            json.dump(pp, f)
        processor = VibeVoiceProcessor.from_pretrained(model_dir)
        model = mvi.VibeVoiceForConditionalGenerationInference.from_pretrained(
            model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    model.set_ddpm_inference_steps(num_steps=STEPS)
    tokenizer = model.model.acoustic_tokenizer
    assert tokenizer.std_dist_type == "gaussian"

    # Wrappers: record the latents (and, for "injected", feed the noise rows).
    rec = {"latents": [], "logits": [], "noise": None}
    orig_sample = model.sample_speech_tokens
    real_randn = torch.randn

    def sample_speech_tokens(condition, neg_condition, cfg_scale=3.0):
        i = len(rec["latents"])
        if rec["noise"] is not None:
            row = torch.from_numpy(rec["noise"][i:i + 1])

            def randn(*size, **kw):
                assert tuple(size) == (2, 64), size
                return torch.cat([row, row], dim=0)
            torch.randn = randn
        try:
            z = orig_sample(condition, neg_condition, cfg_scale=cfg_scale)
        finally:
            torch.randn = real_randn
        assert z.shape == (1, 64)
        rec["latents"].append(z[0].clone())
        return z
    model.sample_speech_tokens = sample_speech_tokens

    orig_constraint = mvi.VibeVoiceTokenConstraintProcessor.__call__

    def constraint(self, input_ids, scores):
        rec["logits"].append(scores[0, CONTROL_IDS].clone())
        return orig_constraint(self, input_ids, scores)
    mvi.VibeVoiceTokenConstraintProcessor.__call__ = constraint

    max_pos = model.config.decoder_config.max_position_embeddings
    cases = {}
    for cname, (seed, synth_args) in CASES.items():
        rec["latents"], rec["logits"] = [], []
        rec["noise"] = noise_all if seed is None else None
        tokenizer.std_dist_type = "none" if seed is None else "gaussian"
        inputs = processor(text=[SCRIPT], voice_samples=[voice_files], padding=True,
                           return_tensors="pt", return_attention_mask=True)
        prompt_len = int(inputs["input_ids"].shape[1])
        if seed is not None:
            torch.manual_seed(seed)
        out = model.generate(**inputs, max_new_tokens=None, cfg_scale=CFG,
                             tokenizer=processor.tokenizer,
                             generation_config={"do_sample": False}, show_progress_bar=False)

        tokens = [int(t) for t in out.sequences[0, prompt_len:]]
        frames = len(rec["latents"])
        max_steps = min(max_pos - prompt_len, 2 * prompt_len)
        assert tokens.count(151654) == frames, (tokens, frames)
        assert len(rec["logits"]) == len(tokens)
        audio = out.speech_outputs[0].reshape(-1).numpy()
        assert audio.shape == (frames * HOP,), audio.shape
        logits = torch.stack(rec["logits"]).double().numpy()
        assert all(CONTROL_IDS[int(np.argmax(r))] == t for r, t in zip(logits, tokens))
        srt = np.sort(logits, axis=1)
        margins = srt[:, -1] - srt[:, -2]
        if tokens[-1] == 151643:
            stop = "eos"
        else:
            assert len(tokens) == max_steps, (len(tokens), max_steps)
            stop = "length-limit"
        seq = " ".join(CONTROL[t] for t in tokens)
        print(f"case {cname}: prompt {prompt_len} tokens; {len(tokens)} generated "
              f"(limit {max_steps}), {frames} frames, stop {stop}; smallest argmax margin "
              f"{margins.min():.3e} at step {int(np.argmin(margins))}")

        inputs_desc = "script.txt, voice-a.wav, voice-b.wav" + (", noise.npy" if seed is None
                                                                  else f", torch seed {seed}")
        if seed is None:
            save("noise", noise_all[:frames], f"numpy.random.default_rng({NOISE_SEED})"
                 f".standard_normal(({NOISE_ROWS}, 64)), float32, first {frames} rows",
                 "row i = frame i's initial diffusion noise (torch.randn(2, 64) inside "
                 "sample_speech_tokens returns [row i, row i])")
        save(f"{cname}-latents", torch.stack(rec["latents"]).numpy(), inputs_desc,
             "sample_speech_tokens() return value per frame: the normalised latent z the "
             "connector sees (the decoder gets z / scale - bias)")
        save(f"{cname}-audio", audio, inputs_desc,
             "generate(...).speech_outputs[0], flat: the streamed acoustic-decoder chunks")
        save(f"{cname}-control-logits", logits, inputs_desc,
             "per generated step: fp32 LM logits of ids 151652, 151653, 151654, 151643 "
             "(diagnostics; not read by the C test)")
        cases[cname] = {
            "synth_args": synth_args,
            "voices": ("encoder means (acoustic_tokenizer.std_dist_type = 'none')"
                       if seed is None else "sigma-VAE sampled (stock reference)"),
            "noise": ("noise.npy, injected" if seed is None
                      else "torch's CPU generator (stock reference)"),
            "torch_seed": seed,
            "prompt_length": prompt_len,
            "max_steps": max_steps,
            "n_steps": len(tokens),
            "n_frames": frames,
            "stop": stop,
            "tokens": tokens,
            "token_names": seq,
            "argmax_margins": [float(m) for m in margins],
        }
    mvi.VibeVoiceTokenConstraintProcessor.__call__ = orig_constraint

    manifest = {
        "description": "Whole generations by the original Python implementation (fp32, CPU, "
                       "1 thread, eager attention, ATEN_CPU_CAPABILITY=default) on the tiny "
                       "checkpoint. Checked by test-conformance-generation through `vibevoice "
                       "synth --model M --script script.txt --voice voice-a.wav --voice "
                       "voice-b.wav <synth_args>`. <case>-latents: [frames, 64] normalised "
                       "latents; <case>-audio: flat 24 kHz samples.",
        "model": {"preset": PRESET, "seed": SEED,
                  "tool_command": "vibevoice " + " ".join(tool_cmd[:-1] + ["DIR"]),
                  "model_safetensors_sha256": model_sha256},
        "reference": {p: importlib.metadata.version(p)
                      for p in ("vibevoice", "transformers", "torch", "librosa", "soundfile")}
                     | {"numpy": np.__version__, "python": sys.version.split()[0],
                        "dtype": "float32", "device": "cpu", "torch_num_threads": 1,
                        "attn_implementation": "eager",
                        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "generator": "tests/conformance/gen_generation_vectors.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tolerance": TOLERANCE,
        "settings": {"cfg_scale": CFG, "ddpm_inference_steps": STEPS, "do_sample": False,
                     "max_new_tokens": None, "max_length_times": 2,
                     "noise_seed": NOISE_SEED},
        "script": "script.txt",
        "voices": voice_info,
        "cases": cases,
        "vectors": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {len(entries)} vectors, script, voices + manifest.json to {args.out}")


if __name__ == "__main__":
    main()
