#!/bin/sh
# SPDX-License-Identifier: MIT
# One convolution layer at a time, libtinygrad (bench --conv) beside PyTorch
# (torch_bench.py --conv) on this machine: the layers of ResNet-8 (CIFAR,
# batch 64), of an ImageNet-style ResNet's stages (batch 8, 56x56 down to
# 7x7, 3x3 and 1x1 stride-2 shortcuts), two of VGG's wide stride-1 layers,
# of a MobileNet-style network (depthwise 3x3 at stride 1 and 2, pointwise
# 1x1) and 5x5 layers. Columns:
# forward and backward microseconds (least of the runs; the backward of
# sum(y) with input, weight and bias gradients), the ratios PyTorch/ours
# (above 1: ours faster), and ours in GFLOP/s of the direct convolution's
# multiply-adds with the share of the FMA peak of the SIMD path in use.
#
#   bench/compare_layers.sh [BUILD_DIR] [SECONDS_PER_LAYER]
#
# Environment: THREADS (default 1), LAYERS (a space-separated list of
# name=N,C,H,W,O,K,S,P,G to run instead), PYTHON (/usr/bin/python3),
# TG_CPU (restricts libtinygrad's kernels and, for avx2, PyTorch's oneDNN,
# as for compare.sh). Defaults take about 4 minutes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-"$here/../build"}
secs=${2:-0.5}
threads=${THREADS:-1}
py=${PYTHON:-/usr/bin/python3}
bench="$build/bench/bench"
[ -x "$bench" ] || { echo "compare_layers.sh: $bench not built (ninja -C $build)" >&2; exit 1; }

layers=${LAYERS:-"
resnet8.conv3x3.16@32=64,16,32,32,16,3,1,1,1
resnet8.conv3x3.16-32.s2=64,16,32,32,32,3,2,1,1
resnet8.shortcut.16-32.s2=64,16,32,32,32,1,2,0,1
resnet8.conv3x3.32@16=64,32,16,16,32,3,1,1,1
resnet8.conv3x3.32-64.s2=64,32,16,16,64,3,2,1,1
resnet8.conv3x3.64@8=64,64,8,8,64,3,1,1,1
resnet.conv3x3.64@56=8,64,56,56,64,3,1,1,1
resnet.conv3x3.64-128.s2=8,64,56,56,128,3,2,1,1
resnet.shortcut.64-128.s2=8,64,56,56,128,1,2,0,1
resnet.conv3x3.128@28=8,128,28,28,128,3,1,1,1
resnet.conv3x3.128-256.s2=8,128,28,28,256,3,2,1,1
resnet.conv3x3.256@14=8,256,14,14,256,3,1,1,1
resnet.conv3x3.256-512.s2=8,256,14,14,512,3,2,1,1
resnet.conv3x3.512@7=8,512,7,7,512,3,1,1,1
vgg.conv3x3.256-512@28=8,256,28,28,512,3,1,1,1
vgg.conv3x3.512@14=8,512,14,14,512,3,1,1,1
mobilenet.dw3x3.32@112=8,32,112,112,32,3,1,1,32
mobilenet.dw3x3.64@56.s2=8,64,112,112,64,3,2,1,64
mobilenet.pw.64-128@56=8,64,56,56,128,1,1,0,1
mobilenet.dw3x3.128@56=8,128,56,56,128,3,1,1,128
mobilenet.dw3x3.256@28=8,256,28,28,256,3,1,1,256
mobilenet.dw3x3.512@14=8,512,14,14,512,3,1,1,512
mobilenet.dw3x3.512@14.s2=8,512,14,14,512,3,2,1,512
mobilenet.pw.512-512@14=8,512,14,14,512,1,1,0,1
mobilenet.dw3x3.1024@7=8,1024,7,7,1024,3,1,1,1024
conv5x5.32@28=32,32,28,28,32,5,1,2,1
conv5x5.6-16@14=32,6,14,14,16,5,1,0,1
"}

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), CPU: $cpu, $(nproc) CPUs online," \
     "threads $threads, TG_CPU=${TG_CPU:-(unset)}"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for l in $layers; do
    name=${l%%=*} spec=${l#*=}
    ours=$("$bench" --conv "$spec" --threads "$threads" --seconds "$secs" --json)
    theirs=$("$py" "$here/torch_bench.py" --conv "$spec" --threads "$threads" --seconds "$secs" \
             --json)
    printf '%s\t%s\t%s\n' "$name" "$ours" "$theirs" >>"$out"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"

"$py" - "$out" <<'PYEOF'
import json, math, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("| layer | N,C,H,W,O,K,S,P,G | fwd us ours | fwd us torch | fwd ratio | bwd us ours | "
      "bwd us torch | bwd ratio | ours GFLOP/s fwd / bwd (% peak) |")
print("|---|---|---|---|---|---|---|---|---|")
logs, faster = [], 0
for name, o, t in rows:
    o, t = json.loads(o), json.loads(t)
    rf, rb = t["forward_us"] / o["forward_us"], t["backward_us"] / o["backward_us"]
    logs += [math.log(rf), math.log(rb)]
    faster += (rf >= 1) + (rb >= 1)
    print("| %s | %s | %.0f | %.0f | %.2fx | %.0f | %.0f | %.2fx | %.0f / %.0f (%.0f%% / %.0f%%) |"
          % (
        name, o["conv"], o["forward_us"], t["forward_us"], rf, o["backward_us"],
        t["backward_us"], rb, o["gflops_fwd"], o["gflops_bwd"], o["pct_of_peak_fwd"],
        o["pct_of_peak_bwd"]))
if rows:
    print("# %s path (PyTorch's oneDNN ISA limit: %s); ours as fast or faster in %d of %d "
          "figures; geometric mean of the ratios %.2fx" % (
              json.loads(rows[0][1])["simd"], json.loads(rows[0][2]).get("onednn_max_isa", "?"),
              faster, len(logs), math.exp(sum(logs) / len(logs))))
PYEOF
