/* SPDX-License-Identifier: MIT */
/* Internal interface of the compute kernels and their run-time CPU dispatch.
 *
 * Every kernel exists as a plain C variant and as SIMD variants compiled in
 * separate files with ISA flags (-mavx2 -mfma, -mavx512f ...). The variant
 * is chosen once per process (pthread_once) from __builtin_cpu_supports();
 * TG_CPU=generic|avx2|avx512 in the environment caps the choice (so tests can
 * run the plain C path on any machine). The table is immutable after init. */
#ifndef TG_KERNELS_H
#define TG_KERNELS_H

#include "tg_internal.h"

typedef enum tg__isa { TG__ISA_GENERIC = 0, TG__ISA_AVX2 = 1, TG__ISA_AVX512 = 2 } tg__isa;
#define TG__ISA_COUNT 3

/* ---- flat direct convolution (stride 1, dilation 1, groups 1) -----------
 *
 * Layout trick: an input plane zero-padded to wp columns is a flat array, and
 * output (oy, ox) computed at flat index o = oy*wp + ox reads input index
 * o + ky*wp + kx. So one 1-D loop over o in [0, ho*wp) computes the whole
 * plane; the wp - wo columns at the end of each row are garbage the caller
 * drops. (The direct path's rows are w + pad floats: a row's right padding
 * is the next row's left padding, conv_direct.c.) Kernels compute o up to
 * len rounded to whole vectors, in blocks of up to TG__CONV_CHUNK floats,
 * so callers size buffers with tg__conv_round(len):
 *   in  : each channel plane readable for tg__conv_round(len) + (k-1)*(wp+1)
 *         floats (zero beyond the padded image),
 *   out : each channel plane writable for tg__conv_round(len) floats,
 *   dy  : (wgrad) each plane readable for tg__conv_round(len) floats, zero at
 *         garbage columns and beyond len. */
#define TG__CONV_CHUNK 64
#define TG__CONV_KMAX 7 /* largest kernel size the direct kernels take */

static inline int64_t tg__conv_round(int64_t len)
{
    return (len + TG__CONV_CHUNK - 1) / TG__CONV_CHUNK * TG__CONV_CHUNK;
}

/* out[co][o] = sum_{ci,ky,kx} w[co][ci][ky][kx] * in[ci][o + ky*wp + kx],
 * o in [0, len); overwrites out up to len rounded to whole vectors. */
typedef void (*tg__conv_flat_fn)(int cin, int cout, int k, int64_t wp, int64_t len,
                                 const float *in, int64_t in_cs, const float *w, float *out,
                                 int64_t out_cs);
/* dw[co][ci][ky][kx] += sum_o dy[co][o] * in[ci][o + ky*wp + kx] over len
 * rounded to whole vectors (dy zero past len and at garbage columns). */
typedef void (*tg__conv_wgrad_fn)(int cin, int cout, int k, int64_t wp, int64_t len,
                                  const float *in, int64_t in_cs, const float *dy,
                                  int64_t dy_cs, float *dw);

/* ---- GEMM micro-kernel ---------------------------------------------------
 * C[MR x NR] (row stride ldc) = alpha * sum_p A[p][0..MR) * B[p][0..NR) + beta*C
 * over kc steps, A and B packed (A: kc x MR, B: kc x NR, contiguous);
 * beta == 0 ignores C's old values (may be NaN). m <= MR, n <= NR select the
 * part of C that is written (edge tiles). */
/* Every kernel's MR divides TG__GEMM_MR_LCM and NR divides TG__GEMM_NR_LCM
 * (gemm.c sizes its blocks with them). */
#define TG__GEMM_MR_LCM 12
#define TG__GEMM_NR_LCM 32
typedef void (*tg__gemm_micro_fn)(int64_t kc, float alpha, const float *a, const float *b,
                                  float beta, float *c, int64_t ldc, int m, int n);
/* The same with B unpacked: row p of the kc x NR tile is its vectors at
 * b + off[p] and b + off[p] + vstep (NR = 2 vectors; all are read, even
 * past n), with hstep > 0 (gemm_ind_halves kernels) each vector's upper
 * half hstep floats after its lower half; alpha is 1. */
typedef void (*tg__gemm_micro_ind_fn)(int64_t kc, const float *a, const float *b,
                                      const int64_t *off, int64_t vstep, int64_t hstep,
                                      float beta, float *c, int64_t ldc, int m, int n);

/* ---- single-threaded GEMM drivers with caller workspace (kernels/gemm.c) --
 * For per-sample GEMMs inside a parallel loop (convolution): the workspace
 * (TG__SGEMM_WORK_FLOATS per thread) holds panels large enough that each
 * operand is packed once per call, not once per 32 columns as in
 * tg__sgemm_st's stack buffer. Same K blocking as tg__sgemm / tg__sgemm_st. */
#define TG__SGEMM_KC 256
#define TG__SGEMM_WORK_FLOATS (96 * 256 + 256 * 256)
/* Floats of op(A) [M,K] packed for the dispatched micro-kernel. */
int64_t tg__sgemm_pack_a_floats(int64_t M, int64_t K);
/* Pack all of op(A) [M,K] (row-major, transposed if trans_a) once, for
 * repeated tg__sgemm_pa calls with the same A. */
void tg__sgemm_pack_a(bool trans_a, int64_t M, int64_t K, const float *A, int64_t lda,
                      float *dst);
/* C = alpha * A op(B) + beta * C with A packed by tg__sgemm_pack_a. work:
 * TG__SGEMM_WORK_FLOATS. */
void tg__sgemm_pa(int64_t M, int64_t N, int64_t K, float alpha, const float *ap, bool trans_b,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *work);
/* Floats of B [K,N] packed for tg__sgemm_papb: panels of NR columns, each
 * K x NR row-major (zero-padded past N), B[p][j] at j / NR * NR * K + p * NR
 * + j % NR. The GEMM reads a panel's rows in blocks of TG__SGEMM_KC. */
int64_t tg__sgemm_pack_b_floats(int64_t K, int64_t N);
/* C = A B + beta * C with both operands packed (A by tg__sgemm_pack_a, B in
 * the layout above); no workspace. */
void tg__sgemm_papb(int64_t M, int64_t N, int64_t K, const float *ap, const float *bp,
                    float beta, float *C, int64_t ldc);
/* C = A B + beta * C with A packed by tg__sgemm_pack_a and B not packed:
 * B[p][j] = b[off[p] + j / wrow * brow + j % wrow], B's rows cut into runs
 * of wrow columns brow floats apart (wrow == brow: one contiguous run).
 * Unless wrow == brow, wrow is a multiple of the kernels' gemm_vw, or half
 * of it with gemm_ind_halves, and divides or is a multiple of gemm_nr.
 * Reads past column N up to the end of its last NR-column tile (less than
 * NR + 4 * brow floats past run Ho's start). Only where the kernels have
 * gemm_micro_ind. */
void tg__sgemm_pa_ind(int64_t M, int64_t N, int64_t K, const float *ap, const float *b,
                      const int64_t *off, int64_t wrow, int64_t brow, float beta, float *C,
                      int64_t ldc);
/* tg__sgemm_st with caller workspace (TG__SGEMM_WORK_FLOATS). */
void tg__sgemm_ws(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc, float *work);

/* Geometry of one flat plane layout (kernels/conv_direct.c). */
/* C[M,N] = alpha * A[M,K] B[N,K]^T + beta * C (beta 0: C not read), rows of
 * A and B contiguous; for few columns N (e.g. a linear layer's forward). */
typedef void (*tg__gemm_abt_fn)(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                                int64_t ldc);

/* gemm_abt (alpha 1) with B's rows read in place: row j's element t at
 * B + off[j] + (t / wrow / rows) * bstride + (t / wrow % rows) * brow
 * + t % wrow, i.e. runs of wrow floats (a multiple of the vector width;
 * K a multiple of wrow), rows runs per block (a sample's output rows),
 * blocks bstride apart (samples' planes). */
typedef struct {
    int64_t wrow, brow, rows, bstride;
} tg__abt_runs;
typedef void (*tg__gemm_abt_ind_fn)(int64_t M, int64_t N, int64_t K, const float *A,
                                    int64_t lda, const float *B, const int64_t *off,
                                    const tg__abt_runs *rn, float beta, float *C, int64_t ldc);

/* 2x2, stride 2, unpadded max pooling of one plane (rows of W, ld floats
 * apart) into Ho x Wo with argmax indices into the plane as if its rows
 * were W apart (idx may be NULL). With relu_bias, each element x is first
 * relu(x + *relu_bias), as a convolution's epilogue computes it: a fused
 * conv + ReLU + pool pools the convolution's flat output in place. */
typedef void (*tg__max_pool2x2_fn)(const float *x, int64_t ld, const float *relu_bias,
                                   float *y, int32_t *idx, int64_t W, int64_t Ho, int64_t Wo);

void tg__max_pool2x2_generic(const float *x, int64_t ld, const float *relu_bias, float *y,
                             int32_t *idx, int64_t W, int64_t Ho, int64_t Wo);
void tg__max_pool2x2_avx2(const float *x, int64_t ld, const float *relu_bias, float *y,
                          int32_t *idx, int64_t W, int64_t Ho, int64_t Wo);

/* dst[r * ldd + i] = src[r * ld + 2 * i] for r < rows, i < n: the rows of
 * a stride-2 unfold or phase plane. Reads no further than the last element
 * it copies. */
typedef void (*tg__gather_s2_fn)(const float *src, int64_t ld, int64_t rows, int64_t n,
                                 float *dst, int64_t ldd);
/* The same, and dst2[r * ldd + i] = src[r * ld + 2 * i + 1] for i < n2
 * (the other column phase, from the same loads). */
typedef void (*tg__gather_s2_pair_fn)(const float *src, int64_t ld, int64_t rows, int64_t n,
                                      float *dst, int64_t ldd, int64_t n2, float *dst2);

typedef struct tg__conv_flat_geom {
    int64_t hp, wp;     /* padded input plane */
    int64_t ho, wo;     /* output plane */
    int64_t len;        /* flat outputs computed: ho * wp */
    int64_t in_cs;      /* floats per padded input plane, incl. slack */
    int64_t out_cs;     /* floats per flat output plane */
} tg__conv_flat_geom;

/* Scratch strides are multiples of 16 floats, so every plane is 64-byte
 * aligned like the scratch block itself. */
static inline int64_t tg__round16(int64_t n) { return (n + 15) / 16 * 16; }

typedef struct tg__conv_geom tg__conv_geom;

/* What a convolution's forward applies after sum + bias, while a sample's
 * output is still in cache: with scale, y = y * scale[k] + shift[k] (batch
 * norm in evaluation, k the output channel); with res, y = y + res (a
 * residual shaped like y); with relu, max(y, 0) (NaN stays NaN). Each step
 * is rounded as the separate ops round it, so the fused result has their
 * bits. Without scale and res it is the conv2d_relu op's ReLU. */
typedef struct tg__conv_epi {
    const float *scale, *shift; /* [cout] each, or NULL */
    const float *res;           /* [n][cout][ho][wo], or NULL */
    bool relu;
    /* Direct path, ReLU only: with pool_y, y is not written; a 2x2 max pool
     * (stride 2, as tg_max_pool2d's) of each sample's output, taken from
     * the flat output while it is in cache (the bias and ReLU applied as
     * it is loaded), goes to pool_y ([n][cout][ho/2][wo/2]) and its argmax
     * in the plane to pool_idx (if not NULL). */
    float *pool_y;
    int32_t *pool_idx;
} tg__conv_epi;

/* True when the epilogue is more than a ReLU (the paths then store sum +
 * bias and finish each row with tg__conv_epi_row). */
static inline bool tg__conv_epi_full(const tg__conv_epi *e)
{
    return e && (e->scale || e->res);
}

/* The epilogue on n outputs y of channel k, in place; r: the matching
 * residual floats (NULL without res). Inlined into each ISA's loops. */
static inline void tg__conv_epi_row(const tg__conv_epi *e, int64_t k, float *restrict y,
                                    const float *restrict r, int64_t n)
{
    const float a = e->scale ? e->scale[k] : 1.0f, sh = e->scale ? e->shift[k] : 0.0f;
    const bool relu = e->relu;
    if (e->scale && r)
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] * a + sh;
            v = v + r[i];
            float z = v < 0.0f ? 0.0f : v;
            y[i] = relu ? z : v;
        }
    else if (e->scale)
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] * a + sh;
            float z = v < 0.0f ? 0.0f : v;
            y[i] = relu ? z : v;
        }
    else if (r)
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + r[i];
            float z = v < 0.0f ? 0.0f : v;
            y[i] = relu ? z : v;
        }
    else if (relu)
        for (int64_t i = 0; i < n; i++)
            y[i] = y[i] < 0.0f ? 0.0f : y[i];
}

/* Jobs of the per-sample loops (conv_direct_impl.h), run by tg__parallel_for. */
typedef struct tg__conv_fwd_job {
    tg_ctx *ctx;
    const tg__conv_geom *g;
    tg__conv_flat_geom f;
    int kf, padf;  /* the flat convolution's kernel and padding: k and pad, or
                      ceil(k/2) and 0 over phase planes (stride 2) */
    const float *x, *w, *b;
    float *y;
    const tg__conv_epi *epi; /* NULL: none */
    tg__max_pool2x2_fn pool2x2; /* epi->pool_y's pool */
    bool zeroed[TG_MAX_THREADS]; /* tg__first_part() */
} tg__conv_fwd_job;

/* Chunks of the batch for the weight/bias-gradient partials. */
#define TG__CONV_WCHUNKS 16

typedef struct tg__conv_bwd_job {
    tg_ctx *ctx;
    const tg__conv_geom *g;
    tg__conv_flat_geom f;  /* forward geometry (x padded by pad) */
    tg__conv_flat_geom fb; /* backward-data geometry (dy padded by kf-1-padf) */
    int kf, padf;          /* as in tg__conv_fwd_job */
    bool shared_dy;        /* "same" padding: the padded dy doubles as flat dy */
    const float *x, *w, *wt, *dy; /* w: [C][k][k] (depthwise), wt: flat, transposed */
    const float *relu_y;   /* fused ReLU output: dy counts only where it is > 0 */
    /* or with pool_gy, the gradient of a fused ReLU + 2x2 max pool (pool_y,
     * pool_idx: its forward's; dy is NULL): each sample's dy is unpooled */
    const float *pool_y, *pool_gy;
    const int32_t *pool_idx;
    bool by_argmax;        /* pool_gy summed over its argmaxes (tg__conv_pool_by_argmax) */
    float *dx;
    bool dx_store;         /* dx holds stale values: store, do not add */
    bool want_w, want_b;
    int64_t nchunks;
    int64_t part;          /* floats of one chunk's dw+db partial */
    float *parts;          /* nchunks partials (arena) */
    bool zeroed[TG_MAX_THREADS]; /* tg__first_part() */
} tg__conv_bwd_job;

/* True the first time thread tid runs a part of the job that owns zeroed
 * (all false at the start). The padding of its scratch, zeroed then, stays
 * zero for its later parts (the kernels write only inside it): with 4 parts
 * per thread, zeroing it per part doubled the seed CNN's memset time. */
static inline bool tg__first_part(bool *zeroed, int tid)
{
    if (zeroed[tid])
        return false;
    zeroed[tid] = true;
    return true;
}

/* Job of the Winograd per-sample loop (kernels/winograd.c, winograd_impl.h),
 * run by tg__parallel_for over the batch. */
typedef struct tg__wino_job {
    tg_ctx *ctx;
    const tg__conv_geom *g;  /* cin -> cout, 3x3, padding 1 */
    int tall;                /* tiles of 4 output rows (F(4x2, 3x3), the vector
                                paths' forward), in vectors of 1 or 2 tile rows
                                (R); 0: 2 rows (F(2x2, 3x3)) */
    int npts;                /* transform points: 24 tall, else 16 */
    int64_t th, tw;          /* output tiles (2 columns wide) per column / row */
    int64_t hp, wp;          /* zero-padded input plane: 4*th+2 (tall) or
                                2*th+2 x 2*tw+2 */
    int64_t plane_floats;    /* cin padded planes (scratch) */
    int64_t rows;            /* tile rows per block (V and M stay in L2) */
    int64_t spb;             /* samples per block of the weight gradient (small
                                planes: whole samples, so dot products are long) */
    int64_t fspb;            /* samples per block of the forward: enough to fill
                                a GEMM panel (an 8x8 sample is 16 tiles) */
    int64_t uxi, vxi, mxi;   /* floats per transform point of U, V, M */
    const float *x, *mask;   /* input; mask: zero x where mask <= 0 (ReLU) */
    const float *up, *b;     /* packed transformed weights; bias or NULL */
    float *y;
    const tg__conv_epi *epi; /* after the bias (NULL: none) */
    bool add;                /* add into y (no bias, no epi) */
    /* weight gradient (tg__conv_wino_wgrad): dy, masked by dy_mask > 0 */
    const float *dy, *dy_mask;
    int64_t dy_floats;       /* dy's tile planes (scratch): 2 x (2 or 4 rows) x cout x
                                spb x th x tw */
    int64_t nchunks, part;   /* batch chunks; floats of one chunk's partial */
    float *parts;            /* per chunk: dU (npts x cout x cin), then db (cout) */
    bool want_w, want_b;
    bool du_packed;          /* dU by the packed GEMM (wide layers), else by dots */
    bool by_points;          /* wide layers: one chunk (the batch), the threads
                                split the transform points (see winograd.c) */
    bool zeroed[TG_MAX_THREADS]; /* tg__first_part() */
} tg__wino_job;

/* A batch-norm pass over planes p = n * C + c of HW floats (ops/norm.c;
 * kernels/norm_impl.h). */
typedef struct tg__bn_job {
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
} tg__bn_job;

typedef struct tg__kernels {
    const char *name;          /* "generic", "avx2", "avx512" */
    tg__isa isa;
    tg__conv_flat_fn conv_flat;
    tg__conv_wgrad_fn conv_wgrad;
    tg__range_fn conv_fwd_range; /* over samples, tg__conv_fwd_job */
    tg__range_fn conv_bwd_range; /* over chunks, tg__conv_bwd_job */
    tg__range_fn conv_dw_fwd_range; /* depthwise: over planes, tg__conv_fwd_job */
    tg__range_fn conv_dw_bwd_range; /* depthwise: over chunks, tg__conv_bwd_job */
    /* depthwise, channels in the vector lanes (NULL: none): over units
     * b * N + n (block b of gemm_vw channels, sample n), and over chunks;
     * tiles as tg__conv_dwc_geom */
    tg__range_fn conv_dwc_fwd_range, conv_dwc_bwd_range;
    tg__range_fn conv_wino_range; /* over samples, tg__wino_job */
    tg__range_fn conv_wino_wgrad_range; /* over chunks, tg__wino_job */
    int gemm_mr, gemm_nr;      /* micro-tile of gemm_micro */
    int gemm_vw;               /* floats per vector (gemm_nr is 2 of them) */
    bool gemm_ind_halves;      /* gemm_micro_ind takes hstep */
    tg__gemm_micro_fn gemm_micro;
    tg__gemm_micro_ind_fn gemm_micro_ind; /* NULL: none (generic) */
    tg__gemm_abt_fn gemm_abt;  /* dot-product path for few columns */
    tg__gemm_abt_ind_fn gemm_abt_ind; /* ... B's rows read as runs in place */
    /* batch norm, over planes, tg__bn_job: sums, squared deviations,
     * y = x * ka + kb (ReLU, residual), gradient sums, dx */
    tg__range_fn bn_sum_range, bn_sqdev_range, bn_fwd_range, bn_gsum_range, bn_bwd_range;
    tg__max_pool2x2_fn max_pool2x2;
    tg__gather_s2_fn gather_s2;
    tg__gather_s2_pair_fn gather_s2_pair;
    /* out[r * ldo + 2 i] (+)= e[r * ld + i], out[r * ldo + 2 i + 1] (+)=
     * o[r * ld + i] for r < rows, i < n: stride-2 dx's column phases back
     * into its rows (add: into the values there) */
    void (*interleave2)(const float *e, const float *o, int64_t ld, int64_t rows, int64_t n,
                        float *out, int64_t ldo, bool add);
    /* tg__conv_epi_row on nk output planes of P floats (channels k0 ..),
     * y and res (NULL: none) at their first */
    void (*conv_epi)(const tg__conv_epi *e, int64_t k0, int64_t nk, float *y, const float *res,
                     int64_t P);
    /* sum of x[0, n) in 32 interleaved partial sums combined in a fixed
     * order: the same bits on every ISA (a bias gradient's row sums) */
    float (*sum)(const float *x, int64_t n);
} tg__kernels;

/* The table the library uses (chosen once per process; thread-safe). */
const tg__kernels *tg__kernels_get(void);
/* The table of one ISA, or NULL if this CPU (or build) cannot run it.
 * Ignores TG_CPU; used by tests and benchmarks to compare variants. */
const tg__kernels *tg__kernels_for(tg__isa isa);

/* Per-ISA tables (defined in the ISA's own object). */
extern const tg__kernels tg__kernels_generic;
#if defined(__x86_64__) || defined(__i386__)
#  define TG__HAVE_X86_KERNELS 1
extern const tg__kernels tg__kernels_avx2;
extern const tg__kernels tg__kernels_avx512;
#endif

/* ---- direct 2-D convolution drivers (kernels/conv_direct.c) --------------
 * NCHW, square kernel k, stride 1 (depthwise also 2), dilation 1, groups 1
 * or depthwise, symmetric padding pad <= k-1, k <= TG__CONV_KMAX. A
 * depthwise layer runs with its channels in the vector lanes where the ISA
 * has those kernels and the planes are small enough; else a plane at a
 * time, at stride 2 as a stride-1 convolution of each plane's four phase
 * planes (xpad[2i+a][2j+b]) with filters of ceil(k/2) taps a side
 * (w[2m+a][2n+b], zero past k). Parallel over the batch; weight and bias
 * gradients are summed per fixed chunk of the batch and combined in chunk
 * order, so results are bit-identical for every thread count.
 * kt NULL = tg__kernels_get(). */
struct tg__conv_geom {
    int64_t n, cin, h, w, cout;
    int k, pad;
    bool depthwise; /* groups = cin = cout: a k x k filter per channel */
    int stride;     /* 1, or 2 with depthwise */
};

/* Whether the backward of a fused ReLU + 2x2 max pool (pool_gy) sums over
 * the pool's argmaxes (AVX2 kernels: conv_direct_impl.h's bwd_pooled),
 * which takes scratch for the input and dx interleaved and neither the
 * transposed weights nor the padded dy planes of the dense path. */
static inline bool tg__conv_pool_by_argmax(const tg__kernels *k, const tg__conv_geom *g)
{
    return k->isa == TG__ISA_AVX2 && !g->depthwise && g->stride == 1 && g->k <= 3 &&
           g->cin <= 8;
}

/* Tiles of a depthwise layer with the channels in the lanes (vw floats a
 * pixel; conv_dwc_*_range): x padded (hp x wp pixels), dy bordered by b =
 * k - 1 (rows of wd pixels, enough for every tap of dx at stride 1 or 2),
 * dx and the forward's output unpadded; floats of each for vw lanes. */
typedef struct {
    int64_t ho, wo, wp, wd, b;
    int64_t xt_floats, dyt_floats, dxt_floats, ot_floats;
} tg__conv_dwc_geom;

static inline tg__conv_dwc_geom tg__conv_dwc_geom_of(const tg__conv_geom *g, int64_t vw)
{
    tg__conv_dwc_geom d;
    const int64_t hp = g->h + 2 * g->pad;
    d.wp = g->w + 2 * g->pad;
    d.ho = (hp - g->k) / g->stride + 1;
    d.wo = (d.wp - g->k) / g->stride + 1;
    d.b = g->k - 1;
    d.wd = d.wo + 2 * d.b;
    d.xt_floats = hp * d.wp * vw;
    d.dyt_floats = (d.ho + 2 * d.b) * d.wd * vw;
    d.dxt_floats = g->h * g->w * vw;
    d.ot_floats = d.ho * d.wo * vw;
    return d;
}

/* Floats of a k x k filter's four phase filters (k <= TG__CONV_KMAX). */
#define TG__CONV_PHASE_W (4 * ((TG__CONV_KMAX + 1) / 2) * ((TG__CONV_KMAX + 1) / 2))

/* f[(2a + b) kf^2 + m kf + n] = w[2m + a][2n + b], zero past k (kf =
 * ceil(k/2)): the filters of the phase planes (a, b) of a stride-2 plane. */
static inline void tg__conv_phase_filters(const float *w, int k, float *f)
{
    const int kf = (k + 1) / 2;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int m = 0; m < kf; m++)
                for (int n = 0; n < kf; n++) {
                    const int r = 2 * m + a, c = 2 * n + b;
                    f[((2 * a + b) * kf + m) * kf + n] = r < k && c < k ? w[r * k + c] : 0.0f;
                }
}

/* Whether the direct path handles this geometry (and is expected to be
 * faster than im2col + GEMM). */
bool tg__conv_direct_ok(const tg__conv_geom *g, int stride, int dilation, int groups);
/* Reserve the per-thread scratch of the forward pass and of the backward
 * pass if @p backward, which also takes *workspace from the step arena for
 * tg__conv_direct_backward. Call at forward time, so that backward cannot
 * fail. False on no memory. */
bool tg__conv_direct_prepare(tg_ctx *ctx, const tg__conv_geom *g, bool backward,
                             float **workspace);
/* y[n][co] = conv(x, w) + b (b may be NULL), then the epilogue epi (may be
 * NULL). */
void tg__conv_direct_forward(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                             const float *x, const float *w, const float *b, float *y,
                             const tg__conv_epi *epi);
/* Accumulates (+=) dx, dw, db from dy; any of them may be NULL (skipped);
 * with @p dx_store, dx is overwritten (stored) instead of added to.
 * With @p relu_y (the output of a forward with relu), dy counts only where
 * relu_y > 0 (the fused ReLU's backward). @p workspace from
 * tg__conv_direct_prepare(..., true, ...) for this g. */
void tg__conv_direct_backward(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                              const float *x, const float *w, const float *dy,
                              const float *relu_y, float *dx, bool dx_store, float *dw,
                              float *db, float *workspace);
/* The same for a forward with epi->pool_y (not depthwise): pool_gy, the
 * gradient of its pool_y, and pool_idx take the place of dy and relu_y. */
void tg__conv_direct_backward_pool(tg_ctx *ctx, const tg__kernels *kt, const tg__conv_geom *g,
                                   const float *x, const float *w, const float *pool_y,
                                   const int32_t *pool_idx, const float *pool_gy, float *dx,
                                   bool dx_store, float *dw, float *db, float *workspace);

/* ---- Winograd F(2x2, 3x3) / F(4x2, 3x3) convolution (kernels/winograd.c)
 * 3x3, stride 1, padding 1, dilation 1, groups 1: 16 multiplications per 2x2
 * output tile and channel pair instead of 36, or on the vector paths' planes
 * of 256 pixels or more 24 per 4x2 tile instead of 72. The products are
 * GEMMs of the transformed weights U (K x C) with the transformed input
 * tiles. Rounding differs from the direct sum (the transforms' constants,
 * reassociated sums); the tests hold each value to 2e-6 of the sum of its
 * terms' magnitudes. Per-sample work; bit-identical for every thread count. */
bool tg__conv_wino_ok(const tg__conv_geom *g, int stride, int dilation, int groups);
/* Floats of the packed transformed weights of g (cout x cin). */
int64_t tg__conv_wino_weights_floats(const tg__conv_geom *g);
/* up = packed U of w [cout][cin][3][3], or, if @p flip, of the backward-data
 * weights w'[ci][co][ky][kx] = w[co][ci][2-ky][2-kx] (then g is that of the
 * backward-data convolution: cin = the forward's cout). */
void tg__conv_wino_weights(tg_ctx *ctx, const tg__conv_geom *g, const float *w, bool flip,
                           float *up);
/* Reserve the per-thread scratch of tg__conv_wino (and, with @p wgrad, of
 * tg__conv_wino_wgrad) for g; false on no memory. */
bool tg__conv_wino_prepare(tg_ctx *ctx, const tg__conv_geom *g, bool wgrad);
/* Floats of the partial sums tg__conv_wino_wgrad takes (its workspace). */
int64_t tg__conv_wino_wgrad_floats(const tg__conv_geom *g);
/* dw += dL/dw, db += dL/db (either may be NULL) from dy, counted only where
 * dy_mask > 0 or is NaN if dy_mask (a fused ReLU): per chunk of the batch
 * (fixed by the sizes), partial sums in the Winograd domain, added in chunk
 * order and transformed back once (G^T dU G): bit-identical for every
 * thread count. */
void tg__conv_wino_wgrad(tg_ctx *ctx, const tg__conv_geom *g, const float *x, const float *dy,
                         const float *dy_mask, float *dw, float *db, float *workspace);
/* y = conv(x, w) + b, then the epilogue epi (may be NULL); or y += conv(x, w)
 * with add (b and epi NULL). With mask, x counts only where mask > 0 or is
 * NaN (the input gradient of a fused ReLU). up from tg__conv_wino_weights. */
void tg__conv_wino(tg_ctx *ctx, const tg__conv_geom *g, const float *x, const float *mask,
                   const float *up, const float *b, float *y, const tg__conv_epi *epi,
                   bool add);

#endif /* TG_KERNELS_H */
