#!/usr/bin/python3
"""Loads a stargan-c checkpoint into the reference PyTorch model and compares G's output.

Usage: /usr/bin/python3 tests/golden/load_ckpt_in_torch.py G.safetensors D.safetensors X Y C N

G.safetensors, D.safetensors: a checkpoint written by lib/checkpoint.c. They must load
into the reference Generator / Discriminator with load_state_dict(strict=True) (names,
shapes, dtypes exactly the reference's state_dict). X, C: raw little-endian float32 files
with N images (N, 3, S, S) and N label vectors (N, c_dim); Y: our G(X, C) as float32
(sg_model_generate). G runs in training mode as the reference's test() does
(InstanceNorm with per-image statistics; no .eval()).

Prints "max |torch - ours| = ..." and exits 0 if it is within 2e-5, 1 otherwise.
Used by tests/unit/test_ckpt_torch.c (skipped when torch is missing). The model classes
come from tests/golden/stargan_ref.py (the engine's golden-data script).
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stargan_ref import Discriminator, Generator  # noqa: E402

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    """Parses a safetensors file by hand (8-byte header length, JSON header, data)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def main():
    g_path, d_path, x_path, y_path, c_path, n = sys.argv[1:7]
    n = int(n)
    torch.set_num_threads(1)
    g_sd, meta = read_safetensors(g_path)
    d_sd, _ = read_safetensors(d_path)
    size = int(meta["image_size"])
    c_dim, cls_dim = int(meta["c_dim"]), int(meta["cls_dim"])
    G = Generator(int(meta["g_conv_dim"]), c_dim, int(meta["g_repeat"]))
    G.load_state_dict(g_sd, strict=True)
    D = Discriminator(size, int(meta["d_conv_dim"]), cls_dim, int(meta["d_repeat"]))
    D.load_state_dict(d_sd, strict=True)
    for name, t in list(G.state_dict().items()) + list(D.state_dict().items()):
        if name.endswith("num_batches_tracked") and t.dtype != torch.int64:
            print(f"{name}: dtype {t.dtype}, expected int64")
            return 1

    x = torch.from_numpy(np.fromfile(x_path, dtype="<f4").reshape(n, 3, size, size).copy())
    c = torch.from_numpy(np.fromfile(c_path, dtype="<f4").reshape(n, c_dim).copy())
    ours = np.fromfile(y_path, dtype="<f4").reshape(n, 3, size, size)
    with torch.no_grad():
        y = G(x, c).numpy()
    diff = np.abs(y - ours)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    print(f"max |torch - ours| = {diff.max():.3g} at {tuple(int(i) for i in worst)} "
          f"(torch {y[worst]:.9g}, ours {ours[worst]:.9g}; tolerance 2e-5)")
    return 0 if diff.max() <= 2e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
