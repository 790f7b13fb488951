/* SPDX-License-Identifier: MIT */
/* Element-wise math on one tensor: neg, exp, log, sqrt, pow, and adding or
 * multiplying by a scalar. Each op is a pair of flat kernels run by the
 * driver in pointwise.h. Domain errors follow IEEE/PyTorch (log(-1) = NaN,
 * sqrt(0)' = inf), they are not reported as errors. */
#include "pointwise.h"

#include <math.h>

/* ---- kernels ------------------------------------------------------------ */

static void neg_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = -x[i];
}
static void neg_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                  const float *p)
{
    (void)x, (void)y, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] -= g[i];
}

static void exp_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}
static void exp_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                  const float *p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] += g[i] * y[i];
}

static void log_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = logf(x[i]);
}
static void log_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                  const float *p)
{
    (void)y, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] += g[i] / x[i];
}

static void sqrt_f(const float *x, float *y, int64_t n, const float *p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = sqrtf(x[i]);
}
static void sqrt_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                   const float *p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] += g[i] * 0.5f / y[i];
}

/* p[0] = exponent. Squares (the common case, e.g. variance) take a loop the
 * compiler vectorises; x*x is exactly what powf(x, 2) returns. */
static void pow_f(const float *x, float *y, int64_t n, const float *p)
{
    float e = p[0];
    if (e == 2.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * x[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = powf(x[i], e);
    }
}
static void pow_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                  const float *p)
{
    (void)y;
    float e = p[0];
    if (e == 0.0f) /* constant 1: zero gradient (PyTorch), avoids 0 * inf */
        return;
    if (e == 2.0f) {
        for (int64_t i = 0; i < n; i++)
            gx[i] += g[i] * 2.0f * x[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            gx[i] += g[i] * e * powf(x[i], e - 1.0f);
    }
}

static void add_scalar_f(const float *x, float *y, int64_t n, const float *p)
{
    float s = p[0];
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] + s;
}
static void add_scalar_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                         const float *p)
{
    (void)x, (void)y, (void)p;
    for (int64_t i = 0; i < n; i++)
        gx[i] += g[i];
}

static void mul_scalar_f(const float *x, float *y, int64_t n, const float *p)
{
    float s = p[0];
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * s;
}
static void mul_scalar_b(const float *g, const float *x, const float *y, float *gx, int64_t n,
                         const float *p)
{
    (void)x, (void)y;
    float s = p[0];
    for (int64_t i = 0; i < n; i++)
        gx[i] += g[i] * s;
}

/* ---- ops ---------------------------------------------------------------- */

#define PW_OP(name, kern)                                                                      \
    static void kern##_backward(tg_ctx *ctx, tg_tensor *out) { pw_backward(ctx, out, kern##_b); } \
    static const tg__op_def kern##_op = {name, kern##_backward}

PW_OP("neg", neg);
PW_OP("exp", exp);
PW_OP("log", log);
PW_OP("sqrt", sqrt);
PW_OP("pow", pow);
PW_OP("add_scalar", add_scalar);
PW_OP("mul_scalar", mul_scalar);

tg_tensor *tg_neg(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "neg", pw_unary(ctx, &neg_op, neg_f, a, NULL, 0));
}
tg_tensor *tg_exp(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "exp", pw_unary(ctx, &exp_op, exp_f, a, NULL, 0));
}
tg_tensor *tg_log(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "log", pw_unary(ctx, &log_op, log_f, a, NULL, 0));
}

tg_tensor *tg_sqrt(tg_ctx *ctx, tg_tensor *a)
{
    TG__OP(ctx, "sqrt", pw_unary(ctx, &sqrt_op, sqrt_f, a, NULL, 0));
}

tg_tensor *tg_pow(tg_ctx *ctx, tg_tensor *a, float exponent)
{
    TG__OP(ctx, "pow", pw_unary(ctx, &pow_op, pow_f, a, &exponent, 1));
}

tg_tensor *tg_add_scalar(tg_ctx *ctx, tg_tensor *a, float s)
{
    TG__OP(ctx, "add_scalar", pw_unary(ctx, &add_scalar_op, add_scalar_f, a, &s, 1));
}

tg_tensor *tg_mul_scalar(tg_ctx *ctx, tg_tensor *a, float s)
{
    TG__OP(ctx, "mul_scalar", pw_unary(ctx, &mul_scalar_op, mul_scalar_f, a, &s, 1));
}
