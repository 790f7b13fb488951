#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end run of examples/cifar_resnet on the synthetic colour data of
# scripts/gen_color_data.py (10 classes = 5 luminance levels x 2 opposite
# hues), written once in the CIFAR-10 binary format and once as RGB PNG
# trees: ResNet-8 must reach test accuracy >= 0.95 from both, and after a
# grey conversion (PNG, --grey true) it must stay near 50% (only the
# luminance level survives). Also: the machine-readable last line, a
# missing data directory named in the error, a truncated .bin file named
# with its byte offset, an unknown flag.
#   cifar_resnet_e2e.sh CIFAR_RESNET SOURCE_ROOT WORK_DIR
# Python: $TG_PYTHON, else python3 (standard library only).
set -eu
exe=$1 root=$2 work=$3
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
py=${TG_PYTHON:-python3}
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
"$py" "$root/scripts/gen_color_data.py" --out "$work/data" --train 500 --test 200 --seed 3 ||
    fail "gen_color_data.py failed"

# A short recipe for 500 images: 4 epochs of batch 32, cosine from 0.1.
common=(--epochs 4 --batch-size 32 --threads 2 --seed 1 --lr-warmup-epochs 0
        --log-file "$work/train.log" --save-dir "")
run() { # name, arguments...: runs, prints, checks the last line, sets $acc
    local name=$1
    shift
    "$exe" "$@" >"$work/$name.out" 2>&1 || { cat "$work/$name.out"; fail "$name: exit status $?"; }
    cat "$work/$name.out"
    local last
    last=$(tail -n 1 "$work/$name.out")
    [[ $last =~ ^test_accuracy=([01]\.[0-9]{4})\ train_seconds=[0-9.]+\ samples_per_s=[0-9]+$ ]] ||
        fail "$name: last line '$last' is not machine-readable"
    acc=${BASH_REMATCH[1]}
}
run cifar --data-dir "$work/data" "${common[@]}"
grep -q "500 train, 200 test images (3 channels" "$work/cifar.out" || fail "cifar: wrong data sizes"
grep -q "ResNet-8 (78042 weights)" "$work/cifar.out" || fail "cifar: not ResNet-8"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' || fail "CIFAR files: test accuracy $acc < 0.95"
echo "CIFAR files: test accuracy $acc"

run png --data-dir "$work/data" --image-type png "${common[@]}"
grep -q "500 train, 200 test images (3 channels" "$work/png.out" || fail "png: colour not kept"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' || fail "PNG tree: test accuracy $acc < 0.95"
echo "PNG tree: test accuracy $acc"

run grey --data-dir "$work/data" --image-type png --grey true "${common[@]}"
grep -q "(1 channels" "$work/grey.out" || fail "grey: not one channel"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.30 && a <= 0.62) }' ||
    fail "grey PNG tree: test accuracy $acc outside [0.30, 0.62] (expected near 0.5)"
echo "grey PNG tree: test accuracy $acc (cap 0.5)"

# Errors: a data directory that does not exist is named, never replaced.
if "$exe" --data-dir "$work/nowhere" --epochs 1 >"$work/err1" 2>&1; then fail "missing directory accepted"; fi
grep -q "$work/nowhere" "$work/err1" || { cat "$work/err1"; fail "missing directory not named"; }
# A truncated .bin (one record minus 100 bytes): the file and the offset of
# the partial record are named.
mkdir -p "$work/trunc"
head -c $((3073 * 10 - 100)) "$work/data/data_batch_1.bin" >"$work/trunc/data_batch_1.bin"
cp "$work/data/test_batch.bin" "$work/trunc/"
if "$exe" --data-dir "$work/trunc" --epochs 1 >"$work/err2" 2>&1; then fail "truncated file accepted"; fi
grep -q "data_batch_1.bin" "$work/err2" && grep -q "27657" "$work/err2" ||
    { cat "$work/err2"; fail "truncated file or offset 27657 not named"; }
# An unknown flag and a bad depth are refused.
if "$exe" --data-dir "$work/data" --epoch 1 >"$work/err3" 2>&1; then fail "unknown flag accepted"; fi
grep -q "epoch" "$work/err3" || { cat "$work/err3"; fail "unknown flag not named"; }
if "$exe" --data-dir "$work/data" --depth 9 >"$work/err4" 2>&1; then fail "depth 9 accepted"; fi
cat "$work/err1" "$work/err2" "$work/err3" "$work/err4"
echo "cifar_resnet_e2e: ok"
