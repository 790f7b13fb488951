#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Refresh the committed ABI baselines (docs/abi.md):
#   scripts/update-abi-baseline.sh                 exports list + ABI XML
#   scripts/update-abi-baseline.sh --exports-only  tests/abi/exported-symbols.txt only
# Builds the library with debug info in $BUILD_DIR (default build-abi),
# then writes tests/abi/exported-symbols.txt and, unless --exports-only,
# tests/abi/libtinygrad.abi and tests/abi/libtinygrad.abi.version.
set -eu
cd "$(dirname "$0")/.."
exports_only=0
[ "${1:-}" = --exports-only ] && exports_only=1
build=${BUILD_DIR:-build-abi}

opts=(-Doptimization=3 -Ddebug=true -Dtests=disabled -Ddocs=disabled -Dexamples=false -Dbench=false)
if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "${opts[@]}" >/dev/null
else
    meson setup "$build" "${opts[@]}" >/dev/null
fi
meson compile -C "$build" >/dev/null
lib=$(ls "$build"/lib/libtinygrad.so.*.*.* | head -n 1)
version=$(meson introspect --projectinfo "$build" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')

bash tests/abi/check-exports.sh --update "$lib" tests/abi/exported-symbols.txt include/tinygrad.h
if [ "$exports_only" = 0 ]; then
    command -v abidw >/dev/null || { echo "abidw missing: apt-get install abigail-tools" >&2; exit 1; }
    bash tests/abi/check-abi.sh --dump tests/abi/libtinygrad.abi "$lib" include "$build/include"
    echo "$version" >tests/abi/libtinygrad.abi.version
    echo "wrote tests/abi/libtinygrad.abi (libtinygrad $version)"
fi
echo "review with git diff tests/abi/ and commit with the change that needed it"
