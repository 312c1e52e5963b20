#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference prompt ids from the ORIGINAL VibeVoiceProcessor (package
`vibevoice`) for scripts in docs/examples/, with voice samples of given
lengths (their content does not affect the ids, only ceil(len/3200) does).

    python gen_processor_vectors.py --out tests/conformance/vectors/processor

Needs the reference virtualenv (see README.md); never a build/test dependency.
"""
import argparse
import datetime
import importlib.metadata
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
CASES = {
    # name: (script file, voice lengths in samples)
    "two-speakers": ("docs/examples/two-speakers.txt", [8000, 13000]),
    "two-speakers-3-voices": ("docs/examples/two-speakers.txt", [3200, 6401, 100]),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from vibevoice.modular.modular_vibevoice_text_tokenizer import VibeVoiceTextTokenizerFast
    from vibevoice.processor.vibevoice_processor import VibeVoiceProcessor
    from vibevoice.processor.vibevoice_tokenizer_processor import VibeVoiceTokenizerProcessor

    tok = VibeVoiceTextTokenizerFast.from_pretrained(os.path.join(ROOT, "data", "qwen2-tokenizer"))
    proc = VibeVoiceProcessor(tokenizer=tok, audio_processor=VibeVoiceTokenizerProcessor())
    cases = {}
    for name, (script, lengths) in CASES.items():
        text = open(os.path.join(ROOT, script), encoding="utf-8").read()
        voices = [np.full(n, 0.01, np.float32) for n in lengths]
        out = proc(text=[text], voice_samples=[voices], return_tensors="pt", padding=True)
        ids = out["input_ids"][0].tolist()
        mask = out["speech_input_mask"][0].tolist()
        cases[name] = {"script": script, "voice_lengths": lengths, "input_ids": ids,
                       "voice_positions": [i for i, m in enumerate(mask) if m]}
        print(f"{name}: {len(ids)} ids, {sum(mask)} voice positions")
    os.makedirs(args.out, exist_ok=True)
    manifest = {
        "generator": "tests/conformance/gen_processor_vectors.py",
        "date": datetime.date.today().isoformat(),
        "reference": {p: importlib.metadata.version(p) for p in ("vibevoice", "transformers")},
        "tokenizer": "data/qwen2-tokenizer (VibeVoiceTextTokenizerFast.from_pretrained)",
        "cases": cases,
    }
    with open(os.path.join(args.out, "prompts.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
