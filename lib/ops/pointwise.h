/* SPDX-License-Identifier: MIT */
/* Private to lib/ops: the driver for one-input element-wise ops (unary.c,
 * activation.c). An op supplies two flat kernels (forward, and a backward
 * that accumulates into the input gradient); the driver validates, allocates
 * the result and splits large tensors across the context's threads. No
 * element depends on another, so the split cannot change results: every
 * thread count gives bit-identical output. */
#ifndef TG_OPS_POINTWISE_H
#define TG_OPS_POINTWISE_H

#include "tg_internal.h"

/* Below this many elements handing work to the pool costs more than it
 * saves (a memory-bound loop over 64K floats takes a few microseconds). */
#define PW_PAR_MIN ((int64_t)1 << 16)

/* y[i] = f(x[i]) for i < n; p holds the op's scalar parameters. */
typedef void (*pw_fwd_fn)(const float *x, float *y, int64_t n, const float *p);
/* gx[i] += dy/dx(x[i], y[i]) * g[i]. */
typedef void (*pw_bwd_fn)(const float *g, const float *x, const float *y, float *gx, int64_t n,
                          const float *p);

typedef struct {
    pw_fwd_fn fwd;
    pw_bwd_fn bwd;
    const float *g, *x, *y;
    float *out;
    const float *p;
} pw_job;

static inline void pw_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const pw_job *j = arg;
    if (j->fwd)
        j->fwd(j->x + b, j->out + b, e - b, j->p);
    else
        j->bwd(j->g + b, j->x + b, j->y + b, j->out + b, e - b, j->p);
}

static inline void pw_run(tg_ctx *ctx, const pw_job *job, int64_t n)
{
    if (n >= PW_PAR_MIN && ctx->n_threads > 1)
        tg__parallel_for(ctx, n, pw_range, (void *)job);
    else
        pw_range((void *)job, 0, n, 0);
}

/* Forward: result of @p op on @p a with parameters p[0..np). NULL on error. */
static inline tg_tensor *pw_unary(tg_ctx *ctx, const tg__op_def *op, pw_fwd_fn fwd, tg_tensor *a,
                                  const float *p, int np)
{
    if (!ctx || tg__null_input(ctx, op->name, 1, a))
        return NULL;
    tg_tensor *out = tg__op_result(ctx, op, a->ndim, a->shape, a, NULL, NULL);
    if (!out)
        return NULL;
    for (int i = 0; i < np; i++)
        out->p.f[i] = p[i];
    pw_job job = {fwd, NULL, NULL, a->data, NULL, out->data, out->p.f};
    pw_run(ctx, &job, a->numel);
    return out;
}

/* Backward shared by every element-wise op: src[0] is the only input. */
static inline void pw_backward(tg_ctx *ctx, tg_tensor *out, pw_bwd_fn bwd)
{
    tg_tensor *a = out->src[0];
    if (!a->requires_grad)
        return;
    pw_job job = {NULL, bwd, out->grad, a->data, out->data, a->grad, out->p.f};
    pw_run(ctx, &job, a->numel);
}

#endif /* TG_OPS_POINTWISE_H */
