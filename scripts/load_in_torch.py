#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load weights saved by examples/mnist_cnn into the same PyTorch model.

Reads the safetensors file with plain json + numpy (no safetensors package),
builds the same torch.nn.Sequential, evaluates it on the MNIST IDX test set
and prints the accuracy. With --predictions (a file written by
`mnist_cnn --predictions FILE`: one label per line) it also checks that
PyTorch predicts exactly the same labels, and exits 1 if any differ.

  scripts/load_in_torch.py runs/mnist_cnn/best.safetensors \
      [--model seed|lenet5] [--data-dir DIR] [--predictions FILE]
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    """name -> float32 numpy array, per the safetensors layout."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        sys.exit(f"{path}: too short for safetensors")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        sys.exit(f"{path}: header length {hlen} exceeds the file")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = blob[8 + hlen:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} has dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        out[name] = arr.copy()
    return out


def build(model):
    if model == "seed":
        return nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(),
            nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
            nn.Conv2d(6, 9, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1764, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 0x803:
        h, w = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, np.uint8, n * h * w, 16).reshape(n, 1, h, w)
    if magic == 0x801:
        return np.frombuffer(raw, np.uint8, n, 8)
    sys.exit(f"{path}: bad IDX magic {magic:#x}")


def find_data(arg):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for d in [arg] if arg else [os.path.join(root, "..", "shared", "data", "mnist"),
                                os.path.join(root, "data", "mnist")]:
        if any(os.path.exists(os.path.join(d, "t10k-images-idx3-ubyte" + s)) for s in ("", ".gz")):
            return d
    sys.exit("no MNIST test set found (use --data-dir)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights")
    ap.add_argument("--model", choices=["seed", "lenet5"], default="seed")
    ap.add_argument("--data-dir")
    ap.add_argument("--predictions", help="labels written by mnist_cnn --predictions")
    a = ap.parse_args()

    state = read_safetensors(a.weights)
    net = build(a.model)
    want = net.state_dict()
    if set(state) != set(want):
        sys.exit(f"{a.weights}: tensors {sorted(state)} do not match the {a.model} model "
                 f"{sorted(want)}")
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    net.eval()

    d = find_data(a.data_dir)
    x = read_idx(os.path.join(d, "t10k-images-idx3-ubyte"))
    y = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte")).astype(np.int64)
    torch.set_num_threads(2)
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            xb = torch.from_numpy(x[i:i + 1000].astype(np.float32) / 255.0)
            preds.append(net(xb).argmax(1).numpy())
    pred = np.concatenate(preds)
    acc = float((pred == y).mean())
    print(f"torch test_accuracy={acc:.4f} ({int((pred == y).sum())}/{len(y)})")
    if a.predictions:
        theirs = np.loadtxt(a.predictions, dtype=np.int64).reshape(-1)
        if theirs.shape != pred.shape:
            sys.exit(f"{a.predictions}: {theirs.size} predictions, expected {pred.size}")
        diff = np.nonzero(theirs != pred)[0]
        if diff.size:
            print(f"MISMATCH: {diff.size} predictions differ, first at test image {diff[0]} "
                  f"(libtinygrad {theirs[diff[0]]}, torch {pred[diff[0]]})")
            return 1
        print(f"predictions match libtinygrad's for all {pred.size} test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
