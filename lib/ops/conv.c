/* SPDX-License-Identifier: MIT */
/* 2-D convolution (cross-correlation, torch.nn.functional.conv2d) by im2col +
 * GEMM, one sample per task: the pool splits the batch, each thread unfolds
 * its sample into its own scratch and runs the single-threaded GEMM. For a
 * small CNN (C_out <= 16, 28x28 maps) a per-sample GEMM is tiny, so splitting
 * samples beats splitting each GEMM. A 1x1, stride-1, unpadded convolution
 * skips the unfold (the input already is the column matrix); a strided one,
 * or a stride-1 one with whole-vector output rows, multiplies straight from
 * the sample's phase planes (phase_split).
 *
 * Backward: dx by GEMM (W^T dY) + col2im added into the input gradient,
 * disjoint per sample, or at stride 2 as four phase GEMMs read from a padded
 * dY (dx_phased); dW as dot products with the unfold's rows, read in place
 * from the phase planes where output rows are whole vectors. dW and db:
 * the batch is cut into a fixed number of chunks (set by the sizes, never
 * by the thread count), each chunk sums into its own partial buffer, and
 * the partials are added to the gradients in chunk order. Results are
 * therefore bit-identical for every thread count.
 *
 * Few channels, stride 1 (the MNIST CNNs), and depthwise layers at stride
 * 1 or 2: the direct kernels of kernels/conv_direct.c instead, which skip
 * the k*k-times larger unfolded matrix and its GEMM with M = C_out of 3..16
 * (measured 3-8x faster on those layers; docs/performance.md). Same
 * determinism guarantee. */
#include "tg_internal.h"

#include "kernels/kernels.h"

#include <math.h>

typedef struct {
    int64_t N, C, H, W, O, kh, kw, Ho, Wo;
    int64_t s, p, d, groups;
    int64_t Cig, Cog, Kg, P; /* channels per group, unfolded rows, output pixels */
    bool direct;             /* 1x1, stride 1, no padding: no unfold needed */
    bool phased;             /* forward from phase planes (see phase_split) */
    bool rowed;              /* ... one run per output row, straight into y */
    int64_t Hph, Wph, Lx;    /* phase plane rows, columns; Ho * Wph */
    bool wgruns;             /* dW reads the unfold's rows as runs of phase planes */
    bool wgpacked;           /* ... else by the packed GEMM, not dot products */
    bool dxphased;           /* backward data by phases (see dx_phased) */
    bool depthwise;          /* groups = C = O: a filter per channel (direct kernels) */
    int64_t Pt, Pl, Hd, Wd;  /* ... dy's zero padding: top, left; padded rows, columns */
} conv_geom;

/* Phase a (0 or 1) of a stride-2 input gradient along one axis: its taps
 * are r, r + 2, .. (t of them, below k) and tap r + 2m reads dy at i + q - m
 * for dx at 2i + a. */
typedef struct {
    int64_t r, q, t;
} dx_phase;

static dx_phase dx_phase_of(int64_t a, int64_t p, int64_t k)
{
    dx_phase f = {(a + p) % 2, (a + p) / 2, 0};
    f.t = f.r < k ? (k - f.r + 1) / 2 : 0;
    return f;
}

/* dy's zero padding before (*lo) and after (*hi) along one axis, so that
 * every phase's shifted reads stay inside. */
static void dx_pads(int64_t p, int64_t k, int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    for (int64_t a = 0; a < 2; a++) {
        dx_phase f = dx_phase_of(a, p, k);
        if (f.t - 1 - f.q > *lo)
            *lo = f.t - 1 - f.q;
        if (f.q > *hi)
            *hi = f.q;
    }
}

/* Samples per weight-gradient dot product of the unfold + GEMM path: each
 * dot runs over at least 256 output pixels (8x8 maps: 4 samples), so that
 * its horizontal sum is a small part of it. */
static int64_t wgrad_group(const conv_geom *g)
{
    return g->P >= 256 || g->P < 1 ? 1 : 256 / g->P;
}

static void geom_init(conv_geom *g, const tg_tensor *x, const tg_tensor *w, int stride,
                      int padding, int dilation, int groups)
{
    g->N = x->shape[0];
    g->C = x->shape[1];
    g->H = x->shape[2];
    g->W = x->shape[3];
    g->O = w->shape[0];
    g->kh = w->shape[2];
    g->kw = w->shape[3];
    g->s = stride;
    g->p = padding;
    g->d = dilation;
    g->groups = groups;
    g->Ho = (g->H + 2 * g->p - g->d * (g->kh - 1) - 1) / g->s + 1;
    g->Wo = (g->W + 2 * g->p - g->d * (g->kw - 1) - 1) / g->s + 1;
    g->Cig = g->C / groups;
    g->Cog = g->O / groups;
    g->Kg = g->Cig * g->kh * g->kw;
    g->P = g->Ho * g->Wo;
    g->direct = g->kh == 1 && g->kw == 1 && g->s == 1 && g->p == 0;
    g->Hph = (g->H + 2 * g->p + g->s - 1) / g->s;
    g->Wph = (g->W + 2 * g->p + g->s - 1) / g->s;
    g->Lx = g->Ho * g->Wph;
    /* Output rows of whole vectors (or of half vectors where the kernels
     * load halves: 8x8 maps on AVX-512) that tile the kernels' NR columns
     * are read as runs of Wo (tg__sgemm_pa_ind's wrow); otherwise the GEMM
     * computes Wph columns per row and drops the extra ones, if they are
     * at most 1/16 (16x16 -> 8x8 at 3x3 on AVX-512, 1/8 wasted: forward
     * 1.87 -> 1.90 ms at batch 64). */
    const tg__kernels *kt = tg__kernels_get();
    const bool some = g->Ho > 0 && g->Wo > 0; /* tg__conv2d_bn_eval asks before conv_check */
    g->rowed = some &&
               (g->Wo % kt->gemm_vw == 0 || (kt->gemm_ind_halves && 2 * g->Wo == kt->gemm_vw)) &&
               (kt->gemm_nr % g->Wo == 0 || g->Wo % kt->gemm_nr == 0);
    /* Stride 1 (the padded sample is the one plane): only with whole-vector
     * rows, where it beat both the direct kernels and the unfold (3 -> 16
     * channels on 32x32, batch 64: forward 0.70 -> 0.55-0.63 ms; 300 -> 64
     * on 16x16: 61.5 -> 50.8 ms); with columns to trim it lost to the
     * direct kernels (3 -> 16 on 62x62: 0.64 -> 0.71 ms; the seed CNN's
     * rows of 28). */
    g->depthwise = groups > 1 && groups == g->C && g->O == g->C;
    g->phased = some && kt->gemm_micro_ind &&
                (g->s >= 2 ? g->rowed || (g->Lx - g->P) * 16 <= g->P
                           : g->rowed && !g->direct && !g->depthwise);
    /* The weight gradient's dot products read output rows of whole vectors,
     * at least 16 floats, from the phase planes (wgrad_dots) instead of an
     * unfold that is written and then read once (2.25 times the input of
     * a 3x3 stride-2 layer, 9 times at stride 1): backward, batch 16, 300 ->
     * 64 on 16x16 37-39 -> 30-32 ms, 8 -> 16 5x5 on 64x64 14.4 -> 11.5 ms;
     * rows of one 8-float vector (AVX2) were slower, 4.0 -> 4.2 ms, and
     * so were the plain C kernels (5-7%) and 1x1 layers, whose unfold is
     * a quarter of the input (16 -> 32 channels at stride 2: 2%). */
    g->wgruns = some && !g->direct && kt->gemm_vw > 1 && g->Wo % kt->gemm_vw == 0 &&
                g->Wo >= 16 && g->kh * g->kw > 1;
    /* Otherwise dW's products are dot products along the group's L = G * P
     * pixels (gemm_abt: no packing, but a horizontal sum per element and a
     * scalar tail where L is not whole vectors), or, for wide layers or
     * such tails, the packed GEMM. Batch 16, 1 thread, AVX-512, backward:
     * 512 -> 512 on 7x7 (L 245) 128 -> 97 ms, 256 -> 512 at stride 2 on
     * 16x16 (L 256) 57.3 -> 52.5 ms; batch 32, 32 -> 64 at stride 2 on 28x28
     * (L 196) 7.3 -> 6.3 ms; ResNet-8's 32 -> 64 on 16x16 (L 256, batch 64)
     * 3.97 vs 4.19 ms and its shortcuts kept the dots (the same bits). */
    const int64_t wgk = g->Cog * g->Kg, L = wgrad_group(g) * g->P;
    g->wgpacked = some && !g->direct &&
                  (wgk >= 128 * 128 * 9 || (wgk >= 32 * 32 * 9 && L % kt->gemm_vw != 0));
    /* dx by phases (dx_phased): every phase has a tap (k >= 2) and the same
     * Ho x Wo pixels, rows of at least 16 floats (8: no faster) */
    g->dxphased = g->phased && g->rowed && g->s == 2 && g->d == 1 && g->kh >= 2 &&
                  g->kw >= 2 && g->H == 2 * g->Ho && g->W == 2 * g->Wo && g->Wo >= 16;
    int64_t pb = 0, pr = 0;
    g->Pt = g->Pl = 0;
    if (g->dxphased) {
        dx_pads(g->p, g->kh, &g->Pt, &pb);
        dx_pads(g->p, g->kw, &g->Pl, &pr);
    }
    g->Hd = g->Ho + g->Pt + pb;
    g->Wd = g->Wo + g->Pl + pr;
}

/* Output columns ow whose input column ow*s + off falls inside [0, W). */
static void valid_range(int64_t off, int64_t s, int64_t W, int64_t Wo, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = W - off <= 0 ? 0 : (W - off + s - 1) / s;
    if (h > Wo)
        h = Wo;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* The unfold reads a zero-padded copy of the sample's group channels (one
 * copy per sample, then no bounds checks in the short rows), or x itself
 * when there is no padding. */
static int64_t padded_floats(const conv_geom *g)
{
    if (g->direct || g->p == 0)
        return 0;
    return tg__round16(g->Cig * (g->H + 2 * g->p) * (g->W + 2 * g->p));
}

/* Interior of the padded copy (the border stays zero: the caller zeroes the
 * buffer once per range). Returns the source to unfold from. */
static const float *pad_sample(const conv_geom *g, const float *restrict x, float *restrict xp)
{
    if (g->p == 0)
        return x;
    const int64_t Hp = g->H + 2 * g->p, Wp = g->W + 2 * g->p;
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t ih = 0; ih < g->H; ih++) {
            const float *restrict s = x + (c * g->H + ih) * g->W;
            float *restrict d = xp + (c * Hp + ih + g->p) * Wp + g->p;
            for (int64_t iw = 0; iw < g->W; iw++)
                d[iw] = s[iw];
        }
    return xp;
}

/* Row (c, ki, kj) of the unfold: P floats, from the padded source src. */
static void unfold_row(const conv_geom *g, const float *restrict src, int64_t c, int64_t ki,
                       int64_t kj, float *restrict row)
{
    const int64_t s = g->s, Wo = g->Wo, Hp = g->H + 2 * g->p, Wp = g->W + 2 * g->p;
    const float *base = src + (c * Hp + ki * g->d) * Wp + kj * g->d;
    if (s == 2) { /* vector shuffles per ISA: the SSE code gcc made was 2x slower */
        tg__kernels_get()->gather_s2(base, s * Wp, g->Ho, Wo, row, Wo);
        return;
    }
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        const float *restrict sr = base + oh * s * Wp;
        float *restrict r = row + oh * Wo;
        if (s == 1) /* rows are short: a loop, not a memcpy call */
            for (int64_t ow = 0; ow < Wo; ow++)
                r[ow] = sr[ow];
        else
            for (int64_t ow = 0; ow < Wo; ow++)
                r[ow] = sr[ow * s];
    }
}

/* A panel row of the kernels' widths as a fixed-size copy, which the
 * compiler inlines; the loop below became a libc call per 16 floats (a
 * stride-2 layer's unfold makes thousands per sample). false: other width. */
static bool copy_panel_row(float *restrict d, const float *restrict s, int64_t nr)
{
    switch (nr) {
    case 8:
        memcpy(d, s, 8 * sizeof(float));
        return true;
    case 16:
        memcpy(d, s, 16 * sizeof(float));
        return true;
    case 32:
        memcpy(d, s, 32 * sizeof(float));
        return true;
    default:
        return false;
    }
}

/* The unfold straight into the packed-B layout of tg__sgemm_papb (one pass
 * instead of unfold + pack), as columns [off, off + P) of a B of ncols
 * columns (several samples side by side; the one whose columns end at
 * ncols zero-pads the last panel); row: P floats of scratch. */
static void im2col_packed(const conv_geom *g, const float *restrict src, float *restrict row,
                          float *restrict dst, int64_t ncols, int64_t off)
{
    const int64_t NR = tg__kernels_get()->gemm_nr, K = g->Kg;
    const int64_t nround = (ncols + NR - 1) / NR * NR;
    const bool last = off + g->P == ncols;
    const int64_t jr0 = off / NR * NR, lane0 = off - jr0;
    int64_t p = 0;
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++, p++) {
                unfold_row(g, src, c, ki, kj, row);
                float *base = dst + p * NR;
                for (int64_t q = 0, jr = jr0, lane = lane0; q < g->P; jr += NR, lane = 0) {
                    const int64_t n = NR - lane < g->P - q ? NR - lane : g->P - q;
                    float *d = base + jr * K + lane; /* a run within one panel */
                    if (n < NR || !copy_panel_row(d, row + q, NR))
                        for (int64_t t = 0; t < n; t++)
                            d[t] = row[q + t];
                    q += n;
                }
                if (last) { /* the last panel's padding */
                    float *lp = base + (nround - NR) * K;
                    for (int64_t t = ncols - (nround - NR); t < NR; t++)
                        lp[t] = 0.0f;
                }
            }
}

/* Samples per GEMM of the unfold forward. A small map fills few of B's
 * NR-column panels (7x7 outputs: 49 of 64 columns on AVX-512), so where
 * more than an eighth would be padding several samples go side by side, as
 * many as waste the least (at most 512 columns, 8 samples). Their C is then
 * copied out to y: 14x14 outputs (196 of 208 columns, AVX2) lost 6% by two
 * samples. Each C element is the same FMA chain wherever its column lies,
 * so the grouping never changes a result. */
static int64_t fwd_group(const conv_geom *g)
{
    if (g->direct || g->phased || g->P < 1)
        return 1;
    const int64_t NR = tg__kernels_get()->gemm_nr;
    if (((g->P + NR - 1) / NR * NR - g->P) * 8 <= g->P)
        return 1;
    int64_t best = 1;
    double best_waste = 1.0;
    for (int64_t s = 1; s <= 8 && (s == 1 || s * g->P <= 512); s++) {
        const int64_t n = s * g->P, pad = (n + NR - 1) / NR * NR - n;
        const double waste = (double)pad / (double)n;
        if (waste < best_waste - 1.0 / 64) {
            best = s;
            best_waste = waste;
        }
    }
    return best;
}

/* The unfold of one sample, row-major: Kg rows of P floats at stride ld. */
static void im2col(const conv_geom *g, const float *restrict src, float *restrict col,
                   int64_t ld)
{
    int64_t r = 0;
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++, r++)
                unfold_row(g, src, c, ki, kj, col + r * ld);
}

/* ---- forward from phase planes ---------------------------------------------
 * With stride s, input (padded) pixel (s*oh + ki*d, s*ow + kj*d) is pixel
 * (oh + ki*d/s, ow + kj*d/s) of phase plane (ki*d%s, kj*d%s), the plane of
 * pixels (s*i + a, s*j + b); at stride 1 the one plane is the padded
 * sample. Laid out as rows of Wph floats, the plane gives unfold row (c, ki, kj) as Ho runs of Wo floats, Wph apart, or as
 * one contiguous run if each output row is extended to Wph columns (the
 * Wph - Wo extra ones wrap into the next plane row and are dropped). The
 * GEMM reads those runs in place (tg__sgemm_pa_ind): the s*s planes of a
 * sample are about its own size, where the unfold was k*k/(s*s) times that
 * and was written twice (unfolded, then packed). The products are the
 * packed path's, in the same order: the same bits. */

/* Floats of one sample's s*s planes per channel, and past the last one
 * what a GEMM tile of NR columns reads beyond the last output (see
 * tg__sgemm_pa_ind). */
static int64_t phase_floats(const conv_geom *g)
{
    const int64_t NR = tg__kernels_get()->gemm_nr;
    return tg__round16(g->s * g->s * g->Cig * g->Hph * g->Wph + (g->Lx + NR - 1) / NR * NR +
                       NR + 4 * g->Wph);
}

/* Where unfold row p = (c, ki, kj) starts in the planes. */
static void phase_offsets(const conv_geom *g, int64_t *off)
{
    const int64_t s = g->s, PL = g->Hph * g->Wph;
    int64_t p = 0;
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++, p++) {
                int64_t a = ki * g->d % s, b = kj * g->d % s;
                off[p] = ((a * s + b) * g->Cig + c) * PL + ki * g->d / s * g->Wph + kj * g->d / s;
            }
}

/* Whether some kernel tap k < taps lands on phase a: k * d % s == a. */
static bool phase_used(int64_t a, int64_t taps, int64_t d, int64_t s)
{
    for (int64_t k = 0; k < taps; k++)
        if (k * d % s == a)
            return true;
    return false;
}

/* The planes a tap reads, straight from the unpadded sample x; padding
 * and what lies past the sample's edge stay as the caller zeroed them. */
static void phase_split(const conv_geom *g, const float *restrict x, float *restrict ph)
{
    const int64_t s = g->s, PL = g->Hph * g->Wph;
    /* Stride 2 with both column phases from the same source columns (the
     * even phase's first at x column 0, the odd one's at 1): one pass over
     * each row writes both (the sample read once instead of twice: ResNet's
     * 16 -> 32 layer's split 30% faster on AVX-512, 15% on AVX2). */
    int64_t cj0[2], cj1[2];
    bool both = s == 2 && phase_used(0, g->kw, g->d, s) && phase_used(1, g->kw, g->d, s);
    int be = 0; /* the phase of x's even columns */
    if (both) {
        for (int b = 0; b < 2; b++)
            valid_range(b - g->p, s, g->W, g->Wph, &cj0[b], &cj1[b]);
        be = (int)(g->p % 2);
        both = s * cj0[be] + be - g->p == 0 && s * cj0[1 - be] + (1 - be) - g->p == 1 &&
               cj1[be] > cj0[be] && cj1[1 - be] > cj0[1 - be];
    }
    for (int64_t a = 0; a < s; a++)
        for (int64_t b = 0; b < s; b++) {
            if (!phase_used(a, g->kh, g->d, s) || !phase_used(b, g->kw, g->d, s))
                continue;
            if (both && b != be) /* written with the even columns' phase */
                continue;
            int64_t i0, i1, j0, j1; /* plane rows / columns inside the sample */
            valid_range(a - g->p, s, g->H, g->Hph, &i0, &i1);
            valid_range(b - g->p, s, g->W, g->Wph, &j0, &j1);
            if (both) {
                const int64_t bo = 1 - be;
                for (int64_t c = 0; c < g->Cig; c++) {
                    const float *sp = x + (c * g->H + s * i0 + a - g->p) * g->W;
                    float *de = ph + ((a * s + be) * g->Cig + c) * PL + i0 * g->Wph + j0;
                    float *dodd = ph + ((a * s + bo) * g->Cig + c) * PL + i0 * g->Wph + cj0[bo];
                    tg__kernels_get()->gather_s2_pair(sp, 2 * g->W, i1 - i0, j1 - j0, de,
                                                      g->Wph, cj1[bo] - cj0[bo], dodd);
                }
                continue;
            }
            for (int64_t c = 0; c < g->Cig; c++) {
                const float *sp = x + (c * g->H + s * i0 + a - g->p) * g->W + s * j0 + b - g->p;
                float *dp = ph + ((a * s + b) * g->Cig + c) * PL + i0 * g->Wph + j0;
                if (s == 1) { /* the padded sample */
                    for (int64_t i = 0; i < i1 - i0; i++)
                        memcpy(dp + i * g->Wph, sp + i * g->W, (size_t)(j1 - j0) * sizeof *dp);
                    continue;
                }
                if (s == 2) {
                    tg__kernels_get()->gather_s2(sp, 2 * g->W, i1 - i0, j1 - j0, dp, g->Wph);
                    continue;
                }
                for (int64_t i = 0; i < i1 - i0; i++)
                    for (int64_t jj = 0; jj < j1 - j0; jj++)
                        dp[i * g->Wph + jj] = sp[i * s * g->W + jj * s];
            }
        }
}

/* Scratch of the phase path after the padded sample: planes, offsets, and
 * the GEMM's Cog x Lx result. */
static int64_t phased_floats(const conv_geom *g)
{
    return phase_floats(g) + tg__round16(2 * g->Kg) + g->Cog * g->Lx;
}

/* col2im_add for 3x3, stride 2, padding 1, dilation 1 (the downsampling
 * convolution of residual networks): even columns 2*ow get tap kj = 1, odd
 * ones 2*ow+1 taps kj = 0 (of ow+1) and kj = 2 (of ow), added in that order
 * as in the general loop, so the sums are bit-identical; the loop over ow
 * then vectorises (the general one is a strided scalar scatter). */
static void col2im_add_s2k3(const conv_geom *g, const float *restrict dcol, int64_t ld,
                            float *restrict gx)
{
    const int64_t Wo = g->Wo, P = ld, W = g->W, H = g->H;
    const int64_t ne = (W + 1) / 2 < Wo ? (W + 1) / 2 : Wo; /* ow with 2*ow < W */
    const int64_t no = W / 2 < Wo ? W / 2 : Wo;             /* ow with 2*ow+1 < W */
    const int64_t nb = no < Wo - 1 ? no : Wo - 1;           /* ... and ow+1 < Wo */
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t ki = 0; ki < 3; ki++) {
            const float *r0 = dcol + (c * 3 + ki) * 3 * P, *r1 = r0 + P, *r2 = r1 + P;
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                int64_t ih = 2 * oh + ki - 1;
                if (ih < 0 || ih >= H)
                    continue;
                float *restrict xr = gx + (c * H + ih) * W;
                const float *a = r0 + oh * Wo, *b = r1 + oh * Wo, *e = r2 + oh * Wo;
                /* both columns of a pair in one loop: contiguous loads and
                 * stores, which vectorise (two strided loops stored one
                 * float at a time) */
                const int64_t nm = ne < nb ? ne : nb;
                int64_t ow = 0;
                for (; ow < nm; ow++) {
                    float ev = xr[2 * ow] + b[ow];
                    float od = (xr[2 * ow + 1] + a[ow + 1]) + e[ow];
                    xr[2 * ow] = ev;
                    xr[2 * ow + 1] = od;
                }
                for (int64_t q = ow; q < ne; q++)
                    xr[2 * q] += b[q];
                for (; ow < nb; ow++)
                    xr[2 * ow + 1] = (xr[2 * ow + 1] + a[ow + 1]) + e[ow];
                for (; ow < no; ow++)
                    xr[2 * ow + 1] += e[ow];
            }
        }
}

/* gx[Cig, H, W] = fold of dcol for a 1x1, stride-2, unpadded convolution
 * (the downsampling shortcut of residual networks): each input pixel gets at
 * most one term, so a fresh gx is written in one pass instead of zeroed and
 * then added into by a strided scatter (which took 40% of the layer's
 * backward). 0.0f + v as memset-then-add gave, -0.0f included. */
static bool fold_store_s2k1(const conv_geom *g, const float *restrict dcol, int64_t ld,
                            float *restrict gx)
{
    if (g->s != 2 || g->kh != 1 || g->kw != 1 || g->p != 0)
        return false;
    const int64_t H = g->H, W = g->W, Wo = g->Wo;
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t ih = 0; ih < H; ih++) {
            float *restrict xr = gx + (c * H + ih) * W;
            if (ih % 2) {
                memset(xr, 0, (size_t)W * sizeof *xr);
                continue;
            }
            const float *restrict r = dcol + c * ld + ih / 2 * Wo;
            int64_t ow = 0;
            for (; 2 * ow + 1 < W; ow++) {
                xr[2 * ow] = 0.0f + r[ow];
                xr[2 * ow + 1] = 0.0f;
            }
            if (2 * ow < W) /* odd W: the last column is an even one */
                xr[2 * ow] = 0.0f + r[ow];
        }
    return true;
}

/* gx[Cig, H, W] += fold of dcol[Kg, P] (the adjoint of im2col). */
static void col2im_add(const conv_geom *g, const float *restrict dcol, int64_t ld,
                       float *restrict gx)
{
    if (g->s == 2 && g->kh == 3 && g->kw == 3 && g->p == 1 && g->d == 1) {
        col2im_add_s2k3(g, dcol, ld, gx);
        return;
    }
    const int64_t s = g->s, Wo = g->Wo;
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const float *row = dcol + ((c * g->kh + ki) * g->kw + kj) * ld;
                int64_t ioff = ki * g->d - g->p, joff = kj * g->d - g->p, lo, hi;
                valid_range(joff, s, g->W, Wo, &lo, &hi);
                for (int64_t oh = 0; oh < g->Ho; oh++) {
                    int64_t ih = oh * s + ioff;
                    if (ih < 0 || ih >= g->H)
                        continue;
                    const float *restrict r = row + oh * Wo;
                    float *restrict xr = gx + (c * g->H + ih) * g->W + joff;
                    if (s == 1) /* contiguous: vectorises */
                        for (int64_t ow = lo; ow < hi; ow++)
                            xr[ow] += r[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            xr[ow * s] += r[ow];
                }
            }
}

typedef struct {
    const conv_geom *g;
    const float *x, *w, *b, *gy;
    float *y, *gx;
    bool gx_store;     /* backward: gx is fresh, each sample's dx is stored */
    bool need_dw, need_db;
    int64_t wn;        /* weight numel: a partial holds wn + O floats */
    int64_t nchunks;   /* backward: batch chunks, one partial each */
    float *part;       /* nchunks partials */
    const float *wp;   /* per group: W (forward) or W^T (backward data), packed */
    int64_t wp_stride; /* floats of one group's packed weights */
    tg_ctx *ctx;
    const tg__conv_epi *epi; /* forward: batch norm, residual, ReLU (NULL: none) */
    bool zeroed[TG_MAX_THREADS]; /* tg__first_part(): the scratch set up once a thread */
} conv_job;

/* Per-thread scratch: [GEMM panels][padded sample][unfolded sample, packed
 * (forward) or the weight gradient's operands and dcol (backward)]. */
static float *pad_of(const conv_job *j, int tid)
{
    return (float *)j->ctx->scratch[tid] + TG__SGEMM_WORK_FLOATS;
}

static float *col_of(const conv_job *j, int tid)
{
    return pad_of(j, tid) + padded_floats(j->g);
}

/* Partial-sum budget for dW/db: at most this many floats, but at least
 * min(N, 4) chunks so a batch still spreads over a few threads, cut so that
 * threads get equal shares (tg__batch_chunks). Each partial is zeroed and
 * then added, so a larger budget costs memory traffic (with 1M floats, 4 MB
 * per layer and step in ResNet-8's 64-channel layers). */
#define PART_BUDGET ((int64_t)1 << 18)

static int64_t n_chunks(int64_t N, int64_t wn, int64_t O)
{
    return tg__batch_chunks(N, PART_BUDGET / (wn + O));
}

/* Rows of group gr's output channels, n floats each at dst, set to their
 * bias (the GEMMs then add into them with beta 1). */
static void fill_bias(const conv_job *j, int64_t gr, float *dst, int64_t n)
{
    for (int64_t co = 0; co < j->g->Cog; co++) {
        float bv = j->b[gr * j->g->Cog + co];
        for (int64_t q = 0; q < n; q++)
            dst[co * n + q] = bv;
    }
}

/* Rows of one sample's output from its phase planes: bias first (the
 * packed path's beta), then the GEMM, either over Wo-column runs into y or
 * over Lx columns into ct and then each output row's Wo. */
static void fwd_phased(const conv_job *j, int64_t gr, const float *xin, float *yo, float *ph,
                       const int64_t *offs, float *ct)
{
    const conv_geom *g = j->g;
    phase_split(g, xin, ph);
    if (g->rowed || g->Lx == g->P) /* nothing to trim */
        ct = yo;
    const int64_t N = g->rowed ? g->P : g->Lx;
    if (j->b)
        fill_bias(j, gr, ct, N);
    tg__sgemm_pa_ind(g->Cog, N, g->Kg, j->wp + gr * j->wp_stride, ph, offs,
                     g->rowed ? g->Wo : N, g->rowed ? g->Wph : N, j->b ? 1.0f : 0.0f, ct, N);
    for (int64_t r = 0; r < g->Cog * g->Ho && ct != yo; r++) { /* short rows: no memcpy */
        const float *restrict cr = ct + r / g->Ho * g->Lx + r % g->Ho * g->Wph;
        float *restrict yr = yo + r * g->Wo;
        for (int64_t q = 0; q < g->Wo; q++)
            yr[q] = cr[q];
    }
}

/* Samples [n0, n0 + cnt) of group gr by one GEMM: their unfolds side by
 * side in B (row: P floats, then the packed B), C into ct (Cog x cnt*P),
 * then each sample's rows out to y and its epilogue. */
static void fwd_unfold_group(const conv_job *j, int64_t n0, int64_t cnt, int64_t gr, float *xp,
                             float *col, float *ct)
{
    const conv_geom *g = j->g;
    const int64_t L = cnt * g->P;
    float *bp = col + tg__round16(g->P);
    for (int64_t s = 0; s < cnt; s++) {
        const float *xin = j->x + ((n0 + s) * g->C + gr * g->Cig) * g->H * g->W;
        im2col_packed(g, pad_sample(g, xin, xp), col, bp, L, s * g->P);
    }
    if (j->b)
        fill_bias(j, gr, ct, L);
    tg__sgemm_papb(g->Cog, L, g->Kg, j->wp + gr * j->wp_stride, bp, j->b ? 1.0f : 0.0f, ct, L);
    for (int64_t s = 0; s < cnt; s++) {
        const int64_t off = ((n0 + s) * g->O + gr * g->Cog) * g->P;
        for (int64_t co = 0; co < g->Cog; co++)
            memcpy(j->y + off + co * g->P, ct + co * L + s * g->P, (size_t)g->P * sizeof(float));
        if (j->epi)
            tg__kernels_get()->conv_epi(j->epi, gr * g->Cog, g->Cog, j->y + off,
                                        j->epi->res ? j->epi->res + off : NULL, g->P);
    }
}

static void fwd_range(void *arg, int64_t nb, int64_t ne, int tid)
{
    conv_job *j = arg;
    const conv_geom *g = j->g;
    float *work = j->ctx->scratch[tid], *col = col_of(j, tid), *xp = pad_of(j, tid);
    int64_t *offs = NULL;
    float *ct = NULL;
    const bool first = tg__first_part(j->zeroed, tid);
    if (g->phased) { /* [planes][offsets][GEMM result] in col's place */
        offs = (int64_t *)(col + phase_floats(g));
        ct = col + phase_floats(g) + tg__round16(2 * g->Kg);
        if (first) {
            memset(col, 0, (size_t)phase_floats(g) * sizeof *col);
            phase_offsets(g, offs);
        }
    } else if (first) {
        memset(xp, 0, (size_t)padded_floats(g) * sizeof *xp);
    }
    const int64_t G = fwd_group(g);
    if (G > 1) { /* [row][packed B of G samples][C] in col's place */
        ct = col + tg__round16(g->P) + tg__sgemm_pack_b_floats(g->Kg, G * g->P);
        for (int64_t n0 = nb; n0 < ne; n0 += G)
            for (int64_t gr = 0; gr < g->groups; gr++)
                fwd_unfold_group(j, n0, ne - n0 < G ? ne - n0 : G, gr, xp, col, ct);
        return;
    }
    for (int64_t n = nb; n < ne; n++)
        for (int64_t gr = 0; gr < g->groups; gr++) {
            const float *xin = j->x + (n * g->C + gr * g->Cig) * g->H * g->W;
            float *yo = j->y + (n * g->O + gr * g->Cog) * g->P;
            if (g->phased) {
                fwd_phased(j, gr, xin, yo, col, offs, ct);
            } else {
                if (j->b)
                    fill_bias(j, gr, yo, g->P);
                if (g->direct) { /* the input already is the column matrix */
                    tg__sgemm_pa(g->Cog, g->P, g->Kg, 1.0f, j->wp + gr * j->wp_stride, false,
                                 xin, g->P, j->b ? 1.0f : 0.0f, yo, g->P, work);
                } else {
                    float *bp = col + tg__round16(g->P);
                    im2col_packed(g, pad_sample(g, xin, xp), col, bp, g->P, 0);
                    tg__sgemm_papb(g->Cog, g->P, g->Kg, j->wp + gr * j->wp_stride, bp,
                                   j->b ? 1.0f : 0.0f, yo, g->P);
                }
            }
            if (j->epi) { /* the sample's output is still in cache */
                const int64_t off = (n * g->O + gr * g->Cog) * g->P;
                tg__kernels_get()->conv_epi(j->epi, gr * g->Cog, g->Cog, j->y + off,
                                            j->epi->res ? j->epi->res + off : NULL, g->P);
            }
        }
}

/* ---- backward data by phases ----------------------------------------------
 * At stride 2, dx at (2i + a, 2j + b) takes W[k][c][ki][kj] dy[k][oh][ow]
 * only from the taps ki = r_a + 2m, kj = r_b + 2n, at oh = i + q_a - m,
 * ow = j + q_b - n (dx_phase_of): each of dx's four phases is a stride-1
 * correlation of dy with a quarter of the taps. Where dx is twice the
 * output (H = 2 Ho, W = 2 Wo) and output rows are runs the GEMM reads in
 * place (rowed), a phase is one GEMM, W_ab^T (Cig x Cog * taps) times runs
 * of a zero-padded copy of dy, and a pass interleaves the four into dx: no
 * unfold-sized dcol to write and fold back. Sums run over (k, m, n) in one
 * FMA chain per element, whatever the thread count. */

/* Scratch of one sample: padded dy (and what a GEMM tile reads past its
 * last row), the B-row offsets of the four GEMMs, their Cig x P results. */
static int64_t dx_dyp_floats(const conv_geom *g)
{
    return tg__round16(g->Cog * g->Hd * g->Wd + 2 * g->Wd + tg__kernels_get()->gemm_nr);
}

static int64_t dx_phased_floats(const conv_geom *g)
{
    return dx_dyp_floats(g) + tg__round16(2 * g->Cog * g->kh * g->kw) + 4 * g->Cig * g->P;
}

/* Where that scratch (buf) keeps the offsets, and the GEMMs' results. */
static int64_t *dx_offs_of(const conv_geom *g, float *buf)
{
    return (int64_t *)(buf + dx_dyp_floats(g));
}

static float *dx_out_of(const conv_geom *g, float *buf)
{
    return buf + dx_dyp_floats(g) + tg__round16(2 * g->Cog * g->kh * g->kw);
}

/* Taps of phase (a, b). */
static int64_t dx_taps(const conv_geom *g, int64_t a, int64_t b)
{
    return dx_phase_of(a, g->p, g->kh).t * dx_phase_of(b, g->p, g->kw).t;
}

/* One group's packed W_ab^T, phases in order (a, b) = (0, 0), (0, 1), .. */
static int64_t dx_w_floats(const conv_geom *g)
{
    int64_t n = 0;
    for (int64_t ph = 0; ph < 4; ph++)
        n += tg__sgemm_pack_a_floats(g->Cig, g->Cog * dx_taps(g, ph / 2, ph % 2));
    return n;
}

/* W_ab^T of every group into dst (dx_w_floats apart); tmp: Cig x Cog x
 * taps floats. Column (k, m, n) of phase (a, b), row c: W[k][c][r_a + 2m][r_b + 2n]. */
static void dx_pack_w(const conv_geom *g, const float *w, float *tmp, float *dst)
{
    for (int64_t gr = 0; gr < g->groups; gr++)
        for (int64_t ph = 0; ph < 4; ph++) {
            dx_phase fa = dx_phase_of(ph / 2, g->p, g->kh), fb = dx_phase_of(ph % 2, g->p, g->kw);
            const int64_t K = g->Cog * fa.t * fb.t;
            for (int64_t c = 0; c < g->Cig; c++)
                for (int64_t k = 0, col = 0; k < g->Cog; k++)
                    for (int64_t m = 0; m < fa.t; m++)
                        for (int64_t n = 0; n < fb.t; n++, col++)
                            tmp[c * K + col] =
                                w[(((gr * g->Cog + k) * g->Cig + c) * g->kh + fa.r + 2 * m) *
                                      g->kw +
                                  fb.r + 2 * n];
            tg__sgemm_pack_a(false, g->Cig, K, tmp, K, dst);
            dst += tg__sgemm_pack_a_floats(g->Cig, K);
        }
}

/* B row (k, m, n) of each phase: where its runs start in the padded dy. */
static void dx_offsets(const conv_geom *g, int64_t *off)
{
    for (int64_t ph = 0; ph < 4; ph++) {
        dx_phase fa = dx_phase_of(ph / 2, g->p, g->kh), fb = dx_phase_of(ph % 2, g->p, g->kw);
        for (int64_t k = 0; k < g->Cog; k++)
            for (int64_t m = 0; m < fa.t; m++)
                for (int64_t n = 0; n < fb.t; n++)
                    *off++ = k * g->Hd * g->Wd + (g->Pt + fa.q - m) * g->Wd + g->Pl + fb.q - n;
    }
}

/* dx (stored if fresh, else added) of sample n, group gr; buf: dx_phased_floats
 * of scratch whose padding the caller zeroed and whose offsets it set. */
static void dx_phased(const conv_job *j, int64_t n, int64_t gr, float *buf, float *gx)
{
    const conv_geom *g = j->g;
    const int64_t Wo = g->Wo, P = g->P, W = g->W;
    const float *dy = j->gy + (n * g->O + gr * g->Cog) * P;
    float *dyp = buf, *out = dx_out_of(g, buf);
    const int64_t *off = dx_offs_of(g, buf);
    for (int64_t k = 0; k < g->Cog; k++)
        for (int64_t oh = 0; oh < g->Ho; oh++)
            memcpy(dyp + (k * g->Hd + g->Pt + oh) * g->Wd + g->Pl, dy + k * P + oh * Wo,
                   (size_t)Wo * sizeof *dy);
    const float *wp = j->wp + gr * j->wp_stride;
    for (int64_t ph = 0; ph < 4; ph++) {
        const int64_t K = g->Cog * dx_taps(g, ph / 2, ph % 2);
        tg__sgemm_pa_ind(g->Cig, P, K, wp, dyp, off, Wo, g->Wd, 0.0f, out + ph * g->Cig * P, P);
        wp += tg__sgemm_pack_a_floats(g->Cig, K);
        off += K;
    }
    for (int64_t c = 0; c < g->Cig; c++)
        for (int64_t a = 0; a < 2; a++) { /* rows 2 i + a: phases (a, 0) and (a, 1) */
            const float *e = out + (2 * a * g->Cig + c) * P;
            tg__kernels_get()->interleave2(e, e + g->Cig * P, Wo, g->H / 2, Wo,
                                           gx + (c * g->H + a) * W, 2 * W, !j->gx_store);
        }
}

/* Floats of one sample's phase planes for dW (wgruns), and where the
 * unfold rows' offsets follow a sample group's planes in wgb. */
static int64_t wg_plane_floats(const conv_geom *g)
{
    return tg__round16(g->s * g->s * g->Cig * g->Hph * g->Wph);
}

static int64_t *wg_offs_of(const conv_geom *g, float *wgb)
{
    return (int64_t *)(wgb + wgrad_group(g) * wg_plane_floats(g));
}

/* The dY rows of group gr for samples [n0, n0 + cnt), side by side in dyg
 * (Cog rows of cnt * P floats). */
static void gather_dy(const conv_job *j, int64_t n0, int64_t cnt, int64_t gr, float *dyg)
{
    const conv_geom *g = j->g;
    const int64_t L = cnt * g->P;
    const float *dy = j->gy + (n0 * g->O + gr * g->Cog) * g->P;
    for (int64_t s = 0; s < cnt; s++)
        for (int64_t co = 0; co < g->Cog; co++)
            memcpy(dyg + co * L + s * g->P, dy + (s * g->O + co) * g->P,
                   (size_t)g->P * sizeof(float));
}

/* dW_g += dY col^T for samples [n0, n0 + cnt) as dot products along their
 * output pixels (no packing): cnt samples' unfolds side by side in col
 * (Kg x cnt*P), or with wgruns their phase planes in wgb (the unfold rows'
 * offsets after them), and their dY rows copied side by side into dyg. */
static void wgrad_dots(const conv_job *j, int64_t n0, int64_t cnt, int64_t gr, float *xp,
                       float *col, float *dyg, float *dwg, float *wgb, float *work)
{
    const conv_geom *g = j->g;
    const int64_t L = cnt * g->P, S = wg_plane_floats(g);
    for (int64_t s = 0; s < cnt; s++) {
        const float *xin = j->x + ((n0 + s) * g->C + gr * g->Cig) * g->H * g->W;
        if (g->wgruns)
            phase_split(g, xin, wgb + s * S);
        else
            im2col(g, pad_sample(g, xin, xp), col + s * g->P, L);
    }
    const float *dy = j->gy + (n0 * g->O + gr * g->Cog) * g->P;
    if (cnt > 1) {
        gather_dy(j, n0, cnt, gr, dyg);
        dy = dyg;
    }
    if (g->wgruns) {
        const tg__abt_runs rn = {g->Wo, g->Wph, g->Ho, S};
        tg__kernels_get()->gemm_abt_ind(g->Cog, g->Kg, L, dy, L, wgb, wg_offs_of(g, wgb), &rn,
                                        1.0f, dwg, g->Kg);
        return;
    }
    if (g->wgpacked) {
        tg__sgemm_ws(false, true, g->Cog, g->Kg, L, 1.0f, dy, L, col, L, 1.0f, dwg, g->Kg, work);
        return;
    }
    tg__kernels_get()->gemm_abt(g->Cog, g->Kg, L, 1.0f, dy, L, col, L, 1.0f, dwg, g->Kg);
}

/* db's partial += row sums of sample n's dY (group gr), in vector partial
 * sums (one scalar chain of adds, bound by their latency, was 5% of a 3x3
 * stride-2 layer's forward and backward with bias). */
static void db_sample(const conv_job *j, int64_t n, int64_t gr, float *part)
{
    const conv_geom *g = j->g;
    const float *dy = j->gy + (n * g->O + gr * g->Cog) * g->P;
    float (*sum)(const float *, int64_t) = tg__kernels_get()->sum;
    for (int64_t co = 0; co < g->Cog; co++)
        part[j->wn + gr * g->Cog + co] += sum(dy + co * g->P, g->P);
}

/* dx of one sample from its columns of dcol (rows ld apart): stored (zeroed
 * here, not all at once before: the fold then adds into cached lines; a
 * 1x1 stride-2 layer's fold was 25% of its time) or added. */
static void fold_sample(const conv_job *j, const float *dcol, int64_t ld, float *gx)
{
    const conv_geom *g = j->g;
    if (j->gx_store && fold_store_s2k1(g, dcol, ld, gx))
        return;
    if (j->gx_store)
        memset(gx, 0, (size_t)(g->Cig * g->H * g->W) * sizeof *gx);
    col2im_add(g, dcol, ld, gx);
}

/* db and dx of samples [n0, n0 + cnt) (one group, more than one sample) by
 * one GEMM, W^T times their dY rows side by side in dyg (copied here unless
 * have_dyg), into dcol (Kg x cnt*P): a 7x7 map's P = 49 columns alone fill
 * 49 of 64 (AVX-512). Each element the same FMA chain as per sample. */
static void bwd_group(const conv_job *j, int64_t n0, int64_t cnt, float *part, float *work,
                      float *dcol, float *dyg, bool have_dyg)
{
    const conv_geom *g = j->g;
    const int64_t L = cnt * g->P;
    if (j->need_db)
        for (int64_t n = n0; n < n0 + cnt; n++)
            db_sample(j, n, 0, part);
    if (!have_dyg)
        gather_dy(j, n0, cnt, 0, dyg);
    tg__sgemm_pa(g->Kg, L, g->Cog, 1.0f, j->wp, false, dyg, L, 0.0f, dcol, L, work);
    for (int64_t s = 0; s < cnt; s++)
        fold_sample(j, dcol + s * g->P, L, j->gx + (n0 + s) * g->C * g->H * g->W);
}

/* db and dx of sample n, group gr: db's partial += row sums of dY; dx (+)=
 * col2im(W^T dY), with dcol as the unfold's gradient. */
static void bwd_sample(const conv_job *j, int64_t n, int64_t gr, float *part, float *work,
                       float *dcol, float *dxb)
{
    const conv_geom *g = j->g;
    const float *dy = j->gy + (n * g->O + gr * g->Cog) * g->P;
    if (j->need_db)
        db_sample(j, n, gr, part);
    if (!j->gx)
        return;
    const float *wtp = j->wp + gr * j->wp_stride;
    float *gx = j->gx + (n * g->C + gr * g->Cig) * g->H * g->W;
    if (g->direct) {
        tg__sgemm_pa(g->Kg, g->P, g->Cog, 1.0f, wtp, false, dy, g->P, j->gx_store ? 0.0f : 1.0f,
                     gx, g->P, work);
        return;
    }
    if (g->dxphased) {
        dx_phased(j, n, gr, dxb, gx);
        return;
    }
    tg__sgemm_pa(g->Kg, g->P, g->Cog, 1.0f, wtp, false, dy, g->P, 0.0f, dcol, g->P, work);
    fold_sample(j, dcol, g->P, gx);
}

static void bwd_range(void *arg, int64_t cb, int64_t ce, int tid)
{
    conv_job *j = arg;
    const conv_geom *g = j->g;
    /* col: [unfold of a sample group | its dY rows] for dW, then dcol */
    float *work = j->ctx->scratch[tid], *col = col_of(j, tid), *dcol = col;
    const int64_t G = wgrad_group(g);
    float *dyg = col + g->Kg * G * g->P;
    float *xp = pad_of(j, tid);
    const bool first = tg__first_part(j->zeroed, tid);
    if (first)
        memset(xp, 0, (size_t)padded_floats(g) * sizeof *xp);
    float *dxb = col + (g->Kg + g->Cog) * G * g->P; /* after dW's operands and dcol */
    if (g->dxphased && j->gx && first) {
        memset(dxb, 0, (size_t)dx_dyp_floats(g) * sizeof *dxb);
        dx_offsets(g, dx_offs_of(g, dxb));
    }
    float *wgb = dxb + (g->dxphased ? dx_phased_floats(g) : 0); /* dW's planes, offsets */
    if (g->wgruns && j->need_dw && first) {
        memset(wgb, 0, (size_t)(G * wg_plane_floats(g)) * sizeof *wgb);
        phase_offsets(g, wg_offs_of(g, wgb));
    }
    for (int64_t ch = cb; ch < ce; ch++) {
        /* samples of chunk ch: the same split as the thread pool's */
        int64_t q = g->N / j->nchunks, r = g->N % j->nchunks;
        int64_t nb = ch * q + (ch < r ? ch : r), ne = nb + q + (ch < r ? 1 : 0);
        float *part = j->part ? j->part + ch * (j->wn + g->O) : NULL;
        if (part)
            memset(part, 0, (size_t)(j->wn + g->O) * sizeof *part);
        for (int64_t n0 = nb; n0 < ne; n0 += G) {
            const int64_t cnt = ne - n0 < G ? ne - n0 : G;
            for (int64_t gr = 0; gr < g->groups && j->need_dw; gr++) {
                float *dwg = part + gr * g->Cog * g->Kg;
                if (g->direct) /* the input is the unfold: one GEMM per sample */
                    for (int64_t n = n0; n < n0 + cnt; n++)
                        tg__sgemm_ws(false, true, g->Cog, g->Kg, g->P, 1.0f,
                                     j->gy + (n * g->O + gr * g->Cog) * g->P, g->P,
                                     j->x + (n * g->C + gr * g->Cig) * g->H * g->W, g->P,
                                     1.0f, dwg, g->Kg, work);
                else
                    wgrad_dots(j, n0, cnt, gr, xp, col, dyg, dwg, wgb, work);
            }
            if (j->gx && cnt > 1 && g->groups == 1 && !g->direct && !g->dxphased) {
                bwd_group(j, n0, cnt, part, work, dcol, dyg, j->need_dw);
                continue;
            }
            for (int64_t n = n0; n < n0 + cnt; n++)
                for (int64_t gr = 0; gr < g->groups; gr++)
                    bwd_sample(j, n, gr, part, work, dcol, dxb);
        }
    }
}

/* Floats of scratch per thread: forward needs one unfolded row and the
 * packed unfold; backward the unfold and dY rows of a sample group, then
 * the unfold's gradient dcol. */
static size_t scratch_floats(const conv_geom *g, bool backward)
{
    const int64_t G = fwd_group(g);
    int64_t col = g->direct ? 0
                  : g->phased ? phased_floats(g)
                              : tg__round16(g->P) + tg__sgemm_pack_b_floats(g->Kg, G * g->P) +
                                    (G > 1 ? g->Cog * G * g->P : 0);
    int64_t bwd = backward && !g->direct ? (g->Kg + g->Cog) * wgrad_group(g) * g->P : 0;
    if (backward && g->dxphased)
        bwd += dx_phased_floats(g);
    if (backward && g->wgruns)
        bwd += wgrad_group(g) * wg_plane_floats(g) + tg__round16(2 * g->Kg);
    return (size_t)(TG__SGEMM_WORK_FLOATS + padded_floats(g) + (col > bwd ? col : bwd));
}

/* Floats of one group's packed W (forward) or W^T (backward data). */
static int64_t packed_w_floats(const conv_geom *g, bool transposed)
{
    return transposed ? tg__sgemm_pack_a_floats(g->Kg, g->Cog)
                      : tg__sgemm_pack_a_floats(g->Cog, g->Kg);
}

/* Floats of the backward data pass's packed weights (all groups), and of
 * the phases' packing space after them. */
static int64_t bwd_w_floats(const conv_geom *g)
{
    if (g->dxphased)
        return g->groups * dx_w_floats(g) + g->Cig * g->Cog * g->kh * g->kw;
    return g->groups * packed_w_floats(g, true);
}

static void pack_w(const conv_geom *g, const float *w, bool transposed, float *dst)
{
    int64_t st = packed_w_floats(g, transposed);
    for (int64_t gr = 0; gr < g->groups; gr++) {
        const float *wg = w + gr * g->Cog * g->Kg;
        if (transposed)
            tg__sgemm_pack_a(true, g->Kg, g->Cog, wg, g->Kg, dst + gr * st);
        else
            tg__sgemm_pack_a(false, g->Cog, g->Kg, wg, g->Kg, dst + gr * st);
    }
}

/* The direct path's geometry, if it takes this convolution. */
static bool direct_geom(const conv_geom *g, tg__conv_geom *dg)
{
    if (g->kh != g->kw)
        return false;
    *dg = (tg__conv_geom){g->N, g->C, g->H, g->W, g->O, (int)g->kh, (int)g->p, g->depthwise,
                          (int)g->s};
    return g->p <= 64 && tg__conv_direct_ok(dg, (int)g->s, (int)g->d, (int)g->groups);
}

/* The Winograd path's geometry, if it takes this convolution. */
static bool wino_geom(const conv_geom *g, tg__conv_geom *wg)
{
    *wg = (tg__conv_geom){g->N, g->C, g->H, g->W, g->O, (int)g->kh, (int)g->p, false, (int)g->s};
    return g->kh == g->kw && g->p <= 64 &&
           tg__conv_wino_ok(wg, (int)g->s, (int)g->d, (int)g->groups);
}

/* Its backward data pass: dy (O channels) to dx (C channels), same planes. */
static tg__conv_geom wino_bwd_geom(const conv_geom *g)
{
    return (tg__conv_geom){g->N, g->O, g->H, g->W, g->C, 3, 1, false, 1};
}

/* out->aux of a Winograd layer, taken at forward time: the weight
 * gradient's partial sums and the packed backward-data weights. */
typedef struct {
    float *parts;
    float *wt;
} wino_aux;

/* The chunks' partial sums of dW and db (stride floats apart, db's after
 * wn of dW's) added into the gradients in chunk order, by blocks of 1024:
 * each element's sums in the same order for every split. */
typedef struct {
    const float *part;
    int64_t n, stride, wn;
    float *gw, *gb;
} part_sum_job;

static void part_sum_range(void *arg, int64_t bb, int64_t be, int tid)
{
    (void)tid;
    const part_sum_job *pj = arg;
    const int64_t i0 = bb * 1024, i1 = be * 1024 < pj->stride ? be * 1024 : pj->stride;
    for (int64_t c = 0; c < pj->n; c++) {
        const float *part = pj->part + c * pj->stride;
        if (pj->gw)
            for (int64_t i = i0; i < (i1 < pj->wn ? i1 : pj->wn); i++)
                pj->gw[i] += part[i];
        if (pj->gb)
            for (int64_t i = i0 > pj->wn ? i0 : pj->wn; i < i1; i++)
                pj->gb[i - pj->wn] += part[i];
    }
}

/* dW, db and (with gx) dx by im2col + GEMM; aux from conv_forward. */
static void gemm_backward(tg_ctx *ctx, tg_tensor *out, const conv_geom *g, float *gx,
                          float *aux)
{
    tg_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    /* aux (taken at forward time): [packed W^T, or the phases' W_ab^T and
     * their packing space][partials if a parameter needed a gradient then] */
    bool had_part = out->p.i[5] != 0;
    int64_t wt_floats = bwd_w_floats(g);
    conv_job j = {g, x->data, w->data, NULL, out->grad, NULL, gx, gx && tg__grad_fresh(x),
                  w->requires_grad, b && b->requires_grad, w->numel,
                  n_chunks(g->N, w->numel, g->O), had_part ? aux + wt_floats : NULL, NULL, 0,
                  ctx, NULL, {0}};
    if (!j.part) /* no parameter needed a gradient at forward time */
        j.need_dw = j.need_db = false;
    if (!j.need_dw && !j.need_db)
        j.part = NULL;
    if (!j.gx && !j.part)
        return;
    if (j.gx && g->dxphased) {
        j.wp_stride = dx_w_floats(g);
        dx_pack_w(g, w->data, aux + g->groups * j.wp_stride, aux);
        j.wp = aux;
    } else if (j.gx) {
        pack_w(g, w->data, true, aux);
        j.wp = aux;
        j.wp_stride = packed_w_floats(g, true);
    }
    /* The forward reserved this already (scratch never shrinks), so this
     * cannot allocate; checked anyway because backward must not crash. */
    if (!tg__scratch_reserve(ctx, scratch_floats(g, true) * sizeof(float))) {
        if (j.gx_store) /* no stale values left behind */
            memset(gx, 0, (size_t)x->numel * sizeof *gx);
        tg__error(ctx, TG_ERR_NOMEM, "conv2d: backward out of scratch memory");
        return;
    }
    tg__parallel_for(ctx, j.nchunks, bwd_range, &j);
    if (!j.part)
        return;
    part_sum_job pj = {j.part, j.nchunks, w->numel + g->O, w->numel,
                       j.need_dw ? w->grad : NULL, j.need_db ? b->grad : NULL};
    const int64_t blocks = (pj.stride + 1023) / 1024;
    if (j.nchunks < 2) /* the loop above ran on this thread alone: workers may sleep */
        part_sum_range(&pj, 0, blocks, 0);
    else
        tg__parallel_for_elems(ctx, blocks, pj.stride * pj.n, part_sum_range, &pj);
}

/* Backward of a Winograd layer: dW and db, then dx = conv(dy, flipped W^T),
 * stored if fresh, else added. */
static void wino_backward(tg_ctx *ctx, tg_tensor *out, const conv_geom *g)
{
    tg_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    const wino_aux *a = out->aux;
    const float *relu_y = out->p.i[4] ? out->data : NULL;
    tg__conv_geom wg;
    wino_geom(g, &wg);
    if (a->parts)
        tg__conv_wino_wgrad(ctx, &wg, x->data, out->grad, relu_y,
                            w->requires_grad ? w->grad : NULL,
                            b && b->requires_grad ? b->grad : NULL, a->parts);
    if (x->requires_grad) {
        tg__conv_geom bg = wino_bwd_geom(g);
        bool store = tg__grad_fresh(x);
        tg__conv_wino_weights(ctx, &bg, w->data, true, a->wt);
        tg__conv_wino(ctx, &bg, out->grad, relu_y, a->wt, NULL, x->grad, NULL, !store);
    }
}

static void conv_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    conv_geom g;
    geom_init(&g, x, w, out->p.i[0], out->p.i[1], out->p.i[2], out->p.i[3]);
    tg__conv_geom dg;
    if (out->p.i[6]) {
        wino_backward(ctx, out, &g);
    } else if (direct_geom(&g, &dg)) { /* workspace was taken at forward time */
        float *gx = x->requires_grad ? x->grad : NULL;
        tg__conv_direct_backward(ctx, NULL, &dg, x->data, w->data, out->grad,
                                 out->p.i[4] ? out->data : NULL, gx,
                                 gx && tg__grad_fresh(x), w->requires_grad ? w->grad : NULL,
                                 b && b->requires_grad ? b->grad : NULL, out->aux);
    } else {
        gemm_backward(ctx, out, &g, x->requires_grad ? x->grad : NULL, out->aux);
    }
}

static const tg__op_def conv2d_op = {"conv2d", conv_backward};
static const tg__op_def conv2d_relu_op = {"conv2d_relu", conv_backward};


/* Validates the arguments (the error names "conv2d"); true if fine. */
static bool conv_check(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                       int padding, int dilation, int groups)
{
    char s1[160], s2[160];
    if (x->ndim != 4) {
        tg__error(ctx, TG_ERR_SHAPE, "conv2d: input must be 4-D [N,C,H,W], got %s",
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return false;
    }
    if (w->ndim != 4 || w->shape[0] < 1 || w->shape[1] < 1 || w->shape[2] < 1 ||
        w->shape[3] < 1) {
        tg__error(ctx, TG_ERR_SHAPE, "conv2d: weight must be 4-D [C_out,C_in/groups,kH,kW] "
                  "with sizes >= 1, got %s", tg__shape_str(s1, sizeof s1, w->ndim, w->shape));
        return false;
    }
    if (stride < 1 || padding < 0 || dilation < 1 || groups < 1) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "conv2d: need stride >= 1, padding >= 0, dilation "
                  ">= 1, groups >= 1; got stride %d, padding %d, dilation %d, groups %d",
                  stride, padding, dilation, groups);
        return false;
    }
    if (w->shape[0] % groups != 0 || w->shape[1] * groups != x->shape[1]) {
        tg__error(ctx, TG_ERR_SHAPE, "conv2d: input %s and weight %s do not match with groups "
                  "%d (need C_in = weight dim 1 * groups and C_out divisible by groups)",
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape),
                  tg__shape_str(s2, sizeof s2, w->ndim, w->shape), groups);
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
        tg__error(ctx, TG_ERR_SHAPE, "conv2d: bias %s does not match weight %s (want [%lld])",
                  tg__shape_str(s1, sizeof s1, b->ndim, b->shape),
                  tg__shape_str(s2, sizeof s2, w->ndim, w->shape), (long long)w->shape[0]);
        return false;
    }
    int64_t eh = (int64_t)dilation * (w->shape[2] - 1) + 1;
    int64_t ew = (int64_t)dilation * (w->shape[3] - 1) + 1;
    if (x->shape[2] + 2 * (int64_t)padding < eh || x->shape[3] + 2 * (int64_t)padding < ew) {
        tg__error(ctx, TG_ERR_SHAPE, "conv2d: kernel %lldx%lld (dilation %d) is larger than "
                  "the padded input %lldx%lld of %s", (long long)w->shape[2],
                  (long long)w->shape[3], dilation,
                  (long long)(x->shape[2] + 2 * (int64_t)padding),
                  (long long)(x->shape[3] + 2 * (int64_t)padding),
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return false;
    }
    return true;
}

/* Forms of the weights for tg__prep_get: Winograd U (keys cout, cin), the
 * GEMM's packed W (keys Cog, Kg; its size tells the groups). */
enum { PREP_WINO = 1, PREP_GEMM = 2 };

/* Whether conv_forward runs g on the direct kernels (direct: direct_geom's
 * answer; wino: wino_geom's, which takes precedence): at stride 2 only a
 * depthwise layer, others multiply from the phase planes on the GEMM path. */
static bool forward_direct(const conv_geom *g, bool direct, bool wino)
{
    return !wino && direct && (!g->phased || g->depthwise);
}

/* conv2d, with ReLU fused into the result when relu is set (the fused op
 * exists only on the direct path; elsewhere it is conv2d then relu). With
 * epi, the op fop whose result needs no gradient (tg__conv2d_bn_eval). */
static tg_tensor *conv_forward(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                               int stride, int padding, int dilation, int groups, bool relu,
                               const tg__op_def *fop, const tg__conv_epi *epi)
{
    if (!ctx || tg__null_input(ctx, "conv2d", 2, x, w) ||
        !conv_check(ctx, x, w, b, stride, padding, dilation, groups))
        return NULL;
    conv_geom g;
    geom_init(&g, x, w, stride, padding, dilation, groups);
    tg__conv_geom dg, wg;
    bool direct = direct_geom(&g, &dg), wino = wino_geom(&g, &wg);
    if (relu && !direct)
        return tg_relu(ctx, conv_forward(ctx, x, w, b, stride, padding, dilation, groups, false,
                                         NULL, NULL));
    int64_t shape[4] = {g.N, g.O, g.Ho, g.Wo};
    tg_tensor *out = tg__op_result(ctx, epi ? fop : relu ? &conv2d_relu_op : &conv2d_op, 4, shape,
                                   x, w, b);
    if (!out)
        return NULL;
    const tg__conv_epi relu_epi = {.relu = relu};
    if (!epi && relu)
        epi = &relu_epi;
    out->bwd_stores = TG__SRC(0); /* conv_backward stores or settles a fresh dx; dW and db
                                     are added into (tg_backward zeroes fresh ones) */
    out->p.i[0] = stride;
    out->p.i[1] = padding;
    out->p.i[2] = dilation;
    out->p.i[3] = groups;
    out->p.i[4] = relu;
    out->p.i[6] = wino;
    /* Everything backward needs (scratch, partial sums, weight buffers) is
     * taken now, so backward cannot run out of memory. */
    if (wino) {
        bool want_part = out->requires_grad && (w->requires_grad || (b && b->requires_grad));
        int64_t uf = tg__conv_wino_weights_floats(&wg);
        bool fresh;
        float *up = tg__prep_get(ctx, w->data, PREP_WINO, wg.cout, wg.cin, (size_t)uf, &fresh);
        bool ok = up && tg__conv_wino_prepare(ctx, &wg, want_part);
        if (ok && out->requires_grad) {
            tg__conv_geom bg = wino_bwd_geom(&g);
            int64_t bf = tg__conv_wino_weights_floats(&bg);
            int64_t pf = want_part ? tg__conv_wino_wgrad_floats(&wg) : 0;
            wino_aux *a = tg__arena_alloc(ctx, sizeof *a);
            ok = a != NULL;
            if (ok) { /* dx's weights even if x needs no gradient now (it may later) */
                a->wt = tg__arena_alloc(ctx, (size_t)bf * sizeof(float));
                a->parts = pf ? tg__arena_alloc(ctx, (size_t)pf * sizeof(float)) : NULL;
                ok = a->wt && (a->parts || !pf) && tg__conv_wino_prepare(ctx, &bg, false);
                out->aux = a;
            }
        }
        if (!ok) {
            tg__error(ctx, TG_ERR_NOMEM, "conv2d: out of memory for Winograd buffers");
            return NULL;
        }
        if (fresh)
            tg__conv_wino_weights(ctx, &wg, w->data, false, up);
        tg__conv_wino(ctx, &wg, x->data, NULL, up, b ? b->data : NULL, out->data, epi, false);
    } else if (forward_direct(&g, direct, wino)) { /* a depthwise layer's phases there */
        float *ws = NULL;
        if (!tg__conv_direct_prepare(ctx, &dg, out->requires_grad, &ws)) {
            tg__error(ctx, TG_ERR_NOMEM, "conv2d: out of memory for scratch");
            return NULL;
        }
        out->aux = ws;
        tg__conv_direct_forward(ctx, NULL, &dg, x->data, w->data, b ? b->data : NULL,
                                out->data, epi);
    } else {
        /* The GEMM forward; a layer the direct kernels take (few channels)
         * comes here only when it reads whole-vector rows from the padded
         * sample, and keeps their backward (its workspace is taken now). */
        const bool gemm_bwd = out->requires_grad && !direct;
        size_t need = scratch_floats(&g, gemm_bwd);
        bool want_part = gemm_bwd && (w->requires_grad || (b && b->requires_grad));
        out->p.i[5] = want_part;
        bool fresh;
        float *wpf = tg__prep_get(ctx, w->data, PREP_GEMM, g.Cog, g.Kg,
                                  (size_t)(g.groups * packed_w_floats(&g, false)), &fresh);
        bool ok = wpf != NULL;
        if (gemm_bwd) {
            size_t np = want_part ? (size_t)(n_chunks(g.N, w->numel, g.O) * (w->numel + g.O))
                                  : 0;
            np += (size_t)bwd_w_floats(&g);
            out->aux = tg__arena_alloc(ctx, np * sizeof(float));
            ok = ok && out->aux;
        } else if (direct) {
            float *ws = NULL;
            ok = ok && tg__conv_direct_prepare(ctx, &dg, out->requires_grad, &ws);
            out->aux = ws;
        }
        if (!ok || !tg__scratch_reserve(ctx, need * sizeof(float))) {
            tg__error(ctx, TG_ERR_NOMEM, "conv2d: out of memory for %zu bytes of scratch",
                      need * sizeof(float));
            return NULL;
        }
        if (fresh)
            pack_w(&g, w->data, false, wpf);
        conv_job j = {&g, x->data, w->data, b ? b->data : NULL, NULL, out->data, NULL, false,
                      false, false, w->numel, 0, NULL, wpf, packed_w_floats(&g, false), ctx,
                      epi, {0}};
        tg__parallel_for(ctx, g.N, fwd_range, &j);
    }
    return out;
}

tg_tensor *tg_conv2d(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                     int padding, int dilation, int groups)
{
    TG__OP(ctx, "conv2d",
           conv_forward(ctx, x, w, b, stride, padding, dilation, groups, false, NULL, NULL));
}

tg_tensor *tg__conv2d_relu(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                           int padding, int dilation, int groups)
{
    return conv_forward(ctx, x, w, b, stride, padding, dilation, groups, true, NULL, NULL);
}

/* ---- conv2d + ReLU + 2x2 max pool, fused (direct path) ------------------- */

/* What the fused op's backward needs besides its tensors. */
typedef struct {
    float *ws;    /* tg__conv_direct_prepare's workspace */
    int32_t *idx; /* the pool's argmax in each plane */
} pool_aux;

static void conv_pool_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    conv_geom g;
    geom_init(&g, x, w, out->p.i[0], out->p.i[1], out->p.i[2], out->p.i[3]);
    tg__conv_geom dg;
    direct_geom(&g, &dg); /* true: the forward checked */
    const pool_aux *a = out->aux;
    float *gx = x->requires_grad ? x->grad : NULL;
    tg__conv_direct_backward_pool(ctx, NULL, &dg, x->data, w->data, out->data, a->idx,
                                  out->grad, gx, gx && tg__grad_fresh(x),
                                  w->requires_grad ? w->grad : NULL,
                                  b && b->requires_grad ? b->grad : NULL, a->ws);
}

static const tg__op_def conv2d_relu_pool_op = {"conv2d_relu_maxpool2d", conv_pool_backward};

tg_tensor *tg__conv2d_relu_pool(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                                int stride, int padding, int dilation, int groups)
{
    if (!ctx || tg__null_input(ctx, "conv2d", 2, x, w) ||
        !conv_check(ctx, x, w, b, stride, padding, dilation, groups))
        return NULL;
    conv_geom g;
    geom_init(&g, x, w, stride, padding, dilation, groups);
    tg__conv_geom dg, wg;
    bool direct = direct_geom(&g, &dg), wino = wino_geom(&g, &wg);
    /* where conv_forward takes the direct path, one plane per channel */
    if (!forward_direct(&g, direct, wino) || dg.depthwise || g.Ho < 2 || g.Wo < 2)
        return tg_max_pool2d(ctx, tg__conv2d_relu(ctx, x, w, b, stride, padding, dilation,
                                                  groups),
                             2, 2, 0);
    int64_t shape[4] = {g.N, g.O, g.Ho / 2, g.Wo / 2};
    tg_tensor *out = tg__op_result(ctx, &conv2d_relu_pool_op, 4, shape, x, w, b);
    if (!out)
        return NULL;
    out->bwd_stores = TG__SRC(0); /* as conv2d's */
    out->p.i[0] = stride;
    out->p.i[1] = padding;
    out->p.i[2] = dilation;
    out->p.i[3] = groups;
    float *ws = NULL;
    int32_t *idx = NULL;
    if (!tg__conv_direct_prepare(ctx, &dg, out->requires_grad, &ws)) {
        tg__error(ctx, TG_ERR_NOMEM, "conv2d: out of memory for scratch");
        return NULL;
    }
    if (out->requires_grad) {
        pool_aux *a = tg__arena_alloc(ctx, sizeof *a);
        idx = a ? tg__arena_alloc(ctx, (size_t)out->numel * sizeof *idx) : NULL;
        if (!idx) {
            tg__error(ctx, TG_ERR_NOMEM, "max_pool2d: out of memory for indices");
            return NULL;
        }
        a->ws = ws;
        a->idx = idx;
        out->aux = a;
    }
    const tg__conv_epi epi = {.relu = true, .pool_y = out->data, .pool_idx = idx};
    tg__conv_direct_forward(ctx, NULL, &dg, x->data, w->data, b ? b->data : NULL, NULL, &epi);
    return out;
}

/* Results of the fused form never need a gradient (see fusable), so these
 * ops are never differentiated; they name the fusion in profiles. */
static const tg__op_def conv_bn_op = {"conv2d_bn", NULL};
static const tg__op_def conv_bn_relu_op = {"conv2d_bn_relu", NULL};
static const tg__op_def conv_bn_add_relu_op = {"conv2d_bn_add_relu", NULL};

static bool needs_grad(const tg_ctx *ctx, const tg_tensor *t)
{
    return t && ctx->grad_enabled && t->requires_grad;
}

static bool is_vec(const tg_tensor *t, int64_t n) { return t->ndim == 1 && t->shape[0] == n; }

/* Whether the fused form computes exactly what the unfused ops would:
 * nothing to differentiate or trace, BN tensors [O], res of the output's
 * shape. Anything else goes to the unfused ops, which also report errors. */
static bool fusable(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                    int padding, int dilation, int groups, const tg__bn_eval *bn,
                    tg_tensor *res)
{
    if (ctx->trace || !x || !w || !bn || !bn->running_mean || !bn->running_var)
        return false;
    if (needs_grad(ctx, x) || needs_grad(ctx, w) || needs_grad(ctx, b) ||
        needs_grad(ctx, bn->weight) || needs_grad(ctx, bn->bias) || needs_grad(ctx, res))
        return false;
    if (x->ndim != 4 || w->ndim != 4 || stride < 1 || dilation < 1 || groups < 1)
        return false;
    const int64_t O = w->shape[0];
    if (!is_vec(bn->running_mean, O) || !is_vec(bn->running_var, O) ||
        (bn->weight && !is_vec(bn->weight, O)) || (bn->bias && !is_vec(bn->bias, O)) ||
        !(bn->eps >= 0.0f) || isinf(bn->eps))
        return false;
    if (!res)
        return true;
    conv_geom g; /* the output's shape (conv_check vets the rest) */
    geom_init(&g, x, w, stride, padding, dilation, groups);
    return res->ndim == 4 && res->shape[0] == g.N && res->shape[1] == g.O &&
           res->shape[2] == g.Ho && res->shape[3] == g.Wo;
}

tg_tensor *tg__conv2d_bn_eval(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                              int padding, int dilation, int groups, const tg__bn_eval *bn,
                              tg_tensor *res, bool relu)
{
    if (!ctx)
        return NULL;
    if (!fusable(ctx, x, w, b, stride, padding, dilation, groups, bn, res)) {
        tg_tensor *y = tg_conv2d(ctx, x, w, b, stride, padding, dilation, groups);
        tg_tensor *bw = bn ? bn->weight : NULL, *bb = bn ? bn->bias : NULL;
        tg_tensor *rm = bn ? bn->running_mean : NULL, *rv = bn ? bn->running_var : NULL;
        const float eps = bn ? bn->eps : 1e-5f;
        if (res && y && tg__same_shape(y, res))
            return tg__batch_norm2d_add_relu(ctx, y, bw, bb, rm, rv, false, 0.0f, eps, res);
        if (res)
            return tg_relu(ctx, tg_add(ctx, tg_batch_norm2d(ctx, y, bw, bb, rm, rv, false, 0.0f,
                                                            eps),
                                       res));
        return relu ? tg__batch_norm2d_relu(ctx, y, bw, bb, rm, rv, false, 0.0f, eps)
                    : tg_batch_norm2d(ctx, y, bw, bb, rm, rv, false, 0.0f, eps);
    }
    const int64_t O = w->shape[0];
    float *k = tg__arena_alloc(ctx, 2 * (size_t)O * sizeof(float));
    if (!k) {
        tg__error(ctx, TG_ERR_NOMEM, "conv2d: out of memory");
        return NULL;
    }
    tg__bn_eval_coeffs(O, bn->weight ? bn->weight->data : NULL, bn->bias ? bn->bias->data : NULL,
                       bn->running_mean->data, bn->running_var->data, bn->eps, k, k + O);
    const tg__conv_epi epi = {.scale = k, .shift = k + O, .res = res ? res->data : NULL,
                              .relu = relu || res};
    const tg__op_def *op = res ? &conv_bn_add_relu_op : relu ? &conv_bn_relu_op : &conv_bn_op;
    return conv_forward(ctx, x, w, b, stride, padding, dilation, groups, false, op, &epi);
}
