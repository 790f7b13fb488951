#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end run of examples/mnist_cnn on the first 1,000 MNIST training
# images (3 epochs): it must clearly learn (test accuracy on the full 10,000
# test images >= 0.6), write its files, resume from its checkpoint, reject
# bad configs with file:line, and mnist_predict must classify a PNG. Short
# cnn_wide/lenet5 runs check normalize and the step/cosine lr schedules.
#   mnist_cnn_e2e.sh MNIST_CNN MNIST_PREDICT SOURCE_ROOT
# Data: $MNIST_DIR, else SOURCE_ROOT/../shared/data/mnist, else
# SOURCE_ROOT/data/mnist; exit 77 (skip) when none holds MNIST.
set -eu
cnn=$1 predict=$2 root=$3
cnn=$(cd "$(dirname "$cnn")" && pwd)/$(basename "$cnn") # runs from other directories too
data=
for d in ${MNIST_DIR:-} "$root/../shared/data/mnist" "$root/data/mnist"; do
    if ls "$d"/train-images-idx3-ubyte* >/dev/null 2>&1; then
        data=$(cd "$d" && pwd)
        break
    fi
done
if [ -z "$data" ]; then
    echo "SKIP: no MNIST (set MNIST_DIR or run scripts/fetch_mnist.sh)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-mnist-e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$tmp/cfg.txt" <<EOF
# a short run of the report's model
data_dir = $data
batch_size = 32
epochs = 3
learning_rate = 0.05
optimizer_type = sgd
momentum = 0.9
loss_function = cross_entropy
seed = 1
image_type = idx
train_val_split = 0.8
train_subset = 1000
log_file = $tmp/out/train.log
save_dir = $tmp/out
threads = 2
EOF
"$cnn" --config "$tmp/cfg.txt" --predictions "$tmp/pred.txt" >"$tmp/stdout" 2>"$tmp/stderr" ||
    { cat "$tmp/stdout" "$tmp/stderr"; fail "mnist_cnn exited with $?"; }
cat "$tmp/stdout"
last=$(tail -n 1 "$tmp/stdout")
[[ $last =~ ^test_accuracy=([01]\.[0-9]{4})\ train_seconds=[0-9.]+\ samples_per_s=[0-9]+$ ]] ||
    fail "last line '$last' is not machine-readable"
acc=${BASH_REMATCH[1]}
awk -v a="$acc" 'BEGIN { exit !(a >= 0.6) }' || fail "test accuracy $acc < 0.6: did not learn"
grep -q "800 train, 200 validation, 10000 test images" "$tmp/stdout" || fail "wrong data sizes"
# train_val_split = 1.0 trains on the whole subset, without validation; bare
# --summary and --export-onnx (flags without a value mean true)
"$cnn" --config "$tmp/cfg.txt" --epochs 1 --train-val-split 1.0 --train-subset 500 --summary \
    --save-dir "$tmp/nosplit" --log-file "$tmp/nosplit/train.log" --export-onnx >"$tmp/stdout3" 2>&1 ||
    { cat "$tmp/stdout3"; fail "run without validation set failed"; }
grep -q "500 train, 0 validation, 10000 test images" "$tmp/stdout3" ||
    { cat "$tmp/stdout3"; fail "train_subset ignored when train_val_split = 1.0"; }
grep -q "^Total params: 18,343$" "$tmp/stdout3" || { cat "$tmp/stdout3"; fail "--summary: no 18,343"; }
grep -q "^wrote $tmp/nosplit/model.onnx$" "$tmp/stdout3" || fail "--export-onnx: no 'wrote' line"
[ -s "$tmp/nosplit/model.onnx" ] || fail "--export-onnx: model.onnx missing or empty"
[[ $(tail -n 1 "$tmp/stdout3") =~ ^test_accuracy= ]] || fail "export: test_accuracy is not last"
grep -q "tg.input_scale" "$tmp/nosplit/best.safetensors" || fail "no preprocessing metadata"
if grep -q '^Total params' "$tmp/stdout"; then fail "summary printed without --summary"; fi
[ ! -e "$tmp/out/model.onnx" ] || fail "model.onnx written without export_onnx"
printf 'export_onnx = true\n' >"$tmp/export.txt" # the config key works too
sed '/^save_dir/d; /^log_file/d' "$tmp/cfg.txt" >>"$tmp/export.txt"
"$cnn" --config "$tmp/export.txt" --epochs 1 --train-subset 200 --save-dir "$tmp/exp2" \
    --log-file '' >"$tmp/stdout6" 2>&1 || { cat "$tmp/stdout6"; fail "export_onnx = true failed"; }
[ -s "$tmp/exp2/model.onnx" ] || fail "export_onnx = true: no model.onnx"
expect_error0() { if "$@" >"$tmp/err0" 2>&1; then fail "'$*' succeeded"; fi; }
expect_error0 "$cnn" --config "$tmp/cfg.txt" --epochs # a non-boolean key needs its value
grep -q "option '--epochs' needs a value" "$tmp/err0" || { cat "$tmp/err0"; fail "bare --epochs"; }
for f in best.safetensors last.safetensors checkpoint.safetensors metrics.csv loss.svg \
         accuracy.svg train.log; do
    [ -s "$tmp/out/$f" ] || fail "$f missing"
done
[ "$(wc -l <"$tmp/pred.txt")" = 10000 ] || fail "predictions file has the wrong length"
[ "$(wc -l <"$tmp/out/metrics.csv")" = 4 ] || fail "metrics.csv should have 3 epochs"
grep -q '^epoch 1 iter 25/25 loss ' "$tmp/out/train.log" || fail "no per-iteration loss in the log"
grep -q '^epoch 3 train_loss .* val_loss .* val_accuracy ' "$tmp/out/train.log" ||
    fail "no per-epoch metrics in the log"
head -c 5 "$tmp/out/loss.svg" | grep -q '<svg' || fail "loss.svg is not SVG"
grep -q '<polyline' "$tmp/out/accuracy.svg" || fail "accuracy.svg has no curve"

# the saved weights give the same predictions in PyTorch (if installed)
py=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch, numpy' >/dev/null 2>&1; then py=$p; break; fi
done
if [ -n "$py" ]; then
    "$py" "$(dirname "$0")/../scripts/load_in_torch.py" "$tmp/out/best.safetensors" \
        --data-dir "$data" --predictions "$tmp/pred.txt" || fail "PyTorch disagrees"
fi

# resume from the checkpoint for one more epoch
"$cnn" --config "$tmp/cfg.txt" --epochs 4 --resume "$tmp/out/checkpoint.safetensors" \
    >"$tmp/stdout2" 2>&1 || { cat "$tmp/stdout2"; fail "resume failed"; }
grep -q "resuming from .* after epoch 3" "$tmp/stdout2" || fail "resume did not start at epoch 3"
grep -q '^epoch 4/4 ' "$tmp/stdout2" || fail "resume did not run epoch 4"
[ "$(wc -l <"$tmp/out/metrics.csv")" = 5 ] || fail "metrics.csv lost the earlier epochs"

# cnn_wide with normalised inputs and a step schedule (lr halved every epoch),
# resumed for a 4th epoch; lenet5 with a cosine schedule down to lr_min
"$cnn" --config "$tmp/cfg.txt" --model cnn_wide --normalize true --lr-schedule step \
    --lr-step-epochs 1 --lr-gamma 0.5 --save-dir "$tmp/wide" --log-file '' >"$tmp/stdout3" 2>&1 ||
    { cat "$tmp/stdout3"; fail "cnn_wide run failed"; }
cat "$tmp/stdout3"
grep -q "model cnn_wide .*schedule step; normalized" "$tmp/stdout3" || fail "cnn_wide header"
grep -q '^epoch 3/3 .* lr 0.0125$' "$tmp/stdout3" || fail "step schedule: epoch 3 lr is not 0.0125"
acc3=$(tail -n 1 "$tmp/stdout3" | sed 's/^test_accuracy=\([0-9.]*\) .*/\1/')
awk -v a="$acc3" 'BEGIN { exit !(a >= 0.6) }' || fail "cnn_wide test accuracy $acc3 < 0.6"
"$cnn" --config "$tmp/cfg.txt" --model cnn_wide --normalize true --lr-schedule step \
    --lr-step-epochs 1 --lr-gamma 0.5 --save-dir "$tmp/wide" --log-file '' --epochs 4 \
    --resume "$tmp/wide/checkpoint.safetensors" >"$tmp/stdout4" 2>&1 ||
    { cat "$tmp/stdout4"; fail "cnn_wide resume failed"; }
grep -q '^epoch 4/4 .* lr 0.00625$' "$tmp/stdout4" || fail "resumed step schedule: lr not 0.00625"
"$cnn" --config "$tmp/cfg.txt" --model lenet5 --epochs 2 --lr-schedule cosine --lr-min 0.01 \
    --save-dir '' --log-file '' >"$tmp/stdout5" 2>&1 || { cat "$tmp/stdout5"; fail "lenet5 failed"; }
grep -q '^epoch 1/2 .* lr 0.05$' "$tmp/stdout5" && grep -q '^epoch 2/2 .* lr 0.03$' "$tmp/stdout5" ||
    { cat "$tmp/stdout5"; fail "cosine schedule: lr should be 0.05 then 0.03"; }

# bad input: one clear message naming file:line / the path, non-zero exit
expect_error() { # pattern, then the command
    local pat=$1
    shift
    if "$@" >"$tmp/err" 2>&1; then fail "'$*' succeeded"; fi
    grep -q -- "$pat" "$tmp/err" || { cat "$tmp/err"; fail "no '$pat' in the error"; }
}
printf 'epochs = 1\nlerning_rate = 0.1\n' >"$tmp/bad1.txt"
expect_error "bad1.txt:2: unknown key 'lerning_rate'" "$cnn" --config "$tmp/bad1.txt"
printf 'batch_size = many\n' >"$tmp/bad2.txt"
expect_error "bad2.txt:1: batch_size" "$cnn" --config "$tmp/bad2.txt"
expect_error "optimizer_type" "$cnn" --config "$tmp/cfg.txt" --optimizer-type adm
printf 'lr_gamma = 1.5\n' >"$tmp/bad3.txt"
expect_error "bad3.txt:1: lr_gamma" "$cnn" --config "$tmp/bad3.txt"
printf 'model = lenet5\nnormalize = maybe\n' >"$tmp/bad4.txt"
expect_error "bad4.txt:2: normalize" "$cnn" --config "$tmp/bad4.txt"
expect_error "lr_schedule" "$cnn" --config "$tmp/cfg.txt" --lr-schedule cosin
expect_error "lr_min" "$cnn" --config "$tmp/cfg.txt" --lr-min 0.5
expect_error "model" "$cnn" --config "$tmp/cfg.txt" --model lenet7
expect_error "unknown option '--epoch'" "$cnn" --epoch 3
expect_error "$tmp/nothing" "$cnn" --config "$tmp/cfg.txt" --data-dir "$tmp/nothing"
# new-user bug 1: a named data directory is used or refused, never replaced by
# data/mnist (here in the current directory, where the old lookup found it)
mkdir -p "$tmp/cwd/data"
ln -s "$data" "$tmp/cwd/data/mnist"
(cd "$tmp/cwd" && expect_error "data directory '$tmp/wrong' does not exist" "$cnn" \
    --config "$tmp/cfg.txt" --data-dir "$tmp/wrong")
mkdir -p "$tmp/empty"
(cd "$tmp/cwd" && expect_error "data directory '$tmp/empty' holds none of" "$cnn" \
    --config "$tmp/cfg.txt" --data-dir "$tmp/empty")
(cd "$tmp/cwd" && expect_error "data directory 'wrong/rel' does not exist" "$cnn" \
    --config "$tmp/cfg.txt" --data-dir wrong/rel)
expect_error "$tmp/none.safetensors" "$cnn" --config "$tmp/cfg.txt" --resume "$tmp/none.safetensors"
for k in train_val_split normalize lr_schedule lr_step_epochs lr_gamma lr_min cnn_wide; do
    "$cnn" --help | grep -q "$k" || fail "--help does not document $k"
done

# mnist_predict on a test image written as PNG (needs python3 for the PNG)
if command -v python3 >/dev/null 2>&1; then
    python3 - "$data" "$tmp/digit.png" <<'PY'
import gzip, struct, sys, zlib, os
d, out = sys.argv[1], sys.argv[2]
p = os.path.join(d, "t10k-images-idx3-ubyte")
raw = open(p, "rb").read() if os.path.exists(p) else gzip.open(p + ".gz").read()
px = raw[16:16 + 784]  # first test image (a 7)
rows = b"".join(b"\0" + px[r * 28:(r + 1) * 28] for r in range(28))
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(out, "wb").write(png)
PY
    "$predict" --weights "$tmp/out/best.safetensors" "$tmp/digit.png" >"$tmp/p.txt" ||
        { cat "$tmp/p.txt"; fail "mnist_predict failed"; }
    cat "$tmp/p.txt"
    grep -q "digit.png: 7 (p=" "$tmp/p.txt" || fail "mnist_predict did not say 7"
    expect_error "$tmp/out/best.safetensors" "$predict" --model lenet5 \
        --weights "$tmp/out/best.safetensors" "$tmp/digit.png"
    "$predict" --model cnn_wide --normalize --weights "$tmp/wide/best.safetensors" \
        "$tmp/digit.png" >"$tmp/p2.txt" || { cat "$tmp/p2.txt"; fail "mnist_predict cnn_wide failed"; }
    cat "$tmp/p2.txt"
    grep -q "digit.png: 7 (p=" "$tmp/p2.txt" || fail "mnist_predict --normalize did not say 7"
    # normalize = true is in best.safetensors' metadata: no --normalize needed, same answer
    grep -q '"tg.input_mean":"0.1307"' "$tmp/wide/best.safetensors" ||
        fail "normalize = true: no tg.input_mean in best.safetensors"
    "$predict" --model cnn_wide --weights "$tmp/wide/best.safetensors" "$tmp/digit.png" \
        >"$tmp/p3.txt" || { cat "$tmp/p3.txt"; fail "mnist_predict (metadata) failed"; }
    cat "$tmp/p3.txt"
    cmp -s "$tmp/p2.txt" "$tmp/p3.txt" || fail "mnist_predict: metadata and --normalize differ"
    expect_error "usage" "$predict" --model lenet7 --weights "$tmp/out/best.safetensors" \
        "$tmp/digit.png"
fi
echo "OK: test accuracy $acc"
