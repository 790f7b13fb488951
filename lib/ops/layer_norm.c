/* SPDX-License-Identifier: MIT */
/* layer_norm (torch.nn.functional.layer_norm) and batch_norm1d.
 *
 * layer_norm normalises each row of M = prod(last n dims) elements with its
 * own mean and biased variance (sums in double, fixed order), then applies
 * the optional element-wise weight and bias of the normalised shape. Rows
 * are split across the pool for the forward pass and for the input
 * gradient; the weight and bias gradients are split by column, each column
 * summing over rows in order, so results do not depend on the thread count.
 * Saved for backward (aux): per-row mean and 1/sqrt(var + eps).
 *
 * batch_norm1d is batch_norm2d on a [N, C, L, 1] view of its input. */
#include "tg_internal.h"

#include <math.h>

typedef struct {
    int64_t R, M;
    const float *x, *w, *b, *gy;
    float *y, *gx, *gw, *gb;
    float *mean, *invstd; /* [R] each */
    double eps;
} ln_job;

static void ln_fwd_range(void *arg, int64_t rb, int64_t re, int tid)
{
    (void)tid;
    const ln_job *j = arg;
    int64_t M = j->M;
    for (int64_t r = rb; r < re; r++) {
        const float *x = j->x + r * M;
        float *y = j->y + r * M;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < M; i++)
            s += x[i];
        double mu = s / (double)M;
        for (int64_t i = 0; i < M; i++) {
            double d = x[i] - mu;
            ss += d * d;
        }
        float m = (float)mu, is = (float)(1.0 / sqrt(ss / (double)M + j->eps));
        j->mean[r] = m;
        j->invstd[r] = is;
        for (int64_t i = 0; i < M; i++) {
            float h = (x[i] - m) * is;
            y[i] = h * (j->w ? j->w[i] : 1.0f) + (j->b ? j->b[i] : 0.0f);
        }
    }
}

/* dx = is * (gh - mean(gh) - xhat * mean(gh * xhat)), gh = g * w. */
static void ln_bwd_x_range(void *arg, int64_t rb, int64_t re, int tid)
{
    (void)tid;
    const ln_job *j = arg;
    int64_t M = j->M;
    for (int64_t r = rb; r < re; r++) {
        const float *x = j->x + r * M, *g = j->gy + r * M;
        float *gx = j->gx + r * M;
        float m = j->mean[r], is = j->invstd[r];
        double sg = 0, sgx = 0;
        for (int64_t i = 0; i < M; i++) {
            double gh = (double)g[i] * (j->w ? j->w[i] : 1.0f);
            sg += gh;
            sgx += gh * ((x[i] - m) * is);
        }
        float mg = (float)(sg / (double)M), mgx = (float)(sgx / (double)M);
        for (int64_t i = 0; i < M; i++) {
            float gh = g[i] * (j->w ? j->w[i] : 1.0f);
            gx[i] += is * (gh - mg - (x[i] - m) * is * mgx);
        }
    }
}

static void ln_bwd_wb_range(void *arg, int64_t cb, int64_t ce, int tid)
{
    (void)tid;
    const ln_job *j = arg;
    int64_t M = j->M;
    for (int64_t c = cb; c < ce; c++) {
        double sw = 0, sb = 0;
        for (int64_t r = 0; r < j->R; r++) {
            float g = j->gy[r * M + c];
            sw += (double)g * ((j->x[r * M + c] - j->mean[r]) * j->invstd[r]);
            sb += g;
        }
        if (j->gw)
            j->gw[c] += (float)sw;
        if (j->gb)
            j->gb[c] += (float)sb;
    }
}

static void ln_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    int64_t M = out->p.l[0], R = M ? x->numel / M : 0;
    ln_job j = {
        .R = R, .M = M, .x = x->data, .w = w ? w->data : NULL, .gy = out->grad,
        .gx = x->requires_grad ? x->grad : NULL,
        .gw = w && w->requires_grad ? w->grad : NULL,
        .gb = b && b->requires_grad ? b->grad : NULL,
        .mean = out->aux, .invstd = (float *)out->aux + R,
    };
    if (j.gx)
        tg__parallel_for_elems(ctx, R, x->numel, ln_bwd_x_range, &j);
    if (j.gw || j.gb)
        tg__parallel_for_elems(ctx, M, x->numel, ln_bwd_wb_range, &j);
}

static const tg__op_def ln_op = {"layer_norm", ln_backward};

/* weight/bias must have the normalised shape x->shape[ndim-n..]. */
static bool check_affine(tg_ctx *ctx, const char *what, const tg_tensor *t, const tg_tensor *x,
                         int n)
{
    if (!t)
        return true;
    bool ok = t->ndim == n;
    for (int i = 0; ok && i < n; i++)
        ok = t->shape[i] == x->shape[x->ndim - n + i];
    if (!ok) {
        char s1[160], s2[160];
        tg__error(ctx, TG_ERR_SHAPE,
                  "layer_norm: %s %s does not match the last %d dims of input %s", what,
                  tg__shape_str(s1, sizeof s1, t->ndim, t->shape), n,
                  tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
    }
    return ok;
}

static tg_tensor *layer_norm_unguarded(tg_ctx *ctx, tg_tensor *x, int n_norm_dims,
                                       tg_tensor *weight, tg_tensor *bias, float eps)
{
    if (!ctx || tg__null_input(ctx, "layer_norm", 1, x))
        return NULL;
    if (n_norm_dims < 1 || n_norm_dims > x->ndim) {
        tg__error(ctx, TG_ERR_INVALID_ARG,
                  "layer_norm: n_norm_dims %d must be in 1..%d (the input's rank)", n_norm_dims,
                  x->ndim);
        return NULL;
    }
    if (!check_affine(ctx, "weight", weight, x, n_norm_dims) ||
        !check_affine(ctx, "bias", bias, x, n_norm_dims))
        return NULL;
    if (!(eps >= 0.0f) || isinf(eps)) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "layer_norm: eps must be finite and >= 0, got %g",
                  (double)eps);
        return NULL;
    }
    int64_t M = 1;
    for (int i = x->ndim - n_norm_dims; i < x->ndim; i++)
        M *= x->shape[i];
    int64_t R = M ? x->numel / M : 0;
    tg_tensor *out = tg__op_result(ctx, &ln_op, x->ndim, x->shape, x, weight, bias);
    float *stats = out ? tg__arena_alloc(ctx, 2 * (size_t)(R ? R : 1) * sizeof(float)) : NULL;
    if (!stats) {
        if (out)
            tg__error(ctx, TG_ERR_NOMEM, "layer_norm: out of memory");
        return NULL;
    }
    ln_job j = {
        .R = R, .M = M, .x = x->data, .w = weight ? weight->data : NULL,
        .b = bias ? bias->data : NULL, .y = out->data, .mean = stats, .invstd = stats + R,
        .eps = eps,
    };
    tg__parallel_for_elems(ctx, R, x->numel, ln_fwd_range, &j);
    out->aux = stats;
    out->p.l[0] = M;
    out->p.f[2] = eps; /* read by ONNX export */
    return out;
}

tg_tensor *tg_layer_norm(tg_ctx *ctx, tg_tensor *x, int n_norm_dims, tg_tensor *weight,
                         tg_tensor *bias, float eps)
{
    TG__OP(ctx, "layer_norm", layer_norm_unguarded(ctx, x, n_norm_dims, weight, bias, eps));
}

/* ---- batch_norm1d ------------------------------------------------------- */

static bool check_channel_vec(tg_ctx *ctx, const char *what, const tg_tensor *t, int64_t C,
                              const tg_tensor *x)
{
    if (!t || (t->ndim == 1 && t->shape[0] == C))
        return true;
    char s1[160], s2[160];
    tg__error(ctx, TG_ERR_SHAPE, "batch_norm1d: %s %s does not match input %s (want [%lld])",
              what, tg__shape_str(s1, sizeof s1, t->ndim, t->shape),
              tg__shape_str(s2, sizeof s2, x->ndim, x->shape), (long long)C);
    return false;
}

static tg_tensor *batch_norm1d_unguarded(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight,
                                         tg_tensor *bias, tg_tensor *running_mean,
                                         tg_tensor *running_var, bool training, float momentum,
                                         float eps)
{
    if (!ctx || tg__null_input(ctx, "batch_norm1d", 1, x))
        return NULL;
    char s1[160];
    if (x->ndim != 2 && x->ndim != 3) {
        tg__error(ctx, TG_ERR_SHAPE, "batch_norm1d: input must be [N,C] or [N,C,L], got %s",
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return NULL;
    }
    int64_t N = x->shape[0], C = x->shape[1], L = x->ndim == 3 ? x->shape[2] : 1;
    if (!check_channel_vec(ctx, "weight", weight, C, x) ||
        !check_channel_vec(ctx, "bias", bias, C, x) ||
        !check_channel_vec(ctx, "running_mean", running_mean, C, x) ||
        !check_channel_vec(ctx, "running_var", running_var, C, x))
        return NULL;
    if ((running_mean == NULL) != (running_var == NULL)) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "batch_norm1d: give both running_mean and "
                  "running_var, or neither");
        return NULL;
    }
    if (!training && !running_mean) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "batch_norm1d: evaluation mode needs running_mean "
                  "and running_var");
        return NULL;
    }
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f) || isinf(eps)) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "batch_norm1d: need eps >= 0 and momentum in [0, 1], "
                  "got eps %g, momentum %g", (double)eps, (double)momentum);
        return NULL;
    }
    if (training && N * L < 2) {
        tg__error(ctx, TG_ERR_SHAPE, "batch_norm1d: expected more than 1 value per channel "
                  "when training, got input %s", tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return NULL;
    }
    int64_t s4[4] = {N, C, L, 1};
    tg_tensor *x4 = tg_reshape(ctx, x, 4, s4);
    tg_tensor *y4 = x4 ? tg_batch_norm2d(ctx, x4, weight, bias, running_mean, running_var,
                                         training, momentum, eps)
                       : NULL;
    return y4 ? tg_reshape(ctx, y4, x->ndim, x->shape) : NULL;
}

tg_tensor *tg_batch_norm1d(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                           tg_tensor *running_mean, tg_tensor *running_var, bool training,
                           float momentum, float eps)
{
    TG__OP(ctx, "batch_norm1d",
           batch_norm1d_unguarded(ctx, x, weight, bias, running_mean, running_var, training,
                                  momentum, eps));
}
