#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch reference numbers for bench/bench.c (same models, same data shapes).

Run with the system interpreter (torch 1.13):
    /usr/bin/python3 bench/torch_bench.py --threads 2 --batch 32 --model seed --json
Each configuration is timed --repeats times (after warm-up) and the median is
reported. For inference at large batch, PyTorch is fairest with glibc's
malloc told not to return memory to the OS:
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295
TG_CPU=avx2, which restricts libtinygrad to its AVX2 kernels to stand in for an
AVX2-only CPU, restricts PyTorch the same way (oneDNN's and ATen's kernels; an
explicit ONEDNN_MAX_CPU_ISA / ATEN_CPU_CAPABILITY wins): on a CPU with full-width
AVX-512 (Zen 5) oneDNN's AVX-512 convolutions ran 1.1-1.7x as fast as its AVX2
ones, which an AVX2-only CPU has alone (docs/performance.md).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time


def match_tg_cpu():
    """PyTorch's ISA limit for TG_CPU, set before torch loads; returns it.
    TG_CPU is matched exactly, as the library does (lib/kernels/cpu.c)."""
    if os.environ.get("TG_CPU") == "avx2":
        os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
        os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "all")


TORCH_ISA = match_tg_cpu()

import torch  # noqa: E402 (after the ISA limit, which oneDNN reads once)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def isa_note():
    return "" if TORCH_ISA.lower() == "all" else " [oneDNN ISA limit %s]" % TORCH_ISA


def seed_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(),
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 9, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1764, 10))


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def mlp():
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
        nn.Linear(1024, 10))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + identity or 1x1conv-BN shortcut, ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet8(nn.Module):
    """bench.c's ResNet-8 for 3x32x32 inputs (78,042 weights)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.layer3 = BasicBlock(32, 64, 2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        y = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(y.reshape(y.shape[0], y.shape[1], -1).mean(2))


MODELS = {"seed": seed_cnn, "lenet5": lenet5, "mlp": mlp, "resnet8": ResNet8}
# Input sample shape and number of random samples (as bench.c).
SHAPES = {"seed": ((1, 28, 28), 4096), "lenet5": ((1, 28, 28), 4096),
          "mlp": ((1, 28, 28), 4096),
          "resnet8": ((3, 32, 32), 1024)}


def train_rate(model, shape, batch, seconds, repeats, n_data):
    """Samples/s of full SGD steps (forward, CE loss, backward, update)."""
    g = torch.Generator().manual_seed(1)
    xs = torch.rand(n_data, *shape, generator=g)
    ys = torch.randint(0, 10, (n_data,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    nb = n_data // batch

    def step(i):
        j = (i % nb) * batch
        x, y = xs[j:j + batch], ys[j:j + batch]
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for i in range(20):
        step(i)
    # Calibrate the number of steps to roughly `seconds` per repeat.
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < 0.2:
        step(n)
        n += 1
    steps = max(5, int(n * seconds / (time.perf_counter() - t)))
    rates, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        for i in range(steps):
            step(i)
        rates.append(steps * batch / (time.perf_counter() - t))
        cpu.append((time.process_time() - c) * 1e3 / steps)
    return rates, min(cpu)


def infer_rate(model, shape, batch, seconds, repeats):
    g = torch.Generator().manual_seed(2)
    x = torch.rand(batch, *shape, generator=g)
    model.eval()
    with torch.no_grad():
        for _ in range(5):
            model(x)
        t = time.perf_counter()
        n = 0
        while time.perf_counter() - t < 0.2:
            model(x)
            n += 1
        steps = max(3, int(n * seconds / (time.perf_counter() - t)))
        rates, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            for _ in range(steps):
                model(x)
            rates.append(steps * batch / (time.perf_counter() - t))
            cpu.append((time.process_time() - c) * 1e3 / steps)
    return rates, min(cpu)


def conv_layer(spec, seconds):
    """bench.c --conv: one conv2d layer's forward and the backward of sum(y),
    the input being x * 1; the least time of each over runs filling `seconds`."""
    n, c, h, w, o, k, s, p, g = (int(v) for v in spec.split(","))
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(n, c, h, w, generator=gen) - 0.5).requires_grad_(True)
    wt = ((torch.rand(o, c // g, k, k, generator=gen) - 0.5) * 0.2).requires_grad_(True)
    b = (torch.rand(o, generator=gen) - 0.5).requires_grad_(True)
    tf = tb = float("inf")
    t_end = time.perf_counter() + seconds
    i = 0
    while i < 5 or time.perf_counter() < t_end:
        x.grad = wt.grad = b.grad = None
        xi = x * 1.0
        t0 = time.perf_counter()
        y = F.conv2d(xi, wt, b, s, p, 1, g)
        t1 = time.perf_counter()
        loss = y.sum()
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        tf, tb = min(tf, t1 - t0), min(tb, t3 - t2)
        i += 1
    return tf * 1e6, tb * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="seed", choices=sorted(MODELS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--mode", default="train", choices=["train", "infer"])
    ap.add_argument("--seconds", type=float, default=1.0, help="per repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--conv", metavar="N,C,H,W,O,K,S,P,G",
                    help="time one conv2d layer instead (as bench --conv)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    if a.conv:
        fwd, bwd = conv_layer(a.conv, a.seconds)
        res = {"impl": "pytorch-" + torch.__version__, "onednn_max_isa": TORCH_ISA,
               "conv": a.conv, "threads": a.threads, "forward_us": round(fwd, 1),
               "backward_us": round(bwd, 1)}
        print(json.dumps(res) if a.json else
              "conv %s threads %d: forward %.0f us, backward %.0f us%s" % (
                  a.conv, a.threads, fwd, bwd, isa_note()))
        return 0
    torch.manual_seed(0)
    model = MODELS[a.model]()
    shape, n_data = SHAPES[a.model]
    if a.mode == "train":
        rates, cpu = train_rate(model, shape, a.batch, a.seconds, a.repeats, n_data)
    else:
        rates, cpu = infer_rate(model, shape, a.batch, a.seconds, a.repeats)
    res = {
        "impl": "pytorch-" + torch.__version__,
        "onednn_max_isa": TORCH_ISA,
        "model": a.model,
        "mode": a.mode,
        "threads": a.threads,
        "batch": a.batch,
        "samples_per_s": statistics.median(rates),
        "runs": [round(r, 1) for r in rates],
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        # least CPU time (all threads) per step over the repeats: on a shared
        # machine less disturbed by other processes than samples/s
        "cpu_ms_per_step": round(cpu, 3),
    }
    if a.json:
        print(json.dumps(res))
    else:
        print("%-7s %-5s threads %d batch %4d: %10.0f samples/s  (peak RSS %d KiB, %.2f CPU "
              "ms/step)%s" % (a.model, a.mode, a.threads, a.batch, res["samples_per_s"],
                              res["peak_rss_kb"], cpu, isa_note()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
