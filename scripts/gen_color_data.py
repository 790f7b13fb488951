#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a small synthetic image data set where colour decides the class.

Each 32x32 RGB image is a noisy texture (random sinusoid pattern plus pixel
noise) around a base luminance L, tinted by a chroma vector of zero
luminance: pixel = L + s * (cos(a) u + sin(a) v), where u and v span the
plane of RGB offsets that libpng's (Rec. 709) grey weights map to 0.

The 10 classes are 5 luminance levels x 2 hues: class c has level c // 2
(base L near 75, 102, 129, 156 or 183) and hue angle 36 * h degrees with
h = c // 2 + 5 * (c % 2), so the two classes of a level have opposite
tints (a and a + 180 degrees) and every class has its own hue. A grey
conversion keeps only L: it tells the level, never which of the two
classes of that level, so a classifier on grey images is capped near 50%
(it can at best guess within the pair), while on colour a small conv net
reaches ~100%.

Output (standard library only, deterministic for a seed):
  DIR/data_batch_1.bin, DIR/test_batch.bin   CIFAR-10 binary format
  DIR/batches.meta.txt                       class names, one per line
  DIR/train/<label>/<index>.png, DIR/test/<label>/<index>.png   RGB PNG trees

Usage: gen_color_data.py --out DIR [--train 500] [--test 200] [--seed 1]
"""
import argparse
import math
import os
import random
import shutil
import struct
import sys
import zlib

LEVELS = [75.0, 102.0, 129.0, 156.0, 183.0]  # base luminance of classes 2k and 2k + 1


def hue_index(label):
    """Class label -> hue step (of 36 degrees): the pair of a level is 180 degrees apart."""
    return label // 2 + 5 * (label % 2)


NAMES = ["lum%d_hue%03d" % (c // 2, 36 * hue_index(c)) for c in range(10)]
WR, WG, WB = 6968 / 32768, 23434 / 32768, 2366 / 32768  # libpng's default grey weights


def _unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


# Orthonormal basis (u, v) of {d : WR*d0 + WG*d1 + WB*d2 = 0}.
_n = _unit([WR, WG, WB])
_u = _unit([_n[1], -_n[0], 0.0])
_v = [_n[1] * _u[2] - _n[2] * _u[1], _n[2] * _u[0] - _n[0] * _u[2], _n[0] * _u[1] - _n[1] * _u[0]]
# Rescale so that each basis vector has exactly zero weighted luminance.
U = [x / max(abs(y) for y in _u) for x in _u]
V = [x / max(abs(y) for y in _v) for x in _v]


def image(rng, label, size):
    """Planar R, G, B bytes of one image of class `label`."""
    a = 2 * math.pi * hue_index(label) / 10 + rng.uniform(-0.15, 0.15)
    d = [math.cos(a) * U[k] + math.sin(a) * V[k] for k in range(3)]
    s = rng.uniform(24.0, 30.0)
    base = LEVELS[label // 2] + rng.uniform(-6.0, 6.0)
    waves = [(rng.uniform(0.1, 0.8), rng.uniform(0.1, 0.8), rng.uniform(0, 6.3), rng.uniform(2, 5))
             for _ in range(3)]
    planes = [bytearray(size * size) for _ in range(3)]
    for y in range(size):
        for x in range(size):
            lum = base + rng.gauss(0.0, 4.0)
            for fx, fy, ph, amp in waves:
                lum += amp * math.sin(fx * x + fy * y + ph)
            k = y * size + x
            for c in range(3):
                v = lum + s * d[c] + rng.gauss(0.0, 3.0)
                planes[c][k] = min(255, max(0, int(round(v))))
    return planes


def png_bytes(planes, size):
    raw = bytearray()
    for y in range(size):
        raw.append(0)
        for x in range(size):
            k = y * size + x
            raw += bytes((planes[0][k], planes[1][k], planes[2][k]))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b"")


def write_split(rng, out, name, bin_name, n, size):
    with open(os.path.join(out, bin_name), "wb") as f:
        for i in range(n):
            label = i % 10
            planes = image(rng, label, size)
            f.write(bytes((label,)) + bytes(planes[0]) + bytes(planes[1]) + bytes(planes[2]))
            d = os.path.join(out, name, str(label))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "%05d.png" % i), "wb") as p:
                p.write(png_bytes(planes, size))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=500)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    size = 32  # the CIFAR record is 32 x 32
    tmp = args.out.rstrip("/") + ".tmp%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    rng = random.Random(args.seed)
    write_split(rng, tmp, "train", "data_batch_1.bin", args.train, size)
    write_split(rng, tmp, "test", "test_batch.bin", args.test, size)
    with open(os.path.join(tmp, "batches.meta.txt"), "w") as f:
        f.write("\n".join(NAMES) + "\n")
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.rename(tmp, args.out)
    print("gen_color_data: %d train + %d test images in %s" % (args.train, args.test, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
