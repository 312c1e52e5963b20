# gst-vibevoice
# Copyright (C) 2026 gst-vibevoice developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared by the gen_*_vectors.py generators: the tiny checkpoint made with our
own tool, and the .npy writer that records each vector in the manifest."""
import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile

import numpy as np


@contextlib.contextmanager
def tiny_checkpoint(tool, preset, seed):
    """Yields (model_dir, sha256 of model.safetensors, the make-model arguments)
    for `vibevoice make-model` output in a temporary folder, removed afterwards."""
    tmp = tempfile.mkdtemp(prefix="vv-conf-")
    try:
        model_dir = os.path.join(tmp, "tiny")
        cmd = ["make-model", "--preset", preset, "--seed", str(seed), "--shard-size", "0",
               "--force", model_dir]
        subprocess.run([tool] + cmd, check=True)
        with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
            sha256 = hashlib.sha256(f.read()).hexdigest()
        yield model_dir, sha256, cmd
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Vectors:
    """Writes float32 .npy files into @out and keeps their manifest entries."""

    def __init__(self, out, width=30):
        self.out, self.width, self.entries = out, width, {}
        os.makedirs(out, exist_ok=True)

    def save(self, name, arr, inputs, how):
        arr = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
        np.save(os.path.join(self.out, name + ".npy"), arr)
        self.entries[name + ".npy"] = {"shape": list(arr.shape), "inputs": inputs, "how": how,
                                       "max_abs": float(np.max(np.abs(arr)))}
        print(f"  {name + '.npy':{self.width}s} {str(list(arr.shape)):12s} "
              f"max|x| {np.max(np.abs(arr)):.4g}")
        return arr
