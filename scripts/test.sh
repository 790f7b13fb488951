#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the whole test suite from a bare Debian 12 machine:
#   1. install the build and test tools (skipped when already present),
#   2. release build (with -g, for the ABI check) + every meson test,
#   3. ASan+UBSan build + the unit suite,
#   4. the Doxygen reference, which must build with zero warnings.
# The last line is "N passed, N failed[, N skipped]", summed over both
# test runs (from meson-logs/testlog.json) plus one entry per build step
# and the docs. Exits non-zero if anything failed.
#
# Environment: BUILD_PREFIX (default build-ci) names the build dirs,
# TG_TEST_SKIP_ASAN=1 / TG_TEST_SKIP_DOCS=1 / TG_TEST_SKIP_VALGRIND=1 drop a stage.
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/deps.sh

tg_require_packages build-essential g++ clang meson ninja-build pkg-config check \
    libpng-dev zlib1g-dev doxygen valgrind abigail-tools python3 python3-onnx python3-opencv || {
    echo "error: package installation failed" >&2
    echo "0 passed, 1 failed"
    exit 1
}

prefix=${BUILD_PREFIX:-build-ci}
rel=$prefix
asan=$prefix-asan
jobs=$(nproc 2>/dev/null || echo 2)
passed=0 failed=0 skipped=0
failures=()
t0=$SECONDS

step() { printf '\n==> %s (%ds)\n' "$*" $((SECONDS - t0)); }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAILED: $1"; }

# setup DIR ARGS...: configure, or reconfigure with the same args on a rerun.
setup() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
    else
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
    fi || { cat "$dir.setup.log"; return 1; }
}

# count LOG: add the results in a meson testlog*.json to the totals.
count() {
    local out
    out=$(python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
names = []
with open(sys.argv[1]) as fh:
    for line in fh:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        res = r.get("result", "")
        if res in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif res == "SKIP":
            s += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS
            f += 1
            names.append(r.get("name", "?"))
print(p, f, s, " ".join(names))
PY
    ) || { fail "$1: cannot read testlog.json"; return; }
    local p f s names
    read -r p f s names <<<"$out"
    passed=$((passed + p))
    skipped=$((skipped + s))
    failed=$((failed + f))
    [ "$f" -gt 0 ] && failures+=("$1: $names")
}

# run_suite DIR [meson test args...]
run_suite() {
    local dir=$1
    shift
    # meson names the log testlog-SETUP.json under --setup SETUP.
    local log=$dir/meson-logs/testlog.json prev=
    for a in "$@"; do
        [ "$prev" = --setup ] && log=$dir/meson-logs/testlog-$a.json
        prev=$a
    done
    rm -f "$log"
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" "$@"
    if [ -f "$log" ]; then
        count "$log"
    else
        fail "$dir: meson test produced no results"
    fi
}

docs=enabled
if ! command -v doxygen >/dev/null 2>&1 || [ "${TG_TEST_SKIP_DOCS:-0}" = 1 ]; then
    docs=disabled
fi

step "release build ($rel)"
# Release optimisation plus -g (DWARF for the ABI check; same code). Not
# --buildtype=release: on a reconfigure meson 1.0 lets it reset debug.
if setup "$rel" -Doptimization=3 -Ddebug=true -Dwerror=true -Dtests=enabled -Ddocs=$docs &&
    meson compile -C "$rel"; then
    passed=$((passed + 1))
    step "meson test ($rel)"
    run_suite "$rel"
    if [ "$docs" = enabled ]; then
        step "docs (zero warnings)"
        if meson compile -C "$rel" docs; then
            passed=$((passed + 1))
        else
            [ -s "$rel/docs/doxygen-warnings.log" ] && cat "$rel/docs/doxygen-warnings.log"
            fail "docs"
        fi
    else
        echo "docs skipped (no doxygen or TG_TEST_SKIP_DOCS=1)"
        skipped=$((skipped + 1))
    fi
else
    fail "release build"
fi

if [ "${TG_TEST_SKIP_ASAN:-0}" != 1 ]; then
    step "ASan+UBSan build ($asan)"
    # lundef=false: the sanitizer runtimes resolve symbols at load time.
    if setup "$asan" --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
        -Dwerror=true -Dtests=enabled -Ddocs=disabled -Dexamples=false -Dbench=false &&
        meson compile -C "$asan"; then
        passed=$((passed + 1))
        step "meson test --suite unit ($asan)"
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
            run_suite "$asan" --suite unit --timeout-multiplier 3
    else
        fail "ASan+UBSan build"
    fi
fi

if [ "${TG_TEST_SKIP_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null 2>&1 &&
    [ -f "$rel/build.ninja" ]; then
    # memcheck over the unit suite (the valgrind test setup: CK_FORK=no,
    # --leak-check=full, --error-exitcode=1) and a short mnist_cnn run.
    step "valgrind: meson test --suite unit ($rel)"
    run_suite "$rel" --setup valgrind --suite unit
    step "valgrind: short mnist_cnn run"
    if VALGRIND_BUILD=$rel bash scripts/valgrind-mnist.sh; then
        passed=$((passed + 1))
    else
        case $? in
        77) skipped=$((skipped + 1)) ;;
        *) fail "valgrind mnist_cnn" ;;
        esac
    fi
fi

# ---- reliability: TSan + bounded fuzzing (added by the reliability work) ----
# scripts/tsan.sh builds $prefix-tsan (-fsanitize=thread) and runs the
# threaded tests; scripts/fuzz.sh builds $prefix-fuzz with clang's libFuzzer
# and runs each of the 5 targets for TG_FUZZ_SECONDS (default 12 s, about a
# minute in all; docs/reliability.md has the longer runs). Each counts as
# one entry; TG_TEST_SKIP_TSAN=1 / TG_TEST_SKIP_FUZZ=1 drop a stage.
if [ "${TG_TEST_SKIP_TSAN:-0}" != 1 ]; then
    step "TSan: threaded tests ($prefix-tsan)"
    if TSAN_BUILD=$prefix-tsan bash scripts/tsan.sh; then
        passed=$((passed + 1))
    else
        fail "tsan"
    fi
fi
if [ "${TG_TEST_SKIP_FUZZ:-0}" != 1 ]; then
    step "fuzz (${TG_FUZZ_SECONDS:-12} s per target, $prefix-fuzz)"
    tg_require_packages clang libclang-rt-14-dev || true
    FUZZ_BUILD=$prefix-fuzz bash scripts/fuzz.sh "${TG_FUZZ_SECONDS:-12}"
    case $? in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    *) fail "fuzz" ;;
    esac
fi
# ---- end of the reliability block --------------------------------------------

step "done"
for f in "${failures[@]}"; do
    echo "failed: $f"
done
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
