/* SPDX-License-Identifier: MIT */
/* Batch normalisation over [N, C, H, W], per channel, like
 * torch.nn.functional.batch_norm. Training normalises with the batch mean and
 * biased variance and moves the running statistics toward the batch mean and
 * the unbiased variance; evaluation uses the running statistics. Channels
 * are independent: the pool splits them and each channel's sums run in a
 * fixed order, so results do not depend on the thread count: each plane
 * (one sample's channel) is summed in 16 interleaved float lanes (which the
 * compiler vectorises; one running double sum was a latency-bound chain and
 * made batch norm 20% of a ResNet-8 step), the lanes are combined in a fixed
 * order in double and the planes are added in double.
 * Saved for backward (aux): per-channel mean and 1/sqrt(var + eps). */
#include "tg_internal.h"

#include <math.h>
#include <string.h>

#define LANES 16

/* The lanes as four 4-float vectors (GCC/clang vector extensions): written
 * as a loop over 16 scalar lanes, gcc vectorised the loop over blocks
 * instead, with stride-16 loads gathered by shuffles (~2 cycles per element
 * in the gradient sums). Lane l is element l % 4 of vector l / 4, and every
 * lane adds the same terms in the same order as the scalar loop did. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
#define NV (LANES / 4)

static inline v4f ld4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* g where y > 0 (or NaN), else 0: the ReLU backward on its result y */
static inline v4f relu_mask4(v4f g, v4f y)
{
    v4i dead = y <= (v4f){0.0f, 0.0f, 0.0f, 0.0f};
    return (v4f)((v4i)g & ~dead);
}

/* Combine the lanes pairwise in double, in a fixed order. */
static double lanes_sum(const v4f *v)
{
    float a[LANES];
    memcpy(a, v, sizeof a);
    double s[LANES / 2];
    for (int l = 0; l < LANES / 2; l++)
        s[l] = (double)a[l] + (double)a[l + LANES / 2];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/* Adds t[0..m) to lanes 0..m-1 of v: the tail, as the scalar loop did. */
static void add_tail(v4f *v, const float *t, int64_t m)
{
    float a[LANES];
    memcpy(a, v, sizeof a);
    for (int64_t l = 0; l < m; l++)
        a[l] += t[l];
    memcpy(v, a, sizeof a);
}

/* sum x[i] */
static double plane_sum(const float *restrict x, int64_t n)
{
    v4f a[NV] = {{0}};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < NV; k++)
            a[k] += ld4(x + i + 4 * k);
    add_tail(a, x + i, n - i);
    return lanes_sum(a);
}

/* sum (x[i] - mu)^2 */
static double plane_sqdev(const float *restrict x, int64_t n, float mu)
{
    const v4f m = {mu, mu, mu, mu};
    v4f a[NV] = {{0}};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < NV; k++) {
            v4f d = ld4(x + i + 4 * k) - m;
            a[k] += d * d;
        }
    float t[LANES];
    for (int64_t l = 0; l < n - i; l++) {
        float d = x[i + l] - mu;
        t[l] = d * d;
    }
    add_tail(a, t, n - i);
    return lanes_sum(a);
}

static inline void st4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

/* The fused ReLU's output x * fa + fb before the ReLU (the forward's
 * arithmetic), whose sign is the ReLU's mask: recomputed from x, which the
 * passes read anyway, instead of reading the result. */
static inline v4f pre_relu4(v4f x, float fa, float fb)
{
    return x * (v4f){fa, fa, fa, fa} + (v4f){fb, fb, fb, fb};
}

/* *sg += sum g[i], *sgd += sum g[i] * (x[i] - mu); with y (a fused ReLU's
 * result) g[i] counts only where y[i] > 0, with relu_x only where
 * x[i] * fa + fb > 0 (the same mask, without y). With gr (the gradient of
 * a fused residual input) the masked g is also stored into gr, or added
 * (add). */
static void plane_grad_sums(const float *restrict x, const float *restrict g0,
                            const float *restrict y, bool relu_x, float fa, float fb,
                            float *restrict gr, bool add, int64_t n, float mu, double *sg,
                            double *sgd)
{
    const v4f m = {mu, mu, mu, mu};
    v4f a[NV] = {{0}}, b[NV] = {{0}};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < NV; k++) {
            v4f g = ld4(g0 + i + 4 * k), xv = ld4(x + i + 4 * k);
            if (y)
                g = relu_mask4(g, ld4(y + i + 4 * k));
            else if (relu_x)
                g = relu_mask4(g, pre_relu4(xv, fa, fb));
            if (gr)
                st4(gr + i + 4 * k, add ? ld4(gr + i + 4 * k) + g : g);
            a[k] += g;
            b[k] += g * (xv - m);
        }
    float tg[LANES], tb[LANES];
    for (int64_t l = 0; l < n - i; l++) {
        float g = g0[i + l];
        if (y && y[i + l] <= 0.0f)
            g = 0.0f;
        else if (!y && relu_x && x[i + l] * fa + fb <= 0.0f)
            g = 0.0f;
        if (gr)
            gr[i + l] = add ? gr[i + l] + g : g;
        tg[l] = g;
        tb[l] = g * (x[i + l] - mu);
    }
    add_tail(a, tg, n - i);
    add_tail(b, tb, n - i);
    *sg += lanes_sum(a);
    *sgd += lanes_sum(b);
}

typedef struct {
    int64_t N, C, HW;
    const float *x, *w, *b, *gy;
    const float *r;          /* fused residual: y = max(bn + r, 0) */
    float *y, *gx, *gw, *gb;
    float *gr;               /* backward: the residual's gradient (NULL: none) */
    bool add_r;              /* backward: add into gr (it is not fresh) */
    float *mean, *invstd;    /* [C] each */
    float *ka, *kb, *kc;     /* [C] each: per-channel coefficients of a pass */
    const float *fa, *fb;    /* backward: the forward's ka, kb (the ReLU's mask) */
    double *ps, *pss;        /* [N*C] each: per-plane sums */
    bool training;
    bool store;              /* backward: gx is fresh, store instead of adding */
    bool relu;               /* fused ReLU: y = max(bn, 0); backward masks gy by y > 0 */
    bool mask_y;             /* backward: the mask from y (with a residual; else from x) */
} bn_job;

/* The passes run over planes p = n*C + c in memory order (a channel's planes
 * are C*HW floats apart: walking them channel by channel defeated the
 * hardware prefetcher and made batch norm ~8 cycles per element). Each plane
 * sum is stored, and the planes of a channel are added in double in n order
 * afterwards, exactly as before, so the bits do not depend on the split. */
static void plane_sum_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++)
        j->ps[p] = plane_sum(j->x + p * j->HW, j->HW);
}

static void plane_sqdev_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++)
        j->pss[p] = plane_sqdev(j->x + p * j->HW, j->HW, j->mean[p % j->C]);
}

/* y = x * ka[c] + kb[c] */
static void fwd_apply_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++) {
        int64_t c = p % j->C;
        float a = j->ka[c], sh = j->kb[c];
        const float *restrict x = j->x + p * j->HW;
        float *restrict y = j->y + p * j->HW;
        if (j->r) { /* the bn result rounded, then the sum rounded, as bn, add, relu */
            const float *restrict r = j->r + p * j->HW;
            for (int64_t i = 0; i < j->HW; i++) {
                float v = x[i] * a + sh;
                v = v + r[i];
                y[i] = v < 0.0f ? 0.0f : v;
            }
        } else if (j->relu)
            for (int64_t i = 0; i < j->HW; i++) {
                float v = x[i] * a + sh;
                y[i] = v < 0.0f ? 0.0f : v; /* as relu_f */
            }
        else
            for (int64_t i = 0; i < j->HW; i++)
                y[i] = x[i] * a + sh;
    }
}

static void grad_sums_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++) {
        const int64_t c = p % j->C;
        double sg = 0, sgd = 0;
        /* the residual form's mask needs y; the plain ReLU's is recomputed */
        plane_grad_sums(j->x + p * j->HW, j->gy + p * j->HW,
                        j->mask_y ? j->y + p * j->HW : NULL, j->relu, j->fa[c], j->fb[c],
                        j->gr ? j->gr + p * j->HW : NULL, j->add_r, j->HW, j->mean[c], &sg,
                        &sgd);
        j->ps[p] = sg;
        j->pss[p] = sgd;
    }
}

/* gx (+)= ka[c] * (g - kb[c]) - kc[c] * (x - mean[c]) */
static void bwd_apply_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++) {
        int64_t c = p % j->C;
        float k = j->ka[c], mg = j->kb[c], kx = j->kc[c], mu = j->mean[c];
        const float *restrict x = j->x + p * j->HW;
        const float *restrict g = j->gy + p * j->HW;
        float *restrict gx = j->gx + p * j->HW;
        if (j->gr && !j->add_r) {
            /* the first pass stored the masked g as the residual's
             * gradient: read it instead of g and y (two streams for one) */
            const float *restrict gm = j->gr + p * j->HW;
            if (j->store)
                for (int64_t i = 0; i < j->HW; i++)
                    gx[i] = k * (gm[i] - mg) - kx * (x[i] - mu);
            else
                for (int64_t i = 0; i < j->HW; i++)
                    gx[i] += k * (gm[i] - mg) - kx * (x[i] - mu);
        } else if (j->mask_y) { /* a residual that needs no gradient */
            const float *restrict y = j->y + p * j->HW;
            if (j->store)
                for (int64_t i = 0; i < j->HW; i++) {
                    float gi = g[i];
                    float gm = y[i] <= 0.0f ? 0.0f : gi;
                    gx[i] = k * (gm - mg) - kx * (x[i] - mu);
                }
            else
                for (int64_t i = 0; i < j->HW; i++) {
                    float gi = g[i];
                    float gm = y[i] <= 0.0f ? 0.0f : gi;
                    gx[i] += k * (gm - mg) - kx * (x[i] - mu);
                }
        } else if (j->relu) { /* the mask from x, as plane_grad_sums */
            const float fa = j->fa[c], fb = j->fb[c];
            if (j->store)
                for (int64_t i = 0; i < j->HW; i++) {
                    float gi = g[i];
                    float gm = x[i] * fa + fb <= 0.0f ? 0.0f : gi;
                    gx[i] = k * (gm - mg) - kx * (x[i] - mu);
                }
            else
                for (int64_t i = 0; i < j->HW; i++) {
                    float gi = g[i];
                    float gm = x[i] * fa + fb <= 0.0f ? 0.0f : gi;
                    gx[i] += k * (gm - mg) - kx * (x[i] - mu);
                }
        } else if (j->store)
            for (int64_t i = 0; i < j->HW; i++)
                gx[i] = k * (g[i] - mg) - kx * (x[i] - mu);
        else
            for (int64_t i = 0; i < j->HW; i++)
                gx[i] += k * (g[i] - mg) - kx * (x[i] - mu);
    }
}

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
    bn_job j = {
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
    tg__parallel_for_elems(ctx, N * C, x->numel, grad_sums_range, &j);
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
        tg__parallel_for_elems(ctx, N * C, x->numel, bwd_apply_range, &j);
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
    bn_job j = {
        .N = N, .C = C, .HW = HW, .x = x->data, .w = weight ? weight->data : NULL,
        .b = bias ? bias->data : NULL, .y = out->data, .mean = stats, .invstd = stats + C,
        .ka = stats + 2 * C, .kb = stats + 3 * C, .kc = stats + 4 * C,
        .ps = d, .pss = d + N * C, .training = training, .relu = relu,
        .r = res ? res->data : NULL,
    };
    if (training) {
        double cnt = (double)(N * HW);
        tg__parallel_for_elems(ctx, N * C, x->numel, plane_sum_range, &j);
        for (int64_t c = 0; c < C; c++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++)
                s += j.ps[n * C + c];
            j.mean[c] = (float)(s / cnt);
        }
        tg__parallel_for_elems(ctx, N * C, x->numel, plane_sqdev_range, &j);
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
    tg__parallel_for_elems(ctx, N * C, x->numel, fwd_apply_range, &j);
    out->aux = stats;
    out->bwd_stores = true;
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
