/* SPDX-License-Identifier: MIT */
/* Inverted dropout. In training each element is kept with probability 1-p
 * and scaled by 1/(1-p); the per-element factor (0 or 1/(1-p)) is saved for
 * backward. The mask is drawn serially from the context RNG, so it depends
 * only on the seed, never on the thread count. Out of training (or p == 0)
 * the op is an identity that still records a graph node. */
#include "tg_internal.h"

#include <math.h>

/* xoshiro256** step, as tg__rng_next() in core/rng.c, inlined here because
 * dropout draws once per element. Both advance the same ctx->rng state. */
static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_step(uint64_t s[4])
{
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

static void dropout_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *x = out->src[0];
    if (!x->requires_grad)
        return;
    const float *g = out->grad, *m = out->aux;
    float *gx = x->grad;
    if (m)
        for (int64_t i = 0; i < x->numel; i++)
            gx[i] += g[i] * m[i];
    else
        for (int64_t i = 0; i < x->numel; i++)
            gx[i] += g[i];
}

static const tg__op_def dropout_op = {"dropout", dropout_backward};

static tg_tensor *dropout_unguarded(tg_ctx *ctx, tg_tensor *x, float p, bool training)
{
    if (!ctx || tg__null_input(ctx, "dropout", 1, x))
        return NULL;
    if (!(p >= 0.0f && p <= 1.0f)) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "dropout: probability must be in [0, 1], got %g",
                  (double)p);
        return NULL;
    }
    tg_tensor *out = tg__op_result(ctx, &dropout_op, x->ndim, x->shape, x, NULL, NULL);
    if (!out)
        return NULL;
    int64_t n = x->numel;
    if (!training || p == 0.0f) {
        memcpy(out->data, x->data, (size_t)n * sizeof(float));
        return out;
    }
    /* The mask lives in the arena even without grad: one buffer either way. */
    float *m = tg__arena_alloc(ctx, (size_t)n * sizeof *m);
    if (!m) {
        tg__error(ctx, TG_ERR_NOMEM, "dropout: out of memory for the mask");
        return NULL;
    }
    /* Keep when u >= p, u uniform on the 2^24 grid of [0, 1) (as
     * tg__rng_uniform), so P(keep) = 1 - p up to that resolution; p == 1
     * drops everything. */
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    uint64_t s[4];
    memcpy(s, ctx->rng, sizeof s);
    for (int64_t i = 0; i < n; i++) {
        float u = (float)(rng_step(s) >> 40) * (1.0f / 16777216.0f);
        m[i] = u >= p ? scale : 0.0f;
    }
    memcpy(ctx->rng, s, sizeof s);
    const float *xd = x->data;
    for (int64_t i = 0; i < n; i++)
        out->data[i] = xd[i] * m[i];
    out->aux = m;
    return out;
}

tg_tensor *tg_dropout(tg_ctx *ctx, tg_tensor *x, float p, bool training)
{
    TG__OP(ctx, "dropout", dropout_unguarded(ctx, x, p, training));
}
