/* SPDX-License-Identifier: MIT */
/* Helpers shared by the fuzz targets: a byte reader that never runs out
 * (zeros past the end), an in-memory file with a path for the file-based
 * loaders, and FUZZ_CHECK, which traps so that libFuzzer (and the replay
 * driver, via SIGILL) reports a broken invariant as a crash. */
#ifndef TG_FUZZ_COMMON_H
#define TG_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinygrad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);       \
            __builtin_trap();                                                                  \
        }                                                                                      \
    } while (0)

/* An error must carry a status and a message. */
#define FUZZ_CHECK_ERROR(ctx)                                                                  \
    do {                                                                                       \
        FUZZ_CHECK(tg_ctx_last_status(ctx) != TG_OK);                                          \
        FUZZ_CHECK(tg_ctx_last_error(ctx)[0] != '\0');                                         \
    } while (0)

typedef struct fz_reader {
    const uint8_t *p;
    size_t n, i;
} fz_reader;

static inline uint8_t fz_u8(fz_reader *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static inline uint16_t fz_u16(fz_reader *r)
{
    uint16_t lo = fz_u8(r);
    return (uint16_t)(lo | (uint16_t)fz_u8(r) << 8);
}
static inline bool fz_done(const fz_reader *r) { return r->i >= r->n; }

/* The library's allocator for fuzzing: refuses single requests over 256 MiB,
 * so a huge (but not overflowing) tensor exercises the TG_ERR_NOMEM paths
 * instead of tripping libFuzzer's malloc limit. */
#define FZ_ALLOC_MAX ((size_t)256 << 20)
static inline void *fz_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return size <= FZ_ALLOC_MAX ? malloc(size) : NULL;
}
static inline void fz_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

/* A context for one fuzz input; aborts only if the library cannot even make
 * a context (not an input-dependent failure). */
static inline tg_ctx *fz_ctx(int n_threads, uint64_t seed)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = n_threads;
    o.seed = seed;
    o.alloc = fz_alloc;
    o.free = fz_free;
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(&o, &ctx) != TG_OK)
        abort();
    return ctx;
}

/* Write bytes to a file the loaders can open by name. Files live in one
 * private directory per process ($TMPDIR or /tmp), removed at exit. */
const char *fz_write_file(const char *name, const uint8_t *data, size_t size);
/* The private directory itself (created on first use). */
const char *fz_dir(void);

#endif
