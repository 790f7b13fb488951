#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Consume an installed libtinygrad-mpi the way an outside project does:
#   consume.sh MESON BUILD_DIR SOURCE_DIR [SANITIZE]
# `meson install --destdir` must put tinygrad_mpi.h, libtinygrad-mpi.so.N and
# tinygrad-mpi.pc in place; a C consumer is then compiled and linked with
# nothing but `pkg-config --cflags --libs tinygrad-mpi` (which brings the MPI
# flags through Requires) and run. Exit 77 = skipped.
set -eu
meson=$1 build=$(cd "$2" && pwd) src=$(cd "$3" && pwd) sanitize=${4:-none}
unset LD_LIBRARY_PATH
if [ "$sanitize" != none ]; then echo "SKIP: sanitizer build"; exit 77; fi
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: no pkg-config"; exit 77; }
command -v cc >/dev/null 2>&1 || { echo "SKIP: no cc"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-consume-mpi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
die() { echo "consume-mpi: FAIL: $*" >&2; exit 1; }

"$meson" install -C "$build" --destdir "$tmp/root" --no-rebuild >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; die "meson install --destdir"; }
pc=$(find "$tmp/root" -name tinygrad-mpi.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "tinygrad-mpi.pc was not installed"
pcdir=$(dirname "$pc")
find "$tmp/root" -name tinygrad_mpi.h | grep -q . || die "tinygrad_mpi.h was not installed"
find "$tmp/root" -name 'libtinygrad-mpi.so.*' | grep -q . || die "libtinygrad-mpi.so.N was not installed"
grep -q '^Requires:.*tinygrad' "$pc" || die "tinygrad-mpi.pc does not require tinygrad"
# tinygrad.pc must stay MPI-free.
if grep -qi 'mpi' "$pcdir/tinygrad.pc"; then die "tinygrad.pc mentions MPI"; fi
# Point the two installed .pc files at the DESTDIR (what a relocated install
# does); the MPI flags come from the system's own .pc (ompi-c or mpich).
prefix=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=prefix tinygrad-mpi)
sed -i "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pc" "$pcdir/tinygrad.pc"
flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs tinygrad-mpi) ||
    die "pkg-config tinygrad-mpi"
echo "pkg-config --cflags --libs tinygrad-mpi: $flags"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer" "$src/tests/mpi/header_use.c" $flags ||
    die "compiling the consumer with the pkg-config flags"
libdir=$(dirname "$(find "$tmp/root" -name 'libtinygrad-mpi.so' | head -n 1)")
LD_LIBRARY_PATH=$libdir "$tmp/consumer" || die "consumer exited $?"
echo "OK: installed libtinygrad-mpi consumed through pkg-config"
