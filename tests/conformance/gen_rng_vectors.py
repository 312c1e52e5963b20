#!/usr/bin/env python3
# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference vectors for the torch-compatible CPU generator (VvTorchGenerator).

For each case: torch.manual_seed(seed), then a sequence of randn calls on the
default CPU generator; every call's float32 output is saved flat, in the
tensor's MEMORY order, as <case>-<k>.npy. Call kinds:

  randn N         torch.randn(N)                           contiguous
  like_t R C      torch.randn_like(torch.empty(C, R).t())  [R, C] non-contiguous view
                                                          (strides preserved, so the
                                                          fill is scalar, memory order)

The primary vectors are made with ATEN_CPU_CAPABILITY=default, i.e. torch's
portable normal_fill kernel (the definition in MODEL-SPEC §12.4). The same
sequences are re-run with the native capability and with avx2, and the
differences are recorded in manifest.json ("capabilities"); the avx2 outputs
of the vectorised calls are saved too, as <case>-<k>-avx2.npy.

    python gen_rng_vectors.py --out tests/conformance/vectors/rng

Needs only torch + numpy (the reference virtualenv, tests/conformance/README.md).
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CASES = {
    # name: (seed, [calls])
    "seed42": (42, [("randn", 4), ("randn", 20), ("randn", 1), ("randn", 16), ("randn", 33),
                    ("like_t", 2, 64), ("randn", 128), ("randn", 3), ("randn", 15),
                    ("like_t", 3, 5), ("randn", 17)]),
    "seed0": (0, [("randn", 7), ("randn", 100), ("like_t", 3, 5), ("randn", 16),
                  ("randn", 1000), ("randn", 1)]),
    "seed1": (1, [("randn", 1), ("randn", 31), ("randn", 2), ("like_t", 4, 64), ("randn", 48)]),
    "seed4294967301": (2 ** 32 + 5, [("randn", 5), ("randn", 64), ("like_t", 2, 7),
                                     ("randn", 700), ("randn", 9)]),
}
TOLERANCE = ("exact (bit-identical float32) against the portable kernel; torch's AVX2 "
             "normal_fill kernel differs by <= 1.5e-6 (MODEL-SPEC §12.4)")


def run_cases():
    import torch
    out = {}
    for name, (seed, calls) in CASES.items():
        torch.manual_seed(seed)
        for k, call in enumerate(calls):
            if call[0] == "randn":
                x = torch.randn(call[1])
                assert x.is_contiguous()
            else:
                r, c = call[1], call[2]
                x = torch.randn_like(torch.empty(c, r).t())
                assert not x.is_contiguous() and x.stride() == (1, r)
            flat = torch.as_strided(x, (x.numel(),), (1,))   # memory order
            out[f"{name}-{k}"] = flat.numpy().copy()
    return out


def child(dump):
    np.savez(dump, **run_cases())


def call_desc(call):
    if call[0] == "randn":
        return {"call": f"torch.randn({call[1]})", "n": call[1], "contiguous": True}
    r, c = call[1], call[2]
    return {"call": f"torch.randn_like(torch.empty({c}, {r}).t())", "n": r * c,
            "contiguous": False,
            "layout": f"[{r}, {c}] with strides (1, {r}); saved in memory order = [{c}][{r}]"}


def run_with_capability(cap):
    env = dict(os.environ)
    if cap is None:
        env.pop("ATEN_CPU_CAPABILITY", None)
    else:
        env["ATEN_CPU_CAPABILITY"] = cap
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "d.npz")
        code = ("import sys, torch; sys.path.insert(0, %r); import gen_rng_vectors as g; "
                "print(torch.backends.cpu.get_cpu_capability()); g.child(%r)"
                % (os.path.dirname(os.path.abspath(__file__)), dump))
        res = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                             capture_output=True, text=True)
        got = res.stdout.strip().splitlines()[-1]
        with np.load(dump) as z:
            return got, {k: z[k] for k in z.files}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder for .npy + manifest.json")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    cap_default, ref = run_with_capability("default")
    print(f"primary vectors: capability {cap_default}")
    caps, runs = {}, {}
    for cap in (None, "avx2"):
        got, other = run_with_capability(cap)
        runs[cap] = other
        diffs = {k: float(np.max(np.abs(other[k].astype(np.float64) - ref[k]))) for k in ref}
        caps[cap or "native"] = {"capability": got, "max_abs_diff_vs_default": max(diffs.values()),
                                 "vectors_differing": sorted(k for k, d in diffs.items() if d)}
        print(f"  {cap or 'native'} ({got}): max|diff| vs default = {max(diffs.values()):.3g} "
              f"in {len(caps[cap or 'native']['vectors_differing'])} vectors")

    entries = {}
    cases = {}
    for name, (seed, calls) in CASES.items():
        cases[name] = {"seed": seed, "calls": []}
        for k, call in enumerate(calls):
            fname = f"{name}-{k}.npy"
            arr = np.ascontiguousarray(ref[f"{name}-{k}"], dtype=np.float32)
            np.save(os.path.join(args.out, fname), arr)
            d = call_desc(call) | {"file": fname}
            if d["contiguous"] and d["n"] >= 16:
                # the vectorised path: also what torch's AVX2 kernel gives
                aname = f"{name}-{k}-avx2.npy"
                avx = np.ascontiguousarray(runs["avx2"][f"{name}-{k}"], dtype=np.float32)
                np.save(os.path.join(args.out, aname), avx)
                d["file_avx2"] = aname
                d["max_abs_diff_avx2"] = float(np.max(np.abs(avx.astype(np.float64) - arr)))
            cases[name]["calls"].append(d)
            entries[fname] = {"shape": list(arr.shape), "max_abs": float(np.max(np.abs(arr)))}

    import torch
    manifest = {
        "description": "torch CPU generator: torch.manual_seed(seed) then the listed calls in "
                       "order on the default generator; each output float32, flat, in memory "
                       "order. Primary vectors made with ATEN_CPU_CAPABILITY=default.",
        "reference": {"torch": torch.__version__, "numpy": np.__version__,
                      "python": sys.version.split()[0],
                      "vibevoice": importlib.metadata.version("vibevoice")},
        "capabilities": caps,
        "generator": "tests/conformance/gen_rng_vectors.py",
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
