#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The public header must stand alone and compile warning-free, in C11 and
# C17 (gcc, and clang when installed) and in C++17 (g++, clang++):
#   header-hygiene.sh INCLUDE_DIR...
# The test file includes nothing but <tinygrad.h> (twice, for the include
# guard) and touches a few declarations, so the macros expand too.
set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-header.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
inc=()
for d in "$@"; do inc+=(-I "$d"); done

cat >"$tmp/use.c" <<'SRC'
#include <tinygrad.h>
#include <tinygrad.h>

#if !TG_VERSION_CHECK(0, 0, 0)
#error "TG_VERSION_CHECK is broken"
#endif

/* Prototyped so that -Wmissing-prototypes holds. */
int tg_header_use(void);
int tg_header_use(void)
{
    tg_ctx_options opts;
    tg_ctx_options_init(&opts);
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(&opts, &ctx) != TG_OK)
        return (int)TG_ERR_NOMEM;
    const int64_t shape[2] = {2, TG_MAX_DIMS};
    tg_tensor *t = tg_zeros(ctx, 2, shape);
    int n = tg_tensor_ndim(t) + (TG_VERSION_NUMBER > 0) + (int)sizeof(tg_mem_stats);
    tg_ctx_destroy(ctx);
    return n + (tg_version_string()[0] != '\0');
}
SRC
cat >"$tmp/use.cpp" <<'SRC'
#include <tinygrad.h>
#include <tinygrad.h>

#if !TG_VERSION_CHECK(0, 0, 0)
#error "TG_VERSION_CHECK is broken"
#endif

int tg_header_use();
int tg_header_use()
{
    tg_ctx_options opts;
    tg_ctx_options_init(&opts);
    tg_ctx *ctx = nullptr;
    if (tg_ctx_create(&opts, &ctx) != TG_OK)
        return static_cast<int>(TG_ERR_NOMEM);
    const int64_t shape[2] = {2, TG_MAX_DIMS};
    tg_tensor *t = tg_zeros(ctx, 2, shape);
    int n = tg_tensor_ndim(t) + (TG_VERSION_NUMBER > 0) + static_cast<int>(sizeof(tg_mem_stats));
    tg_ctx_destroy(ctx);
    return n + (tg_version_string()[0] != '\0');
}
SRC

common=(-Wall -Wextra -Wpedantic -Werror -Wshadow -Wundef)
cflags=(-Wstrict-prototypes -Wmissing-prototypes)
cxxflags=(-Wmissing-declarations -Wold-style-cast -Wzero-as-null-pointer-constant)
status=0 ran=0
try() { # try COMPILER STD FILE FLAGS...
    local compiler=$1 std=$2 file=$3
    shift 3
    command -v "$compiler" >/dev/null 2>&1 || { echo "skip: $compiler not installed"; return; }
    ran=$((ran + 1))
    if "$compiler" "-std=$std" "${common[@]}" "$@" "${inc[@]}" -c "$file" -o "$tmp/out.o" \
        2>"$tmp/err"; then
        echo "ok:   $compiler -std=$std"
    else
        echo "FAIL: $compiler -std=$std"
        cat "$tmp/err"
        status=1
    fi
}
for cc in gcc clang; do
    for std in c11 c17; do
        try "$cc" "$std" "$tmp/use.c" "${cflags[@]}"
    done
done
# C++: the extern "C" block, plus C++ warnings the header must not trigger.
for cxx in g++ clang++; do
    try "$cxx" c++17 "$tmp/use.cpp" "${cxxflags[@]}"
done
if [ "$ran" = 0 ]; then
    echo "SKIP: no compiler"
    exit 77
fi
exit "$status"
