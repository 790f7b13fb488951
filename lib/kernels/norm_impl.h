/* SPDX-License-Identifier: MIT */
/* Batch normalisation's passes over planes (ops/norm.c sets up the job),
 * included by kernels_impl.h once per ISA. Each plane (one sample's channel)
 * is summed in BN_LANES interleaved float lanes, four vectors of BN_VL
 * (GCC/clang vector extensions): 16 lanes on the plain C path (SSE2-sized
 * vectors), 32 with AVX2 or AVX-512 (256-bit vectors: the fused ReLU's
 * backward -15% per ResNet-8 step; more lanes because the sums are bound
 * by the latency of their additions). Lane l is element l % BN_VL of vector
 * l / BN_VL, and every lane adds its terms in order; the lanes are then
 * combined in a fixed order in double. Written as a loop over scalar
 * lanes, gcc had vectorised the loop over blocks instead, with stride-16
 * loads gathered by shuffles (~2 cycles per element in the gradient sums).
 * The element-wise passes are plain loops the ISA's flags vectorise. */

#if VW >= 8
#  define BN_VL 8
#else
#  define BN_VL 4
#endif
#define BN_NV 4
#define BN_LANES (BN_NV * BN_VL)

typedef float bnv __attribute__((vector_size(BN_VL * 4)));
typedef int32_t bnvi __attribute__((vector_size(BN_VL * 4)));

/* s in every lane, -0.0f included: vector-scalar operations, which are
 * broadcasts (a loop setting the lanes became inserts in the inner loops) */
static inline bnv bn_set(float s)
{
    const bnv z = {0};
    return (z + 1.0f) * s;
}

static inline bnv bn_ld(const float *p)
{
    bnv v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* g where y > 0 (or NaN), else 0: the ReLU backward on its result y */
static inline bnv bn_relu_mask(bnv g, bnv y)
{
    bnvi dead = y <= bn_set(0.0f);
    return (bnv)((bnvi)g & ~dead);
}

/* Combine the lanes in double, in a fixed order: halves added pairwise
 * (for 16 lanes ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)) with
 * s[l] = a[l] + a[l + 8], as this file always did). */
static double bn_lanes_sum(const bnv *v)
{
    float a[BN_LANES];
    memcpy(a, v, sizeof a);
    double s[BN_LANES];
    for (int l = 0; l < BN_LANES; l++)
        s[l] = (double)a[l];
    for (int w = BN_LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            s[l] += s[l + w];
    return s[0];
}

/* Adds t[0..m) to lanes 0..m-1 of v: the tail, as the scalar loop did. */
static void bn_add_tail(bnv *v, const float *t, int64_t m)
{
    float a[BN_LANES];
    memcpy(a, v, sizeof a);
    for (int64_t l = 0; l < m; l++)
        a[l] += t[l];
    memcpy(v, a, sizeof a);
}

/* sum x[i] */
static double bn_plane_sum(const float *restrict x, int64_t n)
{
    bnv a[BN_NV] = {{0}};
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int k = 0; k < BN_NV; k++)
            a[k] += bn_ld(x + i + BN_VL * k);
    bn_add_tail(a, x + i, n - i);
    return bn_lanes_sum(a);
}

/* sum (x[i] - mu)^2 */
static double bn_plane_sqdev(const float *restrict x, int64_t n, float mu)
{
    const bnv m = bn_set(mu);
    bnv a[BN_NV] = {{0}};
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int k = 0; k < BN_NV; k++) {
            bnv d = bn_ld(x + i + BN_VL * k) - m;
            a[k] += d * d;
        }
    float t[BN_LANES];
    for (int64_t l = 0; l < n - i; l++) {
        float d = x[i + l] - mu;
        t[l] = d * d;
    }
    bn_add_tail(a, t, n - i);
    return bn_lanes_sum(a);
}

static inline void bn_st(float *p, bnv v) { memcpy(p, &v, sizeof v); }

/* The fused ReLU's output x * fa + fb before the ReLU (the forward's
 * arithmetic), whose sign is the ReLU's mask: recomputed from x, which the
 * passes read anyway, instead of reading the result. */
static inline bnv bn_pre_relu(bnv x, float fa, float fb)
{
    return x * bn_set(fa) + bn_set(fb);
}

/* *sg += sum g[i], *sgd += sum g[i] * (x[i] - mu); with y (a fused ReLU's
 * result) g[i] counts only where y[i] > 0, with relu_x only where
 * x[i] * fa + fb > 0 (the same mask, without y). With gr (the gradient of
 * a fused residual input) the masked g is also stored into gr, or added
 * (add). */
static void bn_plane_grad_sums(const float *restrict x, const float *restrict g0,
                               const float *restrict y, bool relu_x, float fa, float fb,
                               float *restrict gr, bool add, int64_t n, float mu, double *sg,
                               double *sgd)
{
    const bnv m = bn_set(mu);
    bnv a[BN_NV] = {{0}}, b[BN_NV] = {{0}};
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int k = 0; k < BN_NV; k++) {
            bnv g = bn_ld(g0 + i + BN_VL * k), xv = bn_ld(x + i + BN_VL * k);
            if (y)
                g = bn_relu_mask(g, bn_ld(y + i + BN_VL * k));
            else if (relu_x)
                g = bn_relu_mask(g, bn_pre_relu(xv, fa, fb));
            if (gr)
                bn_st(gr + i + BN_VL * k, add ? bn_ld(gr + i + BN_VL * k) + g : g);
            a[k] += g;
            b[k] += g * (xv - m);
        }
    float tg[BN_LANES], tb[BN_LANES];
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
    bn_add_tail(a, tg, n - i);
    bn_add_tail(b, tb, n - i);
    *sg += bn_lanes_sum(a);
    *sgd += bn_lanes_sum(b);
}

/* The passes run over planes p = n*C + c in memory order (a channel's planes
 * are C*HW floats apart: walking them channel by channel defeated the
 * hardware prefetcher and made batch norm ~8 cycles per element). Each plane
 * sum is stored, and the planes of a channel are added in double in n order
 * afterwards, exactly as before, so the bits do not depend on the split. */
static void FN(bn_sum_range)(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const tg__bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++)
        j->ps[p] = bn_plane_sum(j->x + p * j->HW, j->HW);
}

static void FN(bn_sqdev_range)(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const tg__bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++)
        j->pss[p] = bn_plane_sqdev(j->x + p * j->HW, j->HW, j->mean[p % j->C]);
}

/* y = x * ka[c] + kb[c] */
static void FN(bn_fwd_range)(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const tg__bn_job *j = arg;
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

static void FN(bn_gsum_range)(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const tg__bn_job *j = arg;
    for (int64_t p = pb; p < pe; p++) {
        const int64_t c = p % j->C;
        double sg = 0, sgd = 0;
        /* the residual form's mask needs y; the plain ReLU's is recomputed */
        bn_plane_grad_sums(j->x + p * j->HW, j->gy + p * j->HW,
                        j->mask_y ? j->y + p * j->HW : NULL, j->relu, j->fa[c], j->fb[c],
                        j->gr ? j->gr + p * j->HW : NULL, j->add_r, j->HW, j->mean[c], &sg,
                        &sgd);
        j->ps[p] = sg;
        j->pss[p] = sgd;
    }
}

/* gx (+)= ka[c] * (g - kb[c]) - kc[c] * (x - mean[c]) */
static void FN(bn_bwd_range)(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const tg__bn_job *j = arg;
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
        } else if (j->relu) { /* the mask from x, as bn_plane_grad_sums */
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

