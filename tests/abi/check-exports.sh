#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Exported-symbol check for the shared library.
#   check-exports.sh LIB SYMBOL_LIST HEADER [SANITIZE]   check
#   check-exports.sh --update LIB SYMBOL_LIST HEADER     rewrite SYMBOL_LIST
# Fails when the library exports a symbol outside the public tg_ prefix
# (internal tg__ names included), when a function declared TG_API in the
# header is not exported (declared but never implemented) or one exported is
# not declared, and when the export list differs from the committed
# SYMBOL_LIST (tests/abi/exported-symbols.txt). After a deliberate API
# change, regenerate the list with `scripts/update-abi-baseline.sh
# --exports-only` and commit it with the change. Exit 77 = skipped.
set -eu
update=0
if [ "${1:-}" = --update ]; then
    update=1
    shift
fi
lib=$1 list=$2 header=$3 sanitize=${4:-none}
if [ "$sanitize" != none ]; then
    echo "SKIP: sanitizer runtimes add their own exports ($sanitize build)"
    exit 77
fi
command -v nm >/dev/null 2>&1 || { echo "SKIP: nm (binutils) not installed"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | LC_ALL=C sort -u >"$tmp/exported"
# Function names declared with TG_API, comments stripped first.
python3 - "$header" >"$tmp/declared" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
names = set()
for decl in text.split(";"):
    if "TG_API" not in decl:
        continue
    m = re.search(r"\bTG_API\b[^(]*?\b(tg_\w+)\s*\(", decl[decl.rfind("TG_API"):])
    if m:
        names.add(m.group(1))
print("\n".join(sorted(names)))
PY
LC_ALL=C sort -u -o "$tmp/declared" "$tmp/declared"

if [ "$update" = 1 ]; then
    {
        echo "# Symbols exported by libtinygrad.so; checked by tests/abi/check-exports.sh."
        echo "# Regenerate: scripts/update-abi-baseline.sh --exports-only"
        cat "$tmp/exported"
    } >"$list"
    echo "wrote $list ($(wc -l <"$tmp/exported") symbols)"
    exit 0
fi

status=0
bad=$(grep -Ev '^tg_[a-z0-9]' "$tmp/exported" || true)
if [ -n "$bad" ]; then
    echo "FAIL: exported symbols outside the public tg_ prefix (make them static or tg__ and hidden):"
    echo "$bad" | sed 's/^/  /'
    status=1
fi
missing=$(LC_ALL=C comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$missing" ]; then
    echo "FAIL: declared TG_API in $(basename "$header") but not exported (not implemented?):"
    echo "$missing" | sed 's/^/  /'
    status=1
fi
undeclared=$(LC_ALL=C comm -23 "$tmp/exported" "$tmp/declared" | grep -E '^tg_[a-z0-9]' || true)
if [ -n "$undeclared" ]; then
    echo "FAIL: exported but not declared in $(basename "$header"):"
    echo "$undeclared" | sed 's/^/  /'
    status=1
fi
grep -v '^#' "$list" | LC_ALL=C sort -u >"$tmp/expected"
if ! diff -u "$tmp/expected" "$tmp/exported" >"$tmp/diff"; then
    echo "FAIL: exports differ from $list (- committed, + built):"
    tail -n +3 "$tmp/diff" | grep '^[-+]' || true
    echo "If the change is intended: scripts/update-abi-baseline.sh --exports-only, and commit the list."
    status=1
fi
[ "$status" = 0 ] && echo "OK: $(wc -l <"$tmp/exported") exported symbols, all tg_, all declared, list matches"
exit "$status"
