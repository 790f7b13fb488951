/* SPDX-License-Identifier: MIT */
/* Reductions: sum, mean and max over one axis (keepdim or not) and over all
 * elements (0-d results). The tensor is viewed as [outer, n, inner] with the
 * reduced axis in the middle. Sums are computed in a fixed order that does
 * not depend on the thread count (these ops run on the calling thread).
 *
 * Max sends the gradient to the FIRST maximum along the axis, like PyTorch's
 * max(dim). tg_max_all does the same (PyTorch's amax/max() without a dim
 * spread it evenly among ties instead); the forward value is identical. NaN
 * propagates: the first NaN is the maximum. */
#include "tg_internal.h"

enum { RED_SUM, RED_MEAN, RED_MAX };

/* Indices into out->p.l. */
enum { R_N = 0, R_INNER = 1, R_KIND = 2 };

/* Sum of n contiguous floats: eight independent float lanes (vectorised,
 * error grows with n/8) per block of 4096, blocks combined in double. */
static double sum_flat(const float *x, int64_t n)
{
    double total = 0.0;
    for (int64_t b = 0; b < n; b += 4096) {
        int64_t e = n - b < 4096 ? n : b + 4096;
        float acc[8] = {0};
        int64_t i = b;
        for (; i + 8 <= e; i += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += x[i + l];
        float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; i < e; i++)
            s += x[i];
        total += s;
    }
    return total;
}

/* True if v should replace the running maximum m: larger, or the first NaN. */
static inline bool beats(float v, float m) { return v > m || (v != v && m == m); }

/* Index of the first maximum of x[0], x[stride], ... x[(n-1)*stride]; n > 0. */
static int64_t argmax_strided(const float *x, int64_t n, int64_t stride)
{
    int64_t best = 0;
    float m = x[0];
    for (int64_t k = 1; k < n; k++)
        if (beats(x[k * stride], m)) {
            m = x[k * stride];
            best = k;
        }
    return best;
}

static void reduce_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *a = out->src[0];
    if (!a->requires_grad)
        return;
    int64_t n = out->p.l[R_N], inner = out->p.l[R_INNER];
    int kind = (int)out->p.l[R_KIND];
    int64_t outer = out->numel / (inner ? inner : 1);
    const float *g = out->grad;
    float *gx = a->grad;
    if (kind == RED_MAX) {
        const int64_t *idx = out->aux;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < inner; j++)
                gx[(o * n + idx[o * inner + j]) * inner + j] += g[o * inner + j];
        return;
    }
    float scale = kind == RED_MEAN ? 1.0f / (float)n : 1.0f;
    if (inner == 1) { /* over the last axis (sum_all, mean_all): a row gets one value */
        for (int64_t o = 0; o < outer; o++) {
            const float v = kind == RED_MEAN ? g[o] * scale : g[o];
            float *gk = gx + o * n;
            for (int64_t k = 0; k < n; k++)
                gk[k] += v;
        }
        return;
    }
    for (int64_t o = 0; o < outer; o++) {
        const float *go = g + o * inner;
        for (int64_t k = 0; k < n; k++) {
            float *gk = gx + (o * n + k) * inner;
            if (kind == RED_MEAN)
                for (int64_t j = 0; j < inner; j++)
                    gk[j] += go[j] * scale;
            else
                for (int64_t j = 0; j < inner; j++)
                    gk[j] += go[j];
        }
    }
}

static const tg__op_def sum_op = {"sum", reduce_backward};
static const tg__op_def mean_op = {"mean", reduce_backward};
static const tg__op_def max_op = {"max", reduce_backward};
static const tg__op_def sum_all_op = {"sum_all", reduce_backward};
static const tg__op_def mean_all_op = {"mean_all", reduce_backward};
static const tg__op_def max_all_op = {"max_all", reduce_backward};

/* Reduce @p a viewed as [outer, n, inner] into a result of shape (ndim, shape). */
static tg_tensor *reduce(tg_ctx *ctx, const tg__op_def *op, int kind, tg_tensor *a, int64_t outer,
                         int64_t n, int64_t inner, int ndim, const int64_t *shape)
{
    if (kind == RED_MAX && n == 0 && outer * inner > 0) {
        char s[160];
        tg__error(ctx, TG_ERR_SHAPE, "%s: cannot take the maximum over an empty axis of %s",
                  op->name, tg__shape_str(s, sizeof s, a->ndim, a->shape));
        return NULL;
    }
    tg_tensor *out = tg__op_result(ctx, op, ndim, shape, a, NULL, NULL);
    if (!out)
        return NULL;
    out->p.l[R_N] = n;
    out->p.l[R_INNER] = inner;
    out->p.l[R_KIND] = kind;
    /* An empty result needs no work; looping outer x n over the other
     * (possibly huge) dims would take forever (fuzz_ops timeout, [2^40,0]). */
    if (out->numel == 0)
        return out;
    const float *x = a->data;
    float *y = out->data;

    if (kind == RED_MAX) {
        int64_t *idx = NULL;
        if (out->requires_grad) {
            idx = tg__arena_alloc(ctx, (size_t)(outer * inner) * sizeof *idx);
            if (!idx) {
                tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", op->name);
                return NULL;
            }
            out->aux = idx;
        }
        if (inner == 1) {
            for (int64_t o = 0; o < outer; o++) {
                int64_t k = argmax_strided(x + o * n, n, 1);
                y[o] = x[o * n + k];
                if (idx)
                    idx[o] = k;
            }
            return out;
        }
        /* Whole rows of inner at a time (contiguous, vectorisable). */
        for (int64_t o = 0; o < outer; o++) {
            const float *xo = x + o * n * inner;
            float *yo = y + o * inner;
            memcpy(yo, xo, (size_t)inner * sizeof *yo);
            if (idx) {
                int64_t *io = idx + o * inner;
                memset(io, 0, (size_t)inner * sizeof *io);
                for (int64_t k = 1; k < n; k++)
                    for (int64_t j = 0; j < inner; j++)
                        if (beats(xo[k * inner + j], yo[j])) {
                            yo[j] = xo[k * inner + j];
                            io[j] = k;
                        }
            } else {
                for (int64_t k = 1; k < n; k++)
                    for (int64_t j = 0; j < inner; j++)
                        yo[j] = beats(xo[k * inner + j], yo[j]) ? xo[k * inner + j] : yo[j];
            }
        }
        return out;
    }

    /* Sum / mean; mean divides (0/0 = NaN for an empty axis, as PyTorch). */
    float div = (float)n;
    if (inner == 1) {
        for (int64_t o = 0; o < outer; o++) {
            float s = (float)sum_flat(x + o * n, n);
            y[o] = kind == RED_MEAN ? s / div : s;
        }
        return out;
    }
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        float *yo = y + o * inner;
        memset(yo, 0, (size_t)inner * sizeof *yo);
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < inner; j++)
                yo[j] += xo[k * inner + j];
        if (kind == RED_MEAN)
            for (int64_t j = 0; j < inner; j++)
                yo[j] /= div;
    }
    return out;
}

static tg_tensor *reduce_axis(tg_ctx *ctx, const tg__op_def *op, int kind, tg_tensor *a, int axis,
                              bool keepdim)
{
    if (!ctx || tg__null_input(ctx, op->name, 1, a))
        return NULL;
    /* A 0-d tensor reduces over its one implicit axis (0 or -1), as PyTorch. */
    if (a->ndim == 0) {
        if (tg__axis(ctx, op->name, axis, 1) < 0)
            return NULL;
        return reduce(ctx, op, kind, a, 1, 1, 1, 0, NULL);
    }
    int ax = tg__axis(ctx, op->name, axis, a->ndim);
    if (ax < 0)
        return NULL;
    int64_t outer = 1, inner = 1, shape[TG_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (i < ax)
            outer *= a->shape[i];
        else if (i > ax)
            inner *= a->shape[i];
        if (i != ax)
            shape[nd++] = a->shape[i];
        else if (keepdim)
            shape[nd++] = 1;
    }
    return reduce(ctx, op, kind, a, outer, a->shape[ax], inner, nd, shape);
}

static tg_tensor *reduce_all(tg_ctx *ctx, const tg__op_def *op, int kind, tg_tensor *a)
{
    if (!ctx || tg__null_input(ctx, op->name, 1, a))
        return NULL;
    if (kind == RED_MAX && a->numel == 0) {
        char s[160];
        tg__error(ctx, TG_ERR_SHAPE, "%s: cannot take the maximum of an empty tensor %s",
                  op->name, tg__shape_str(s, sizeof s, a->ndim, a->shape));
        return NULL;
    }
    return reduce(ctx, op, kind, a, 1, a->numel, 1, 0, NULL);
}

tg_tensor *tg_sum(tg_ctx *ctx, tg_tensor *a, int axis, bool keepdim)
{
    TG__OP(ctx, "sum", reduce_axis(ctx, &sum_op, RED_SUM, a, axis, keepdim));
}

tg_tensor *tg_mean(tg_ctx *ctx, tg_tensor *a, int axis, bool keepdim)
{
    TG__OP(ctx, "mean", reduce_axis(ctx, &mean_op, RED_MEAN, a, axis, keepdim));
}

tg_tensor *tg_max(tg_ctx *ctx, tg_tensor *a, int axis, bool keepdim)
{
    TG__OP(ctx, "max", reduce_axis(ctx, &max_op, RED_MAX, a, axis, keepdim));
}

tg_tensor *tg_sum_all(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "sum_all", reduce_all(ctx, &sum_all_op, RED_SUM, a));
}

tg_tensor *tg_mean_all(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "mean_all", reduce_all(ctx, &mean_all_op, RED_MEAN, a));
}

tg_tensor *tg_max_all(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "max_all", reduce_all(ctx, &max_all_op, RED_MAX, a));
}
