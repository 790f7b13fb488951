#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mnist_cnn with `distributed = true` under mpirun (docs/distributed.md):
#   mnist_cnn_dist.sh MPIRUN MNIST_CNN DATA_DIR
# A 2-rank run (batch 32 per rank) on a 6000-image subset (3 epochs, lr 0.02:
# converged far enough that the kernel path, AVX-512, AVX2 or plain C, does
# not move the result by more than 0.15 point) reaches the test
# accuracy of one process with the global batch 64 within 0.5 point, and the
# same 2-rank run twice (once with `--distributed true`, once with a bare
# `--distributed`) writes identical weights (last.safetensors).
# Exit 77 when the MNIST files are missing.
set -u
mpirun=$1 exe=$2 data=$3
[ -e "$data/train-images-idx3-ubyte" ] || [ -e "$data/train-images-idx3-ubyte.gz" ] ||
    { echo "SKIP: no MNIST in $data"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-mnist-dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
common=(--data-dir "$data" --train-subset 6000 --epochs 3 --threads 1 --normalize true
        --learning-rate 0.02 --momentum 0.9 --train-val-split 1.0)
acc() { sed -n 's/^test_accuracy=\([0-9.]*\).*/\1/p' "$1"; }
dist() { # dist DIR FLAG...: `--distributed true` and a bare `--distributed` are the same
    local d=$1
    shift
    timeout -k 10 240 "$mpirun" --oversubscribe --allow-run-as-root --bind-to none \
        --mca mpi_yield_when_idle 1 -np 2 "$exe" "$@" --batch-size 32 \
        --save-dir "$d" "${common[@]}" >"$d.log" 2>&1 || { cat "$d.log"; echo "FAIL: 2-rank run"; exit 1; }
}
dist "$tmp/a" --distributed true
dist "$tmp/b" --distributed
grep -q '^distributed: 2 ranks x batch 32 per rank = global batch 64$' "$tmp/b.log" ||
    { cat "$tmp/b.log"; echo "FAIL: bare --distributed did not run 2 ranks"; exit 1; }
timeout 240 "$exe" --batch-size 64 --save-dir "$tmp/one" "${common[@]}" >"$tmp/one.log" 2>&1 ||
    { cat "$tmp/one.log"; echo "FAIL: 1-process run"; exit 1; }
grep -h 'distributed:\|test_accuracy' "$tmp/a.log" "$tmp/one.log"
a=$(acc "$tmp/a.log") b=$(acc "$tmp/b.log") one=$(acc "$tmp/one.log")
[ -n "$a" ] && [ -n "$one" ] || { echo "FAIL: no test_accuracy line"; exit 1; }
cmp -s "$tmp/a/last.safetensors" "$tmp/b/last.safetensors" ||
    { echo "FAIL: two identical 2-rank runs wrote different weights"; exit 1; }
[ "$(grep -c 'test_accuracy=' "$tmp/a.log")" = 1 ] || { echo "FAIL: ranks > 0 printed too"; exit 1; }
python3 - "$a" "$one" <<'PY' || exit 1
import sys
a, one = map(float, sys.argv[1:])
print(f"2 ranks x 32: {a:.4f}; 1 process x 64: {one:.4f}; difference {100 * abs(a - one):.2f} points")
sys.exit(0 if abs(a - one) <= 0.005 else 1)
PY
echo "OK: same accuracy within 0.5 point, identical bits across two 2-rank runs (b: $b)"
