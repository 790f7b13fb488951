/* SPDX-License-Identifier: MIT */
/* Adaptive average pooling over [N, C, H, W] (torch adaptive_avg_pool2d):
 * output cell (i, j) averages rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1
 * and the matching columns; windows may overlap. global_avg_pool2d is the
 * 1x1 case. Planes (n, c) are independent: the pool splits them and every
 * plane is summed in a fixed order, so results do not depend on the thread
 * count. */
#include "tg_internal.h"

typedef struct {
    int64_t H, W, OH, OW;
    const float *x, *gy;
    float *y, *gx;
    bool store; /* backward: gx is fresh, each plane is zeroed first */
} ap_job;

static inline int64_t win_lo(int64_t i, int64_t in, int64_t out) { return i * in / out; }
static inline int64_t win_hi(int64_t i, int64_t in, int64_t out)
{
    return ((i + 1) * in + out - 1) / out;
}

/* Sum of n contiguous floats in 8 interleaved double sums combined in a
 * fixed order: one running sum was a chain of dependent adds (a ResNet's
 * global pooling ran at ~4 cycles per element). */
static double sum_contig(const float *restrict x, int64_t n)
{
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            a[l] += x[i + l];
    for (int l = 0; i < n; i++, l++)
        a[l] += x[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static void ap_fwd_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const ap_job *j = arg;
    for (int64_t p = pb; p < pe; p++) {
        const float *x = j->x + p * j->H * j->W;
        float *y = j->y + p * j->OH * j->OW;
        for (int64_t oh = 0; oh < j->OH; oh++) {
            int64_t h0 = win_lo(oh, j->H, j->OH), h1 = win_hi(oh, j->H, j->OH);
            for (int64_t ow = 0; ow < j->OW; ow++) {
                int64_t w0 = win_lo(ow, j->W, j->OW), w1 = win_hi(ow, j->W, j->OW);
                double s = 0.0;
                if (w0 == 0 && w1 == j->W) /* whole rows (global pooling): contiguous */
                    s = sum_contig(x + h0 * j->W, (h1 - h0) * j->W);
                else
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++)
                            s += x[h * j->W + w];
                y[oh * j->OW + ow] = (float)(s / (double)((h1 - h0) * (w1 - w0)));
            }
        }
    }
}

static void ap_bwd_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const ap_job *j = arg;
    for (int64_t p = pb; p < pe; p++) {
        float *gx = j->gx + p * j->H * j->W;
        const float *g = j->gy + p * j->OH * j->OW;
        if (j->store) /* here, not in a serial pass over the tensor before */
            memset(gx, 0, (size_t)(j->H * j->W) * sizeof *gx);
        for (int64_t oh = 0; oh < j->OH; oh++) {
            int64_t h0 = win_lo(oh, j->H, j->OH), h1 = win_hi(oh, j->H, j->OH);
            for (int64_t ow = 0; ow < j->OW; ow++) {
                int64_t w0 = win_lo(ow, j->W, j->OW), w1 = win_hi(ow, j->W, j->OW);
                float d = g[oh * j->OW + ow] / (float)((h1 - h0) * (w1 - w0));
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        gx[h * j->W + w] += d;
            }
        }
    }
}

static void ap_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0];
    if (!x->requires_grad)
        return;
    ap_job j = {
        .H = x->shape[2], .W = x->shape[3], .OH = out->shape[2], .OW = out->shape[3],
        .gy = out->grad, .gx = x->grad, .store = tg__grad_fresh(x),
    };
    tg__parallel_for_elems(ctx, x->shape[0] * x->shape[1], x->numel, ap_bwd_range, &j);
}

static const tg__op_def adaptive_op = {"adaptive_avg_pool2d", ap_backward};
static const tg__op_def global_op = {"global_avg_pool2d", ap_backward};

static tg_tensor *adaptive(tg_ctx *ctx, const tg__op_def *op, tg_tensor *x, int64_t oh,
                           int64_t ow)
{
    char s1[160];
    if (x->ndim != 4) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: input must be 4-D [N,C,H,W], got %s", op->name,
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return NULL;
    }
    if (x->shape[2] < 1 || x->shape[3] < 1) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: input %s has an empty spatial dim", op->name,
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return NULL;
    }
    /* Bound the output so i * H in the window arithmetic cannot overflow. */
    const int64_t lim = (int64_t)1 << 31;
    if (oh < 1 || ow < 1 || oh > lim || ow > lim || x->shape[2] > lim || x->shape[3] > lim) {
        tg__error(ctx, TG_ERR_INVALID_ARG,
                  "%s: output size %lldx%lld must be >= 1 (and sizes below 2^31)", op->name,
                  (long long)oh, (long long)ow);
        return NULL;
    }
    int64_t shape[4] = {x->shape[0], x->shape[1], oh, ow}, numel;
    if (!tg__shape_numel(ctx, op->name, 4, shape, &numel))
        return NULL;
    tg_tensor *out = tg__op_result(ctx, op, 4, shape, x, NULL, NULL);
    if (!out)
        return NULL;
    out->bwd_stores = TG__SRC(0); /* ap_backward zeroes a fresh gx plane by plane */
    ap_job j = {
        .H = x->shape[2], .W = x->shape[3], .OH = oh, .OW = ow, .x = x->data, .y = out->data,
    };
    tg__parallel_for_elems(ctx, x->shape[0] * x->shape[1], x->numel, ap_fwd_range, &j);
    return out;
}

static tg_tensor *adaptive_avg_pool2d_unguarded(tg_ctx *ctx, tg_tensor *x, int64_t out_h,
                                                int64_t out_w)
{
    if (!ctx || tg__null_input(ctx, adaptive_op.name, 1, x))
        return NULL;
    return adaptive(ctx, &adaptive_op, x, out_h, out_w);
}

tg_tensor *tg_adaptive_avg_pool2d(tg_ctx *ctx, tg_tensor *x, int64_t out_h, int64_t out_w)
{
    TG__OP(ctx, "adaptive_avg_pool2d", adaptive_avg_pool2d_unguarded(ctx, x, out_h, out_w));
}

static tg_tensor *global_avg_pool2d_unguarded(tg_ctx *ctx, tg_tensor *x)
{
    if (!ctx || tg__null_input(ctx, global_op.name, 1, x))
        return NULL;
    return adaptive(ctx, &global_op, x, 1, 1);
}

tg_tensor *tg_global_avg_pool2d(tg_ctx *ctx, tg_tensor *x)
{
    TG__OP(ctx, "global_avg_pool2d", global_avg_pool2d_unguarded(ctx, x));
}
