#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ThreadSanitizer build (gcc or clang, -fsanitize=thread) running the tests
# that use threads: the worker pool (TG_NUM_THREADS / n_threads > 1) and the
# concurrent-contexts test. Usage:
#
#   scripts/tsan.sh [TEST...]        # default: the threaded unit tests below
#
# Environment: TSAN_BUILD (default build-tsan), TG_NUM_THREADS (default 4:
# more workers than cores makes interleavings likelier).
# Exits non-zero on any data race, deadlock report or test failure; the last
# line is "tsan: N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1

build=${TSAN_BUILD:-build-tsan}
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(test_concurrency test_review test_core test_gemm test_matmul test_conv
                                 test_kernels test_activation test_unary test_norm_dropout
                                 test_dataset test_train_memory test_regressions test_misuse
                                 test_optim test_shape)
# Only tests that exist in this tree (the list above may run ahead of it).
have=()
for t in "${tests[@]}"; do
    [ -f "tests/$t.c" ] && have+=("$t")
done

opts=(--buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dwerror=true
      -Dtests=enabled -Ddocs=disabled -Dexamples=false -Dbench=false)
if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "${opts[@]}" >"$build.setup.log" 2>&1
else
    meson setup "$build" "${opts[@]}" >"$build.setup.log" 2>&1
fi || { cat "$build.setup.log"; exit 1; }
ninja -C "$build" "${have[@]/#/tests/}" >"$build.ninja.log" 2>&1 ||
    { tail -40 "$build.ninja.log"; exit 1; }

# CK_FORK=no: one process per test program, so TSan sees every thread the
# program makes. halt_on_error: the first race fails the test.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0}
export TG_NUM_THREADS=${TG_NUM_THREADS:-4}
export CK_FORK=no CK_DEFAULT_TIMEOUT=600
passed=0 failed=0
for t in "${have[@]}"; do
    start=$SECONDS
    if "$build/tests/$t" >"$build/$t.tsan.log" 2>&1; then
        passed=$((passed + 1))
        printf 'tsan: %-22s ok    %4d s\n' "$t" $((SECONDS - start))
    else
        failed=$((failed + 1))
        printf 'tsan: %-22s FAIL  %4d s\n' "$t" $((SECONDS - start))
        grep -E 'WARNING: ThreadSanitizer|SUMMARY|#[0-9]+ ' "$build/$t.tsan.log" | head -30
        tail -5 "$build/$t.tsan.log"
    fi
done
echo "tsan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
