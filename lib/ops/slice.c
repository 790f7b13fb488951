/* SPDX-License-Identifier: MIT */
/* Joining and cutting tensors: concat, narrow, slice and constant pad.
 * Every op sees a tensor as [outer, size, inner] around its axis, so copies
 * move whole runs of `inner` contiguous floats. narrow (and slice with step
 * 1) returns a view sharing the input's data when the selected elements are
 * contiguous (all dims before the axis are 1, or the whole axis is taken);
 * otherwise it copies. Backward adds the gradient back into the matching
 * input elements; no input element receives more than one contribution, so
 * results do not depend on order. */
#include "tg_internal.h"

#include <math.h>

/* outer = prod(shape[0..ax)), inner = prod(shape[ax+1..ndim)). */
static void split_axis(const tg_tensor *t, int ax, int64_t *outer, int64_t *inner)
{
    int64_t o = 1, in = 1;
    for (int i = 0; i < ax; i++)
        o *= t->shape[i];
    for (int i = ax + 1; i < t->ndim; i++)
        in *= t->shape[i];
    *outer = o;
    *inner = in;
}

/* ---- concat ------------------------------------------------------------- */

/* Inputs are src[0..k); p.i[0] = axis. */
static void concat_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    int ax = out->p.i[0];
    int64_t outer, inner;
    split_axis(out, ax, &outer, &inner);
    int64_t row = out->shape[ax] * inner, off = 0;
    for (int k = 0; k < TG_MAX_SRC && out->src[k]; k++) {
        tg_tensor *a = out->src[k];
        int64_t chunk = a->shape[ax] * inner;
        if (a->requires_grad && chunk > 0) { /* chunk 0: no 2^40-step empty loop */
            for (int64_t o = 0; o < outer; o++) {
                const float *g = out->grad + o * row + off;
                float *ga = a->grad + o * chunk;
                for (int64_t i = 0; i < chunk; i++)
                    ga[i] += g[i];
            }
        }
        off += chunk;
    }
}

static const tg__op_def concat_op = {"concat", concat_backward};

/* One graph node joining k <= TG_MAX_SRC validated inputs. */
static tg_tensor *concat_node(tg_ctx *ctx, tg_tensor *const *xs, int k, int ax)
{
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[ax] = 0;
    bool grad = false;
    for (int i = 0; i < k; i++) {
        shape[ax] += xs[i]->shape[ax];
        grad = grad || xs[i]->requires_grad;
    }
    tg_tensor *out = tg__op_result(ctx, &concat_op, xs[0]->ndim, shape, NULL, NULL, NULL);
    if (!out)
        return NULL;
    out->p.i[0] = ax;
    if (grad && ctx->grad_enabled) {
        out->requires_grad = true;
        for (int i = 0; i < k; i++)
            out->src[i] = xs[i];
    }
    int64_t outer, inner;
    split_axis(out, ax, &outer, &inner);
    int64_t row = shape[ax] * inner, off = 0;
    for (int i = 0; i < k; i++) {
        int64_t chunk = xs[i]->shape[ax] * inner;
        for (int64_t o = 0; o < outer && chunk; o++)
            memcpy(out->data + o * row + off, xs[i]->data + o * chunk,
                   (size_t)chunk * sizeof(float));
        off += chunk;
    }
    return out;
}

static tg_tensor *concat_unguarded(tg_ctx *ctx, tg_tensor *const *xs, int n, int axis)
{
    const char *who = concat_op.name;
    if (!ctx)
        return NULL;
    if (!xs || n < 1) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "concat: need at least one input (xs %s, n %d)",
                  xs ? "given" : "NULL", n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (tg__null_input(ctx, who, 1, xs[i]))
            return NULL;
    const tg_tensor *x0 = xs[0];
    if (x0->ndim == 0) {
        tg__error(ctx, TG_ERR_SHAPE, "concat: zero-dimensional input 0 cannot be joined");
        return NULL;
    }
    int ax = tg__axis(ctx, who, axis, x0->ndim);
    if (ax < 0)
        return NULL;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const tg_tensor *x = xs[i];
        bool ok = x->ndim == x0->ndim;
        for (int d = 0; ok && d < x->ndim; d++)
            ok = d == ax || x->shape[d] == x0->shape[d];
        if (!ok) {
            char s1[160], s2[160];
            tg__error(ctx, TG_ERR_SHAPE,
                      "concat: input %d has shape %s, input 0 has %s (they must match except "
                      "on axis %d)", i, tg__shape_str(s1, sizeof s1, x->ndim, x->shape),
                      tg__shape_str(s2, sizeof s2, x0->ndim, x0->shape), ax);
            return NULL;
        }
        if (x->ctx != ctx) {
            tg__error(ctx, TG_ERR_INVALID_ARG, "concat: input %d belongs to another context", i);
            return NULL;
        }
        if (x->shape[ax] > INT64_MAX - total) {
            tg__error(ctx, TG_ERR_SHAPE, "concat: result too large on axis %d", ax);
            return NULL;
        }
        total += x->shape[ax];
    }
    int64_t shape[TG_MAX_DIMS], numel;
    memcpy(shape, x0->shape, sizeof shape);
    shape[ax] = total;
    if (!tg__shape_numel(ctx, who, x0->ndim, shape, &numel))
        return NULL;
    /* A node records at most TG_MAX_SRC inputs: longer lists are joined in
     * steps, each new node taking the previous result first. */
    int k = n < TG_MAX_SRC ? n : TG_MAX_SRC;
    tg_tensor *out = concat_node(ctx, xs, k, ax);
    while (out && k < n) {
        tg_tensor *part[TG_MAX_SRC] = {out};
        int m = 1;
        while (m < TG_MAX_SRC && k < n)
            part[m++] = xs[k++];
        out = concat_node(ctx, part, m, ax);
    }
    return out;
}

tg_tensor *tg_concat(tg_ctx *ctx, tg_tensor *const *xs, int n, int axis)
{
    TG__OP(ctx, "concat", concat_unguarded(ctx, xs, n, axis));
}

/* ---- narrow and slice --------------------------------------------------- */

/* p.l[0] = axis, p.l[1] = start, p.l[2] = step. Works for the view too. */
static void slice_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *a = out->src[0];
    if (!a->requires_grad || out->numel == 0)
        return;
    int ax = (int)out->p.l[0];
    int64_t start = out->p.l[1], step = out->p.l[2], outer, inner;
    split_axis(a, ax, &outer, &inner);
    int64_t len = out->shape[ax], size = a->shape[ax];
    const float *g = out->grad;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < len; k++) {
            float *ga = a->grad + ((o * size) + start + k * step) * inner;
            const float *gk = g + (o * len + k) * inner;
            for (int64_t i = 0; i < inner; i++)
                ga[i] += gk[i];
        }
}

static const tg__op_def narrow_op = {"narrow", slice_backward};
static const tg__op_def slice_op = {"slice", slice_backward};

/* Elements start, start+step, ... (len of them) along validated axis ax. */
static tg_tensor *take(tg_ctx *ctx, const tg__op_def *op, tg_tensor *a, int ax, int64_t start,
                       int64_t len, int64_t step)
{
    int64_t shape[TG_MAX_DIMS], outer, inner;
    memcpy(shape, a->shape, sizeof shape);
    shape[ax] = len;
    split_axis(a, ax, &outer, &inner);
    int64_t size = a->shape[ax];
    tg_tensor *out;
    if (step == 1 && (outer == 1 || len == size)) {
        out = tg__view(ctx, op, a, a->ndim, shape);
        if (!out)
            return NULL;
        out->numel = outer * len * inner;
        out->data = a->data + start * inner;
    } else {
        out = tg__op_result(ctx, op, a->ndim, shape, a, NULL, NULL);
        if (!out)
            return NULL;
        for (int64_t o = 0; o < outer && out->numel > 0; o++)
            for (int64_t k = 0; k < len; k++)
                memcpy(out->data + (o * len + k) * inner,
                       a->data + (o * size + start + k * step) * inner,
                       (size_t)inner * sizeof(float));
    }
    out->p.l[0] = ax;
    out->p.l[1] = start;
    out->p.l[2] = step;
    return out;
}

static tg_tensor *narrow_unguarded(tg_ctx *ctx, tg_tensor *x, int axis, int64_t start,
                                   int64_t length)
{
    const char *who = narrow_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, x))
        return NULL;
    if (x->ndim == 0) {
        tg__error(ctx, TG_ERR_SHAPE, "narrow: cannot narrow a zero-dimensional tensor");
        return NULL;
    }
    int ax = tg__axis(ctx, who, axis, x->ndim);
    if (ax < 0)
        return NULL;
    int64_t size = x->shape[ax];
    int64_t s = start < 0 ? start + size : start;
    if (s < 0 || s > size || length < 0 || length > size - s) {
        tg__error(ctx, TG_ERR_INVALID_ARG,
                  "narrow: start %lld, length %lld out of range for size %lld on axis %d",
                  (long long)start, (long long)length, (long long)size, ax);
        return NULL;
    }
    return take(ctx, &narrow_op, x, ax, s, length, 1);
}

tg_tensor *tg_narrow(tg_ctx *ctx, tg_tensor *x, int axis, int64_t start, int64_t length)
{
    TG__OP(ctx, "narrow", narrow_unguarded(ctx, x, axis, start, length));
}

static tg_tensor *slice_unguarded(tg_ctx *ctx, tg_tensor *x, int axis, int64_t start, int64_t end,
                                  int64_t step)
{
    const char *who = slice_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, x))
        return NULL;
    if (x->ndim == 0) {
        tg__error(ctx, TG_ERR_SHAPE, "slice: cannot slice a zero-dimensional tensor");
        return NULL;
    }
    int ax = tg__axis(ctx, who, axis, x->ndim);
    if (ax < 0)
        return NULL;
    if (step < 1) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "slice: step must be >= 1, got %lld",
                  (long long)step);
        return NULL;
    }
    /* Python rules: negative bounds count from the end, then clamp. */
    int64_t size = x->shape[ax];
    int64_t s = start < 0 ? (start < -size ? 0 : start + size) : (start > size ? size : start);
    int64_t e = end < 0 ? (end < -size ? 0 : end + size) : (end > size ? size : end);
    int64_t len = e > s ? (e - s - 1) / step + 1 : 0;
    return take(ctx, &slice_op, x, ax, s, len, step);
}

tg_tensor *tg_slice(tg_ctx *ctx, tg_tensor *x, int axis, int64_t start, int64_t end, int64_t step)
{
    TG__OP(ctx, "slice", slice_unguarded(ctx, x, axis, start, end, step));
}

/* ---- constant pad ------------------------------------------------------- */

/* aux = int64_t before[ndim] (padding before each dim; negative crops).
 * Calls body(i, j) for each output index i whose input index j exists. */
#define PAD_WALK(out, a, before, body_in, body_out)                                            \
    do {                                                                                       \
        int nd_ = (out)->ndim, last_ = nd_ - 1;                                                \
        int64_t idx_[TG_MAX_DIMS] = {0}, ist_[TG_MAX_DIMS], s_ = 1;                            \
        for (int d_ = nd_ - 1; d_ >= 0; d_--) {                                                \
            ist_[d_] = s_;                                                                     \
            s_ *= (a)->shape[d_];                                                              \
        }                                                                                      \
        int64_t n_ = (out)->shape[last_], b_ = (before)[last_], m_ = (a)->shape[last_];       \
        for (int64_t i0_ = 0; i0_ < (out)->numel; i0_ += n_) {                                 \
            bool ok_ = true;                                                                   \
            int64_t row_ = 0;                                                                  \
            for (int d_ = 0; d_ < last_; d_++) {                                               \
                int64_t k_ = idx_[d_] - (before)[d_];                                          \
                ok_ = ok_ && k_ >= 0 && k_ < (a)->shape[d_];                                   \
                row_ += k_ * ist_[d_];                                                         \
            }                                                                                  \
            for (int64_t c_ = 0; c_ < n_; c_++) {                                              \
                int64_t i = i0_ + c_, k_ = c_ - b_, j = row_ + k_;                             \
                if (ok_ && k_ >= 0 && k_ < m_) {                                               \
                    body_in;                                                                   \
                } else {                                                                       \
                    body_out;                                                                  \
                }                                                                              \
            }                                                                                  \
            for (int d_ = last_ - 1; d_ >= 0; d_--) {                                          \
                if (++idx_[d_] < (out)->shape[d_])                                             \
                    break;                                                                     \
                idx_[d_] = 0;                                                                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static void pad_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *a = out->src[0];
    if (!a->requires_grad || out->numel == 0)
        return;
    const int64_t *before = out->aux;
    const float *g = out->grad;
    float *ga = a->grad;
    if (out->ndim == 0) {
        ga[0] += g[0];
        return;
    }
    PAD_WALK(out, a, before, ga[j] += g[i], (void)0);
}

static const tg__op_def pad_op = {"pad", pad_backward};

static tg_tensor *pad_unguarded(tg_ctx *ctx, tg_tensor *x, int n_pad, const int64_t *pad,
                                float value)
{
    const char *who = pad_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, x))
        return NULL;
    if (n_pad < 0 || n_pad % 2 || n_pad / 2 > x->ndim) {
        tg__error(ctx, TG_ERR_INVALID_ARG,
                  "pad: n_pad %d must be even and at most twice the rank %d", n_pad, x->ndim);
        return NULL;
    }
    if (n_pad && !pad) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "pad: pad is NULL");
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS], before[TG_MAX_DIMS] = {0};
    memcpy(shape, x->shape, sizeof shape);
    /* F.pad order: (last dim before, last dim after, next-to-last before, ...) */
    for (int k = 0; k < n_pad / 2; k++) {
        int d = x->ndim - 1 - k;
        int64_t b = pad[2 * k], e = pad[2 * k + 1], lim = INT64_MAX / 4;
        if (b < -lim || b > lim || e < -lim || e > lim || shape[d] + b + e < 0) {
            tg__error(ctx, TG_ERR_INVALID_ARG,
                      "pad: padding (%lld, %lld) of dim %d (size %lld) gives a negative or "
                      "too large size", (long long)b, (long long)e, d, (long long)shape[d]);
            return NULL;
        }
        before[d] = b;
        shape[d] += b + e;
    }
    int64_t numel;
    if (!tg__shape_numel(ctx, who, x->ndim, shape, &numel))
        return NULL;
    tg_tensor *out = tg__op_result(ctx, &pad_op, x->ndim, shape, x, NULL, NULL);
    if (!out)
        return NULL;
    int64_t *saved = tg__arena_alloc(ctx, sizeof before);
    if (!saved) {
        tg__error(ctx, TG_ERR_NOMEM, "pad: out of memory");
        return NULL;
    }
    memcpy(saved, before, sizeof before);
    out->aux = saved;
    out->p.f[0] = value; /* read by ONNX export */
    const float *xd = x->data;
    float *y = out->data;
    if (x->ndim == 0)
        y[0] = xd[0];
    else if (numel > 0)
        PAD_WALK(out, x, before, y[i] = xd[j], y[i] = value);
    return out;
}

tg_tensor *tg_pad(tg_ctx *ctx, tg_tensor *x, int n_pad, const int64_t *pad, float value)
{
    TG__OP(ctx, "pad", pad_unguarded(ctx, x, n_pad, pad, value));
}
