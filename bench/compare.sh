#!/bin/sh
# SPDX-License-Identifier: MIT
# Side-by-side libtinygrad vs PyTorch on this machine, one table: for the
# seed CNN and LeNet-5 training at batch 32 and 128 and inference at batch 1
# and 1000; for ResNet-8 (CIFAR shape) training at batch 64 and 128 and
# inference at batch 1 and 256; each at 1 and 2 threads. Columns: samples/s
# (median of REPEATS), the ratio ours/PyTorch, the least CPU time per step of
# each (all threads; on a shared machine less disturbed by other processes
# than samples/s) and its ratio, peak RSS, for ours allocations per step
# and % of the FMA peak of the SIMD path in use (measured by bench), and the
# share of CPU time stolen by the hypervisor while the row ran, and for rows
# of two threads or more "FMA x": bench --fma-cores run just before each
# round, the FMA rate of that many threads at once over one thread's (about
# 2.0 for two threads on two cores; lower where the host gave the vCPUs one
# core's FMA units or slowed one; steal time does not show this).
#
#   bench/compare.sh [BUILD_DIR] [SECONDS_PER_REPEAT] [REPEATS]
#
# TG_CPU=avx2 (or generic) in the environment restricts libtinygrad's kernels,
# e.g. to stand in for an AVX2-only CPU on an AVX-512 one; avx2 restricts
# PyTorch's oneDNN to AVX2 as well (torch_bench.py; ONEDNN_MAX_CPU_ISA=ALL
# lifts that). The header names the CPU, both paths and the load average
# before and after.
# PyTorch inference at batch >= 256 also runs with glibc's malloc told to keep
# its memory (PyTorch is much faster that way); the table uses PyTorch's best.
# ROUNDS (default 1) in the environment runs each row that many times,
# ours then PyTorch back to back each time, and prints the medians of ours,
# of PyTorch and of the rounds' ratios: on a host whose speed changes within
# seconds (see the core round trip below), a ratio of two runs made
# seconds apart depends on when each ran; the median of paired rounds less so.
# A round runs a model's configuration at each thread count in turn, and a
# second table gives the scaling (samples/s at two threads over one) per
# round, ours and PyTorch's: before, all one-thread rows of a model ran a
# minute or more before its two-thread rows, and the host's state could
# differ between them.
# Environment: MODELS (default "seed lenet5 resnet8"; "mlp" adds the
# 784-1024-1024-10 MLP, left out by default because Debian's PyTorch runs
# matrix products on its generic BLAS, 2.5 GFLOP/s, so its ratio says little),
# THREADS (default "1 2"), PYTHON (/usr/bin/python3). Defaults take about 3
# minutes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-"$here/../build"}
secs=${2:-0.5}
reps=${3:-5}
models=${MODELS:-"seed lenet5 resnet8"}
threads_list=${THREADS:-"1 2"}
rounds=${ROUNDS:-1}
case $rounds in
'' | *[!0-9]* | 0) echo "compare.sh: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2 ;;
esac
py=${PYTHON:-/usr/bin/python3}
bench="$build/bench/bench"
tuned="glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295"
[ -x "$bench" ] || { echo "compare.sh: $bench not built (ninja -C $build)" >&2; exit 1; }

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), CPU: $cpu, $(nproc) CPUs online, TG_CPU=${TG_CPU:-(unset)}"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
# Two vCPUs may sit on cores that share a cache or not, and a host may move
# them (on one machine the round trip went 55-60 <-> 310-360 ns within
# minutes); two-thread figures of the small CNNs depend on it.
echo "# core-to-core round trip before: $("$bench" --core-latency | sed 's/.*=//') ns"
# Time each vCPU did not run (gaps of 10 us or more in a clock-reading loop,
# bench --host-gaps): steal time read 0.0-0.1% on a KVM guest whose vCPUs
# lost 1-3% this way, some of it in gaps of milliseconds.
echo "# host gaps before (2 threads, 1 s): $("$bench" --host-gaps --threads 2 --seconds 1)"
# The hypervisor's share of this VM's CPU time ("steal", /proc/stat): time a
# vCPU was ready to run but the host ran something else. Printed per row; a
# row with steal measured the host as much as the code.
cpu_ticks() { awk '/^cpu /{t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t}' /proc/stat 2>/dev/null || echo "0 0"; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
nthr=$(echo $threads_list | wc -w)
base=0 # rows before this model's: a table row is (model, threads, mode:batch)
for m in $models; do
    case $m in
    resnet8) cfgs="train:64 train:128 infer:1 infer:256" ;;
    *) cfgs="train:32 train:128 infer:1 infer:1000" ;;
    esac
    ncfg=$(echo $cfgs | wc -w)
    ci=0
    for cfg in $cfgs; do
        mode=${cfg%:*} b=${cfg#*:}
        r=0
        # A round runs the configuration at every thread count back to back,
        # so the scaling figures pair runs seconds apart, as the ratios do.
        while [ "$r" -lt "$rounds" ]; do
            r=$((r + 1))
            ti=0
            for t in $threads_list; do
                row=$((base + ti * ncfg + ci + 1))
                ti=$((ti + 1))
                cores=n/a # the host's FMA units as the threads find them now
                if [ "$t" -ge 2 ]; then
                    cores=$("$bench" --fma-cores --threads "$t" 2>/dev/null |
                            sed -n 's/.*ratio=//p')
                    cores=${cores:-n/a}
                fi
                ticks0=$(cpu_ticks)
                ours=$("$bench" --model "$m" --threads "$t" --batch "$b" --mode "$mode" \
                       --seconds "$secs" --repeats "$reps" --json)
                theirs=$("$py" "$here/torch_bench.py" --model "$m" --threads "$t" \
                         --batch "$b" --mode "$mode" --seconds "$secs" --repeats "$reps" --json)
                tuned_json='{}'
                if [ "$mode" = infer ] && [ "$b" -ge 256 ]; then
                    tuned_json=$(GLIBC_TUNABLES=$tuned "$py" "$here/torch_bench.py" \
                        --model "$m" --threads "$t" --batch "$b" --mode "$mode" \
                        --seconds "$secs" --repeats "$reps" --json)
                fi
                ticks=$(echo "$ticks0 $(cpu_ticks)" | awk '{print $3 - $1, $4 - $2}')
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$ours" "$theirs" "$tuned_json" \
                    "$ticks" "$cores" >>"$out"
            done
        done
        ci=$((ci + 1))
    done
    base=$((base + nthr * ncfg))
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
echo "# core-to-core round trip after: $("$bench" --core-latency | sed 's/.*=//') ns"
echo "# host gaps after (2 threads, 1 s): $("$bench" --host-gaps --threads 2 --seconds 1)"

"$py" - "$out" "$rounds" <<'PYEOF'
import json, statistics, sys
lines = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rounds = int(sys.argv[2])
rows = {}  # row id -> its rounds, in order
cores = {}  # row id -> the threads' FMA rate over one core's, per round
for rid, o, t, tt, ticks, c in lines:
    sd, td = (float(v) for v in ticks.split())
    rows.setdefault(rid, []).append((json.loads(o), json.loads(t), json.loads(tt), sd, td))
    if c != "n/a":
        cores.setdefault(rid, []).append(float(c))
first = json.loads(lines[0][1]) if lines else {}
print("# libtinygrad SIMD path: %s, measured FMA peak of one core: %.0f GFLOP/s" % (
    first.get("simd", "?"), first.get("core_peak_gflops", 0)))
print("# PyTorch's oneDNN ISA limit: %s" % (
    json.loads(lines[0][2]).get("onednn_max_isa", "?") if lines else "?"))
if rounds > 1:
    print("# %d rounds a row: medians of ours, of PyTorch and of the rounds' ratios; CPU "
          "time per step the least, RSS the largest; steal over the whole row; FMA x the "
          "least" % rounds)
print("| model | mode | thr | batch | ours/s | PyTorch/s | ratio | CPU ms/step ours | "
      "CPU ms/step torch | CPU ratio | RSS ours | RSS torch | allocs/step | % FMA peak | "
      "steal | FMA x |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
med = statistics.median
for rid in sorted(rows, key=int):
    rs = rows[rid]
    best = []  # PyTorch's better run of each round (tuned malloc or not)
    for o, t, tt, _, _ in rs:
        best.append(tt if tt and tt["samples_per_s"] > t["samples_per_s"] else t)
    o = rs[0][0]
    ours_s = med(x[0]["samples_per_s"] for x in rs)
    torch_s = med(b["samples_per_s"] for b in best)
    ratio = med(x[0]["samples_per_s"] / b["samples_per_s"] for x, b in zip(rs, best))
    tuned_best = all(b is x[2] for x, b in zip(rs, best))
    cpu_o = min(x[0]["cpu_ms_per_step"] for x in rs)
    cpu_t = min(y["cpu_ms_per_step"] for x in rs for y in (x[1], x[2]) if y)
    rss_o = max(x[0]["peak_rss_kb"] for x in rs) / 1024
    rss_t = max(b["peak_rss_kb"] for b in best) / 1024
    allocs = max(x[0]["allocs_per_step"] for x in rs)
    pct = med(x[0]["pct_of_peak"] for x in rs)
    ticks = sum(x[4] for x in rs)
    steal = 100 * sum(x[3] for x in rs) / ticks if ticks > 0 else 0.0
    print("| %s | %s | %d | %d | %.0f | %.0f%s | %.2fx | %.2f | %.2f | %.2fx | %.1f MB | %.1f MB "
          "| %.2f | %s | %.1f%% | %s |" % (
              o["model"], o["mode"], o["threads"], o["batch"], ours_s, torch_s,
              " (tuned malloc)" if tuned_best else "", ratio, cpu_o, cpu_t, cpu_t / cpu_o,
              rss_o, rss_t, allocs, "%.1f%%" % pct if pct >= 0 else "n/a", steal,
              "%.2f" % min(cores[rid]) if rid in cores else "-"))

# Scaling: each round's samples/s at n threads over its samples/s at the
# fewest, the runs of one round seconds apart; medians and ranges.
runs = {}  # (model, mode, batch) -> threads -> rounds
for rs in rows.values():
    o = rs[0][0]
    runs.setdefault((o["model"], o["mode"], o["batch"]), {})[o["threads"]] = rs
scal = []
for (m, mode, b), by_t in runs.items():
    t1 = min(by_t)
    for t in sorted(by_t):
        if t == t1:
            continue
        pairs = list(zip(by_t[t1], by_t[t]))
        ours = [y[0]["samples_per_s"] / x[0]["samples_per_s"] for x, y in pairs]
        torch = [max(y[1]["samples_per_s"], y[2].get("samples_per_s", 0)) /
                 max(x[1]["samples_per_s"], x[2].get("samples_per_s", 0)) for x, y in pairs]
        scal.append("| %s | %s | %d | %d -> %d | %.2fx (%.2f-%.2f) | %.2fx (%.2f-%.2f) |" % (
            m, mode, b, t1, t, med(ours), min(ours), max(ours), med(torch), min(torch),
            max(torch)))
if scal:
    print()
    print("# scaling: samples/s at more threads over the fewest, per round (the runs "
          "of a round back to back), median (range)")
    print("| model | mode | batch | threads | ours | PyTorch |")
    print("|---|---|---|---|---|---|")
    print("\n".join(scal))
PYEOF
