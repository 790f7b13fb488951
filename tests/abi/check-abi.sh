#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ABI compatibility check against the committed baseline (docs/abi.md).
#   check-abi.sh LIB BASELINE VERSION INCLUDE_DIR... [-- SANITIZE]   check
#   check-abi.sh --dump OUT LIB INCLUDE_DIR...                       write ABI XML
# BASELINE is tests/abi/libtinygrad.abi; BASELINE.version holds the project
# version it was taken from. The check fails on an incompatible change
# (abidiff bit 8: removed or changed function, type layout, enum value)
# within one ABI epoch: the major version, or 0.MINOR while the major is 0.
# Compatible additions pass and are listed. Exit 77 = skipped (no
# abigail-tools, no baseline yet, no debug info, a new epoch, sanitizers).
set -eu
skip() { echo "SKIP: $*"; exit 77; }
for t in abidw abidiff; do
    command -v $t >/dev/null 2>&1 || skip "$t not installed (apt-get install abigail-tools)"
done

# The one abidw invocation: the baseline and the check must use the same.
dump() {
    local out=$1 lib=$2
    shift 2
    local hd=()
    for d in "$@"; do hd+=(--headers-dir "$d"); done
    readelf -S "$lib" | grep -q '\.debug_info' ||
        skip "$lib has no DWARF; configure with -Ddebug=true (scripts/test.sh does)"
    abidw "${hd[@]}" --drop-private-types --no-corpus-path --no-comp-dir-path \
        --short-locs --out-file "$out" "$lib"
}

if [ "${1:-}" = --dump ]; then
    shift
    dump "$@"
    exit 0
fi

lib=$1 baseline=$2 version=$3
shift 3
inc=()
sanitize=none
while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then
        sanitize=${2:-none}
        break
    fi
    inc+=("$1")
    shift
done
[ "$sanitize" = none ] || skip "sanitizer build ($sanitize)"
[ -f "$baseline" ] && [ -f "$baseline.version" ] ||
    skip "no ABI baseline yet; create it with scripts/update-abi-baseline.sh"

epoch() {
    local major=${1%%.*} rest=${1#*.}
    if [ "$major" = 0 ]; then echo "0.${rest%%.*}"; else echo "$major"; fi
}
base_version=$(head -n 1 "$baseline.version")
if [ "$(epoch "$base_version")" != "$(epoch "$version")" ]; then
    skip "ABI epoch changed ($base_version -> $version): breaking changes are allowed;" \
        "refresh the baseline with scripts/update-abi-baseline.sh"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dump "$tmp/current.abi" "$lib" "${inc[@]}"
rc=0
abidiff "$baseline" "$tmp/current.abi" >"$tmp/report" 2>&1 || rc=$?
cat "$tmp/report"
if [ $((rc & 3)) -ne 0 ]; then
    echo "FAIL: abidiff could not compare (exit $rc)"
    exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
    echo "FAIL: incompatible ABI change against the $base_version baseline."
    echo "Keep the old ABI, or bump the version (major; minor while 0.y) and"
    echo "note it under \"ABI\" in CHANGELOG.md, then scripts/update-abi-baseline.sh."
    exit 1
fi
if [ $((rc & 4)) -ne 0 ]; then
    echo "OK: compatible ABI changes since $base_version (listed above)"
else
    echo "OK: ABI identical to the $base_version baseline"
fi
