/* SPDX-License-Identifier: MIT */
/* Winograd F(2x2, 3x3) convolution for 3x3, stride-1, "same" layers with
 * real width (ResNet's 16-64-channel layers): each 2x2 block of outputs
 * costs 16 multiply-adds per channel pair instead of 36. With
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *   G   = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1],
 * a 4x4 input tile d gives the 2x2 outputs y = A^T [(G g G^T) . (B^T d B)] A
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
 * The elementwise products summed over input channels are 16 GEMMs
 * M[xi] = U[xi] V[xi], run by the packed GEMM of kernels/gemm.c; the
 * transforms (additions only) are the per-ISA loops of winograd_impl.h.
 * Where the vector ISAs transform whole vectors of tiles, tiles are 4 rows
 * tall instead (F(4x2, 3x3): F(4, 3) down the columns, 24 points, 24
 * products per 8 outputs instead of 32; see wino_tall).
 *
 * The backward data pass of such a layer is the same convolution of dy with
 * the flipped, transposed weights (tg__conv_wino_weights with flip). */
#include "kernels.h"

/* Floats of V and M of one block of tiles (16 x channels x tiles each),
 * kept in L2: 128-256 tiles per block (256 measured best for 16 channels,
 * 128 for 32 and 64; the weight gradient's dot products run over a block's
 * tiles, so longer blocks pay for their horizontal sums less often). */
#define WINO_FLOATS ((int64_t)1 << 17)

bool tg__conv_wino_ok(const tg__conv_geom *g, int stride, int dilation, int groups)
{
    if (stride != 1 || dilation != 1 || groups != 1 || g->k != 3 || g->pad != 1)
        return false;
    /* Below 16 channels the transforms cost about as much as the products
     * they save (the direct kernels keep those layers). 16 channels on
     * 32x32, batch 64, 1 thread: forward 3.5 vs 4.4 ms, backward 9.8 vs 10.5
     * ms for the direct kernels. Up to 1024 channels each way (8 x 512 on
     * 7x7, 1 thread, AVX-512: forward / backward 22.6 / 55.6 ms unfolded,
     * 13.8 / 33.9 ms here). */
    if (g->cin < 16 || g->cout < 16 || g->cin > 1024 || g->cout > 1024)
        return false;
    /* Past 256 input channels only with 96 output pixels or more: the
     * transforms of the weights (per call) and of dU then outweigh the
     * products saved (1 x 512 on 7x7: backward 9.1 ms unfolded, 12.3 ms
     * here; 2 x 512 on 7x7 16.4 and 15.1 ms). */
    if (g->cin > 256 && g->n * g->h * g->w < 96)
        return false;
    return g->h >= 2 && g->w >= 2 && g->h * g->w <= 128 * 128;
}

/* Stride of the 16 transform points of U, V and M: an odd number of cache
 * lines, so the 16 streams the transforms read or write at once fall in
 * different L1 sets (at a multiple of 4 KB they all shared one set: 16
 * channels, 128 tiles made 8 KB; U of 64 x 64 in 12-row panels, 18 KB
 * apart, shared two, and the weight transform took 39 us instead of 22). */
static int64_t xi_stride(int64_t floats)
{
    int64_t s = tg__round16(floats);
    return s / 16 % 2 ? s : s + 16;
}

static int64_t uxi_floats(const tg__conv_geom *g)
{
    return xi_stride(tg__sgemm_pack_a_floats(g->cout, g->cin));
}

/* Tiles are 4 output rows tall (F(4x2, 3x3), 24 points) where
 * winograd_impl.h transforms whole vectors of tiles (the vector ISAs; W
 * even): a row's tiles a multiple of the vector width (R = 1), or two tile
 * rows per vector (R = 2, whole tile rows: H a multiple of 4, an even
 * number of tile rows). 3 products per output instead of 4, the column
 * transform F(4, 3)'s. Else 2x2 (16 points). Returns R, or 0.
 * The weights' transform grows by half (24 points, per call) while the
 * products shrink with the pixels: forward of one layer, 1 thread, 2x2 ->
 * tall, 16x16 with 32 channels 0.033 -> 0.037 ms at batch 1, 0.107 ->
 * 0.096 at 4; 8x8 with 64 channels 0.047 -> 0.085 at 1, even at 8, 0.377
 * -> 0.338 at 16; 32x32 with 16 channels faster from batch 1. The choice
 * depends on the plane, never on the batch (a sample's result must not
 * depend on the batch it runs in: tiled inference): tall from 256 pixels.
 */
static int wino_tall(const tg__conv_geom *g)
{
    const tg__kernels *kt = tg__kernels_get();
    if (kt->isa == TG__ISA_GENERIC || g->w % 2 != 0 || g->h * g->w < 256)
        return 0;
    const int64_t tw = g->w / 2, vw = kt->gemm_vw;
    if (tw % vw == 0)
        return 1;
    return 2 * tw == vw && g->h % 4 == 0 && (g->h / 4) % 2 == 0 ? 2 : 0;
}

static int wino_points(const tg__conv_geom *g) { return wino_tall(g) ? 24 : 16; }

int64_t tg__conv_wino_weights_floats(const tg__conv_geom *g)
{
    return wino_points(g) * uxi_floats(g);
}

/* The 16 points (G f G^T) of one 3x3 filter f (rows at stride 3), to
 * u[xi * us]. */
static inline void wino_filter(const float *f, float *u, int64_t us)
{
    float t[4][3];
    for (int b = 0; b < 3; b++) { /* G f */
        t[0][b] = f[b];
        t[1][b] = 0.5f * (f[b] + f[3 + b] + f[6 + b]);
        t[2][b] = 0.5f * (f[b] - f[3 + b] + f[6 + b]);
        t[3][b] = f[6 + b];
    }
    for (int a = 0; a < 4; a++) { /* (G f) G^T: point a * 4 + b */
        u[(a * 4) * us] = t[a][0];
        u[(a * 4 + 1) * us] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
        u[(a * 4 + 2) * us] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
        u[(a * 4 + 3) * us] = t[a][2];
    }
}

/* The 24 points (G4 f G^T) of one 3x3 filter for tiles 4 rows tall, with
 * F(4, 3)'s G4 = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
 * 1/24 -1/12 1/6; 0 0 1] down the columns (in double, rounded once). */
static inline void wino_filter_tall(const float *f, float *u, int64_t us)
{
    const double s6 = 1.0 / 6, s12 = 1.0 / 12, s24 = 1.0 / 24; /* no divisions */
    double t[6][3];
    for (int b = 0; b < 3; b++) {
        const double f0 = f[b], f1 = f[3 + b], f2 = f[6 + b];
        t[0][b] = 0.25 * f0;
        t[1][b] = -(f0 + f1 + f2) * s6;
        t[2][b] = -(f0 - f1 + f2) * s6;
        t[3][b] = f0 * s24 + f1 * s12 + f2 * s6;
        t[4][b] = f0 * s24 - f1 * s12 + f2 * s6;
        t[5][b] = f2;
    }
    for (int a = 0; a < 6; a++) {
        u[(a * 4) * us] = (float)t[a][0];
        u[(a * 4 + 1) * us] = (float)(0.5 * (t[a][0] + t[a][1] + t[a][2]));
        u[(a * 4 + 2) * us] = (float)(0.5 * (t[a][0] - t[a][1] + t[a][2]));
        u[(a * 4 + 3) * us] = (float)t[a][2];
    }
}

/* U[xi] (K x C) is written straight in tg__sgemm_pack_a's layout (C in
 * blocks of TG__SGEMM_KC columns; per block, panels of MR rows holding MR
 * consecutive rows k for every column c), rows past K zero: a transform
 * into K x C matrices and then 16 packings had cost more than the GEMMs of
 * a batch-1 forward (42% of ResNet-8's inference at batch 1). */
typedef struct {
    const tg__conv_geom *g;
    const float *w;
    bool flip;
    float *up;
    int64_t panels; /* panels of MR rows per block of columns */
} wino_w_job;

/* Panels [pb, pe) of all blocks of columns (block p / panels): each
 * filter's transform is its own, so the split cannot change a bit. */
static void wino_weights_range(void *arg, int64_t pb, int64_t pe, int tid)
{
    (void)tid;
    const wino_w_job *wj = arg;
    const tg__conv_geom *g = wj->g;
    const int64_t K = g->cout, C = g->cin, MR = tg__kernels_get()->gemm_mr;
    const int64_t mround = (K + MR - 1) / MR * MR, uxi = uxi_floats(g);
    const int np = wino_points(g);
    for (int64_t p = pb; p < pe; p++) {
        const int64_t pc = p / wj->panels * TG__SGEMM_KC, k0 = p % wj->panels * MR;
        const int64_t kc = C - pc < TG__SGEMM_KC ? C - pc : TG__SGEMM_KC;
        const int64_t k1 = K - k0 < MR ? K : k0 + MR;
        float *panel = wj->up + pc * mround + k0 * kc; /* U[.][k][pc + c] at c * MR + k - k0 */
        if (k1 - k0 < MR) /* the last panel's rows past K */
            for (int xi = 0; xi < np; xi++)
                for (int64_t c = 0; c < kc; c++)
                    for (int64_t i = k1 - k0; i < MR; i++)
                        panel[xi * uxi + c * MR + i] = 0.0f;
        /* Column by column: each point's MR rows of a column are adjacent,
         * so the 16 streams are written in order (row by row, a 12-row
         * panel's 16 points spanned 48 KB, more than L1: 64 x 64 on
         * AVX-512 took 32 us instead of 22). */
        for (int64_t c = 0; c < kc; c++)
            for (int64_t k = k0; k < k1; k++) {
                float *dst = panel + c * MR + (k - k0);
                if (!wj->flip) {
                    if (np == 24)
                        wino_filter_tall(wj->w + (k * C + pc + c) * 9, dst, uxi);
                    else
                        wino_filter(wj->w + (k * C + pc + c) * 9, dst, uxi);
                    continue;
                }
                const float *s = wj->w + ((pc + c) * K + k) * 9;
                float f[9];
                for (int q = 0; q < 9; q++) /* rotated by 180 degrees */
                    f[q] = s[8 - q];
                if (np == 24)
                    wino_filter_tall(f, dst, uxi);
                else
                    wino_filter(f, dst, uxi);
            }
    }
}

void tg__conv_wino_weights(tg_ctx *ctx, const tg__conv_geom *g, const float *w, bool flip,
                           float *up)
{
    const int64_t MR = tg__kernels_get()->gemm_mr, K = g->cout, C = g->cin;
    wino_w_job wj = {g, w, flip, up, (K + MR - 1) / MR};
    const int64_t units = (C + TG__SGEMM_KC - 1) / TG__SGEMM_KC * wj.panels;
    /* Split where the layer's own loop splits too (a batch; ResNet-8's
     * training step spent 0.6% of its time here on one of two threads): a
     * lone sample runs on the calling thread while the workers sleep, and
     * waking one cost more than the transform (batch-1 inference, 2 threads,
     * 4,100 -> 3,200-3,700 samples/s) */
    if (g->n < 2 || K * C < 256)
        wino_weights_range(&wj, 0, units, 0);
    else
        tg__parallel_for(ctx, units, wino_weights_range, &wj);
}

static void job_init(tg__wino_job *j, const tg__conv_geom *g, bool wgrad)
{
    const int64_t NR = tg__kernels_get()->gemm_nr;
    memset(j, 0, sizeof *j);
    j->g = g;
    j->tall = wino_tall(g);
    j->npts = j->tall ? 24 : 16;
    const int64_t th_out = j->tall ? 4 : 2;
    j->th = (g->h + th_out - 1) / th_out;
    j->tw = (g->w + 1) / 2;
    j->hp = th_out * j->th + 2;
    j->wp = 2 * j->tw + 2;
    j->plane_floats = tg__round16(g->cin * j->hp * j->wp);
    int64_t bt = WINO_FLOATS / (j->npts * (g->cin + g->cout));
    const int64_t lo = j->tall ? 64 : 128; /* a tall tile holds two 2x2 tiles' outputs */
    bt = bt < lo ? lo : bt > 2 * lo ? 2 * lo : bt;
    /* The weight gradient's dot products end in horizontal sums once per
     * block: where a block holds several samples (16x16 planes or smaller),
     * twice as many tiles made its backward 2-5% faster (32 and 64
     * channels, batch 64; on 32x32 planes, no faster). Only while V and M
     * stay within the largest forward block's (1 MB): 64 channels' 2 MB
     * added 1.2 MB to ResNet-8's peak RSS. */
    if (wgrad && j->th * j->tw * 2 <= bt &&
        2 * bt * j->npts * (g->cin + g->cout) <= 2 * WINO_FLOATS)
        bt *= 2;
    j->rows = bt / j->tw < 1 ? 1 : bt / j->tw;
    if (j->rows > j->th)
        j->rows = j->th;
    if (j->tall == 2 && j->rows % 2) /* blocks of whole vectors */
        j->rows = j->rows > 1 ? j->rows - 1 : 2;
    j->spb = j->rows == j->th ? bt / (j->th * j->tw) : 1;
    if (j->spb < 1)
        j->spb = 1;
    /* The forward's blocks: whole samples, as few as fill a GEMM panel (an
     * 8x8 sample is 16 tiles, half of AVX-512's 32); more made no
     * difference (64 channels on 8x8, 2-8 samples). */
    const int64_t ns = j->th * j->tw, fill = (NR + ns - 1) / ns;
    j->fspb = j->rows < j->th ? 1 : fill < j->spb ? fill : j->spb;
    const int64_t nt = j->spb * j->rows * j->tw;
    j->uxi = uxi_floats(g);
    j->vxi = xi_stride(g->cin * ((nt + NR - 1) / NR * NR));
    j->mxi = xi_stride(g->cout * nt);
    j->dy_floats = tg__round16(2 * th_out * g->cout * j->spb * j->th * j->tw);
    /* dU[xi] = dM[xi] V[xi]^T: as dot products along the block's tiles
     * (gemm_abt: no packing, but a horizontal sum per element, and a scalar
     * tail where nt is not whole vectors) for few channels; by the packed
     * GEMM from 128 x 128 channels, or from 48 x 48 where the dots end in a
     * tail. 1 thread, AVX-512, backward (bench --conv): 8 x 128 on 28x28 (nt
     * 126) 40.5 -> 23.1 ms, 16 x 128 on 32x32 (nt 64) 46.8 -> 43.5 ms, 32 x
     * 96 on 14x14 (nt 98) 19.3 -> 15.5 ms; the dots were faster for 64
     * channels (8 x 64 on 56x56, nt 112: 24.1 vs 28.7 ms; on 32x32 and 16x16
     * by 7-10%), as for ResNet-8's layers (the same bits as before). */
    const int64_t cc = g->cin * g->cout;
    j->du_packed = wgrad && (cc >= 128 * 128 ||
                             (cc >= 48 * 48 && nt % tg__kernels_get()->gemm_vw != 0));
}

/* Per-thread scratch of winograd_impl.h's loops, in their order. */
static int64_t common_floats(const tg__wino_job *j)
{
    return j->plane_floats + 8 * (j->rows + 1) * j->tw + j->npts * (j->vxi + j->mxi);
}

bool tg__conv_wino_prepare(tg_ctx *ctx, const tg__conv_geom *g, bool wgrad)
{
    tg__wino_job f, w;
    job_init(&f, g, false);
    int64_t n = common_floats(&f) + 4 * f.rows * f.tw;
    if (wgrad) {
        job_init(&w, g, true);
        int64_t wn = common_floats(&w) + w.dy_floats + (w.du_packed ? TG__SGEMM_WORK_FLOATS : 0);
        n = wn > n ? wn : n;
    }
    return tg__scratch_reserve(ctx, (size_t)n * sizeof(float));
}

void tg__conv_wino(tg_ctx *ctx, const tg__conv_geom *g, const float *x, const float *mask,
                   const float *up, const float *b, float *y, const tg__conv_epi *epi,
                   bool add)
{
    tg__wino_job j;
    job_init(&j, g, false);
    j.ctx = ctx;
    j.x = x;
    j.mask = mask;
    j.up = up;
    j.b = b;
    j.y = y;
    j.epi = epi;
    j.add = add;
    tg__parallel_for(ctx, g->n, tg__kernels_get()->conv_wino_range, &j);
}

/* ---- weight gradient ----------------------------------------------------
 * dM = A dy A^T per output tile (A = (A^T)^T), dU[xi] = sum over tiles of
 * dM[xi] V[xi]^T (K x C dot products over the tiles), dw = G^T dU G. */

/* Partial-sum budget (floats): as many chunks as fit in 256 KB, at least
 * 4, cut so that threads get equal shares (tg__batch_chunks). One partial
 * is 16 / 9 times a direct weight gradient's; with the unfold + GEMM path's
 * 1 MB budget ResNet-8's peak RSS grew by 4 MB. */
#define PART_BUDGET ((int64_t)1 << 16)

static int64_t wgrad_part(const tg__conv_geom *g)
{
    return wino_points(g) * g->cout * g->cin + g->cout;
}

/* From 128 x 128 channels the threads split dU's transform points instead
 * of the batch, each over every sample: one partial instead of four or
 * more (512 x 512: 17 MB instead of 67 MB, and as many fewer to zero and
 * add), while the transforms each thread then repeats are a few percent of
 * the products (about (cin + cout) / (cin cout) of them). The threads' dU
 * rows are disjoint, each summed in sample order: the same bits for any
 * thread count. Narrower layers keep the batch split (ResNet-8's bits). */
static bool wgrad_by_points(const tg__conv_geom *g) { return g->cin * g->cout >= 128 * 128; }

static int64_t wgrad_chunks(const tg__conv_geom *g)
{
    return wgrad_by_points(g) ? 1 : tg__batch_chunks(g->n, PART_BUDGET / wgrad_part(g));
}

int64_t tg__conv_wino_wgrad_floats(const tg__conv_geom *g)
{
    return wgrad_chunks(g) * wgrad_part(g);
}

/* The chunks' partial sums of rows [k0, k1) of dU (every point) and of db
 * added in chunk order into the first chunk's, then dw's rows from them:
 * each element's sums in the same order for every split. */
typedef struct {
    const tg__wino_job *j;
    float *dw, *db;
} wgrad_fin_job;

static void wgrad_fin_range(void *arg, int64_t k0, int64_t k1, int tid)
{
    (void)tid;
    const wgrad_fin_job *fj = arg;
    const tg__wino_job *jp = fj->j;
    const int64_t K = jp->g->cout, C = jp->g->cin, nu = jp->npts * K * C, part = jp->part;
    float *dw = fj->dw, *workspace = jp->parts;
    for (int64_t c = 1; c < jp->nchunks; c++) {
        const float *src = workspace + c * part;
        for (int xi = 0; xi < jp->npts; xi++)
            for (int64_t i = xi * K * C + k0 * C; i < xi * K * C + k1 * C; i++)
                workspace[i] += src[i];
        for (int64_t k = k0; k < k1; k++)
            workspace[nu + k] += src[nu + k];
    }
    if (fj->db)
        for (int64_t k = k0; k < k1; k++)
            fj->db[k] += workspace[nu + k];
    if (!dw)
        return;
    if (jp->tall) { /* dw = G4^T dU G, in double (G4: see wino_filter_tall) */
        const double s6 = 1.0 / 6, s12 = 1.0 / 12, s24 = 1.0 / 24;
        for (int64_t k = k0; k < k1; k++)
            for (int64_t c = 0; c < C; c++) {
                const float *u = workspace + k * C + c;
                double t[3][4];
                for (int q = 0; q < 4; q++) {
                    double v[6];
                    for (int i = 0; i < 6; i++)
                        v[i] = u[(4 * i + q) * K * C];
                    t[0][q] = 0.25 * v[0] - (v[1] + v[2]) * s6 + (v[3] + v[4]) * s24;
                    t[1][q] = (v[2] - v[1]) * s6 + (v[3] - v[4]) * s12;
                    t[2][q] = (v[3] + v[4] - v[1] - v[2]) * s6 + v[5];
                }
                float *d = dw + (k * C + c) * 9;
                for (int a = 0; a < 3; a++) {
                    d[a * 3] += (float)(t[a][0] + 0.5 * (t[a][1] + t[a][2]));
                    d[a * 3 + 1] += (float)(0.5 * (t[a][1] - t[a][2]));
                    d[a * 3 + 2] += (float)(0.5 * (t[a][1] + t[a][2]) + t[a][3]);
                }
            }
        return;
    }
    for (int64_t k = k0; k < k1; k++)
        for (int64_t c = 0; c < C; c++) {
            const float *u = workspace + k * C + c; /* u[xi * K * C] */
            float t[3][4];
            for (int q = 0; q < 4; q++) { /* G^T dU */
                float u0 = u[q * K * C], u1 = u[(4 + q) * K * C], u2 = u[(8 + q) * K * C],
                      u3 = u[(12 + q) * K * C];
                t[0][q] = u0 + 0.5f * (u1 + u2);
                t[1][q] = 0.5f * (u1 - u2);
                t[2][q] = 0.5f * (u1 + u2) + u3;
            }
            float *d = dw + (k * C + c) * 9;
            for (int a = 0; a < 3; a++) { /* (G^T dU) G */
                d[a * 3] += t[a][0] + 0.5f * (t[a][1] + t[a][2]);
                d[a * 3 + 1] += 0.5f * (t[a][1] - t[a][2]);
                d[a * 3 + 2] += 0.5f * (t[a][1] + t[a][2]) + t[a][3];
            }
        }
}

void tg__conv_wino_wgrad(tg_ctx *ctx, const tg__conv_geom *g, const float *x, const float *dy,
                         const float *dy_mask, float *dw, float *db, float *workspace)
{
    if (!dw && !db)
        return;
    tg__wino_job j;
    job_init(&j, g, true);
    j.ctx = ctx;
    j.x = x;
    j.dy = dy;
    j.dy_mask = dy_mask;
    j.nchunks = wgrad_chunks(g);
    j.part = wgrad_part(g);
    j.parts = workspace;
    j.want_w = dw != NULL;
    j.want_b = db != NULL;
    j.by_points = wgrad_by_points(g);
    if (j.by_points) /* a part transforms every sample: one part a thread */
        tg__parallel_for_coarse(ctx, j.npts, tg__kernels_get()->conv_wino_wgrad_range, &j);
    else
        tg__parallel_for(ctx, j.nchunks, tg__kernels_get()->conv_wino_wgrad_range, &j);

    wgrad_fin_job fj = {&j, dw, db};
    if (j.nchunks < 2 && !j.by_points) /* the loop above ran on this thread alone */
        wgrad_fin_range(&fj, 0, g->cout, 0);
    else
        tg__parallel_for(ctx, g->cout, wgrad_fin_range, &fj);
}
