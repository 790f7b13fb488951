/* SPDX-License-Identifier: MIT */
/* Context lifetime, the counting allocator, the step arena and scratch.
 *
 * The arena is a list of chunks kept across tg_ctx_reset(): a reset only
 * rewinds the cursor. A training step that asks for the same sizes in the
 * same order therefore lands in the same chunks and calls no allocator after
 * the first step. */
#include "tg_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define TG_CHUNK_MIN (4u << 20)
#define TG_CHUNK_HDR ((sizeof(tg__chunk) + TG_ALIGN - 1) / TG_ALIGN * TG_ALIGN)

void tg_ctx_options_init(tg_ctx_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

static int default_threads(void)
{
    const char *env = getenv("TG_NUM_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0 && v <= TG_MAX_THREADS)
            return (int)v;
    }
    long n = 1;
#if defined(_SC_NPROCESSORS_ONLN)
    n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    if (n < 1)
        n = 1;
    return n > TG_MAX_THREADS ? TG_MAX_THREADS : (int)n;
}

tg_status tg_ctx_create(const tg_ctx_options *opts, tg_ctx **out)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    if (!out)
        return TG_ERR_INVALID_ARG;
    if (opts) {
        if (opts->struct_size < offsetof(tg_ctx_options, seed) + sizeof(uint64_t) ||
            opts->struct_size > sizeof o)
            return TG_ERR_INVALID_ARG;
        memcpy(&o, opts, opts->struct_size);
        o.struct_size = sizeof o;
    }
    if (o.n_threads < 0 || o.n_threads > TG_MAX_THREADS)
        return TG_ERR_INVALID_ARG;
    if ((o.alloc == NULL) != (o.free == NULL))
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = o.alloc ? o.alloc(o.alloc_opaque, sizeof *ctx) : malloc(sizeof *ctx);
    if (!ctx)
        return TG_ERR_NOMEM;
    memset(ctx, 0, sizeof *ctx);
    ctx->opts = o;
    ctx->n_allocs = 1;
    ctx->grad_enabled = true;
    ctx->n_threads = o.n_threads ? o.n_threads : default_threads();
    tg__rng_seed(ctx->rng, o.seed);
    if (ctx->n_threads > 1 && tg__pool_create(ctx, ctx->n_threads, &ctx->pool) != TG_OK) {
        if (o.free)
            o.free(o.alloc_opaque, ctx);
        else
            free(ctx);
        return TG_ERR_NOMEM;
    }
    *out = ctx;
    return TG_OK;
}

void tg_ctx_destroy(tg_ctx *ctx)
{
    if (!ctx)
        return;
    tg__pool_destroy(ctx, ctx->pool);
    ctx->pool = NULL; /* object destructors below must not reach the freed pool */
    while (ctx->objects) {
        tg__object *o = ctx->objects;
        tg__object_untrack(ctx, o);
        o->destroy(o);
    }
    while (ctx->persistent) {
        tg_tensor *t = ctx->persistent;
        t->in_module = false;
        tg_tensor_destroy(t);
    }
    for (tg__chunk *c = ctx->chunks, *next; c; c = next) {
        next = c->next;
        tg__free_aligned(ctx, c);
    }
    for (int i = 0; i < TG_MAX_THREADS; i++)
        tg__free_aligned(ctx, ctx->scratch[i]);
    tg__prof_free(ctx);
    if (ctx->opts.free)
        ctx->opts.free(ctx->opts.alloc_opaque, ctx);
    else
        free(ctx);
}

void tg__object_track(tg_ctx *ctx, tg__object *o, void (*destroy)(tg__object *self))
{
    o->destroy = destroy;
    o->prev = NULL;
    o->next = ctx->objects;
    if (ctx->objects)
        ctx->objects->prev = o;
    ctx->objects = o;
}

void tg__object_untrack(tg_ctx *ctx, tg__object *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else if (ctx->objects == o)
        ctx->objects = o->next;
    else
        return; /* not tracked */
    if (o->next)
        o->next->prev = o->prev;
    o->prev = o->next = NULL;
}

int tg_ctx_n_threads(const tg_ctx *ctx) { return ctx ? ctx->n_threads : 1; }

bool tg_ctx_set_grad_enabled(tg_ctx *ctx, bool enabled)
{
    if (!ctx)
        return false;
    bool prev = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return prev;
}

bool tg_ctx_grad_enabled(const tg_ctx *ctx) { return ctx && ctx->grad_enabled; }

void tg_ctx_mem_stats(const tg_ctx *ctx, tg_mem_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!ctx)
        return;
    out->arena_capacity = ctx->arena_capacity;
    out->arena_used = ctx->arena_used;
    out->arena_peak = ctx->arena_peak;
    out->persistent_bytes = ctx->persistent_bytes;
    out->n_allocs = ctx->n_allocs;
}

/* ---- allocator --------------------------------------------------------- */

bool tg__mul_size(size_t a, size_t b, size_t *out)
{
    if (b && a > SIZE_MAX / b)
        return false;
    *out = a * b;
    return true;
}

void *tg__malloc(tg_ctx *ctx, size_t size)
{
    if (size == 0)
        size = 1;
    ctx->n_allocs++;
    return ctx->opts.alloc ? ctx->opts.alloc(ctx->opts.alloc_opaque, size) : malloc(size);
}

void *tg__calloc(tg_ctx *ctx, size_t n, size_t size)
{
    size_t total;
    if (!tg__mul_size(n, size, &total))
        return NULL;
    void *p = tg__malloc(ctx, total);
    if (p)
        memset(p, 0, total);
    return p;
}

void tg__free(tg_ctx *ctx, void *p)
{
    if (!p)
        return;
    if (ctx->opts.free)
        ctx->opts.free(ctx->opts.alloc_opaque, p);
    else
        free(p);
}

/* The byte before the aligned block stores the offset back to the raw one. */
void *tg__malloc_aligned(tg_ctx *ctx, size_t size)
{
    if (size > SIZE_MAX - TG_ALIGN)
        return NULL;
    unsigned char *raw = tg__malloc(ctx, size + TG_ALIGN);
    if (!raw)
        return NULL;
    size_t off = TG_ALIGN - ((uintptr_t)raw % TG_ALIGN);
    raw[off - 1] = (unsigned char)off;
    return raw + off;
}

void tg__free_aligned(tg_ctx *ctx, void *p)
{
    if (!p)
        return;
    unsigned char *q = p;
    tg__free(ctx, q - q[-1]);
}

bool tg__shape_numel(tg_ctx *ctx, const char *who, int ndim, const int64_t *shape,
                     int64_t *numel)
{
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: rank %d outside 0..%d", who, ndim, TG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: shape is NULL", who);
        return false;
    }
    /* nz is the product of the non-zero dims: it must fit too, or a
     * 0-element tensor such as [0, 2^40, 2^40] would overflow the stride
     * and outer/inner products that ops compute from its shape. */
    int64_t n = 1, nz = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            tg__error(ctx, TG_ERR_INVALID_ARG, "%s: dimension %d is negative (%lld)", who, i,
                      (long long)shape[i]);
            return false;
        }
        if (shape[i] && nz > (INT64_MAX / 8) / shape[i]) {
            tg__error(ctx, TG_ERR_LIMIT, "%s: element count overflows", who);
            return false;
        }
        if (shape[i])
            nz *= shape[i];
        n *= shape[i];
    }
    if ((uint64_t)n > SIZE_MAX / sizeof(float) / 2) {
        tg__error(ctx, TG_ERR_LIMIT, "%s: element count overflows", who);
        return false;
    }
    *numel = n;
    return true;
}

/* ---- step arena -------------------------------------------------------- */

void *tg__arena_alloc(tg_ctx *ctx, size_t size)
{
    if (size > SIZE_MAX - TG_CHUNK_HDR - TG_ALIGN)
        return NULL; /* the rounding below would wrap to a tiny block */
    size = (size + TG_ALIGN - 1) / TG_ALIGN * TG_ALIGN;
    if (size == 0)
        size = TG_ALIGN;
    /* Walk forward from the current chunk: after a reset the same requests
     * find the same chunks again. */
    tg__chunk *prev = NULL;
    for (tg__chunk *c = ctx->cur ? ctx->cur : ctx->chunks; c; prev = c, c = c->next) {
        if (c->size - c->used >= size) {
            void *p = (unsigned char *)c + TG_CHUNK_HDR + c->used;
            c->used += size;
            ctx->cur = c;
            ctx->arena_used += size;
            if (ctx->arena_used > ctx->arena_peak)
                ctx->arena_peak = ctx->arena_used;
            return p;
        }
    }
    size_t csize = size > TG_CHUNK_MIN ? size : TG_CHUNK_MIN;
    if (csize > SIZE_MAX - TG_CHUNK_HDR)
        return NULL;
    tg__chunk *c = tg__malloc_aligned(ctx, TG_CHUNK_HDR + csize);
    if (!c)
        return NULL;
    c->size = csize;
    c->used = size;
    c->next = NULL;
    if (prev)
        prev->next = c;
    else
        ctx->chunks = c;
    ctx->cur = c;
    ctx->arena_capacity += csize;
    ctx->arena_used += size;
    if (ctx->arena_used > ctx->arena_peak)
        ctx->arena_peak = ctx->arena_used;
    return (unsigned char *)c + TG_CHUNK_HDR;
}

void tg_ctx_reset(tg_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->prof_on)
        tg__prof_step_end(ctx); /* the last forward interval ends here at the latest */
    for (tg__chunk *c = ctx->chunks; c; c = c->next)
        c->used = 0;
    ctx->cur = ctx->chunks;
    ctx->arena_used = 0;
}

tg__arena_mark tg__arena_get_mark(const tg_ctx *ctx)
{
    tg__arena_mark m = {ctx->cur, ctx->cur ? ctx->cur->used : 0, ctx->arena_used};
    return m;
}

void tg__arena_rewind(tg_ctx *ctx, tg__arena_mark m)
{
    /* Chunks after the marked one were empty at the mark (allocation only
     * moves forward), so they are emptied again; they stay in the list. */
    for (tg__chunk *c = m.chunk ? m.chunk->next : ctx->chunks; c; c = c->next)
        c->used = 0;
    if (m.chunk)
        m.chunk->used = m.used;
    ctx->cur = m.chunk ? m.chunk : ctx->chunks;
    ctx->arena_used = m.arena_used;
}

bool tg__scratch_reserve(tg_ctx *ctx, size_t size)
{
    for (int tid = 0; tid < ctx->n_threads; tid++) {
        if (ctx->scratch_size[tid] >= size)
            continue;
        void *p = tg__malloc_aligned(ctx, size);
        if (!p)
            return false;
        tg__free_aligned(ctx, ctx->scratch[tid]);
        ctx->scratch[tid] = p;
        ctx->scratch_size[tid] = size;
    }
    return true;
}
