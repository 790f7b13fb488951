/* SPDX-License-Identifier: MIT */
/* 2-D max and average pooling over [N, C, H, W] (floor mode, no dilation),
 * matching PyTorch's CPU kernels: max pooling treats padding as -inf, keeps
 * the first maximum of a window in row-major order (a NaN always wins, as in
 * PyTorch) and saves the argmax for backward; average pooling divides by the
 * full window size including padding (count_include_pad=True). Planes are
 * independent, so the pool splits them and results do not depend on the
 * thread count. */
#include "tg_internal.h"

#include "kernels/kernels.h"

#include <math.h>

typedef struct {
    int64_t H, W, Ho, Wo;
    int64_t k, s, p;
} pool_geom;

/* Validates x and the parameters; fills g. false (error recorded) if bad. */
static bool pool_check(tg_ctx *ctx, const char *who, const tg_tensor *x, int kernel, int stride,
                       int padding, pool_geom *g)
{
    char s1[160];
    if (x->ndim != 4) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: input must be 4-D [N,C,H,W], got %s", who,
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return false;
    }
    /* As PyTorch: only the batch may be empty. An empty plane with padding
     * would give windows with no input element and no argmax (fuzz_ops:
     * heap overflow in the max-pool backward). */
    if (x->shape[2] == 0 || x->shape[3] == 0) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: input %s has an empty plane (H and W must be > 0)",
                  who, tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return false;
    }
    if (kernel < 1 || stride < 0 || padding < 0) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: need kernel >= 1, stride >= 0 (0 = kernel), "
                  "padding >= 0; got kernel %d, stride %d, padding %d", who, kernel, stride,
                  padding);
        return false;
    }
    if (padding > kernel / 2) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: padding %d must be at most half the kernel "
                  "size %d", who, padding, kernel);
        return false;
    }
    g->H = x->shape[2];
    g->W = x->shape[3];
    g->k = kernel;
    g->s = stride ? stride : kernel;
    g->p = padding;
    if (g->H + 2 * g->p < g->k || g->W + 2 * g->p < g->k) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: kernel %d is larger than the padded input %lldx%lld "
                  "of %s", who, kernel, (long long)(g->H + 2 * g->p),
                  (long long)(g->W + 2 * g->p), tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return false;
    }
    g->Ho = (g->H + 2 * g->p - g->k) / g->s + 1;
    g->Wo = (g->W + 2 * g->p - g->k) / g->s + 1;
    return true;
}

typedef struct {
    pool_geom g;
    const float *x, *gy;
    float *y, *gx;
    int32_t *idx;
    bool store;        /* backward: gx is fresh, each plane is zeroed first */
} pool_job;

static void max_fwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    const pool_geom *g = &j->g;
    int64_t plane_in = g->H * g->W, plane_out = g->Ho * g->Wo;
    if (g->k == 2 && g->s == 2 && g->p == 0) { /* the usual CNN pool: SIMD kernel */
        const tg__kernels *kt = tg__kernels_get();
        for (int64_t pl = b; pl < e; pl++)
            kt->max_pool2x2(j->x + pl * plane_in, g->W, NULL, j->y + pl * plane_out,
                            j->idx ? j->idx + pl * plane_out : NULL, g->W, g->Ho, g->Wo);
        return;
    }
    for (int64_t pl = b; pl < e; pl++) {
        const float *x = j->x + pl * plane_in;
        float *y = j->y + pl * plane_out;
        int32_t *idx = j->idx ? j->idx + pl * plane_out : NULL;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            int64_t h0 = oh * g->s - g->p, h1 = h0 + g->k < g->H ? h0 + g->k : g->H;
            if (h0 < 0)
                h0 = 0;
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                int64_t w0 = ow * g->s - g->p, w1 = w0 + g->k < g->W ? w0 + g->k : g->W;
                if (w0 < 0)
                    w0 = 0;
                float best = -INFINITY;
                int64_t bi = h0 * g->W + w0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) {
                        float v = x[ih * g->W + iw];
                        if (v > best || isnan(v)) {
                            best = v;
                            bi = ih * g->W + iw;
                        }
                    }
                y[oh * g->Wo + ow] = best;
                if (idx)
                    idx[oh * g->Wo + ow] = (int32_t)bi;
            }
        }
    }
}

static void max_bwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    int64_t plane_in = j->g.H * j->g.W, plane_out = j->g.Ho * j->g.Wo;
    const bool disjoint = j->g.s >= j->g.k && j->g.p == 0; /* windows do not overlap */
    for (int64_t pl = b; pl < e; pl++) {
        float *gx = j->gx + pl * plane_in;
        const float *gy = j->gy + pl * plane_out;
        const int32_t *idx = j->idx + pl * plane_out;
        /* a fresh gx is zeroed here, plane by plane, not in a pass of its
         * own before: the writes below then hit cached lines */
        if (j->store)
            memset(gx, 0, (size_t)plane_in * sizeof *gx);
        if (j->store && disjoint) /* one term per input: stored, not added */
            for (int64_t o = 0; o < plane_out; o++)
                gx[idx[o]] = 0.0f + gy[o]; /* as 0 + dy: -0 becomes +0 */
        else
            for (int64_t o = 0; o < plane_out; o++)
                gx[idx[o]] += gy[o];
    }
}

static void fill_geom(pool_geom *g, const tg_tensor *x, const tg_tensor *out)
{
    g->H = x->shape[2];
    g->W = x->shape[3];
    g->Ho = out->shape[2];
    g->Wo = out->shape[3];
    g->k = out->p.i[0];
    g->s = out->p.i[1];
    g->p = out->p.i[2];
}

static void max_pool_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0];
    if (!x->requires_grad) /* switched off after the forward */
        return;
    pool_job j = {.x = x->data, .gy = out->grad, .gx = x->grad, .idx = out->aux,
                  .store = tg__grad_fresh(x)};
    fill_geom(&j.g, x, out);
    tg__parallel_for_elems(ctx, x->shape[0] * x->shape[1], x->numel, max_bwd_range, &j);
}

static const tg__op_def max_pool_op = {"max_pool2d", max_pool_backward};

static tg_tensor *max_pool2d_unguarded(tg_ctx *ctx, tg_tensor *x, int kernel, int stride,
                                       int padding)
{
    if (!ctx || tg__null_input(ctx, "max_pool2d", 1, x))
        return NULL;
    pool_job j = {.x = x->data};
    if (!pool_check(ctx, "max_pool2d", x, kernel, stride, padding, &j.g))
        return NULL;
    if (j.g.H * j.g.W > INT32_MAX) {
        tg__error(ctx, TG_ERR_LIMIT, "max_pool2d: plane of %lldx%lld exceeds the index range",
                  (long long)j.g.H, (long long)j.g.W);
        return NULL;
    }
    int64_t shape[4] = {x->shape[0], x->shape[1], j.g.Ho, j.g.Wo};
    tg_tensor *out = tg__op_result(ctx, &max_pool_op, 4, shape, x, NULL, NULL);
    if (!out)
        return NULL;
    out->bwd_stores = TG__SRC(0); /* max_pool_backward zeroes a fresh gx plane by plane */
    if (out->requires_grad) {
        out->aux = tg__arena_alloc(ctx, (size_t)out->numel * sizeof(int32_t));
        if (!out->aux) {
            tg__error(ctx, TG_ERR_NOMEM, "max_pool2d: out of memory for indices");
            return NULL;
        }
    }
    out->p.i[0] = (int32_t)j.g.k;
    out->p.i[1] = (int32_t)j.g.s;
    out->p.i[2] = (int32_t)j.g.p;
    j.y = out->data;
    j.idx = out->aux;
    tg__parallel_for_elems(ctx, x->shape[0] * x->shape[1], x->numel, max_fwd_range, &j);
    return out;
}

tg_tensor *tg_max_pool2d(tg_ctx *ctx, tg_tensor *x, int kernel, int stride, int padding)
{
    TG__OP(ctx, "max_pool2d", max_pool2d_unguarded(ctx, x, kernel, stride, padding));
}

/* ---- average pooling ----------------------------------------------------- */

/* Window of output (oh, ow): clipped rows [*h0,*h1), cols [*w0,*w1), and the
 * divisor, which counts padding but not the part beyond it (PyTorch). */
static float avg_window(const pool_geom *g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                        int64_t *w0, int64_t *w1)
{
    int64_t hs = oh * g->s - g->p, ws = ow * g->s - g->p;
    int64_t he = hs + g->k < g->H + g->p ? hs + g->k : g->H + g->p;
    int64_t we = ws + g->k < g->W + g->p ? ws + g->k : g->W + g->p;
    float div = (float)((he - hs) * (we - ws));
    *h0 = hs < 0 ? 0 : hs;
    *w0 = ws < 0 ? 0 : ws;
    *h1 = he < g->H ? he : g->H;
    *w1 = we < g->W ? we : g->W;
    return div;
}

static void avg_fwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    const pool_geom *g = &j->g;
    int64_t plane_in = g->H * g->W, plane_out = g->Ho * g->Wo;
    for (int64_t pl = b; pl < e; pl++) {
        const float *x = j->x + pl * plane_in;
        float *y = j->y + pl * plane_out;
        for (int64_t oh = 0; oh < g->Ho; oh++)
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                int64_t h0, h1, w0, w1;
                float div = avg_window(g, oh, ow, &h0, &h1, &w0, &w1);
                float sum = 0.0f;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        sum += x[ih * g->W + iw];
                y[oh * g->Wo + ow] = sum / div;
            }
    }
}

static void avg_bwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    const pool_geom *g = &j->g;
    int64_t plane_in = g->H * g->W, plane_out = g->Ho * g->Wo;
    for (int64_t pl = b; pl < e; pl++) {
        float *gx = j->gx + pl * plane_in;
        const float *gy = j->gy + pl * plane_out;
        for (int64_t oh = 0; oh < g->Ho; oh++)
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                int64_t h0, h1, w0, w1;
                float v = gy[oh * g->Wo + ow] / avg_window(g, oh, ow, &h0, &h1, &w0, &w1);
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        gx[ih * g->W + iw] += v;
            }
    }
}

static void avg_pool_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0];
    if (!x->requires_grad) /* switched off after the forward */
        return;
    pool_job j = {.x = x->data, .gy = out->grad, .gx = x->grad};
    fill_geom(&j.g, x, out);
    tg__parallel_for_elems(ctx, x->shape[0] * x->shape[1], x->numel, avg_bwd_range, &j);
}

static const tg__op_def avg_pool_op = {"avg_pool2d", avg_pool_backward};

static tg_tensor *avg_pool2d_unguarded(tg_ctx *ctx, tg_tensor *x, int kernel, int stride,
                                       int padding)
{
    if (!ctx || tg__null_input(ctx, "avg_pool2d", 1, x))
        return NULL;
    pool_job j = {.x = x->data};
    if (!pool_check(ctx, "avg_pool2d", x, kernel, stride, padding, &j.g))
        return NULL;
    int64_t shape[4] = {x->shape[0], x->shape[1], j.g.Ho, j.g.Wo};
    tg_tensor *out = tg__op_result(ctx, &avg_pool_op, 4, shape, x, NULL, NULL);
    if (!out)
        return NULL;
    out->p.i[0] = (int32_t)j.g.k;
    out->p.i[1] = (int32_t)j.g.s;
    out->p.i[2] = (int32_t)j.g.p;
    j.y = out->data;
    tg__parallel_for_elems(ctx, x->shape[0] * x->shape[1], x->numel, avg_fwd_range, &j);
    return out;
}

tg_tensor *tg_avg_pool2d(tg_ctx *ctx, tg_tensor *x, int kernel, int stride, int padding)
{
    TG__OP(ctx, "avg_pool2d", avg_pool2d_unguarded(ctx, x, kernel, stride, padding));
}
