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

/* ga[i] = g[i] (store: ga is fresh) or ga[i] += g[i], for i < n, in
 * contiguous shares over the pool from TG_PAR_MIN_ELEMS on: where ga is a
 * batch, each thread touches the samples it owns in the ops around (a
 * view's backward; elementwise.c). */
void tg__grad_pass(tg_ctx *ctx, float *ga, const float *g, int64_t n, bool store);

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

/* Shape and per-operand element strides (0 where broadcast) of a binary op
 * with NumPy broadcasting; false (error recorded) if incompatible. Used by the
 * arithmetic ops and maximum/minimum. */
typedef struct {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t sa[TG_MAX_DIMS], sb[TG_MAX_DIMS]; /* element strides, 0 when broadcast */
} tg__bcast;

static inline bool tg__broadcast(tg_ctx *ctx, const char *who, const tg_tensor *a,
                                 const tg_tensor *b, tg__bcast *bc)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t stride_a = 1, stride_b = 1;
    bc->ndim = nd;
    for (int i = nd - 1; i >= 0; i--) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char s1[160], s2[160];
            tg__error(ctx, TG_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", who,
                      tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                      tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
            return false;
        }
        bc->shape[i] = da == 1 ? db : da;
        bc->sa[i] = da == 1 ? 0 : stride_a;
        bc->sb[i] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
    }
    return true;
}

#endif /* TG_OPS_POINTWISE_H */
