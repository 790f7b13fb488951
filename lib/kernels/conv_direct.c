/* SPDX-License-Identifier: MIT */
/* Direct 2-D convolution for few channels (e.g. MNIST CNNs: 1->3, 3->6,
 * 6->9 channels, 3x3). im2col + GEMM would expand the input k*k times and
 * then run a GEMM whose M (out channels) is 3..16, far below the micro-tile;
 * here each sample's channels are zero-padded into per-thread scratch and
 * the flat kernels of the dispatch table (kernels.h) run over the padded
 * planes with the output channels held in registers.
 *
 * Depthwise layers (a filter per channel) on planes up to 112x112 run with
 * 8 or 16 channels of a sample in the vector lanes (AVX2, AVX-512:
 * conv_dwc_*_range in conv_direct_impl.h); otherwise a plane at a time, at
 * stride 2 a plane as its four phase planes, the input channels of a
 * stride-1 convolution with ceil(k/2) taps a side (kernels.h).
 *
 * Backward data is the same flat forward kernel over dy padded by k-1-pad
 * with the weights transposed and flipped; backward weight is the flat
 * weight-gradient kernel. Work is split over the batch; for the weight and
 * bias gradients the batch is cut into a fixed number of chunks (set by the
 * batch size, never by the thread count), each chunk sums into its own
 * partial and the partials are added in chunk order, so results are
 * bit-identical for every thread count. */
#include "kernels.h"

#include <string.h>

/* Rows of w + pad floats, not w + 2 pad: a row's right padding is the next
 * row's left padding (zero; pad <= k - 1, so an output reads at most pad
 * columns past its row). Each row then computes pad fewer garbage outputs
 * (the seed CNN's 28x28 planes: 28 of 29 columns, not 28 of 30). */
static void flat_init(tg__conv_flat_geom *f, int64_t h, int64_t w, int k, int pad)
{
    f->hp = h + 2 * pad;
    f->wp = w + pad;
    f->ho = f->hp - k + 1;
    f->wo = w + 2 * pad - k + 1;
    f->len = f->ho * f->wp;
    int64_t need = tg__conv_round(f->len) + (int64_t)(k - 1) * (f->wp + 1);
    f->in_cs = tg__round16(need > f->hp * f->wp ? need : f->hp * f->wp);
    f->out_cs = tg__conv_round(f->len);
}

/* The flat convolution's kernel and padding (see kernels.h): at stride 2
 * the phase planes' taps, unpadded (the planes hold the padding). */
static int flat_k(const tg__conv_geom *g) { return g->stride == 2 ? (g->k + 1) / 2 : g->k; }
static int flat_pad(const tg__conv_geom *g) { return g->stride == 2 ? 0 : g->pad; }

/* The forward's flat geometry: x padded, or at stride 2 its phase planes,
 * ho + kf - 1 rows of wo + kf - 1. */
static void fwd_flat(const tg__conv_geom *g, tg__conv_flat_geom *f)
{
    if (g->stride == 2)
        flat_init(f, (g->h + 2 * g->pad - g->k) / 2 + flat_k(g),
                  (g->w + 2 * g->pad - g->k) / 2 + flat_k(g), flat_k(g), 0);
    else
        flat_init(f, g->h, g->w, g->k, g->pad);
}

bool tg__conv_direct_ok(const tg__conv_geom *g, int stride, int dilation, int groups)
{
    if (stride != g->stride || dilation != 1 || (groups != 1 && !g->depthwise))
        return false;
    /* Stride 2 depthwise only, k >= 2 (at 1 three phase planes would be
     * zero): the grouped unfold path's 1 x P x k*k GEMMs ran at 2-6% of the
     * FMA peak (8 x 512 x 14x14, 3x3: forward 1.60 ms, PyTorch 0.34 ms). */
    if (stride != 1 && (stride != 2 || !g->depthwise || g->k < 2))
        return false;
    if (g->k < 1 || g->k > TG__CONV_KMAX || g->pad < 0 || g->pad > g->k - 1)
        return false;
    if (g->h + 2 * g->pad < g->k || g->w + 2 * g->pad < g->k)
        return false;
    /* Depthwise: one channel at a time, any count; the unfold + GEMM
     * path's GEMMs are 1 x P x k*k (32 x 64 x 28x28, 3x3, 1 thread: forward
     * 3.9 ms there, PyTorch 1.3 ms). A padded plane stays in L2. */
    if (g->depthwise)
        return (g->h + 2 * g->pad) * (g->w + 2 * g->pad) <= 256 * 256;
    /* Small planes with many channels: the flat rows waste (wp - wo) / wp of
     * every vector and the tile tails dominate; im2col + GEMM measured faster
     * (ResNet-8's 64-channel 8x8 layer). */
    if (g->h * g->w <= 64 && g->cin >= 16)
        return false;
    /* Sizes the int channel arguments of the kernels can hold, and planes
     * small enough to stay in cache (else im2col + GEMM wins). */
    if (g->cin > 64 || g->cout > 64 || (g->h + 2 * g->pad) * (g->w + 2 * g->pad) > 64 * 64)
        return false;
    return true;
}

/* Depthwise layers on planes up to this many padded pixels (112x112 with
 * padding up to 3) run with the channels in the vector lanes
 * (conv_dwc_*_range, where the ISA has them), faster than a plane at a time
 * from 7x7 to 112x112 (8 x 1024 x 7x7, 3x3, AVX-512, 1 thread: forward
 * 487 -> 195 us); on 224x224 both were as fast, and the tiles, 16 planes
 * each, would outgrow L2. */
#define DWC_MAX_PIXELS (120 * 120)

static bool dwc_plane(const tg__conv_geom *g)
{
    return g->depthwise && (g->h + 2 * g->pad) * (g->w + 2 * g->pad) <= DWC_MAX_PIXELS;
}

/* Floats of a chunk's partial there: [C / vw][k * k][vw] weights, then the
 * biases, channels rounded up to vw. */
static int64_t dwc_part(const tg__conv_geom *g, int64_t vw)
{
    return (g->cin + vw - 1) / vw * vw * (g->k * g->k + 1);
}

static bool dwc_use(const tg__kernels *k, const tg__conv_geom *g)
{
    return dwc_plane(g) && k->conv_dwc_fwd_range && k->conv_dwc_bwd_range;
}

/* ---- forward ------------------------------------------------------------ */

void tg__conv_direct_forward(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                             const float *x, const float *w, const float *b, float *y,
                             const tg__conv_epi *epi)
{
    const tg__kernels *k = kt ? kt : tg__kernels_get();
    tg__conv_fwd_job j = {.ctx = ctx, .g = g, .kf = flat_k(g), .padf = flat_pad(g), .x = x, .w = w,
                          .b = b, .y = y, .epi = epi, .pool2x2 = k->max_pool2x2};
    fwd_flat(g, &j.f);
    if (dwc_use(k, g)) /* blocks of channels by samples: batch 1 still spreads */
        tg__parallel_for(ctx, g->n * ((g->cin + k->gemm_vw - 1) / k->gemm_vw),
                         k->conv_dwc_fwd_range, &j);
    else if (g->depthwise) /* planes, not samples: batch 1 still spreads */
        tg__parallel_for(ctx, g->n * g->cin, k->conv_dw_fwd_range, &j);
    else
        tg__parallel_for(ctx, g->n, k->conv_fwd_range, &j);
}

/* Channels of one conv_flat call: all, or one of a depthwise layer (its
 * four phase planes at stride 2). */
static int64_t flat_cin(const tg__conv_geom *g)
{
    return g->depthwise ? (g->stride == 2 ? 4 : 1) : g->cin;
}
static int64_t flat_cout(const tg__conv_geom *g) { return g->depthwise ? 1 : g->cout; }

/* Floats of the weights: cout x cin x k x k, depthwise cout x k x k. */
static int64_t weight_floats(const tg__conv_geom *g)
{
    return g->cout * (g->depthwise ? 1 : g->cin) * g->k * g->k;
}

/* Floats of the backward's transposed flat weights (wt). */
static int64_t flat_weight_floats(const tg__conv_geom *g)
{
    return g->cout * flat_cin(g) * flat_k(g) * flat_k(g);
}

/* ---- backward ----------------------------------------------------------- */

/* Per-thread scratch floats of the backward pass (see conv_bwd_range). */
static int64_t bwd_scratch(const tg__conv_geom *g, const tg__conv_flat_geom *f,
                           const tg__conv_flat_geom *fb, bool dx, bool dw, bool shared_dy)
{
    const int64_t ci = flat_cin(g), co = flat_cout(g);
    int64_t floats = 0;
    if (dw)
        floats += ci * f->in_cs;
    if (dx || shared_dy)
        floats += co * fb->in_cs;
    if (dw && !shared_dy)
        floats += co * f->out_cs;
    if (dx)
        floats += ci * fb->out_cs;
    if (g->stride == 2 && dw) /* a plane's phase filters' gradient */
        floats += TG__CONV_PHASE_W;
    return floats;
}

static bool same_padding(const tg__conv_geom *g) { return 2 * flat_pad(g) == flat_k(g) - 1; }

bool tg__conv_direct_prepare(tg_ctx *ctx, const tg__conv_geom *g, bool backward,
                             float **workspace)
{
    tg__conv_flat_geom f, fb;
    fwd_flat(g, &f);
    const int64_t ci = flat_cin(g), co = flat_cout(g);
    /* [x padded][flat output] */
    int64_t floats = ci * f.in_cs + co * f.out_cs + (g->stride == 2 ? TG__CONV_PHASE_W : 0);
    if (backward) {
        flat_init(&fb, f.ho, f.wo, flat_k(g), flat_k(g) - 1 - flat_pad(g));
        int64_t b = bwd_scratch(g, &f, &fb, true, true, same_padding(g)) +
                    tg__round16(co * f.ho * f.wo); /* masked dy of a fused ReLU */
        if (tg__conv_pool_by_argmax(tg__kernels_get(), g)) /* x, dx interleaved, after dwf */
            b += tg__round16(4 * flat_k(g) * flat_k(g)) + 16 * f.in_cs;
        floats = b > floats ? b : floats;
    }
    if (dwc_plane(g)) { /* the lane tiles, for the widest vectors */
        const tg__conv_dwc_geom d = tg__conv_dwc_geom_of(g, 16);
        int64_t t = backward ? d.dyt_floats + d.xt_floats + d.dxt_floats
                             : d.xt_floats + d.ot_floats;
        floats = t > floats ? t : floats;
    }
    if (backward) {
        int64_t nchunks = g->n < TG__CONV_WCHUNKS ? g->n : TG__CONV_WCHUNKS;
        int64_t part = weight_floats(g) + g->cout;
        part = dwc_plane(g) && dwc_part(g, 16) > part ? dwc_part(g, 16) : part;
        int64_t ws = nchunks * part + flat_weight_floats(g);
        *workspace = tg__arena_alloc(ctx, (size_t)ws * sizeof(float));
        if (!*workspace)
            return false;
    }
    return tg__scratch_reserve(ctx, (size_t)floats * sizeof(float));
}

/* dy, or pool->pool_gy unpooled (pool not NULL). */
static void direct_backward(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                            const float *x, const float *w, const float *dy,
                            const float *relu_y, const tg__conv_bwd_job *pool, float *dx,
                            bool dx_store, float *dw, float *db, float *workspace)
{
    if (!dx && !dw && !db)
        return;
    const tg__kernels *k = kt ? kt : tg__kernels_get();
    tg__conv_bwd_job j;
    memset(&j, 0, sizeof j);
    if (pool) {
        j.pool_y = pool->pool_y;
        j.pool_idx = pool->pool_idx;
        j.pool_gy = pool->pool_gy;
        j.by_argmax = tg__conv_pool_by_argmax(k, g);
    }
    j.ctx = ctx;
    j.g = g;
    j.kf = flat_k(g);
    j.padf = flat_pad(g);
    fwd_flat(g, &j.f);
    flat_init(&j.fb, j.f.ho, j.f.wo, j.kf, j.kf - 1 - j.padf);
    j.shared_dy = dw && same_padding(g);
    j.x = x;
    j.w = w;
    j.dy = dy;
    j.relu_y = relu_y;
    j.dx = dx;
    j.dx_store = dx_store;
    j.want_w = dw != NULL;
    j.want_b = db != NULL;
    const int64_t kk = (int64_t)g->k * g->k, nw = weight_floats(g);
    j.nchunks = g->n < TG__CONV_WCHUNKS ? g->n : TG__CONV_WCHUNKS;
    const bool dwc = dwc_use(k, g);
    j.part = dwc ? dwc_part(g, k->gemm_vw) : nw + g->cout;
    if (dw || db)
        j.parts = workspace;
    if (dx && !dwc && !j.by_argmax) {
        /* wt[ci][co][ky][kx] = w[co][ci][k-1-ky][k-1-kx] (depthwise: ci = co;
         * at stride 2 [c][phase] from each channel's phase filters) */
        float *wt = workspace + j.nchunks * j.part;
        const int64_t ci_n = flat_cin(g);
        if (g->stride == 2) {
            const int64_t kf2 = (int64_t)j.kf * j.kf;
            for (int64_t c = 0; c < g->cout; c++) {
                float wf[TG__CONV_PHASE_W];
                tg__conv_phase_filters(w + c * kk, g->k, wf);
                for (int64_t t = 0; t < 4 * kf2; t++) /* each phase's taps reversed */
                    wt[c * 4 * kf2 + t] = wf[t / kf2 * kf2 + (kf2 - 1 - t % kf2)];
            }
        } else
            for (int64_t co = 0; co < g->cout; co++)
                for (int64_t ci = 0; ci < ci_n; ci++)
                    for (int64_t t = 0; t < kk; t++)
                        wt[(ci * g->cout + co) * kk + t] = w[(co * ci_n + ci) * kk + (kk - 1 - t)];
        j.wt = wt;
    }
    tg__parallel_for(ctx, j.nchunks,
                     dwc ? k->conv_dwc_bwd_range
                         : g->depthwise ? k->conv_dw_bwd_range : k->conv_bwd_range,
                     &j);

    for (int64_t c = 0; c < j.nchunks && j.parts && dwc; c++) { /* lane by lane */
        const float *p = j.parts + c * j.part;
        const int64_t vw = k->gemm_vw, nbv = (g->cin + vw - 1) / vw * vw;
        for (int64_t ch = 0; ch < g->cin && dw; ch++)
            for (int64_t t = 0; t < kk; t++)
                dw[ch * kk + t] += p[(ch / vw * kk + t) * vw + ch % vw];
        for (int64_t ch = 0; ch < g->cin && db; ch++)
            db[ch] += p[nbv * kk + ch];
    }
    for (int64_t c = 0; c < j.nchunks && j.parts && !dwc; c++) {
        const float *p = j.parts + c * j.part;
        if (dw)
            for (int64_t i = 0; i < nw; i++)
                dw[i] += p[i];
        if (db)
            for (int64_t i = 0; i < g->cout; i++)
                db[i] += p[nw + i];
    }
}

void tg__conv_direct_backward(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                              const float *x, const float *w, const float *dy,
                              const float *relu_y, float *dx, bool dx_store, float *dw,
                              float *db, float *workspace)
{
    direct_backward(ctx, kt, g, x, w, dy, relu_y, NULL, dx, dx_store, dw, db, workspace);
}

void tg__conv_direct_backward_pool(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                                   const float *x, const float *w, const float *pool_y,
                                   const int32_t *pool_idx, const float *pool_gy, float *dx,
                                   bool dx_store, float *dw, float *db, float *workspace)
{
    tg__conv_bwd_job p = {.pool_y = pool_y, .pool_idx = pool_idx, .pool_gy = pool_gy};
    direct_backward(ctx, kt, g, x, w, NULL, NULL, &p, dx, dx_store, dw, db, workspace);
}
