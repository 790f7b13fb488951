/* SPDX-License-Identifier: MIT */
/* Direct 2-D convolution for few channels (e.g. MNIST CNNs: 1->3, 3->6,
 * 6->9 channels, 3x3). im2col + GEMM would expand the input k*k times and
 * then run a GEMM whose M (out channels) is 3..16, far below the micro-tile;
 * here each sample's channels are zero-padded into per-thread scratch and
 * the flat kernels of the dispatch table (kernels.h) run over the padded
 * planes with the output channels held in registers.
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

/* Scratch strides are multiples of 16 floats, so every plane is 64-byte
 * aligned like the scratch block itself. */
static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

typedef struct {
    int64_t hp, wp;     /* padded input plane */
    int64_t ho, wo;     /* output plane */
    int64_t len;        /* flat outputs computed: ho * wp */
    int64_t in_cs;      /* floats per padded input plane, incl. slack */
    int64_t out_cs;     /* floats per flat output plane */
} flat_geom;

static void flat_init(flat_geom *f, int64_t h, int64_t w, int k, int pad)
{
    f->hp = h + 2 * pad;
    f->wp = w + 2 * pad;
    f->ho = f->hp - k + 1;
    f->wo = f->wp - k + 1;
    f->len = f->ho * f->wp;
    int64_t need = tg__conv_round(f->len) + (int64_t)(k - 1) * (f->wp + 1);
    f->in_cs = round16(need > f->hp * f->wp ? need : f->hp * f->wp);
    f->out_cs = tg__conv_round(f->len);
}

/* Copy c planes of h x w into a zeroed padded buffer (interior only; the
 * border and slack stay zero across samples). */
static void pad_planes(const float *src, int64_t c, int64_t h, int64_t w, int pad,
                       const flat_geom *f, float *dst)
{
    for (int64_t ci = 0; ci < c; ci++) {
        const float *restrict s = src + ci * h * w;
        float *restrict d = dst + ci * f->in_cs + pad * f->wp + pad;
        for (int64_t y = 0; y < h; y++, s += w, d += f->wp)
            for (int64_t x = 0; x < w; x++) /* rows are short: no memcpy call */
                d[x] = s[x];
    }
}

/* Sum in 8 interleaved partial sums combined in a fixed order: vectorisable
 * (a single running sum is a latency-bound chain) and deterministic. */
static float sum8(const float *x, int64_t n)
{
    float a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            a[l] += x[i + l];
    for (int l = 0; i < n; i++, l++)
        a[l] += x[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* d = dy where y > 0 (or NaN), else 0, exactly as tg_relu's backward; the
 * unconditional load makes it a select the compiler vectorises (a branch on
 * random activations mispredicts half the time). */
static void relu_mask(float *restrict d, const float *restrict dy, const float *restrict y,
                      int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i];
        d[i] = y[i] <= 0.0f ? 0.0f : g;
    }
}

bool tg__conv_direct_ok(const tg__conv_geom *g, int stride, int dilation, int groups)
{
    if (stride != 1 || dilation != 1 || groups != 1)
        return false;
    if (g->k < 1 || g->k > TG__CONV_KMAX || g->pad < 0 || g->pad > g->k - 1)
        return false;
    if (g->h + 2 * g->pad < g->k || g->w + 2 * g->pad < g->k)
        return false;
    /* Sizes the int channel arguments of the kernels can hold, and planes
     * small enough to stay in cache (else im2col + GEMM wins). */
    if (g->cin > 64 || g->cout > 64 || (g->h + 2 * g->pad) * (g->w + 2 * g->pad) > 64 * 64)
        return false;
    return true;
}

/* ---- forward ------------------------------------------------------------ */

typedef struct {
    tg_ctx *ctx;
    const tg__kernels *kt;
    const tg__conv_geom *g;
    flat_geom f;
    const float *x, *w, *b;
    float *y;
    bool relu;
} fwd_job;

static void fwd_range(void *arg, int64_t n0, int64_t n1, int tid)
{
    fwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const flat_geom *f = &j->f;
    float *xp = j->ctx->scratch[tid];
    float *of = xp + g->cin * f->in_cs;
    memset(xp, 0, (size_t)(g->cin * f->in_cs) * sizeof(float));
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo;
    for (int64_t n = n0; n < n1; n++) {
        pad_planes(j->x + n * g->cin * plane_in, g->cin, g->h, g->w, g->pad, f, xp);
        j->kt->conv_flat((int)g->cin, (int)g->cout, g->k, f->wp, f->len, xp, f->in_cs, j->w, of,
                         f->out_cs);
        float *yn = j->y + n * g->cout * plane_out;
        for (int64_t co = 0; co < g->cout; co++) {
            const float bias = j->b ? j->b[co] : 0.0f;
            const float *s = of + co * f->out_cs;
            float *d = yn + co * plane_out;
            for (int64_t oy = 0; oy < f->ho; oy++, s += f->wp, d += f->wo) {
                if (j->relu) /* as tg_relu: NaN stays NaN */
                    for (int64_t ox = 0; ox < f->wo; ox++) {
                        float v = s[ox] + bias;
                        d[ox] = v < 0.0f ? 0.0f : v;
                    }
                else
                    for (int64_t ox = 0; ox < f->wo; ox++)
                        d[ox] = s[ox] + bias;
            }
        }
    }
}

void tg__conv_direct_forward(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                             const float *x, const float *w, const float *b, float *y,
                             bool relu)
{
    fwd_job j = {ctx, kt ? kt : tg__kernels_get(), g, {0}, x, w, b, y, relu};
    flat_init(&j.f, g->h, g->w, g->k, g->pad);
    tg__parallel_for(ctx, g->n, fwd_range, &j);
}

/* ---- backward ----------------------------------------------------------- */

/* Chunks of the batch for the weight/bias-gradient partials. */
#define TG__CONV_WCHUNKS 16

typedef struct {
    tg_ctx *ctx;
    const tg__kernels *kt;
    const tg__conv_geom *g;
    flat_geom f;         /* forward geometry (x padded by pad) */
    flat_geom fb;        /* backward-data geometry (dy padded by k-1-pad) */
    bool shared_dy;      /* "same" padding: the padded dy doubles as flat dy */
    const float *x, *wt, *dy;
    const float *relu_y; /* fused ReLU output: dy counts only where it is > 0 */
    float *dx;
    bool want_w, want_b;
    int64_t nchunks;
    int64_t part;        /* floats of one chunk's dw+db partial */
    float *parts;        /* nchunks partials (arena) */
} bwd_job;

static void bwd_range(void *arg, int64_t c0, int64_t c1, int tid)
{
    bwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const flat_geom *f = &j->f, *fb = &j->fb;
    const int64_t kk = (int64_t)g->k * g->k;
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo;
    const int pad_b = g->k - 1 - g->pad;

    /* Scratch: [dy masked][x padded][dy padded][dy flat][dx flat]. */
    float *dym = j->ctx->scratch[tid];
    float *xp = dym + (j->relu_y ? round16(g->cout * plane_out) : 0);
    float *dyp = xp + (j->want_w ? g->cin * f->in_cs : 0);
    float *dyf = dyp + (j->dx || j->shared_dy ? g->cout * fb->in_cs : 0);
    float *dxf = dyf + (j->want_w && !j->shared_dy ? g->cout * f->out_cs : 0);
    bool use_dyp = j->dx || j->shared_dy;

    if (j->want_w)
        memset(xp, 0, (size_t)(g->cin * f->in_cs) * sizeof(float));
    if (use_dyp)
        memset(dyp, 0, (size_t)(g->cout * fb->in_cs) * sizeof(float));
    if (j->want_w && !j->shared_dy)
        memset(dyf, 0, (size_t)(g->cout * f->out_cs) * sizeof(float));

    for (int64_t ch = c0; ch < c1; ch++) {
        /* samples of chunk ch, split like the pool splits ranges */
        int64_t q = g->n / j->nchunks, r = g->n % j->nchunks;
        int64_t n0 = ch * q + (ch < r ? ch : r), n1 = n0 + q + (ch < r ? 1 : 0);
        float *dw = j->parts ? j->parts + ch * j->part : NULL;
        float *db = dw ? dw + g->cout * g->cin * kk : NULL;
        if (dw)
            memset(dw, 0, (size_t)j->part * sizeof(float));
        for (int64_t n = n0; n < n1; n++) {
            const float *dyn = j->dy + n * g->cout * plane_out;
            if (j->relu_y) { /* ReLU backward, fused */
                relu_mask(dym, dyn, j->relu_y + n * g->cout * plane_out, g->cout * plane_out);
                dyn = dym;
            }
            if (use_dyp)
                pad_planes(dyn, g->cout, f->ho, f->wo, pad_b, fb, dyp);
            if (j->want_b)
                for (int64_t co = 0; co < g->cout; co++)
                    db[co] += sum8(dyn + co * plane_out, plane_out);
            if (j->want_w) {
                pad_planes(j->x + n * g->cin * plane_in, g->cin, g->h, g->w, g->pad, f, xp);
                const float *flat_dy;
                int64_t dy_cs;
                if (j->shared_dy) {
                    flat_dy = dyp + pad_b * fb->wp + pad_b;
                    dy_cs = fb->in_cs;
                } else {
                    for (int64_t co = 0; co < g->cout; co++)
                        for (int64_t oy = 0; oy < f->ho; oy++)
                            memcpy(dyf + co * f->out_cs + oy * f->wp,
                                   dyn + co * plane_out + oy * f->wo,
                                   (size_t)f->wo * sizeof(float));
                    flat_dy = dyf;
                    dy_cs = f->out_cs;
                }
                j->kt->conv_wgrad((int)g->cin, (int)g->cout, g->k, f->wp, f->len, xp,
                                  f->in_cs, flat_dy, dy_cs, dw);
            }
            if (j->dx) {
                j->kt->conv_flat((int)g->cout, (int)g->cin, g->k, fb->wp, fb->len, dyp,
                                 fb->in_cs, j->wt, dxf, fb->out_cs);
                float *dxn = j->dx + n * g->cin * plane_in;
                for (int64_t ci = 0; ci < g->cin; ci++) {
                    const float *s = dxf + ci * fb->out_cs;
                    float *d = dxn + ci * plane_in;
                    for (int64_t iy = 0; iy < g->h; iy++, s += fb->wp, d += g->w)
                        for (int64_t ix = 0; ix < g->w; ix++)
                            d[ix] += s[ix];
                }
            }
        }
    }
}

/* Per-thread scratch floats of the backward pass (see bwd_range). */
static int64_t bwd_scratch(const tg__conv_geom *g, const flat_geom *f, const flat_geom *fb,
                           bool dx, bool dw, bool shared_dy)
{
    int64_t floats = 0;
    if (dw)
        floats += g->cin * f->in_cs;
    if (dx || shared_dy)
        floats += g->cout * fb->in_cs;
    if (dw && !shared_dy)
        floats += g->cout * f->out_cs;
    if (dx)
        floats += g->cin * fb->out_cs;
    return floats;
}

static bool same_padding(const tg__conv_geom *g) { return 2 * g->pad == g->k - 1; }

bool tg__conv_direct_prepare(tg_ctx *ctx, const tg__conv_geom *g, bool backward,
                             float **workspace)
{
    flat_geom f, fb;
    flat_init(&f, g->h, g->w, g->k, g->pad);
    int64_t floats = g->cin * f.in_cs + g->cout * f.out_cs;
    if (backward) {
        flat_init(&fb, f.ho, f.wo, g->k, g->k - 1 - g->pad);
        int64_t b = bwd_scratch(g, &f, &fb, true, true, same_padding(g)) +
                    round16(g->cout * f.ho * f.wo); /* masked dy of a fused ReLU */
        floats = b > floats ? b : floats;
        int64_t nchunks = g->n < TG__CONV_WCHUNKS ? g->n : TG__CONV_WCHUNKS;
        int64_t kk = (int64_t)g->k * g->k;
        int64_t ws = nchunks * (g->cout * g->cin * kk + g->cout) + g->cin * g->cout * kk;
        *workspace = tg__arena_alloc(ctx, (size_t)ws * sizeof(float));
        if (!*workspace)
            return false;
    }
    return tg__scratch_reserve(ctx, (size_t)floats * sizeof(float));
}

void tg__conv_direct_backward(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                              const float *x, const float *w, const float *dy,
                              const float *relu_y, float *dx, float *dw, float *db,
                              float *workspace)
{
    if (!dx && !dw && !db)
        return;
    bwd_job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    j.kt = kt ? kt : tg__kernels_get();
    j.g = g;
    flat_init(&j.f, g->h, g->w, g->k, g->pad);
    flat_init(&j.fb, j.f.ho, j.f.wo, g->k, g->k - 1 - g->pad);
    j.shared_dy = dw && same_padding(g);
    j.x = x;
    j.dy = dy;
    j.relu_y = relu_y;
    j.dx = dx;
    j.want_w = dw != NULL;
    j.want_b = db != NULL;
    const int64_t kk = (int64_t)g->k * g->k, nw = g->cout * g->cin * kk;
    j.nchunks = g->n < TG__CONV_WCHUNKS ? g->n : TG__CONV_WCHUNKS;
    j.part = nw + g->cout;
    if (dw || db)
        j.parts = workspace;
    if (dx) {
        /* wt[ci][co][ky][kx] = w[co][ci][k-1-ky][k-1-kx]. */
        float *wt = workspace + j.nchunks * j.part;
        for (int64_t co = 0; co < g->cout; co++)
            for (int64_t ci = 0; ci < g->cin; ci++)
                for (int64_t t = 0; t < kk; t++)
                    wt[(ci * g->cout + co) * kk + t] = w[(co * g->cin + ci) * kk + (kk - 1 - t)];
        j.wt = wt;
    }
    tg__parallel_for(ctx, j.nchunks, bwd_range, &j);

    for (int64_t c = 0; c < j.nchunks && j.parts; c++) {
        const float *p = j.parts + c * j.part;
        if (dw)
            for (int64_t i = 0; i < nw; i++)
                dw[i] += p[i];
        if (db)
            for (int64_t i = 0; i < g->cout; i++)
                db[i] += p[nw + i];
    }
}
