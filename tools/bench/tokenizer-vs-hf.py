#!/usr/bin/env python3
"""Side-by-side tokenizer throughput: `vibevoice bench tokenizer` vs the Hugging
Face tokenizer (transformers Qwen2TokenizerFast, Rust core) on the same text,
in one run. Not part of the test suite (needs transformers).

usage: tokenizer-vs-hf.py BUILD/tools/vibevoice TEXT_FILE [--iters N]
"""
import argparse
import os
import re
import subprocess
import time

ap = argparse.ArgumentParser()
ap.add_argument("tool")
ap.add_argument("text")
ap.add_argument("--iters", type=int, default=5)
a = ap.parse_args()

data_dir = os.path.join(os.path.dirname(__file__), "..", "..", "data", "qwen2-tokenizer")
text = open(a.text, encoding="utf-8").read()
mb = len(text.encode("utf-8")) / 1e6

from transformers import Qwen2TokenizerFast  # noqa: E402
# from_pretrained reads tokenizer_config.json too, so added tokens such as
# <|image_pad|> are matched in the text, as the reference processor does.
tok = Qwen2TokenizerFast.from_pretrained(data_dir)
best = None
for _ in range(a.iters):
    t0 = time.perf_counter()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    dt = time.perf_counter() - t0
    best = dt if best is None or dt < best else best
hf = mb / best

out = subprocess.run([a.tool, "bench", "tokenizer", "--file", a.text, "--iters", str(a.iters)],
                     check=True, capture_output=True, text=True).stdout
ours = float(re.search(r"best ([0-9.]+) MB/s", out).group(1))
ours_ids = subprocess.run([a.tool, "tokenize", "--file", a.text], check=True,
                          capture_output=True, text=True).stdout.split()
same = [int(x) for x in ours_ids] == list(ids)
print(f"text: {a.text}, {mb:.2f} MB, {len(ids)} tokens, identical ids: {same}")
print(f"vibevoice: {ours:.1f} MB/s   HF tokenizers (1 call, default threads): {hf:.1f} MB/s   ratio {ours / hf:.2f}")
