#!/bin/sh
# SPDX-License-Identifier: MIT
# ONNX export checked by real consumers (onnx checker, OpenCV dnn).
#   run.sh ONNX_MODELS_EXE CHECK_PY MNIST_DIR
# Exits 77 (skip) when Debian's python3 lacks onnx or cv2 (scripts/test.sh
# installs python3-onnx and python3-opencv).
set -eu
exe=$1 check=$2 mnist=$3
py=/usr/bin/python3
if [ ! -x "$py" ] || ! "$py" -c 'import onnx, cv2, numpy' 2>/dev/null; then
    echo "skip: $py with onnx, cv2 and numpy is needed (apt-get install python3-onnx python3-opencv)"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$exe" "$dir" "$mnist"
"$py" "$check" "$dir"
