/* SPDX-License-Identifier: MIT */
/* Context lifetime, the counting allocator, the step arena and scratch.
 *
 * The arena is a list of chunks kept across tg_ctx_reset(): a reset only
 * rewinds the cursor. A training step that asks for the same sizes in the
 * same order therefore lands in the same chunks and calls no allocator after
 * the first step. */
#include "tg_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Chunks double from TG_CHUNK_FIRST up to TG_CHUNK_MAX: a small context
 * (inference of a small model, a fuzz input) does not map 4 MiB, and a big
 * one reaches 4 MiB chunks after a few. */
#define TG_CHUNK_FIRST (64u << 10)
#define TG_CHUNK_MAX (4u << 20)
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

static void free_chunks(tg_ctx *ctx, tg__chunk *c)
{
    for (tg__chunk *next; c; c = next) {
        next = c->next;
        tg__free_aligned(ctx, c);
    }
}

/* Objects destroyed while the step's graph used them, then persistent
 * tensors likewise (tg_tensor_destroy / tg_module_destroy deferred them). */
static void release_deferred(tg_ctx *ctx)
{
    while (ctx->deferred) {
        tg__object *o = ctx->deferred;
        ctx->deferred = o->next;
        if (ctx->deferred)
            ctx->deferred->prev = NULL;
        o->prev = o->next = NULL;
        o->destroy(o);
    }
    for (tg_tensor *t = ctx->persistent, *next; t && ctx->n_doomed; t = next) {
        next = t->next;
        if (t->doomed) {
            ctx->n_doomed--;
            tg__tensor_free(t);
        }
    }
    ctx->n_doomed = 0;
}

void tg_ctx_destroy(tg_ctx *ctx)
{
    if (!ctx)
        return;
    if (tg__enter(ctx, "ctx_destroy") < 0)
        return; /* another thread is inside: freeing now would pull the ctx from under it */
    ctx->destroying = true; /* destructors skip bookkeeping between objects */
    tg__pool_destroy(ctx, ctx->pool);
    ctx->pool = NULL; /* object destructors below must not reach the freed pool */
    release_deferred(ctx);
    while (ctx->objects) {
        tg__object *o = ctx->objects;
        tg__object_untrack(ctx, o);
        o->destroy(o);
    }
    while (ctx->persistent)
        tg__tensor_free(ctx->persistent);
    free_chunks(ctx, ctx->chunks);
    free_chunks(ctx, ctx->hdr[0].chunks);
    free_chunks(ctx, ctx->hdr[1].chunks);
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

void tg__object_defer(tg_ctx *ctx, tg__object *o)
{
    tg__object_untrack(ctx, o);
    o->prev = NULL;
    o->next = ctx->deferred;
    if (ctx->deferred)
        ctx->deferred->prev = o;
    ctx->deferred = o;
}

/* ---- one thread per context --------------------------------------------- */

/* The address of a thread-local object identifies the calling thread. */
static _Thread_local char thread_token;

static uintptr_t self_id(void) { return (uintptr_t)&thread_token; }

/* Kept once, by the intruding thread, outside the owner's errmsg (which the
 * owner may be writing); tg_ctx_last_error() reports it first. */
static void intruder_error(tg_ctx *ctx, const char *who)
{
    int expect = 0;
    if (atomic_compare_exchange_strong(&ctx->xstate, &expect, 1)) {
        const char *in = atomic_load_explicit(&ctx->owner_fn, memory_order_relaxed);
        snprintf(ctx->xmsg, sizeof ctx->xmsg,
                 "%s: called from a second thread while another thread is inside %s (a "
                 "tg_ctx and its objects must be used by one thread at a time)",
                 who, in ? in : "the library");
        atomic_store_explicit(&ctx->xstate, 2, memory_order_release);
    }
}

int tg__enter(tg_ctx *ctx, const char *who)
{
    uintptr_t me = self_id(), expect = 0;
    if (atomic_compare_exchange_strong_explicit(&ctx->owner, &expect, me, memory_order_acquire,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&ctx->owner_fn, who, memory_order_relaxed);
        return 1;
    }
    if (expect == me)
        return 0;
    intruder_error(ctx, who);
    return -1;
}

void tg__leave(tg_ctx *ctx, int entered)
{
    if (entered == 1)
        atomic_store_explicit(&ctx->owner, 0, memory_order_release);
}

bool tg__check_thread(tg_ctx *ctx, const char *who)
{
    uintptr_t o = atomic_load_explicit(&ctx->owner, memory_order_relaxed);
    if (o == 0 || o == self_id())
        return true;
    intruder_error(ctx, who);
    return false;
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
    size_t grow = ctx->arena_capacity < TG_CHUNK_FIRST ? TG_CHUNK_FIRST
                  : ctx->arena_capacity < TG_CHUNK_MAX ? ctx->arena_capacity
                                                       : TG_CHUNK_MAX;
    size_t csize = size > grow ? size : grow;
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

#define TG_HDR_SLOT ((sizeof(tg_tensor) + TG_ALIGN - 1) / TG_ALIGN * TG_ALIGN)
#define TG_HDR_CHUNK (256 * TG_HDR_SLOT)

tg_tensor *tg__header_alloc(tg_ctx *ctx)
{
    tg__hdr_arena *h = &ctx->hdr[ctx->step & 1];
    tg__chunk *prev = NULL;
    for (tg__chunk *c = h->cur ? h->cur : h->chunks; c; prev = c, c = c->next) {
        if (c->size - c->used >= TG_HDR_SLOT) {
            void *p = (unsigned char *)c + TG_CHUNK_HDR + c->used;
            c->used += TG_HDR_SLOT;
            h->cur = c;
            ctx->n_headers++;
            return p;
        }
    }
    /* One chunk for each parity, so the other step finds its twin. */
    tg__chunk *c = tg__malloc_aligned(ctx, TG_CHUNK_HDR + TG_HDR_CHUNK);
    tg__chunk *twin = c ? tg__malloc_aligned(ctx, TG_CHUNK_HDR + TG_HDR_CHUNK) : NULL;
    if (!twin) {
        tg__free_aligned(ctx, c);
        return NULL;
    }
    c->size = twin->size = TG_HDR_CHUNK;
    c->used = TG_HDR_SLOT;
    twin->used = 0;
    c->next = twin->next = NULL;
    if (prev)
        prev->next = c;
    else
        h->chunks = c;
    h->cur = c;
    tg__hdr_arena *o = &ctx->hdr[(ctx->step & 1) ^ 1];
    tg__chunk **tail = &o->chunks;
    while (*tail)
        tail = &(*tail)->next;
    *tail = twin;
    ctx->n_headers++;
    return (tg_tensor *)((unsigned char *)c + TG_CHUNK_HDR);
}

static void rewind_list(tg__chunk *first, tg__chunk *mark, size_t used)
{
    /* Chunks after the marked one were empty at the mark (allocation only
     * moves forward), so they are emptied again; they stay in the list. */
    for (tg__chunk *c = mark ? mark->next : first; c; c = c->next)
        c->used = 0;
    if (mark)
        mark->used = used;
}

void tg_ctx_reset(tg_ctx *ctx)
{
    if (!ctx)
        return;
    int e = tg__enter(ctx, "ctx_reset");
    if (e < 0)
        return;
    if (ctx->prof_on)
        tg__prof_step_end(ctx); /* the last forward interval ends here at the latest */
    rewind_list(ctx->chunks, NULL, 0);
    ctx->cur = ctx->chunks;
    ctx->arena_used = 0;
    ctx->prep_depth = ctx->prep_n = 0; /* their memory is gone (no bracket is open here) */
    /* Headers of the step that ends stay intact through the next one. */
    ctx->step++;
    tg__hdr_arena *h = &ctx->hdr[ctx->step & 1];
    rewind_list(h->chunks, NULL, 0);
    h->cur = h->chunks;
    ctx->n_headers = 0;
    if (ctx->deferred || ctx->n_doomed)
        release_deferred(ctx);
    tg__leave(ctx, e);
}

tg__arena_mark tg__arena_get_mark(const tg_ctx *ctx)
{
    const tg__hdr_arena *h = &ctx->hdr[ctx->step & 1];
    tg__arena_mark m = {ctx->cur, ctx->cur ? ctx->cur->used : 0, ctx->arena_used,
                        h->cur, h->cur ? h->cur->used : 0, ctx->n_headers};
    return m;
}

void tg__arena_rewind(tg_ctx *ctx, tg__arena_mark m)
{
    rewind_list(ctx->chunks, m.chunk, m.used);
    ctx->cur = m.chunk ? m.chunk : ctx->chunks;
    ctx->arena_used = m.arena_used;
    tg__hdr_arena *h = &ctx->hdr[ctx->step & 1];
    rewind_list(h->chunks, m.hchunk, m.hused);
    h->cur = m.hchunk ? m.hchunk : h->chunks;
    ctx->n_headers = m.n_headers;
}

void tg__prep_begin(tg_ctx *ctx)
{
    if (ctx->prep_depth++ == 0) {
        ctx->prep_n = 0;
        ctx->prep_frozen = false;
    }
}

void tg__prep_freeze(tg_ctx *ctx)
{
    if (ctx->prep_depth == 1)
        ctx->prep_frozen = true;
}

void tg__prep_end(tg_ctx *ctx)
{
    if (ctx->prep_depth > 0 && --ctx->prep_depth == 0)
        ctx->prep_n = 0;
}

void tg__prep_drop(tg_ctx *ctx) { ctx->prep_n = 0; }

float *tg__prep_get(tg_ctx *ctx, const float *w, int kind, int64_t k0, int64_t k1,
                    size_t floats, bool *fresh)
{
    *fresh = true;
    if (ctx->prep_depth > 0)
        for (int i = 0; i < ctx->prep_n; i++) {
            const tg__prep_entry *e = &ctx->prep[i];
            if (e->w == w && e->kind == kind && e->k0 == k0 && e->k1 == k1 &&
                e->floats == floats) {
                *fresh = false;
                return e->prep;
            }
        }
    float *p = tg__arena_alloc(ctx, floats * sizeof(float));
    if (p && ctx->prep_depth > 0 && !ctx->prep_frozen && ctx->prep_n < TG__PREP_MAX)
        ctx->prep[ctx->prep_n++] = (tg__prep_entry){w, kind, k0, k1, floats, p};
    return p;
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
