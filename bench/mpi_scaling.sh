#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 1 rank x 2 threads against 2 ranks x 1 thread (and 1 x 1) on one machine,
# same global batch, interleaved rounds (docs/distributed.md):
#   bench/mpi_scaling.sh [BUILD_DIR] [ROUNDS] [GLOBAL_BATCH]
# --bind-to none: mpirun's default binds a rank to one core, which would
# put both threads of a 1 x 2 run on the same core.
set -u
build=${1:-build} rounds=${2:-3} global=${3:-64}
run="mpirun --bind-to none --mca mpi_yield_when_idle 1 --oversubscribe --allow-run-as-root"
grep -m1 'model name' /proc/cpuinfo
echo "nproc $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for m in seed lenet5; do
        $run -np 1 "$build/bench/bench_mpi" --model "$m" --threads 1 --global-batch "$global"
        $run -np 1 "$build/bench/bench_mpi" --model "$m" --threads 2 --global-batch "$global"
        $run -np 2 "$build/bench/bench_mpi" --model "$m" --threads 1 --global-batch "$global"
        [ "$r" = 1 ] && $run -np 2 "$build/bench/bench_mpi" --model "$m" --comm-only
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
