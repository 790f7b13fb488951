#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end run of examples/tabular on the committed CSV fixtures: Iris
# (string class labels) must reach >= 0.90 test accuracy, diabetes
# (regression) a test RMSE below 0.85 x the RMSE of predicting the training
# mean; the saved model carries the class names; bad input fails with a
# message that names it.
#   tabular_e2e.sh TABULAR SOURCE_ROOT
set -eu
tab=$1 root=$2
fx=$root/tests/fixtures
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-tabular-e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$tab" --csv "$fx/iris.csv" --target species --task classification --test-split 0.2 \
    --epochs 50 --seed 1 --save "$tmp/iris.safetensors" >"$tmp/iris.out" || fail "iris run"
cat "$tmp/iris.out"
acc=$(tail -n 1 "$tmp/iris.out" | sed -n 's/^test_accuracy=//p')
[ -n "$acc" ] || fail "no test_accuracy line"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.90) }' || fail "iris accuracy $acc < 0.90"
grep -aq 'tg.class_names' "$tmp/iris.safetensors" || fail "no tg.class_names in the saved model"
grep -aq 'setosa.*versicolor.*virginica' "$tmp/iris.safetensors" || fail "class names not saved in order"

"$tab" --csv "$fx/diabetes.csv" --target target --task regression --seed 1 >"$tmp/diab.out" ||
    fail "diabetes run"
cat "$tmp/diab.out"
rmse=$(tail -n 1 "$tmp/diab.out" | sed -n 's/^test_rmse=//p')
base=$(tail -n 2 "$tmp/diab.out" | head -n 1 | sed -n 's/^baseline_rmse=//p')
[ -n "$rmse" ] && [ -n "$base" ] || fail "no baseline_rmse/test_rmse lines"
awk -v r="$rmse" -v b="$base" 'BEGIN { exit !(r < 0.85 * b) }' ||
    fail "diabetes RMSE $rmse is not below 0.85 x baseline $base"

# errors: a missing column, a malformed cell (file:line:field), bad flags
if "$tab" --csv "$fx/iris.csv" --target nope --task classification 2>"$tmp/err"; then
    fail "missing column accepted"
fi
grep -q '"nope"' "$tmp/err" || fail "missing column not named: $(cat "$tmp/err")"
printf 'a,y\n1,x\n2,y\nzz,x\n' >"$tmp/bad.csv"
if "$tab" --csv "$tmp/bad.csv" --target y --task classification 2>"$tmp/err"; then
    fail "bad cell accepted"
fi
grep -q "bad.csv:4:1: 'zz' is not a number" "$tmp/err" || fail "bad cell message: $(cat "$tmp/err")"
set +e
"$tab" --csv "$fx/iris.csv" --target species --task clustering 2>/dev/null
[ $? -eq 2 ] || fail "unknown task not refused with usage (exit 2)"
"$tab" --csv "$fx/iris.csv" --target species --task classification --epochs 3x 2>/dev/null
[ $? -eq 2 ] || fail "bad --epochs not refused with usage (exit 2)"
set -e
echo "PASS: iris test_accuracy=$acc, diabetes test_rmse=$rmse (baseline $base)"
