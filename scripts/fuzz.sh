#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined;
# the library itself gets fuzzer-no-link coverage) and run each for a bounded
# time. Usage:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 15 (8 targets: ~120 s, the CI budget);
# targets default to all: fuzz_ops fuzz_idx fuzz_png fuzz_config
# fuzz_safetensors fuzz_csv fuzz_cifar fuzz_api. Environment:
#   FUZZ_BUILD   build dir (default build-fuzz)
#   FUZZ_JOBS    parallel fuzzing processes per target (default 1)
#   CC           compiler (default clang; clang-14 also works)
#   TMPDIR       where fuzz inputs are written as files (default /dev/shm)
#   FUZZ_ARGS    extra libFuzzer flags, e.g. -max_len=256 for long campaigns
# The committed seeds (tests/fuzz/corpus/<target>) are read-only; new
# inputs go to $FUZZ_BUILD/fuzz-corpus/<target>, crashes to
# $FUZZ_BUILD/fuzz-artifacts/<target>/. A crash fails the script: copy the
# input into tests/fuzz/regressions/<target>/ and fix it (the replay tests
# of `meson test --suite fuzz` run every file there).
# Last line: "fuzz: N targets, R runs in S s, C crashes".
set -u
cd "$(dirname "$0")/.." || exit 1

secs=${1:-15}
shift 2>/dev/null || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_ops fuzz_idx fuzz_png fuzz_config fuzz_safetensors fuzz_csv fuzz_cifar fuzz_api)
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
cc=${CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (install clang and libclang-rt-14-dev)" >&2
    exit 77
fi

# -O1 -g: fast enough, good stacks. -fno-unroll-loops: clang-14 with UBSan
# takes minutes per file on the unrolled SIMD kernel templates otherwise.
# The compute loops get no coverage instrumentation (tests/fuzz/coverage-ignore.txt).
# werror stays off: this build exists to find bugs, and a new clang warning
# elsewhere must not stop it.
opts=(--buildtype=plain -Dfuzz=true -Dtests=disabled -Ddocs=disabled -Dexamples=false
      -Dbench=false -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false
      "-Dc_args=-O1 -g -fno-omit-frame-pointer -fno-unroll-loops -fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fsanitize-coverage-ignorelist=$PWD/tests/fuzz/coverage-ignore.txt")
if [ -f "$build/build.ninja" ]; then # (setup --reconfigure kept the old c_args)
    CC=$cc meson configure "$build" "${opts[@]}" >"$build.setup.log" 2>&1
else
    CC=$cc meson setup "$build" "${opts[@]}" >"$build.setup.log" 2>&1
fi || { cat "$build.setup.log"; exit 1; }
ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >"$build.ninja.log" 2>&1 ||
    { tail -50 "$build.ninja.log"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TG_NUM_THREADS=${TG_NUM_THREADS:-2}
# fuzz_api saves checkpoints: on tmpfs its fsyncs cost nothing (2x the runs)
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi

total_runs=0 total_secs=0 crashes=0
for t in "${targets[@]}"; do
    exe=$build/tests/fuzz/$t
    work=$build/fuzz-corpus/$t
    art=$build/fuzz-artifacts/$t
    mkdir -p "$work" "$art"
    log=$build/fuzz-$t.log
    rm -f "$log" "$build"/fuzz-$t.*.log
    start=$SECONDS
    if [ "$jobs" -gt 1 ]; then
        # -fork keeps one coordinator; runs are summed from the workers' lines
        # shellcheck disable=SC2086
        "$exe" ${FUZZ_ARGS:-} -fork="$jobs" -ignore_crashes=0 -max_total_time="$secs" -timeout=20 \
            -rss_limit_mb=2560 -malloc_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$art/" "$work" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" >"$log" 2>&1
    else
        # shellcheck disable=SC2086
        "$exe" ${FUZZ_ARGS:-} -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$art/" "$work" "tests/fuzz/corpus/$t" \
            "tests/fuzz/regressions/$t" \
            >"$log" 2>&1
    fi
    rc=$?
    took=$((SECONDS - start))
    # stat::number_of_executed_units (single process) or the fork-mode total
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
    [ -z "$runs" ] && runs=$(grep -Eo '^#[0-9]+' "$log" | tr -d '#' | sort -n | tail -1)
    runs=${runs:-0}
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
    n_art=$(find "$art" -type f | wc -l)
    printf 'fuzz: %-18s %8d runs %5d s  %s  corpus %d  rc %d  artifacts %d\n' "$t" "$runs" \
        "$took" "${cov:-cov: ?}" "$(find "$work" -type f | wc -l)" "$rc" "$n_art"
    if [ "$rc" -ne 0 ] || [ "$n_art" -gt 0 ]; then
        crashes=$((crashes + 1))
        grep -E 'ERROR|SUMMARY|invariant|runtime error|#[0-9]+ 0x' "$log" | head -30
        ls "$art"
    fi
    total_runs=$((total_runs + runs))
    total_secs=$((total_secs + took))
done
echo "fuzz: ${#targets[@]} targets, $total_runs runs in $total_secs s, $crashes crashes"
[ "$crashes" -eq 0 ]
