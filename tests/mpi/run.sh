#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one tests/mpi/test_mpi mode under mpirun and check how it ends:
#   run.sh MPIRUN NP TEST_MPI MODE EXPECT [PATTERN]
# EXPECT: pass (exit 0; 77 = skip), resume (MODE is N:M: ckpt-write on N
# ranks, then ckpt-resume on M ranks in the same temporary directory), fail (non-zero exit, stderr+stdout matching the
# extended regex PATTERN, within the time bound), or same-twice (two runs
# must pass and print the same "params-hash" line: determinism).
# Every mpirun is bounded by `timeout` (TG_MPI_TEST_TIMEOUT, default 120 s).
set -u
mpirun=$1 np=$2 exe=$3 mode=$4 expect=$5 pattern=${6:-}
limit=${TG_MPI_TEST_TIMEOUT:-120}
out=$(mktemp "${TMPDIR:-/tmp}/tg-mpi.XXXXXX")
trap 'rm -f "$out" "$out.2"' EXIT

elapsed=0
run() { # run LOGFILE: mpirun with the time bound; sets $elapsed
    local t0=$SECONDS rc
    timeout -k 10 "$limit" "$mpirun" --oversubscribe --allow-run-as-root -np "$np" \
        -x TG_NUM_THREADS=1 "$exe" "$mode" "${@:2}" >"$1" 2>&1
    rc=$?
    elapsed=$((SECONDS - t0))
    echo "[run.sh] np=$np mode=$mode: exit $rc after $((SECONDS - t0)) s" >>"$1"
    return $rc
}

case $expect in
pass)
    run "$out"; rc=$?
    cat "$out"
    grep -q '^SKIP' "$out" && exit 77
    exit $rc
    ;;
resume)
    ckdir=$(mktemp -d "${TMPDIR:-/tmp}/tg-mpi-ckpt.XXXXXX")
    n=${mode%%:*} m=${mode##*:}
    np=$n mode=ckpt-write run "$out" "$ckdir"; rc=$?
    cat "$out"
    if [ $rc -eq 0 ]; then
        np=$m mode=ckpt-resume run "$out.2" "$ckdir"; rc=$?
        cat "$out.2"
    fi
    rm -rf "$ckdir"
    exit $rc
    ;;
fail)
    run "$out"; rc=$?
    cat "$out"
    if [ $rc -eq 0 ]; then echo "FAIL: expected a non-zero exit"; exit 1; fi
    if [ "$elapsed" -ge "$limit" ]; then echo "FAIL: hit the ${limit} s bound (hang)"; exit 1; fi
    if [ -n "$pattern" ] && ! grep -Eq "$pattern" "$out"; then
        echo "FAIL: output does not match /$pattern/"; exit 1
    fi
    echo "OK: failed as expected (exit $rc)"
    exit 0
    ;;
same-twice)
    run "$out" || { cat "$out"; exit 1; }
    run "$out.2" || { cat "$out.2"; exit 1; }
    cat "$out" "$out.2"
    a=$(grep '^params-hash' "$out") b=$(grep '^params-hash' "$out.2")
    if [ -z "$a" ] || [ "$a" != "$b" ]; then echo "FAIL: runs differ: '$a' vs '$b'"; exit 1; fi
    echo "OK: identical bits ($a)"
    exit 0
    ;;
esac
echo "run.sh: unknown expectation '$expect'"
exit 2
