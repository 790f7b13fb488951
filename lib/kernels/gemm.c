/* SPDX-License-Identifier: MIT */
/* Single-precision GEMM: C = alpha * op(A) op(B) + beta * C, row-major.
 *
 * Goto/BLIS structure in plain C: B is packed into KC x NR micro-panels, A
 * into MR x KC micro-panels (the packing absorbs the transpose flags, so one
 * micro-kernel serves all four cases), and a register-blocked MR x NR
 * micro-kernel with a local accumulator array does the arithmetic. gcc -O2/-O3
 * vectorises the j loop of the micro-kernel. 4x8 measured best for baseline
 * x86-64 (SSE2, 16 registers): 8 accumulator registers, no spills; 39
 * GFLOPS/core at 256^3 on the dev box, against 5-11 for 6x16, 8x8 and 6x8,
 * which spill. That kernel is the generic entry of the dispatch table
 * (kernels/kernels.h); on AVX2 / AVX-512 CPUs a 6x16 / 12x32 FMA kernel of
 * the same contract runs instead, and the packing follows its MR x NR.
 *
 * Determinism: every element of C is computed by exactly one thread with the
 * same sequence of operations (K blocks in order, k in order inside a block),
 * whatever the partition, so results are bit-identical for every thread
 * count. Threads split the rows or columns of C, never K. */
#include "tg_internal.h"

#include "kernels/kernels.h"

/* Blocking of the threaded driver (workspace from ctx->scratch): an MC x KC
 * panel of A (~96 KB) and a KC x NC panel of B (~256 KB) stay in L2. */
#define MC 96
#define KC 256
#define NC 256

/* Blocking of tg__sgemm_st, which has no context and packs into a stack
 * buffer (48 KB). KC must stay equal to the threaded one: the K split
 * decides the rounding, so both drivers then give bit-identical results. */
#define ST_MC 24
#define ST_KC KC
#define ST_NC 32

/* Row and column blocks are whole micro-tiles for every kernel's MR x NR,
 * so a packed panel never exceeds its mc x kc (kc x nc) buffer. */
_Static_assert(MC % TG__GEMM_MR_LCM == 0 && ST_MC % TG__GEMM_MR_LCM == 0, "MC vs MR");
_Static_assert(NC % TG__GEMM_NR_LCM == 0 && ST_NC % TG__GEMM_NR_LCM == 0, "NC vs NR");

/* Below this many multiply-adds the pool's fork/join costs more than it
 * saves (a polling worker takes a job within a few us, a sleeping one is
 * woken in tens). The seed CNN's linear layer (0.56M per GEMM), 2 threads,
 * AVX2: forward 24 -> 17 us, backward 59 -> 38 us at 2^18 instead of 2^20;
 * splitting it had not paid while workers polled for only 50 us, because
 * they were often asleep when it started (threadpool.c). */
#define PAR_MIN_FLOPS ((int64_t)1 << 18)

typedef struct {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C;
    const tg__kernels *kt; /* micro-kernel and its MR x NR */
} gemm_args;

/* Transposing packs read each source row in runs of PACK_RUN floats (a
 * cache line), row after row. One element per row and step went across up
 * to NR = 32 rows at once, and at a row length of 1024 floats (4 KB apart)
 * all of them fell in one L1 set: a 32 x 1024 -> 256 linear layer's
 * forward took 633 us, 27 GFLOP/s (235 us in runs). */
#define PACK_RUN 16

/* Pack rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row micro-panels,
 * zero-padding the last panel. */
static void pack_a(const gemm_args *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                   float *restrict dst)
{
    const int64_t MR = g->kt->gemm_mr;
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int64_t mr = mc - ir < MR ? mc - ir : MR;
        if (!g->ta) {
            const float *src = g->A + (i0 + ir) * g->lda + p0;
            for (int64_t pb = 0; pb < kc; pb += PACK_RUN) {
                const int64_t pe = kc - pb < PACK_RUN ? kc : pb + PACK_RUN;
                int64_t i = 0;
                for (; i < mr; i++)
                    for (int64_t p = pb; p < pe; p++)
                        dst[p * MR + i] = src[i * g->lda + p];
                for (; i < MR; i++)
                    for (int64_t p = pb; p < pe; p++)
                        dst[p * MR + i] = 0.0f;
            }
        } else {
            const float *src = g->A + p0 * g->lda + i0 + ir;
            for (int64_t p = 0; p < kc; p++) {
                int64_t i = 0;
                for (; i < mr; i++)
                    dst[p * MR + i] = src[p * g->lda + i];
                for (; i < MR; i++)
                    dst[p * MR + i] = 0.0f;
            }
        }
        dst += kc * MR;
    }
}

/* Pack rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into NR-column
 * micro-panels, zero-padding the last panel. */
static void pack_b(const gemm_args *g, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                   float *restrict dst)
{
    const int64_t NR = g->kt->gemm_nr;
    for (int64_t jr = 0; jr < nc; jr += NR) {
        int64_t nr = nc - jr < NR ? nc - jr : NR;
        if (!g->tb) {
            const float *src = g->B + p0 * g->ldb + j0 + jr;
            for (int64_t p = 0; p < kc; p++) {
                const float *s = src + p * g->ldb;
                float *d = dst + p * NR;
                if (nr == NR) {
                    for (int j = 0; j < NR; j++)
                        d[j] = s[j];
                } else {
                    int64_t j = 0;
                    for (; j < nr; j++)
                        d[j] = s[j];
                    for (; j < NR; j++)
                        d[j] = 0.0f;
                }
            }
        } else {
            const float *src = g->B + (j0 + jr) * g->ldb + p0;
            for (int64_t pb = 0; pb < kc; pb += PACK_RUN) {
                const int64_t pe = kc - pb < PACK_RUN ? kc : pb + PACK_RUN;
                int64_t j = 0;
                for (; j < nr; j++)
                    for (int64_t p = pb; p < pe; p++)
                        dst[p * NR + j] = src[j * g->ldb + p];
                for (; j < NR; j++)
                    for (int64_t p = pb; p < pe; p++)
                        dst[p * NR + j] = 0.0f;
            }
        }
        dst += kc * NR;
    }
}

/* C = beta * C (alpha == 0 or K == 0); beta == 0 writes zeros. */
static void scale_c(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1)
{
    for (int64_t i = i0; i < i1; i++) {
        float *c = g->C + i * g->ldc;
        if (g->beta == 0.0f)
            for (int64_t j = j0; j < j1; j++)
                c[j] = 0.0f;
        else if (g->beta != 1.0f)
            for (int64_t j = j0; j < j1; j++)
                c[j] *= g->beta;
    }
}

/* B read in place, not packed, where it is not transposed, has at most
 * IND_MAX_K rows and the block at most IND_MAX_M rows of C: each element
 * of B then feeds few multiply-adds, and packing it cost about as much as
 * they did. The seed CNN's linear layer, dx = g W (K = 10, 16 rows a
 * thread) and dW = g^T x (K = 32, the batch; M = 10), where each thread
 * copied all of W or its columns of x first. With many rows the strips
 * re-read B's rows from afar, and rows 4 KB apart share an L1 set: an MLP's
 * 1024 x 1024 dW at batch 32 lost 5%. Whole NR-column tiles only: the
 * kernel reads whole vectors, which past the last row's end would be past
 * B; a partial last tile is packed. The same FMA chain per element of C
 * either way, so the same bits. */
#define IND_MAX_K 64
#define IND_MAX_M 32

/* The blocked loop nest over the sub-block rows [i0,i1) x cols [j0,j1) of C.
 * work holds mc*kc + kc*nc floats. */
static void gemm_block(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                       int64_t mcb, int64_t kcb, int64_t ncb, float *work)
{
    if (i0 >= i1 || j0 >= j1)
        return;
    if (g->K == 0 || g->alpha == 0.0f) {
        scale_c(g, i0, i1, j0, j1);
        return;
    }
    float *ap = work, *bp = work + mcb * kcb;
    const int64_t MR = g->kt->gemm_mr, NR = g->kt->gemm_nr;
    const tg__gemm_micro_fn micro = g->kt->gemm_micro;
    const bool ind = !g->tb && g->K <= IND_MAX_K && i1 - i0 <= IND_MAX_M && g->alpha == 1.0f &&
                     g->kt->gemm_micro_ind;
    int64_t off[IND_MAX_K];
    for (int64_t p = 0; ind && p < g->K; p++)
        off[p] = p * g->ldb;
    for (int64_t jc = j0; jc < j1; jc += ncb) {
        int64_t nc = j1 - jc < ncb ? j1 - jc : ncb;
        /* with ind: the whole tiles in place, a partial one packed alone */
        const int64_t nfull = ind ? nc / NR * NR : 0;
        for (int64_t pc = 0; pc < g->K; pc += kcb) {
            int64_t kc = g->K - pc < kcb ? g->K - pc : kcb;
            float beta = pc == 0 ? g->beta : 1.0f;
            if (nfull < nc)
                pack_b(g, pc, kc, jc + nfull, nc - nfull, bp);
            for (int64_t ic = i0; ic < i1; ic += mcb) {
                int64_t mc = i1 - ic < mcb ? i1 - ic : mcb;
                pack_a(g, ic, mc, pc, kc, ap);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int nr = (int)(nc - jr < NR ? nc - jr : NR);
                    const float *bj = g->B + pc * g->ldb + jc + jr;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        int mr = (int)(mc - ir < MR ? mc - ir : MR);
                        float *c = g->C + (ic + ir) * g->ldc + jc + jr;
                        if (jr < nfull)
                            g->kt->gemm_micro_ind(kc, ap + ir * kc, bj, off, g->kt->gemm_vw, 0,
                                                  beta, c, g->ldc, mr, nr);
                        else
                            micro(kc, g->alpha, ap + ir * kc, bp + (jr - nfull) * kc, beta, c,
                                  g->ldc, mr, nr);
                    }
                }
            }
        }
    }
}

/* A B^T as dot products of contiguous rows (a linear layer's forward, x
 * W^T): no packing, and B taken in blocks of ABT_NB rows that stay in L2
 * while every row of A passes. First for few columns, where NR-wide panels
 * of B^T are mostly padding (seed CNN inference at batch 1000, 1 thread:
 * 39k -> 60k samples/s); then for any N up to ABT_MAX_M rows on the vector
 * ISAs, as packing B^T was a transpose element by element: weights not in
 * cache, 1 thread, AVX-512, packed -> dots: batch 32, 1024 -> 1024 1,679
 * -> 853 us, 784 -> 1024 2,590 -> 699 us, LeNet-5's 400 -> 120 147 -> 58
 * us; 512^3 3,633 -> 2,773 us; 1024^3 24.2 -> 22.3 ms (AVX2 kernels:
 * 22.1 -> 24.3, hence the bound). The plain C path's scalar dots were 2-3x
 * slower than its packed GEMM: few columns only. Each element's arithmetic
 * does not depend on the blocking or the split. */
#define ABT_MAX_N 16
#define ABT_MIN_K 32
#define ABT_MAX_M 512
#define ABT_NB 64

static bool use_abt(const tg__kernels *kt, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                    float alpha)
{
    if (ta || !tb || K < ABT_MIN_K || alpha == 0.0f)
        return false;
    return N <= ABT_MAX_N || (kt->gemm_vw > 1 && M <= ABT_MAX_M);
}

typedef struct {
    const gemm_args *g;
    bool by_cols; /* a unit of the pool's range is a block of B's rows, else 2 rows of A */
} abt_job;

/* Rows [m0, m1) of C, B's rows (C's columns) [n0, n1) in blocks. */
static void abt_block(const gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    for (int64_t nb = n0; nb < n1; nb += ABT_NB) {
        const int64_t nn = n1 - nb < ABT_NB ? n1 - nb : ABT_NB;
        g->kt->gemm_abt(m1 - m0, nn, g->K, g->alpha, g->A + m0 * g->lda, g->lda,
                        g->B + nb * g->ldb, g->ldb, g->beta, g->C + m0 * g->ldc + nb, g->ldc);
    }
}

static void abt_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const abt_job *j = arg;
    const gemm_args *g = j->g;
    if (j->by_cols)
        abt_block(g, 0, g->M, b * ABT_NB, e * ABT_NB < g->N ? e * ABT_NB : g->N);
    else /* units of 2 rows: the kernel's row pairing stays the same */
        abt_block(g, 2 * b, 2 * e < g->M ? 2 * e : g->M, 0, g->N);
}

void tg__sgemm_st(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    gemm_args g = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C,
                   tg__kernels_get()};
    if (use_abt(g.kt, trans_a, trans_b, M, N, K, alpha)) {
        abt_block(&g, 0, M, 0, N);
        return;
    }
    float work[ST_MC * ST_KC + ST_KC * ST_NC];
    gemm_block(&g, 0, M, 0, N, ST_MC, ST_KC, ST_NC, work);
}

/* ---- drivers with caller workspace (convolution) ---------------------------
 * Same K blocking (KC) as the drivers above, hence the same rounding. */

_Static_assert(TG__SGEMM_KC == KC && TG__SGEMM_WORK_FLOATS >= MC * KC + KC * NC, "gemm ws");

int64_t tg__sgemm_pack_a_floats(int64_t M, int64_t K)
{
    const int64_t MR = tg__kernels_get()->gemm_mr;
    return (M + MR - 1) / MR * MR * (K > 0 ? K : 1);
}

void tg__sgemm_pack_a(bool trans_a, int64_t M, int64_t K, const float *A, int64_t lda,
                      float *dst)
{
    gemm_args g = {trans_a, false, M, 0, K, 1.0f, 0.0f, A, NULL, lda, 0, 0, NULL,
                   tg__kernels_get()};
    const int64_t MR = g.kt->gemm_mr, mround = (M + MR - 1) / MR * MR;
    for (int64_t pc = 0; pc < K; pc += KC) {
        int64_t kc = K - pc < KC ? K - pc : KC;
        pack_a(&g, 0, M, pc, kc, dst + pc * mround);
    }
}

void tg__sgemm_pa(int64_t M, int64_t N, int64_t K, float alpha, const float *ap, bool trans_b,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *work)
{
    if (M <= 0 || N <= 0)
        return;
    gemm_args g = {false, trans_b, M, N, K, alpha, beta, NULL, B, 0, ldb, ldc, C,
                   tg__kernels_get()};
    if (K == 0 || alpha == 0.0f) {
        scale_c(&g, 0, M, 0, N);
        return;
    }
    const int64_t MR = g.kt->gemm_mr, NR = g.kt->gemm_nr, mround = (M + MR - 1) / MR * MR;
    const tg__gemm_micro_fn micro = g.kt->gemm_micro;
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = K - pc < KC ? K - pc : KC;
            float bt = pc == 0 ? beta : 1.0f;
            pack_b(&g, pc, kc, jc, nc, work);
            const float *apc = ap + pc * mround;
            for (int64_t jr = 0; jr < nc; jr += NR) {
                int nr = (int)(nc - jr < NR ? nc - jr : NR);
                for (int64_t ir = 0; ir < M; ir += MR) {
                    int mr = (int)(M - ir < MR ? M - ir : MR);
                    micro(kc, alpha, apc + ir * kc, work + jr * kc, bt, C + ir * ldc + jc + jr,
                          ldc, mr, nr);
                }
            }
        }
    }
}

int64_t tg__sgemm_pack_b_floats(int64_t K, int64_t N)
{
    const int64_t NR = tg__kernels_get()->gemm_nr;
    return (N + NR - 1) / NR * NR * (K > 0 ? K : 1);
}

/* The pre-packed drivers' cases with nothing to multiply: true when done
 * (an empty C, or C = beta * C for K == 0). */
static bool packed_trivial(int64_t M, int64_t N, int64_t K, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return true;
    if (K > 0)
        return false;
    gemm_args g = {false, false, M, N, K, 1.0f, beta, NULL, NULL, 0, 0, ldc, C,
                   tg__kernels_get()};
    scale_c(&g, 0, M, 0, N);
    return true;
}

void tg__sgemm_papb(int64_t M, int64_t N, int64_t K, const float *ap, const float *bp,
                    float beta, float *C, int64_t ldc)
{
    if (packed_trivial(M, N, K, beta, C, ldc))
        return;
    const tg__kernels *kt = tg__kernels_get();
    const int64_t MR = kt->gemm_mr, NR = kt->gemm_nr, mround = (M + MR - 1) / MR * MR;
    for (int64_t pc = 0; pc < K; pc += KC) {
        int64_t kc = K - pc < KC ? K - pc : KC;
        float bt = pc == 0 ? beta : 1.0f;
        const float *apc = ap + pc * mround;
        for (int64_t jr = 0; jr < N; jr += NR) {
            int nr = (int)(N - jr < NR ? N - jr : NR);
            for (int64_t ir = 0; ir < M; ir += MR) {
                int mr = (int)(M - ir < MR ? M - ir : MR);
                kt->gemm_micro(kc, 1.0f, apc + ir * kc, bp + jr * K + pc * NR, bt,
                               C + ir * ldc + jr, ldc, mr, nr);
            }
        }
    }
}

void tg__sgemm_pa_ind(int64_t M, int64_t N, int64_t K, const float *ap, const float *b,
                      const int64_t *off, int64_t wrow, int64_t brow, float beta, float *C,
                      int64_t ldc)
{
    if (packed_trivial(M, N, K, beta, C, ldc))
        return;
    const tg__kernels *kt = tg__kernels_get();
    const int64_t MR = kt->gemm_mr, NR = kt->gemm_nr, mround = (M + MR - 1) / MR * MR;
    const int64_t VWd = kt->gemm_vw, vstep = VWd / wrow * brow + VWd % wrow;
    const int64_t hstep = wrow != brow && 2 * wrow == VWd ? brow : 0; /* rows of half vectors */
    for (int64_t pc = 0; pc < K; pc += KC) {
        int64_t kc = K - pc < KC ? K - pc : KC;
        float bt = pc == 0 ? beta : 1.0f;
        const float *apc = ap + pc * mround;
        for (int64_t jr = 0; jr < N; jr += NR) {
            int nr = (int)(N - jr < NR ? N - jr : NR);
            const float *bj = b + jr / wrow * brow + jr % wrow;
            for (int64_t ir = 0; ir < M; ir += MR) {
                int mr = (int)(M - ir < MR ? M - ir : MR);
                kt->gemm_micro_ind(kc, apc + ir * kc, bj, off + pc, vstep, hstep, bt,
                                   C + ir * ldc + jr, ldc, mr, nr);
            }
        }
    }
}

void tg__sgemm_ws(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc, float *work)
{
    if (M <= 0 || N <= 0)
        return;
    gemm_args g = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C,
                   tg__kernels_get()};
    gemm_block(&g, 0, M, 0, N, MC, KC, NC, work);
}

enum { SPLIT_STRIPS, SPLIT_COLS, SPLIT_ROWS }; /* MR-row strips, NR-column strips, rows */

typedef struct {
    const gemm_args *g;
    int split;         /* SPLIT_*: what a unit of the pool's range is */
    tg_ctx *ctx;       /* thread tid packs into ctx->scratch[tid] */
} par_job;

static void par_range(void *arg, int64_t b, int64_t e, int tid)
{
    const par_job *j = arg;
    const gemm_args *g = j->g;
    const int64_t MR = g->kt->gemm_mr, NR = g->kt->gemm_nr;
    if (j->split == SPLIT_ROWS) {
        gemm_block(g, b, e, 0, g->N, MC, KC, NC, j->ctx->scratch[tid]);
    } else if (j->split == SPLIT_STRIPS) {
        int64_t i1 = e * MR < g->M ? e * MR : g->M;
        gemm_block(g, b * MR, i1, 0, g->N, MC, KC, NC, j->ctx->scratch[tid]);
    } else {
        int64_t j1 = e * NR < g->N ? e * NR : g->N;
        gemm_block(g, 0, g->M, b * NR, j1, MC, KC, NC, j->ctx->scratch[tid]);
    }
}

static void sgemm_split(tg_ctx *ctx, bool by_rows, bool trans_a, bool trans_b, int64_t M,
                        int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    gemm_args g = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C,
                   tg__kernels_get()};
    if (use_abt(g.kt, trans_a, trans_b, M, N, K, alpha)) {
        /* B's row blocks where each thread gets two (each reads its share
         * of the weights, once), else rows of A in pairs */
        const int64_t nblocks = (N + ABT_NB - 1) / ABT_NB;
        abt_job aj = {&g, !by_rows && nblocks >= 2 * ctx->n_threads};
        if (ctx->n_threads < 2 || M * N * K < PAR_MIN_FLOPS)
            abt_block(&g, 0, M, 0, N);
        else
            tg__parallel_for_coarse(ctx, aj.by_cols ? nblocks : (M + 1) / 2, abt_range, &aj);
        return;
    }
    const int64_t MR = g.kt->gemm_mr, NR = g.kt->gemm_nr;
    size_t need = (size_t)(MC * KC + KC * NC) * sizeof(float);
    /* No memory for the panels: one thread with the stack-buffer blocking
     * (same K blocks, hence the same results). */
    if (!tg__scratch_reserve(ctx, need)) {
        tg__sgemm_st(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int64_t row_units = (M + MR - 1) / MR, col_units = (N + NR - 1) / NR;
    /* Rows only where every thread gets a micro-tile's worth (a batch of
     * one would leave all the work to one thread) and B is no larger than
     * C (each thread packs all of B: a 2048 x 2048 layer's dx at batch 32
     * was 4% slower by rows; the seed CNN's, K = 10, faster) */
    by_rows = by_rows && M >= MR * ctx->n_threads && K <= M;
    par_job job = {&g, by_rows ? SPLIT_ROWS : row_units >= col_units ? SPLIT_STRIPS : SPLIT_COLS,
                   ctx};
    if (ctx->n_threads < 2 || M * N * K < PAR_MIN_FLOPS) {
        gemm_block(&g, 0, M, 0, N, MC, KC, NC, ctx->scratch[0]);
        return;
    }
    const int64_t units = job.split == SPLIT_ROWS     ? M
                          : job.split == SPLIT_STRIPS ? row_units
                                                      : col_units;
    tg__parallel_for_coarse(ctx, units, par_range, &job);
}

void tg__sgemm(tg_ctx *ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
               float *C, int64_t ldc)
{
    sgemm_split(ctx, false, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void tg__sgemm_rows(tg_ctx *ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc)
{
    sgemm_split(ctx, true, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
