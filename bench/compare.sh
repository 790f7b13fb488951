#!/bin/sh
# SPDX-License-Identifier: MIT
# Side-by-side libtinygrad vs PyTorch on this machine: training (batch 32 and
# 128) and inference (batch 1 and 1000) samples/s for the seed CNN and
# LeNet-5 at 1 and 2 threads, peak RSS, and the ratio ours/PyTorch.
#
#   bench/compare.sh [BUILD_DIR] [SECONDS_PER_REPEAT] [REPEATS]
#
# PyTorch inference at batch 1000 also runs with glibc's malloc told to keep
# its memory (PyTorch is much faster that way); the table uses PyTorch's best.
# Each number is the median of REPEATS timed runs. Environment: MODELS
# (default "seed lenet5"), THREADS (default "1 2"), PYTHON (/usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-"$here/../build"}
secs=${2:-1}
reps=${3:-5}
models=${MODELS:-"seed lenet5"}
threads_list=${THREADS:-"1 2"}
py=${PYTHON:-/usr/bin/python3}
bench="$build/bench/bench"
tuned="glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295"
[ -x "$bench" ] || { echo "compare.sh: $bench not built (ninja -C $build)" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for m in $models; do
    for t in $threads_list; do
        for cfg in "train 32" "train 128" "infer 1" "infer 1000"; do
            set -- $cfg
            mode=$1 b=$2
            ours=$("$bench" --model "$m" --threads "$t" --batch "$b" --mode "$mode" \
                   --seconds "$secs" --repeats "$reps" --json)
            theirs=$("$py" "$here/torch_bench.py" --model "$m" --threads "$t" --batch "$b" \
                     --mode "$mode" --seconds "$secs" --repeats "$reps" --json)
            tuned_json='{}'
            if [ "$mode" = infer ] && [ "$b" -ge 1000 ]; then
                tuned_json=$(GLIBC_TUNABLES=$tuned "$py" "$here/torch_bench.py" --model "$m" \
                    --threads "$t" --batch "$b" --mode "$mode" --seconds "$secs" \
                    --repeats "$reps" --json)
            fi
            printf '%s\t%s\t%s\n' "$ours" "$theirs" "$tuned_json" >>"$out"
        done
    done
done

"$py" - "$out" <<'EOF'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("%-7s %-5s %3s %5s | %12s %12s %7s | %9s %9s | %s" % (
    "model", "mode", "thr", "batch", "ours/s", "pytorch/s", "ratio",
    "RSS ours", "RSS torch", "ours: allocs/step, %peak"))
print("-" * 104)
for o, t, tt in rows:
    o, t, tt = json.loads(o), json.loads(t), json.loads(tt)
    best = t
    if tt and tt["samples_per_s"] > t["samples_per_s"]:
        best = tt
    print("%-7s %-5s %3d %5d | %12.0f %12.0f %6.2fx | %7.1fMB %7.1fMB | %.2f, %.1f%%%s" % (
        o["model"], o["mode"], o["threads"], o["batch"], o["samples_per_s"],
        best["samples_per_s"], o["samples_per_s"] / best["samples_per_s"],
        o["peak_rss_kb"] / 1024, best["peak_rss_kb"] / 1024, o["allocs_per_step"],
        o["pct_of_peak"], " (torch: tuned malloc)" if best is tt else ""))
EOF
