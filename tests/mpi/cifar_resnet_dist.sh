#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cifar_resnet with a bare `--distributed` under mpirun (docs/distributed.md):
#   cifar_resnet_dist.sh MPIRUN CIFAR_RESNET SOURCE_ROOT
# A short 2-rank run (ResNet-8, 256 synthetic colour images of
# scripts/gen_color_data.py in the CIFAR-10 format, 2 epochs of batch 16 per
# rank, 1 thread per rank) must exit 0, print the global batch line once and
# exactly one `test_accuracy=` line, the last one: only rank 0 prints.
# Python: $TG_PYTHON, else python3 (standard library only).
set -u
mpirun=$1 exe=$2 root=$3
py=${TG_PYTHON:-python3}
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-cifar-dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$py" "$root/scripts/gen_color_data.py" --out "$tmp/data" --train 256 --test 100 --seed 3 ||
    fail "gen_color_data.py failed"
rc=0
timeout -k 10 240 "$mpirun" --oversubscribe --allow-run-as-root --bind-to none \
    --mca mpi_yield_when_idle 1 -np 2 "$exe" --distributed --data-dir "$tmp/data" \
    --train-subset 256 --epochs 2 --batch-size 16 --threads 1 --seed 1 --lr-warmup-epochs 0 \
    --save-dir "$tmp/run" --log-file "$tmp/run/train.log" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/out"; fail "2-rank run: exit status $rc"; }
cat "$tmp/out"
n=$(grep -c '^distributed: 2 ranks x batch 16 per rank = global batch 32$' "$tmp/out")
[ "$n" = 1 ] || fail "the global batch line was printed $n times, not once"
n=$(grep -c 'test_accuracy=' "$tmp/out")
[ "$n" = 1 ] || fail "$n test_accuracy= lines, not 1 (ranks > 0 must not print)"
last=$(tail -n 1 "$tmp/out")
[[ $last =~ ^test_accuracy=[01]\.[0-9]{4}\ train_seconds=[0-9.]+\ samples_per_s=[0-9]+$ ]] ||
    fail "last line '$last' is not machine-readable"
[ -e "$tmp/run/last.safetensors" ] || fail "rank 0 wrote no last.safetensors"
echo "OK: 2 ranks, one global batch line, one test_accuracy line"
