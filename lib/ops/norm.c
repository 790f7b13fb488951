/* SPDX-License-Identifier: MIT */
/* Batch normalisation over [N, C, H, W], per channel, like
 * torch.nn.functional.batch_norm. Training normalises with the batch mean and
 * biased variance and moves the running statistics toward the batch mean and
 * the unbiased variance; evaluation uses the running statistics. Channels
 * are independent: the pool splits them and each channel's sums run in a
 * fixed order, so results do not depend on the thread count: each plane
 * (one sample's channel) is summed in interleaved float lanes by the ISA's
 * kernels (kernels/norm_impl.h; one running double sum was a latency-bound
 * chain and made batch norm 20% of a ResNet-8 step), the lanes are combined
 * in a fixed order in double and the planes are added in double.
 * Saved for backward (aux): per-channel mean and 1/sqrt(var + eps). */
#include "tg_internal.h"

#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

/* Scratch saved with the result (aux): mean, invstd, the forward's ka and
 * kb, kc, the backward's ka and kb as [C] floats (padded to an even
 * count), then ps and pss as [N*C] doubles. */
static size_t floats_of(int64_t C)
{
    return (size_t)(7 * C + 1) & ~(size_t)1;
}

static void bn_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2], *r = out->src[3];
    int64_t N = x->shape[0], C = x->shape[1];
    float *f = out->aux;
    double *d = (double *)(f + floats_of(C));
    tg__bn_job j = {
        .N = N, .C = C, .HW = x->shape[2] * x->shape[3],
        .x = x->data, .w = w ? w->data : NULL, .gy = out->grad,
        .gx = x->requires_grad ? x->grad : NULL,
        .gw = w && w->requires_grad ? w->grad : NULL,
        .gb = b && b->requires_grad ? b->grad : NULL,
        .mean = f, .invstd = f + C, .fa = f + 2 * C, .fb = f + 3 * C, .kc = f + 4 * C,
        .ka = f + 5 * C, .kb = f + 6 * C,
        .ps = d, .pss = d + N * C,
        .training = out->p.i[0] != 0, .relu = out->p.i[2] != 0, .y = out->data,
        .mask_y = out->p.i[3] != 0,
    };
    if (r && r->requires_grad) { /* the residual's gradient is written by the first pass */
        j.gr = r->grad;
        j.add_r = !tg__grad_fresh(r);
    }
    tg__parallel_for_elems(ctx, N * C, x->numel, tg__kernels_get()->bn_gsum_range, &j);
    double cnt = (double)(N * j.HW);
    for (int64_t c = 0; c < C; c++) {
        float is = j.invstd[c], wc = j.w ? j.w[c] : 1.0f;
        double sg = 0, sgd = 0; /* sum g, sum g * (x - mu) */
        for (int64_t n = 0; n < N; n++) {
            sg += j.ps[n * C + c];
            sgd += j.pss[n * C + c];
        }
        double sgx = sgd * is; /* sum g * xhat */
        if (j.gw)
            j.gw[c] += (float)sgx;
        if (j.gb)
            j.gb[c] += (float)sg;
        /* training: dx = w*is * (g - mean(g) - xhat * mean(g*xhat));
         * eval: the statistics are constants, dx = w*is * g */
        float k = wc * is;
        float mgx = j.training ? (float)(sgx / cnt) : 0.0f;
        j.ka[c] = k;
        j.kb[c] = j.training ? (float)(sg / cnt) : 0.0f;
        j.kc[c] = k * is * mgx;
    }
    if (j.gx) {
        j.store = tg__grad_fresh(x);
        tg__parallel_for_elems(ctx, N * C, x->numel, tg__kernels_get()->bn_bwd_range, &j);
    }
}

static const tg__op_def bn_op = {"batch_norm2d", bn_backward};
static const tg__op_def bn_relu_op = {"batch_norm2d_relu", bn_backward};
static const tg__op_def bn_add_relu_op = {"batch_norm2d_add_relu", bn_backward};

/* A per-channel tensor must be [C]. */
static bool check_vec(tg_ctx *ctx, const char *what, const tg_tensor *t, int64_t C,
                      const tg_tensor *x)
{
    if (!t || (t->ndim == 1 && t->shape[0] == C))
        return true;
    char s1[160], s2[160];
    tg__error(ctx, TG_ERR_SHAPE, "batch_norm2d: %s %s does not match input %s (want [%lld])",
              what, tg__shape_str(s1, sizeof s1, t->ndim, t->shape),
              tg__shape_str(s2, sizeof s2, x->ndim, x->shape), (long long)C);
    return false;
}

static float eval_invstd(float var, float eps) { return (float)(1.0 / sqrt((double)var + eps)); }

/* y = x * ka[c] + kb[c] normalises x given mean and invstd. */
static void coeffs(int64_t C, const float *w, const float *b, const float *mean,
                   const float *invstd, float *ka, float *kb)
{
    for (int64_t c = 0; c < C; c++) {
        float a = invstd[c] * (w ? w[c] : 1.0f);
        ka[c] = a;
        kb[c] = (b ? b[c] : 0.0f) - mean[c] * a;
    }
}

void tg__bn_eval_coeffs(int64_t C, const float *weight, const float *bias, const float *mean,
                        const float *var, float eps, float *ka, float *kb)
{
    for (int64_t c = 0; c < C; c++)
        ka[c] = eval_invstd(var[c], eps); /* invstd, then overwritten in place */
    coeffs(C, weight, bias, mean, ka, ka, kb);
}

static tg_tensor *batch_norm2d(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                               tg_tensor *running_mean, tg_tensor *running_var, bool training,
                               float momentum, float eps, bool relu, tg_tensor *res)
{
    if (!ctx || tg__null_input(ctx, "batch_norm2d", 1, x))
        return NULL;
    char s1[160];
    if (x->ndim != 4) {
        tg__error(ctx, TG_ERR_SHAPE, "batch_norm2d: input must be 4-D [N,C,H,W], got %s",
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return NULL;
    }
    int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    if (!check_vec(ctx, "weight", weight, C, x) || !check_vec(ctx, "bias", bias, C, x) ||
        !check_vec(ctx, "running_mean", running_mean, C, x) ||
        !check_vec(ctx, "running_var", running_var, C, x))
        return NULL;
    if ((running_mean == NULL) != (running_var == NULL)) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "batch_norm2d: give both running_mean and "
                  "running_var, or neither");
        return NULL;
    }
    if (!training && !running_mean) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "batch_norm2d: evaluation mode needs running_mean "
                  "and running_var");
        return NULL;
    }
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f) || isinf(eps)) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "batch_norm2d: need eps >= 0 and momentum in [0, 1], "
                  "got eps %g, momentum %g", (double)eps, (double)momentum);
        return NULL;
    }
    if (training && N * HW < 2) {
        tg__error(ctx, TG_ERR_SHAPE, "batch_norm2d: expected more than 1 value per channel "
                  "when training, got input %s", tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return NULL;
    }
    if (res && !tg__same_shape(res, x)) {
        char s2[160];
        tg__error(ctx, TG_ERR_SHAPE, "batch_norm2d: residual %s does not match input %s",
                  tg__shape_str(s1, sizeof s1, res->ndim, res->shape),
                  tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
        return NULL;
    }
    relu = relu || res; /* the residual form always ends in the ReLU */
    const tg__op_def *op = res ? &bn_add_relu_op : relu ? &bn_relu_op : &bn_op;
    tg_tensor *out = tg__op_result(ctx, op, 4, x->shape, x, weight, bias);
    if (out && res && ctx->grad_enabled && res->requires_grad) { /* the fourth input */
        if (!out->requires_grad)
            out->src[0] = x, out->src[1] = weight, out->src[2] = bias;
        out->requires_grad = true;
        out->src[3] = res;
    }
    size_t nf = floats_of(C ? C : 1);
    float *stats = out ? tg__arena_alloc(ctx, nf * sizeof(float) +
                                                  2 * (size_t)(N * C > 0 ? N * C : 1) * sizeof(double))
                       : NULL;
    if (!stats) {
        if (out)
            tg__error(ctx, TG_ERR_NOMEM, "batch_norm2d: out of memory");
        return NULL;
    }
    double *d = (double *)(stats + nf);
    tg__bn_job j = {
        .N = N, .C = C, .HW = HW, .x = x->data, .w = weight ? weight->data : NULL,
        .b = bias ? bias->data : NULL, .y = out->data, .mean = stats, .invstd = stats + C,
        .ka = stats + 2 * C, .kb = stats + 3 * C, .kc = stats + 4 * C,
        .ps = d, .pss = d + N * C, .training = training, .relu = relu,
        .r = res ? res->data : NULL,
    };
    if (training) {
        double cnt = (double)(N * HW);
        tg__parallel_for_elems(ctx, N * C, x->numel, tg__kernels_get()->bn_sum_range, &j);
        for (int64_t c = 0; c < C; c++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++)
                s += j.ps[n * C + c];
            j.mean[c] = (float)(s / cnt);
        }
        tg__parallel_for_elems(ctx, N * C, x->numel, tg__kernels_get()->bn_sqdev_range, &j);
        for (int64_t c = 0; c < C; c++) {
            double ss = 0;
            for (int64_t n = 0; n < N; n++)
                ss += j.pss[n * C + c];
            float var = (float)(ss / cnt);
            if (running_mean) {
                float unb = (float)(var * cnt / (cnt - 1.0));
                running_mean->data[c] =
                    (1.0f - momentum) * running_mean->data[c] + momentum * j.mean[c];
                running_var->data[c] = (1.0f - momentum) * running_var->data[c] + momentum * unb;
            }
            j.invstd[c] = (float)(1.0 / sqrt((double)var + eps));
        }
    } else {
        for (int64_t c = 0; c < C; c++) {
            j.mean[c] = running_mean->data[c];
            j.invstd[c] = eval_invstd(running_var->data[c], eps);
        }
    }
    coeffs(C, j.w, j.b, j.mean, j.invstd, j.ka, j.kb);
    tg__parallel_for_elems(ctx, N * C, x->numel, tg__kernels_get()->bn_fwd_range, &j);
    out->aux = stats;
    out->bwd_stores = TG__SRC(0) | TG__SRC(3); /* x and the residual; weight and bias
                                                  are added into */
    out->p.i[0] = training;
    out->p.i[2] = relu; /* p.f[1] holds eps */
    out->p.i[3] = res != NULL;
    out->p.f[1] = eps; /* read by ONNX export */
    return out;
}

tg_tensor *tg_batch_norm2d(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                           tg_tensor *running_mean, tg_tensor *running_var, bool training,
                           float momentum, float eps)
{
    TG__OP(ctx, "batch_norm2d",
           batch_norm2d(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps,
                        false, NULL));
}

tg_tensor *tg__batch_norm2d_relu(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                                 tg_tensor *running_mean, tg_tensor *running_var, bool training,
                                 float momentum, float eps)
{
    return batch_norm2d(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps,
                        true, NULL);
}

tg_tensor *tg__batch_norm2d_add_relu(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight,
                                     tg_tensor *bias, tg_tensor *running_mean,
                                     tg_tensor *running_var, bool training, float momentum,
                                     float eps, tg_tensor *res)
{
    if (!ctx || tg__null_input(ctx, "batch_norm2d", 2, x, res))
        return NULL;
    return batch_norm2d(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps,
                        true, res);
}
