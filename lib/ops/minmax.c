/* SPDX-License-Identifier: MIT */
/* gelu (exact erf form), clamp and abs as element-wise ops (pointwise.h, so
 * every thread count gives bit-identical results); maximum and minimum of
 * two tensors with NumPy/PyTorch broadcasting; argmax along an axis.
 *
 * Gradients follow PyTorch 1.13: clamp passes the gradient where
 * lo <= x <= hi (boundaries included); abs uses sign(x) (0 at 0);
 * maximum/minimum give the gradient to the larger (smaller) operand and
 * split it in halves when the two are equal. NaN propagates through
 * clamp, maximum and minimum; argmax treats NaN as the largest value. */
#include "pointwise.h"

#include <math.h>

/* ---- gelu, clamp, abs ----------------------------------------------------- */

static void gelu_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
static void gelu_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                   const float *p)
{
    (void)y, (void)p;
    const float k = 0.39894228040143268f; /* 1/sqrt(2*pi) */
    for (int64_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * 0.70710678118654752f));
        gx[i] += g[i] * (cdf + x[i] * k * expf(-0.5f * x[i] * x[i]));
    }
}

/* p[0] = lo, p[1] = hi. Comparisons keep NaN inputs NaN (as torch.clamp). */
static void clamp_f(const float *x, float *y, int64_t n, const float *p)
{
    float lo = p[0], hi = p[1];
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
}
static void clamp_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                    const float *p)
{
    (void)y;
    float lo = p[0], hi = p[1];
    for (int64_t i = 0; i < n; i++)
        if (x[i] >= lo && x[i] <= hi)
            gx[i] += g[i];
}

static void abs_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = fabsf(x[i]);
}
static void abs_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                  const float *p)
{
    (void)y, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] += x[i] > 0 ? g[i] : x[i] < 0 ? -g[i] : 0.0f * g[i];
}

static void gelu_backward(tg_ctx *ctx, tg_tensor *out) { pw_backward(ctx, out, gelu_b); }
static void clamp_backward(tg_ctx *ctx, tg_tensor *out) { pw_backward(ctx, out, clamp_b); }
static void abs_backward(tg_ctx *ctx, tg_tensor *out) { pw_backward(ctx, out, abs_b); }
static const tg__op_def gelu_op = {"gelu", gelu_backward};
static const tg__op_def clamp_op = {"clamp", clamp_backward};
static const tg__op_def abs_op = {"abs", abs_backward};

tg_tensor *tg_gelu(tg_ctx *ctx, tg_tensor *x)
{
    TG__OP(ctx, "gelu", pw_unary(ctx, &gelu_op, gelu_f, x, NULL, 0));
}
tg_tensor *tg_abs(tg_ctx *ctx, tg_tensor *x)
{
    TG__OP(ctx, "abs", pw_unary(ctx, &abs_op, abs_f, x, NULL, 0));
}

static tg_tensor *clamp_unguarded(tg_ctx *ctx, tg_tensor *x, float lo, float hi)
{
    if (!ctx || tg__null_input(ctx, clamp_op.name, 1, x))
        return NULL;
    if (isnan(lo) || isnan(hi)) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "clamp: bounds must not be NaN (lo %g, hi %g)",
                  (double)lo, (double)hi);
        return NULL;
    }
    float p[2] = {lo, hi};
    return pw_unary(ctx, &clamp_op, clamp_f, x, p, 2);
}

tg_tensor *tg_clamp(tg_ctx *ctx, tg_tensor *x, float lo, float hi)
{
    TG__OP(ctx, "clamp", clamp_unguarded(ctx, x, lo, hi));
}

/* ---- maximum, minimum ------------------------------------------------------ */

/* body(i, ja, jb) for every output index i with the operands' offsets. */
#define MM_WALK(bc, numel, body)                                                               \
    do {                                                                                       \
        int64_t idx_[TG_MAX_DIMS] = {0}, ia_ = 0, ib_ = 0;                                     \
        int last_ = (bc)->ndim - 1;                                                            \
        int64_t n_ = last_ >= 0 ? (bc)->shape[last_] : 1;                                      \
        int64_t da_ = last_ >= 0 ? (bc)->sa[last_] : 0, db_ = last_ >= 0 ? (bc)->sb[last_] : 0; \
        for (int64_t i0_ = 0; i0_ < (numel); i0_ += n_) {                                      \
            for (int64_t k_ = 0; k_ < n_; k_++)                                                \
                body(i0_ + k_, ia_ + k_ * da_, ib_ + k_ * db_);                                \
            for (int d_ = last_ - 1; d_ >= 0; d_--) {                                          \
                ia_ += (bc)->sa[d_];                                                           \
                ib_ += (bc)->sb[d_];                                                           \
                if (++idx_[d_] < (bc)->shape[d_])                                              \
                    break;                                                                     \
                ia_ -= (bc)->sa[d_] * (bc)->shape[d_];                                         \
                ib_ -= (bc)->sb[d_] * (bc)->shape[d_];                                         \
                idx_[d_] = 0;                                                                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* sign = +1 for maximum, -1 for minimum: "a wins" when sign*(a-b) > 0. */
static void mm_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *a = out->src[0], *b = out->src[1];
    bool is_max = out->p.i[0] != 0;
    const tg__bcast *bc = out->aux;
    const float *g = out->grad, *x = a->data, *y = b->data;
    float *ga = a->requires_grad ? a->grad : NULL;
    float *gb = b->requires_grad ? b->grad : NULL;
    /* PyTorch 1.13: equal operands each get half; a NaN operand takes it all
     * (neither "less" nor "greater" holds, so a gets g and b gets g too). */
#define BODY(i, ja, jb)                                                                        \
    do {                                                                                       \
        float xa = x[ja], yb = y[jb], gi = g[i];                                               \
        bool a_lose = is_max ? xa < yb : xa > yb, b_lose = is_max ? xa > yb : xa < yb;        \
        float h = xa == yb ? 0.5f * gi : gi;                                                   \
        if (ga && !a_lose)                                                                     \
            ga[ja] += h;                                                                       \
        if (gb && !b_lose)                                                                     \
            gb[jb] += h;                                                                       \
    } while (0)
    MM_WALK(bc, out->numel, BODY);
#undef BODY
}

static const tg__op_def maximum_op = {"maximum", mm_backward};
static const tg__op_def minimum_op = {"minimum", mm_backward};

static tg_tensor *minmax(tg_ctx *ctx, const tg__op_def *op, bool is_max, tg_tensor *a,
                         tg_tensor *b)
{
    if (!ctx || tg__null_input(ctx, op->name, 2, a, b))
        return NULL;
    tg__bcast bc;
    if (!tg__broadcast(ctx, op->name, a, b, &bc))
        return NULL;
    tg_tensor *out = tg__op_result(ctx, op, bc.ndim, bc.shape, a, b, NULL);
    if (!out)
        return NULL;
    out->p.i[0] = is_max;
    if (out->requires_grad) {
        out->aux = tg__arena_alloc(ctx, sizeof bc);
        if (!out->aux) {
            tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", op->name);
            return NULL;
        }
        memcpy(out->aux, &bc, sizeof bc);
    }
    float *o = out->data;
    const float *x = a->data, *y = b->data;
#define BODY(i, ja, jb)                                                                        \
    do {                                                                                       \
        float xa = x[ja], yb = y[jb];                                                          \
        o[i] = isnan(xa) ? xa : isnan(yb) ? yb : (is_max ? (xa < yb ? yb : xa)                 \
                                                         : (xa > yb ? yb : xa));               \
    } while (0)
    if (out->numel > 0)
        MM_WALK(&bc, out->numel, BODY);
#undef BODY
    return out;
}

tg_tensor *tg_maximum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    TG__OP(ctx, "maximum", minmax(ctx, &maximum_op, true, a, b));
}

tg_tensor *tg_minimum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    TG__OP(ctx, "minimum", minmax(ctx, &minimum_op, false, a, b));
}

/* ---- argmax ----------------------------------------------------------------- */

static tg_tensor *argmax_unguarded(tg_ctx *ctx, tg_tensor *x, int axis, bool keepdim)
{
    const char *who = "argmax";
    if (!ctx || tg__null_input(ctx, who, 1, x))
        return NULL;
    int nd = x->ndim ? x->ndim : 1; /* a 0-d tensor has one implicit dim, as PyTorch */
    int ax = tg__axis(ctx, who, axis, nd);
    if (ax < 0)
        return NULL;
    int64_t size = x->ndim ? x->shape[ax] : 1, outer = 1, inner = 1;
    if (size == 0) {
        char s1[160];
        tg__error(ctx, TG_ERR_SHAPE, "argmax: axis %d of input %s is empty", ax,
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d < ax)
            outer *= x->shape[d];
        else if (d > ax)
            inner *= x->shape[d];
        if (d != ax || keepdim)
            shape[k++] = d == ax ? 1 : x->shape[d];
    }
    /* Indices are not differentiable: a plain tensor with no graph node. */
    tg_tensor *out = tg__tensor_new(ctx, who, k, shape);
    if (!out || out->numel == 0) /* e.g. [2^40, 5, 0]: no work, and no 2^40-step empty loop */
        return out;
    const float *xd = x->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = xd + o * size * inner + i;
            int64_t best = 0;
            float bv = p[0];
            for (int64_t s = 1; s < size && !isnan(bv); s++) {
                float v = p[s * inner];
                if (v > bv || isnan(v)) {
                    bv = v;
                    best = s;
                }
            }
            out->data[o * inner + i] = (float)best;
        }
    return out;
}

tg_tensor *tg_argmax(tg_ctx *ctx, tg_tensor *x, int axis, bool keepdim)
{
    TG__OP(ctx, "argmax", argmax_unguarded(ctx, x, axis, keepdim));
}
