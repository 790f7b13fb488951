#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A short examples/mnist_cnn run under valgrind memcheck: must report zero
# errors and zero leaks (every leak kind counts, --errors-for-leak-kinds=all).
# The data is a small IDX subset (default 600 training, 200 test images) cut
# from the MNIST copy in $MNIST_DIR or ../shared/data/mnist, or synthetic
# IDX files when neither exists, so the run takes about a minute.
#
#   scripts/valgrind-mnist.sh [EPOCHS] [N_TRAIN] [N_TEST]
#
# Environment: VALGRIND_BUILD (default build-valgrind; a -O1 -g build
# without sanitizers). Last line: "valgrind: N errors, N leaked bytes".
set -u
cd "$(dirname "$0")/.." || exit 1
command -v valgrind >/dev/null || { echo "valgrind: not installed" >&2; exit 77; }

epochs=${1:-1}
n_train=${2:-600}
n_test=${3:-200}
build=${VALGRIND_BUILD:-build-valgrind}
src=${MNIST_DIR:-../shared/data/mnist}

opts=(--buildtype=debugoptimized -Dtests=disabled -Ddocs=disabled -Dexamples=true -Dbench=false)
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "${opts[@]}" >"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 1; }
fi
ninja -C "$build" examples/mnist_cnn >"$build.ninja.log" 2>&1 || { tail -40 "$build.ninja.log"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tg-valgrind-XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 - "$src" "$work/data" "$n_train" "$n_test" <<'PY' || exit 1
import gzip, os, random, struct, sys
src, dst, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(dst)
def read(name):
    for p in (os.path.join(src, name), os.path.join(src, name + ".gz")):
        if os.path.exists(p):
            return (gzip.open if p.endswith(".gz") else open)(p, "rb").read()
    return None
for split, n in (("train", n_train), ("t10k", n_test)):
    img, lbl = read(split + "-images-idx3-ubyte"), read(split + "-labels-idx1-ubyte")
    if img is None or lbl is None:  # synthetic: seeded noise with a class stripe
        rng = random.Random(split)
        labels = bytes(rng.randrange(10) for _ in range(n))
        pix = bytearray(rng.randrange(64) for _ in range(n * 784))
        for i, c in enumerate(labels):
            for k in range(28):
                pix[i * 784 + c * 56 + k] = 255
        img = struct.pack(">IIII", 0x803, n, 28, 28) + bytes(pix)
        lbl = struct.pack(">II", 0x801, n) + labels
    open(os.path.join(dst, split + "-images-idx3-ubyte"), "wb").write(
        struct.pack(">IIII", 0x803, n, 28, 28) + img[16:16 + n * 784])
    open(os.path.join(dst, split + "-labels-idx1-ubyte"), "wb").write(
        struct.pack(">II", 0x801, n) + lbl[8:8 + n])
PY

log=$build/valgrind-mnist.log
start=$SECONDS
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
    --track-origins=yes --error-exitcode=99 --log-file="$log" \
    "$build/examples/mnist_cnn" --data-dir "$work/data" --epochs "$epochs" --threads 2 \
    --train-val-split 0.9 --log-file "$work/train.log" --save-dir "$work/run" \
    >"$build/valgrind-mnist.out" 2>&1
rc=$?
tail -3 "$build/valgrind-mnist.out"
grep -E 'ERROR SUMMARY|definitely|indirectly|possibly|still reachable|in use at exit' "$log"
errors=$(grep -Eo 'ERROR SUMMARY: [0-9]+' "$log" | grep -Eo '[0-9]+$')
leaked=$(grep -Eo 'in use at exit: [0-9,]+' "$log" | grep -Eo '[0-9,]+$' | tr -d ,)
echo "valgrind: ${errors:-?} errors, ${leaked:-?} leaked bytes, rc $rc, $((SECONDS - start)) s ($log)"
[ "$rc" -eq 0 ] && [ "${errors:-1}" -eq 0 ] && [ "${leaked:-1}" -eq 0 ]
