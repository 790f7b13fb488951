/* SPDX-License-Identifier: MIT */
/* Activations: relu, leaky_relu, sigmoid, tanh (element-wise, pointwise.h)
 * and softmax / log_softmax along an axis. The softmaxes subtract the
 * maximum before exponentiating, so logits of +-1000 stay finite. */
#include "pointwise.h"

#include <math.h>

/* ---- element-wise ------------------------------------------------------- */

/* x < 0 ? 0 : x keeps NaN (as PyTorch) and compiles to a vector max/blend. */
static void relu_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
/* Gradient 0 at x == 0, like PyTorch (threshold_backward on the result). */
static void relu_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                   const float *p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i]; /* unconditional load: lets the loop vectorise */
        gx[i] += y[i] <= 0.0f ? 0.0f : gi;
    }
}

/* relu_b for a fresh gradient: gx[i] = ... */
static void relu_bs(const float *g, const float *x, const float *y, float *gx, int64_t n,
                    const float *p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        gx[i] = y[i] <= 0.0f ? 0.0f : gi;
    }
}

/* Arithmetic only on selects with plain arms: GCC will not if-convert a
 * multiply inside a conditional (it may trap), but it vectorises this.
 * pos + neg * s is exact: one of the two is +-0. */
static void leaky_relu_f(const float *x, float *y, int64_t n, const float *p)
{
    float s = p[0];
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float pos = v > 0.0f ? v : 0.0f, neg = v > 0.0f ? 0.0f : v;
        y[i] = pos + neg * s;
    }
}
static void leaky_relu_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                         const float *p)
{
    (void)y;
    float s = p[0];
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float pos = x[i] > 0.0f ? gi : 0.0f, neg = x[i] > 0.0f ? 0.0f : gi;
        gx[i] += pos + neg * s;
    }
}

/* Two branches so exp never overflows: for x < 0 use e^x / (1 + e^x). */
static void sigmoid_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (v >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            y[i] = e / (1.0f + e);
        }
    }
}
static void sigmoid_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                      const float *p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] += g[i] * y[i] * (1.0f - y[i]);
}

static void tanh_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}
static void tanh_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                   const float *p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] += g[i] * (1.0f - y[i] * y[i]);
}

#define PW_OP(name, kern)                                                                      \
    static void kern##_backward(tg_ctx *ctx, tg_tensor *out) { pw_backward(ctx, out, kern##_b); } \
    static const tg__op_def kern##_op = {name, kern##_backward}

static void relu_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *a = out->src[0];
    pw_backward(ctx, out, a->requires_grad && tg__grad_fresh(a) ? relu_bs : relu_b);
}
static const tg__op_def relu_op = {"relu", relu_backward};
PW_OP("leaky_relu", leaky_relu);
PW_OP("sigmoid", sigmoid);
PW_OP("tanh", tanh);

static tg_tensor *relu_unguarded(tg_ctx *ctx, tg_tensor *a)
{
    tg_tensor *out = pw_unary(ctx, &relu_op, relu_f, a, NULL, 0);
    if (out)
        out->bwd_stores = TG__SRC(0);
    return out;
}

tg_tensor *tg_relu(tg_ctx *ctx, tg_tensor *a) { TG__OP(ctx, "relu", relu_unguarded(ctx, a)); }

tg_tensor *tg_leaky_relu(tg_ctx *ctx, tg_tensor *a, float slope)
{
    TG__OP(ctx, "leaky_relu", pw_unary(ctx, &leaky_relu_op, leaky_relu_f, a, &slope, 1));
}

tg_tensor *tg_sigmoid(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "sigmoid", pw_unary(ctx, &sigmoid_op, sigmoid_f, a, NULL, 0));
}

tg_tensor *tg_tanh(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "tanh", pw_unary(ctx, &tanh_op, tanh_f, a, NULL, 0));
}

/* ---- softmax / log_softmax ---------------------------------------------- */

/* The tensor is viewed as [outer, n, inner] with the axis in the middle.
 * inner == 1 (the last axis, the usual case) walks contiguous rows; otherwise
 * each slab [n, inner] is processed a whole row of inner at a time so the
 * loops stay contiguous and vectorise, with per-thread scratch for the
 * running max and sum. Slabs are independent, so the thread split cannot
 * change results. */
typedef struct {
    const float *x, *y, *g;
    float *out;
    int64_t n, inner;
    bool log;
    tg_ctx *ctx;
} sm_job;

/* Indices into out->p.l. */
enum { SM_N = 0, SM_INNER = 1, SM_LOG = 2 };

static void softmax_row(const float *x, float *y, int64_t n, bool log)
{
    float m = x[0];
    for (int64_t k = 1; k < n; k++)
        m = x[k] > m ? x[k] : m;
    float s = 0.0f;
    if (log) {
        for (int64_t k = 0; k < n; k++)
            s += expf(x[k] - m);
        /* (x - m) - log s, not x - (m + log s): exact near the maximum even
         * when |m| is large. */
        float ls = logf(s);
        for (int64_t k = 0; k < n; k++)
            y[k] = (x[k] - m) - ls;
    } else {
        for (int64_t k = 0; k < n; k++) {
            y[k] = expf(x[k] - m);
            s += y[k];
        }
        float inv = 1.0f / s;
        for (int64_t k = 0; k < n; k++)
            y[k] *= inv;
    }
}

/* One slab [n, inner]; m and s are inner floats of scratch. */
static void softmax_slab(const float *x, float *y, int64_t n, int64_t inner, bool log, float *m,
                         float *s)
{
    memcpy(m, x, (size_t)inner * sizeof *m);
    for (int64_t k = 1; k < n; k++) {
        const float *xk = x + k * inner;
        for (int64_t j = 0; j < inner; j++)
            m[j] = xk[j] > m[j] ? xk[j] : m[j];
    }
    memset(s, 0, (size_t)inner * sizeof *s);
    for (int64_t k = 0; k < n; k++) {
        const float *xk = x + k * inner;
        float *yk = y + k * inner;
        for (int64_t j = 0; j < inner; j++) {
            yk[j] = expf(xk[j] - m[j]);
            s[j] += yk[j];
        }
    }
    if (log) {
        for (int64_t j = 0; j < inner; j++)
            s[j] = logf(s[j]);
        for (int64_t k = 0; k < n; k++) {
            const float *xk = x + k * inner;
            float *yk = y + k * inner;
            for (int64_t j = 0; j < inner; j++)
                yk[j] = (xk[j] - m[j]) - s[j];
        }
    } else {
        for (int64_t j = 0; j < inner; j++)
            s[j] = 1.0f / s[j];
        for (int64_t k = 0; k < n; k++) {
            float *yk = y + k * inner;
            for (int64_t j = 0; j < inner; j++)
                yk[j] *= s[j];
        }
    }
}

static void softmax_fwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    const sm_job *j = arg;
    int64_t slab = j->n * j->inner;
    for (int64_t o = b; o < e; o++) {
        const float *x = j->x + o * slab;
        float *y = j->out + o * slab;
        if (j->inner == 1) {
            softmax_row(x, y, j->n, j->log);
        } else {
            float *m = j->ctx->scratch[tid];
            softmax_slab(x, y, j->n, j->inner, j->log, m, m + j->inner);
        }
    }
}

/* softmax:     gx += y * (g - sum_k g*y)
 * log_softmax: gx += g - exp(y) * sum_k g */
static void softmax_bwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    const sm_job *j = arg;
    int64_t n = j->n, inner = j->inner, slab = n * inner;
    for (int64_t o = b; o < e; o++) {
        const float *y = j->y + o * slab, *g = j->g + o * slab;
        float *gx = j->out + o * slab;
        if (inner == 1) {
            float d = 0.0f;
            if (j->log) {
                for (int64_t k = 0; k < n; k++)
                    d += g[k];
                for (int64_t k = 0; k < n; k++)
                    gx[k] += g[k] - expf(y[k]) * d;
            } else {
                for (int64_t k = 0; k < n; k++)
                    d += g[k] * y[k];
                for (int64_t k = 0; k < n; k++)
                    gx[k] += y[k] * (g[k] - d);
            }
            continue;
        }
        float *d = j->ctx->scratch[tid];
        memset(d, 0, (size_t)inner * sizeof *d);
        for (int64_t k = 0; k < n; k++) {
            const float *yk = y + k * inner, *gk = g + k * inner;
            if (j->log)
                for (int64_t i = 0; i < inner; i++)
                    d[i] += gk[i];
            else
                for (int64_t i = 0; i < inner; i++)
                    d[i] += gk[i] * yk[i];
        }
        for (int64_t k = 0; k < n; k++) {
            const float *yk = y + k * inner, *gk = g + k * inner;
            float *gxk = gx + k * inner;
            if (j->log)
                for (int64_t i = 0; i < inner; i++)
                    gxk[i] += gk[i] - expf(yk[i]) * d[i];
            else
                for (int64_t i = 0; i < inner; i++)
                    gxk[i] += yk[i] * (gk[i] - d[i]);
        }
    }
}

static void run_slabs(tg_ctx *ctx, int64_t outer, int64_t total, tg__range_fn fn, sm_job *job)
{
    if (total >= PW_PAR_MIN && outer > 1 && ctx->n_threads > 1)
        tg__parallel_for(ctx, outer, fn, job);
    else
        fn(job, 0, outer, 0);
}

static void softmax_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *a = out->src[0];
    if (!a->requires_grad)
        return;
    int64_t n = out->p.l[SM_N], inner = out->p.l[SM_INNER];
    sm_job job = {NULL, out->data, out->grad, a->grad, n, inner, out->p.l[SM_LOG] != 0, ctx};
    int64_t slab = n * inner;
    run_slabs(ctx, slab ? out->numel / slab : 0, out->numel, softmax_bwd_range, &job);
}

static const tg__op_def softmax_op = {"softmax", softmax_backward};
static const tg__op_def log_softmax_op = {"log_softmax", softmax_backward};

static tg_tensor *softmax_impl(tg_ctx *ctx, const tg__op_def *op, tg_tensor *a, int axis, bool log)
{
    if (!ctx || tg__null_input(ctx, op->name, 1, a))
        return NULL;
    /* A 0-d tensor has one implicit axis (0 or -1), as in PyTorch. */
    int ax = tg__axis(ctx, op->name, axis, a->ndim ? a->ndim : 1);
    if (ax < 0)
        return NULL;
    int64_t outer = 1, inner = 1, n = a->ndim ? a->shape[ax] : 1;
    for (int i = 0; i < ax; i++)
        outer *= a->shape[i];
    for (int i = ax + 1; i < a->ndim; i++)
        inner *= a->shape[i];
    /* Forward needs 2*inner floats per thread, backward inner: reserve now so
     * backward (which cannot fail) finds it; scratch only ever grows. */
    if (inner > 1 && !tg__scratch_reserve(ctx, 2 * (size_t)inner * sizeof(float))) {
        tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory for scratch", op->name);
        return NULL;
    }
    tg_tensor *out = tg__op_result(ctx, op, a->ndim, a->shape, a, NULL, NULL);
    if (!out)
        return NULL;
    out->p.l[SM_N] = n;
    out->p.l[SM_INNER] = inner;
    out->p.l[SM_LOG] = log;
    if (out->numel == 0)
        return out;
    sm_job job = {a->data, NULL, NULL, out->data, n, inner, log, ctx};
    run_slabs(ctx, outer, out->numel, softmax_fwd_range, &job);
    return out;
}

tg_tensor *tg_softmax(tg_ctx *ctx, tg_tensor *a, int axis)
{
    TG__OP(ctx, "softmax", softmax_impl(ctx, &softmax_op, a, axis, false));
}

tg_tensor *tg_log_softmax(tg_ctx *ctx, tg_tensor *a, int axis)
{
    TG__OP(ctx, "log_softmax", softmax_impl(ctx, &log_softmax_op, a, axis, true));
}
