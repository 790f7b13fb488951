/* SPDX-License-Identifier: MIT */
/* Kernel template, included once per ISA by kernels_{generic,avx2,avx512}.c.
 * The includer defines:
 *   SFX              suffix of the generated function names
 *   VW               floats per vector; vf the vector type
 *   VLOAD/VSTORE     unaligned load/store, VZERO(), VSET1(s), VFMA(a,b,c) = a*b+c,
 *                    VADD(a,b) = a+b,
 *   VHSUM(v)         sum of the lanes in a fixed order
 *   (vf also takes + and -, as GCC/clang vector types and float do)
 *   VKEEP(v)         keep v in a register (stops the compiler from folding
 *                    the load into every FMA that uses it)
 *   FWD_NV(c)        vectors per forward tile for c output channels (at most
 *                    FWD_NV_MAX; whole tiles, then single vectors)
 *   FWD_COB_MAX      output channels per forward tile (<= 12)
 *   WG_ACC           accumulator budget of the weight-gradient tile (cob <= 9)
 *   GEMM_MR, GEMM_NV micro-tile: GEMM_MR rows x GEMM_NV vectors
 * and may define:
 *   VEVEN_ODD(a, b)  the even lanes of a, then the odd lanes of b (the
 *                    stride-2 gather's vector step)
 *   GATHER8(s, d)    d[i] = s[2 * i] for i < 8 (its step for a part vector)
 *   VLOAD_HALVES(p, q) a vector of VW/2 floats from p, then VW/2 from q
 *   POOL_FN_OVERRIDE its own 2x2 max pooling function
 *   VDEINT(lo, hi, odd) the even (odd) lanes of lo, then of hi; with it also
 *                    VINTERLEAVE(a, b, &lo, &hi) (a0 b0 a1 b1 ... as two
 *                    vectors), VRELU(v) (max(v, 0), NaN kept), and for two
 *                    half-vector rows VLOAD_PAIR(p, q) and VDEINT_PAIR (the
 *                    same per half): the Winograd transforms in registers
 *   VLOAD_QUAD(p, s), VDEINT_QUAD, VSTORE_HALVES(p, q, v) four quarter-vector
 *                    rows (p + i s) and halves out: their R = 4 form
 * Loops over register tiles have compile-time trip counts once the
 * always-inline tile functions are instantiated from the switches below, so
 * the accumulators live in registers. */
#include "kernels.h"

#define TGK_CAT_(a, b) a##_##b
#define TGK_CAT(a, b) TGK_CAT_(a, b)
#define FN(name) TGK_CAT(name, SFX)
#define TGK_INLINE static inline __attribute__((always_inline))
/* Fully unroll a loop with a small constant trip count (register tiles).
 * clang needs its own spelling (it took "GCC unroll 16" as a count and left
 * the accumulators in memory: 3x slower); sanitizer builds skip it, since
 * instrumented fully unrolled tiles took minutes and gigabytes to compile. */
#if defined(__clang__)
#  if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) ||                  \
      __has_feature(thread_sanitizer) || !defined(__OPTIMIZE__)
#    define TGK_UNROLL
#  else
#    define TGK_UNROLL _Pragma("clang loop unroll(full)")
#  endif
#else
#  define TGK_UNROLL _Pragma("GCC unroll 16")
#endif
#define TGK_STR_(x) #x
#define TGK_STR(x) TGK_STR_(x)
/* Prefetch for writing, 4 KB ahead of an output written in address order.
 * A layer's output was last touched a training step earlier and is out of
 * cache; the stores' reads for ownership stalled the Winograd output stage
 * (ResNet-8's 16-channel layers, batch 64, 1 thread: forward 2.09-2.27 ->
 * 1.87-2.01 ms). As an address, not a pointer: it may lie past the buffer. */
#define TGK_PF_W(p) __builtin_prefetch((const void *)((uintptr_t)(p) + 4096), 1, 3)

#define FWD_NV_MAX 8

/* FWD_FULL_FIRST: a layer's output channels in whole FWD_COB_MAX tiles
 * first, the rest in one smaller tile, rather than in near-equal tiles. */
#ifndef FWD_FULL_FIRST
#  define FWD_FULL_FIRST 0
#endif

/* FWD_UNROLL_K3: 3x3 forward tiles of up to this many output channels
 * with the taps' loops unrolled. With 32 vector registers (AVX-512, all
 * tiles) the seed CNN's 6 -> 9 layer's forward took 290 -> 267 us; with 16
 * (AVX2) only tiles of 1-3 channels gained (1 -> 3: 27 -> 23 us), wider
 * ones lost (4 + 5 channels: 282 -> 310 us). */
#ifndef FWD_UNROLL_K3
#  define FWD_UNROLL_K3 0
#endif

/* ---- forward ------------------------------------------------------------ */

TGK_INLINE void FN(fwd_tile)(const int cob, const int nv, int cin, int k, int64_t wp, int64_t o0,
                             const float *in, int64_t in_cs, const float *w, int64_t wcs,
                             float *out, int64_t out_cs)
{
    vf acc[FWD_COB_MAX][FWD_NV_MAX];
TGK_UNROLL
    for (int c = 0; c < cob; c++)
TGK_UNROLL
        for (int v = 0; v < nv; v++)
            acc[c][v] = VZERO();
    const int kk = k * k;
    for (int ci = 0; ci < cin; ci++) {
        const float *ip = in + ci * in_cs + o0;
        const float *wc = w + ci * kk;
        for (int ky = 0; ky < k; ky++) {
            const float *row = ip + ky * wp;
            const float *wr = wc + ky * k;
            for (int kx = 0; kx < k; kx++) {
                vf x[FWD_NV_MAX];
TGK_UNROLL
                for (int v = 0; v < nv; v++) {
                    x[v] = VLOAD(row + kx + v * VW);
                    VKEEP(x[v]);
                }
TGK_UNROLL
                for (int c = 0; c < cob; c++) {
                    vf s = VSET1(wr[c * wcs + kx]);
TGK_UNROLL
                    for (int v = 0; v < nv; v++)
                        acc[c][v] = VFMA(s, x[v], acc[c][v]);
                }
            }
        }
    }
TGK_UNROLL
    for (int c = 0; c < cob; c++)
TGK_UNROLL
        for (int v = 0; v < nv; v++)
            VSTORE(out + c * out_cs + o0 + v * VW, acc[c][v]);
}

/* One out-of-line function per channel count: the tile's loops then have
 * constant trip counts in a function of their own, which clang needs to
 * unroll them and keep the accumulators in registers (inlined into one
 * switch, it merged the cases into a loop over memory). Whole tiles, then
 * single vectors up to n (a whole tile past the last output was up to 56
 * wasted floats a plane: 6% of the seed CNN's 28x28 planes). */
#define FWD_DEF(C)                                                                             \
    static __attribute__((noinline)) void FN(fwd_c##C)(                                        \
        int cin, int k, int64_t wp, int64_t n, const float *in, int64_t in_cs,                 \
        const float *wco, int64_t wcs, float *oco, int64_t out_cs)                             \
    {                                                                                          \
        int64_t o0 = 0;                                                                        \
        if ((C) <= FWD_UNROLL_K3 && k == 3) /* a constant: the taps' loops unrolled */        \
            for (; o0 + FWD_NV(C) * VW <= n; o0 += FWD_NV(C) * VW)                             \
                FN(fwd_tile)(C, FWD_NV(C), cin, 3, wp, o0, in, in_cs, wco, wcs, oco, out_cs);  \
        for (; o0 + FWD_NV(C) * VW <= n; o0 += FWD_NV(C) * VW)                                 \
            FN(fwd_tile)(C, FWD_NV(C), cin, k, wp, o0, in, in_cs, wco, wcs, oco, out_cs);      \
        for (; o0 < n; o0 += VW)                                                               \
            FN(fwd_tile)(C, 1, cin, k, wp, o0, in, in_cs, wco, wcs, oco, out_cs);              \
    }
FWD_DEF(1) FWD_DEF(2) FWD_DEF(3) FWD_DEF(4)
#if FWD_COB_MAX > 4
FWD_DEF(5) FWD_DEF(6)
#endif
#if FWD_COB_MAX > 6
FWD_DEF(7) FWD_DEF(8)
#endif
#if FWD_COB_MAX > 8
FWD_DEF(9) FWD_DEF(10) FWD_DEF(11) FWD_DEF(12)
#endif
#undef FWD_DEF

#define FWD_CASE(C)                                                                            \
    case C:                                                                                    \
        FN(fwd_c##C)(cin, k, wp, n, in, in_cs, wco, wcs, oco, out_cs);                         \
        break;

/* Outputs [0, len) rounded up to whole vectors; the rest of the rounded
 * length the callers size for is left as it was. */
static void FN(conv_flat)(int cin, int cout, int k, int64_t wp, int64_t len, const float *in,
                          int64_t in_cs, const float *w, float *out, int64_t out_cs)
{
    const int64_t n = (len + VW - 1) / VW * VW, wcs = (int64_t)cin * k * k;
    /* Split cout into blocks of at most FWD_COB_MAX channels: near-equal,
     * or with FWD_FULL_FIRST whole blocks first and the rest last. */
    int nblk = (cout + FWD_COB_MAX - 1) / FWD_COB_MAX;
    for (int b = 0, co = 0; b < nblk; b++) {
        int cob = FWD_FULL_FIRST ? (cout - co < FWD_COB_MAX ? cout - co : FWD_COB_MAX)
                                 : (cout - co) / (nblk - b);
        const float *wco = w + co * wcs;
        float *oco = out + co * out_cs;
        switch (cob) {
            FWD_CASE(1) FWD_CASE(2) FWD_CASE(3) FWD_CASE(4)
#if FWD_COB_MAX > 4
            FWD_CASE(5) FWD_CASE(6)
#endif
#if FWD_COB_MAX > 6
            FWD_CASE(7) FWD_CASE(8)
#endif
#if FWD_COB_MAX > 8
            FWD_CASE(9) FWD_CASE(10) FWD_CASE(11) FWD_CASE(12)
#endif
        default: break;
        }
        co += cob;
    }
}
#undef FWD_CASE

/* ---- weight gradient ------------------------------------------------------ */

/* One (ci, ky) row of taps for cob output channels: acc[c][kx] over all o. */
TGK_INLINE void FN(wg_tile)(const int cob, const int k, int64_t n, const float *xr,
                            const float *dy, int64_t dy_cs, float *dw, int64_t dw_cs)
{
    vf acc[9][TG__CONV_KMAX];
TGK_UNROLL
    for (int c = 0; c < cob; c++)
TGK_UNROLL
        for (int kx = 0; kx < k; kx++)
            acc[c][kx] = VZERO();
    for (int64_t o = 0; o < n; o += VW) {
        vf x[TG__CONV_KMAX];
TGK_UNROLL
        for (int kx = 0; kx < k; kx++) {
            x[kx] = VLOAD(xr + o + kx);
            VKEEP(x[kx]); /* one load per tap, not one per FMA */
        }
TGK_UNROLL
        for (int c = 0; c < cob; c++) {
            vf d = VLOAD(dy + c * dy_cs + o);
            VKEEP(d);
TGK_UNROLL
            for (int kx = 0; kx < k; kx++)
                acc[c][kx] = VFMA(d, x[kx], acc[c][kx]);
        }
    }
TGK_UNROLL
    for (int c = 0; c < cob; c++)
TGK_UNROLL
        for (int kx = 0; kx < k; kx++)
            dw[c * dw_cs + kx] += VHSUM(acc[c][kx]);
}

/* Channels per weight-gradient tile for kernel size k. */
#define WG_COB(k) ((WG_ACC / (k)) < 1 ? 1 : (WG_ACC / (k)) > 9 ? 9 : (WG_ACC / (k)))

/* Only tiles that fit the budget are instantiated: __builtin_choose_expr
 * drops the others before any inlining, which keeps compile time (notably of
 * sanitizer builds) and code size down. */
#define WG_C(C, K)                                                                             \
    case C:                                                                                    \
        __builtin_choose_expr((C) <= WG_COB(K),                                                \
                              FN(wg_tile)(C, K, n, xr, dyc, dy_cs, dwc, dw_cs), (void)0);      \
        break;
#define WG_K(K)                                                                                \
    case K:                                                                                    \
        switch (cob) {                                                                         \
            WG_C(1, K) WG_C(2, K) WG_C(3, K) WG_C(4, K) WG_C(5, K) WG_C(6, K) WG_C(7, K)       \
            WG_C(8, K) WG_C(9, K)                                                              \
        default: break;                                                                        \
        }                                                                                      \
        break;

static void FN(conv_wgrad)(int cin, int cout, int k, int64_t wp, int64_t len, const float *in,
                           int64_t in_cs, const float *dy, int64_t dy_cs, float *dw)
{
    /* whole vectors past len only (dy is zero there) */
    const int64_t n = (len + VW - 1) / VW * VW, kk = (int64_t)k * k, dw_cs = cin * kk;
    const int cmax = WG_COB(k);
    int nblk = (cout + cmax - 1) / cmax;
    for (int b = 0, co = 0; b < nblk; b++) {
        int cob = (cout - co) / (nblk - b);
        for (int ci = 0; ci < cin; ci++)
            for (int ky = 0; ky < k; ky++) {
                const float *xr = in + ci * in_cs + ky * wp;
                const float *dyc = dy + co * dy_cs;
                float *dwc = dw + co * dw_cs + ci * kk + ky * k;
                switch (k) {
                    WG_K(1) WG_K(2) WG_K(3) WG_K(4) WG_K(5) WG_K(6) WG_K(7)
                default: break;
                }
            }
        co += cob;
    }
}
#undef WG_C
#undef WG_K

/* ---- direct convolution: per-sample loops ---------------------------------- */

#include "conv_direct_impl.h"

/* ---- GEMM micro-kernel ---------------------------------------------------- */

#define GEMM_NR (GEMM_NV * VW)

/* The tile's first R rows (R <= GEMM_MR, a constant after inlining) and
 * first NV vectors of columns (NV <= GEMM_NV); A's and B's panels keep
 * their GEMM_MR-row and GEMM_NR-column layouts. Each C element is the same
 * FMA chain over p whatever R and NV are, so the tile's shape never changes
 * a result. With off (not NULL), B is not packed: row p's vector v is the
 * VW floats at b + off[p] + v * vstep (the strided convolution's phase
 * planes), or with HALF its two halves, hstep apart, with the same chains. */
TGK_INLINE void FN(gemm_micro_rows)(const int R, const int NV, int64_t kc, float alpha,
                                    const float *a, const float *b, const int64_t *off,
                                    int64_t vstep, const bool HALF, int64_t hstep, float beta,
                                    float *c, int64_t ldc, int m, int n)
{
    vf acc[GEMM_MR][GEMM_NV];
TGK_UNROLL
    for (int i = 0; i < R; i++)
TGK_UNROLL
        for (int v = 0; v < NV; v++)
            acc[i][v] = VZERO();
    for (int64_t p = 0; p < kc; p++) {
        vf bv[GEMM_NV];
TGK_UNROLL
        for (int v = 0; v < NV; v++)
#ifdef VLOAD_HALVES
            if (HALF)
                bv[v] = VLOAD_HALVES(b + off[p] + v * vstep, b + off[p] + v * vstep + hstep);
            else
#endif
                bv[v] = VLOAD(b + (off ? off[p] : p * GEMM_NR) + v * vstep);
TGK_UNROLL
        for (int i = 0; i < R; i++) {
            vf s = VSET1(a[p * GEMM_MR + i]);
TGK_UNROLL
            for (int v = 0; v < NV; v++)
                acc[i][v] = VFMA(s, bv[v], acc[i][v]);
        }
    }
    if (n == NV * VW && alpha == 1.0f && (beta == 0.0f || beta == 1.0f)) {
        /* whole vectors: straight to C (the same sums as the general path) */
TGK_UNROLL
        for (int i = 0; i < R; i++)
            if (i < m)
TGK_UNROLL
                for (int v = 0; v < NV; v++) {
                    float *cv = c + i * ldc + v * VW;
                    VSTORE(cv, beta == 0.0f ? acc[i][v] : VADD(acc[i][v], VLOAD(cv)));
                }
        return;
    }
    float tile[GEMM_MR * GEMM_NR];
TGK_UNROLL
    for (int i = 0; i < R; i++)
TGK_UNROLL
        for (int v = 0; v < NV; v++)
            VSTORE(tile + i * GEMM_NR + v * VW, acc[i][v]);
    for (int i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        const float *ti = tile + i * GEMM_NR;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++)
                ci[j] = alpha * ti[j];
        else
            for (int j = 0; j < n; j++)
                ci[j] = alpha * ti[j] + beta * ci[j];
    }
}

/* A tile with fewer rows (M not a multiple of MR: 16 rows are 6 + 6 + 4 on
 * AVX2, 12 + 4 on AVX-512) runs a kernel of 2, 4 or 8 rows when that covers
 * them, instead of multiplying zero rows (ResNet-8's forward convolutions
 * -2.7% per step on AVX2). */
TGK_INLINE void FN(gemm_micro_nv)(const int NV, int64_t kc, float alpha, const float *a,
                                  const float *b, const int64_t *off, int64_t vstep,
                                  const bool HALF, int64_t hstep, float beta, float *c,
                                  int64_t ldc, int m, int n)
{
    if (m <= 2 && GEMM_MR > 2)
        FN(gemm_micro_rows)(2, NV, kc, alpha, a, b, off, vstep, HALF, hstep, beta, c, ldc, m, n);
    else if (m <= 4 && GEMM_MR > 4)
        FN(gemm_micro_rows)(4, NV, kc, alpha, a, b, off, vstep, HALF, hstep, beta, c, ldc, m, n);
    else if (m <= 8 && GEMM_MR > 8)
        FN(gemm_micro_rows)(8, NV, kc, alpha, a, b, off, vstep, HALF, hstep, beta, c, ldc, m, n);
    else
        FN(gemm_micro_rows)(GEMM_MR, NV, kc, alpha, a, b, off, vstep, HALF, hstep, beta, c, ldc,
                            m, n);
}

/* Likewise a tile of at most one vector of columns runs one: a Winograd
 * block of one 8x8 sample is 16 tiles, half of AVX-512's 32 columns (at
 * batch 1, ResNet-8's 64-channel layer took twice the AVX2 kernels' time). */
TGK_INLINE void FN(gemm_micro_tile)(int64_t kc, float alpha, const float *a, const float *b,
                                    const int64_t *off, int64_t vstep, const bool HALF,
                                    int64_t hstep, float beta, float *c, int64_t ldc, int m,
                                    int n)
{
    if (GEMM_NV == 2 && n <= VW)
        FN(gemm_micro_nv)(1, kc, alpha, a, b, off, vstep, HALF, hstep, beta, c, ldc, m, n);
    else
        FN(gemm_micro_nv)(GEMM_NV, kc, alpha, a, b, off, vstep, HALF, hstep, beta, c, ldc, m,
                          n);
}

static void FN(gemm_micro)(int64_t kc, float alpha, const float *a, const float *b, float beta,
                           float *c, int64_t ldc, int m, int n)
{
    FN(gemm_micro_tile)(kc, alpha, a, b, NULL, VW, false, 0, beta, c, ldc, m, n);
}

/* gemm_micro with B's row p at b + off[p], its second vector vstep floats
 * after the first (alpha 1), and with hstep > 0 each vector's upper half
 * hstep floats after its lower half (ISAs with VLOAD_HALVES; 8-float rows
 * in 16-float vectors); reads all GEMM_NV vectors even when n is less.
 * Vector ISAs only: the plain C kernel relies on the compiler vectorising
 * its columns, which it did not do through off (a strided layer's forward
 * 2.5x slower). */
#if VW > 1
_Static_assert(GEMM_NV <= 2, "gemm_micro_ind: vector offsets are 0 and vstep");
#  define GEMM_MICRO_IND FN(gemm_micro_ind)
static void FN(gemm_micro_ind)(int64_t kc, const float *a, const float *b, const int64_t *off,
                               int64_t vstep, int64_t hstep, float beta, float *c, int64_t ldc,
                               int m, int n)
{
#  ifdef VLOAD_HALVES
    if (hstep) {
        FN(gemm_micro_tile)(kc, 1.0f, a, b, off, vstep, true, hstep, beta, c, ldc, m, n);
        return;
    }
#  endif
    FN(gemm_micro_tile)(kc, 1.0f, a, b, off, vstep, false, 0, beta, c, ldc, m, n);
}
#else
#  define GEMM_MICRO_IND NULL
#endif

/* ---- C = alpha * A B^T + beta * C for few columns -------------------------
 * Rows of A and B are both contiguous along K, so each C element is a dot
 * product; tiles of 3 rows of A x 4 rows of B share their loads. Lanes are
 * summed in a fixed order, then the K tail in order: deterministic, and each
 * element's arithmetic does not depend on the tiling. gemm_abt_ind reads
 * B's rows as runs in place (tg__abt_runs): the same vectors in the same
 * order as from a contiguous copy, so the same bits. */

/* The tile's sums from its accumulators (k: where the vector loop ended),
 * straight to C: staged in a float array, the 4 scalar stores and the
 * 4-wide reload of a row stalled store forwarding. */
TGK_INLINE void FN(abt_store)(const int mt, const int nt, vf acc[3][4], int64_t k, int64_t K,
                              float alpha, const float *a, int64_t lda, const float *b,
                              int64_t ldb, float beta, float *c, int64_t ldc)
{
TGK_UNROLL
    for (int i = 0; i < mt; i++) {
        float *ci = c + i * ldc;
#ifdef VHSUM4
        if (nt == 4 && k == K) { /* 4 sums as one vector, no K tail */
            __m128 v = _mm_mul_ps(_mm_set1_ps(alpha), VHSUM4(acc[i][0], acc[i][1], acc[i][2],
                                                              acc[i][3]));
            if (beta != 0.0f)
                v = _mm_add_ps(v, _mm_mul_ps(_mm_set1_ps(beta), _mm_loadu_ps(ci)));
            _mm_storeu_ps(ci, v);
            continue;
        }
#endif
TGK_UNROLL
        for (int j = 0; j < nt; j++) {
            float d = VHSUM(acc[i][j]);
            for (int64_t t = k; t < K; t++)
                d += a[i * lda + t] * b[j * ldb + t];
            float v = alpha * d;
            ci[j] = beta == 0.0f ? v : v + beta * ci[j];
        }
    }
}

TGK_INLINE void FN(abt_tile)(const int mt, const int nt, int64_t K, float alpha, const float *a,
                             int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                             int64_t ldc)
{
    vf acc[3][4];
TGK_UNROLL
    for (int i = 0; i < mt; i++)
TGK_UNROLL
        for (int j = 0; j < nt; j++)
            acc[i][j] = VZERO();
    int64_t k = 0;
    for (; k + VW <= K; k += VW) {
        vf av[3];
TGK_UNROLL
        for (int i = 0; i < mt; i++) {
            av[i] = VLOAD(a + i * lda + k);
            VKEEP(av[i]);
        }
TGK_UNROLL
        for (int j = 0; j < nt; j++) {
            vf bv = VLOAD(b + j * ldb + k);
            VKEEP(bv);
TGK_UNROLL
            for (int i = 0; i < mt; i++)
                acc[i][j] = VFMA(av[i], bv, acc[i][j]);
        }
    }
    FN(abt_store)(mt, nt, acc, k, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* abt_tile (alpha 1) with B's rows at b + boff[j], as runs: blocks of
 * rn->rows runs of rn->wrow floats (a multiple of VW; K a whole number of
 * runs). */
TGK_INLINE void FN(abt_tile_runs)(const int mt, const int nt, int64_t K, const float *a,
                                  int64_t lda, const float *b, const int64_t *boff,
                                  const tg__abt_runs *rn, float beta, float *c, int64_t ldc)
{
    vf acc[3][4];
TGK_UNROLL
    for (int i = 0; i < mt; i++)
TGK_UNROLL
        for (int j = 0; j < nt; j++)
            acc[i][j] = VZERO();
    const int64_t wrow = rn->wrow;
    /* The rows' starts, in registers: loading boff[j] for every vector made
     * one-vector runs (AVX2, 8-float rows) slower than the unfold. */
    const float *bp[4];
TGK_UNROLL
    for (int j = 0; j < nt; j++)
        bp[j] = b + boff[j];
    int64_t k = 0;
    for (int64_t bo = 0; k < K; bo += rn->bstride)
        for (int64_t r = 0; r < rn->rows && k < K; r++, k += wrow) {
            const int64_t o = bo + r * rn->brow;
            for (int64_t v = 0; v < wrow; v += VW) {
                vf av[3];
TGK_UNROLL
                for (int i = 0; i < mt; i++) {
                    av[i] = VLOAD(a + i * lda + k + v);
                    VKEEP(av[i]);
                }
TGK_UNROLL
                for (int j = 0; j < nt; j++) {
                    vf bv = VLOAD(bp[j] + o + v);
                    VKEEP(bv);
TGK_UNROLL
                    for (int i = 0; i < mt; i++)
                        acc[i][j] = VFMA(av[i], bv, acc[i][j]);
                }
            }
        }
    FN(abt_store)(mt, nt, acc, K, K, 1.0f, a, lda, b, 0, beta, c, ldc);
}

/* Rows of A per tile: 3 (12 accumulators), ending in 2 + 2 or 2 rather
 * than a 1-row tile. */
static inline int FN(abt_rows)(int64_t r) { return r >= 5 || r == 3 ? 3 : r >= 2 ? 2 : 1; }

/* One tile of either form (RUNS a constant after inlining). */
#define ABT_TILE(MT, NT)                                                                           \
    do {                                                                                           \
        if (RUNS)                                                                                  \
            FN(abt_tile_runs)(MT, NT, K, a, lda, B, off + n, rn, beta, c, ldc);                    \
        else                                                                                       \
            FN(abt_tile)(MT, NT, K, alpha, a, lda, B + n * ldb, ldb, beta, c, ldc);                \
    } while (0)

TGK_INLINE void FN(abt_drive)(const bool RUNS, int64_t M, int64_t N, int64_t K, float alpha,
                              const float *A, int64_t lda, const float *B, int64_t ldb,
                              const int64_t *off, const tg__abt_runs *rn, float beta, float *C,
                              int64_t ldc)
{
    for (int64_t m = 0; m < M; m += FN(abt_rows)(M - m)) {
        const int mt = FN(abt_rows)(M - m);
        for (int64_t n = 0; n < N;) {
            /* 4 columns, then 2, then 1 (a 3 x 1 tile's 3 FMA chains were
             * latency-bound: 2 of the linear layer's 10 columns) */
            const int nt = N - n >= 4 ? 4 : N - n >= 2 ? 2 : 1;
            const float *a = A + m * lda;
            float *c = C + m * ldc + n;
            if (mt == 3 && nt == 4)
                ABT_TILE(3, 4);
            else if (mt == 3 && nt == 2)
                ABT_TILE(3, 2);
            else if (mt == 3)
                ABT_TILE(3, 1);
            else if (mt == 2 && nt == 4)
                ABT_TILE(2, 4);
            else if (mt == 2 && nt == 2)
                ABT_TILE(2, 2);
            else if (mt == 2)
                ABT_TILE(2, 1);
            else if (nt == 4)
                ABT_TILE(1, 4);
            else if (nt == 2)
                ABT_TILE(1, 2);
            else
                ABT_TILE(1, 1);
            n += nt;
        }
    }
}

#undef ABT_TILE

static void FN(gemm_abt)(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                         int64_t ldc)
{
    FN(abt_drive)(false, M, N, K, alpha, A, lda, B, ldb, NULL, NULL, beta, C, ldc);
}

static void FN(gemm_abt_ind)(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                             const float *B, const int64_t *off, const tg__abt_runs *rn,
                             float beta, float *C, int64_t ldc)
{
    FN(abt_drive)(true, M, N, K, 1.0f, A, lda, B, 0, off, rn, beta, C, ldc);
}

#include "winograd_impl.h"

#include "norm_impl.h"

/* ---- stride-2 gather (the unfold of ops/conv.c) ---------------------------
 * With VEVEN_ODD(a, b) (the even lanes of a, then the odd lanes of b), a
 * vector of outputs comes from src[2i..] and src[2i + VW - 1..], whose odd
 * lanes are the even elements of the second half: no load reaches past the
 * last element copied (src may be the caller's tensor). */
static void FN(gather_s2)(const float *restrict src, int64_t ld, int64_t rows, int64_t n,
                          float *restrict dst, int64_t ldd)
{
    for (int64_t r = 0; r < rows; r++, src += ld, dst += ldd) {
        int64_t i = 0;
#ifdef VEVEN_ODD
        for (; i + VW <= n; i += VW)
            VSTORE(dst + i, VEVEN_ODD(VLOAD(src + 2 * i), VLOAD(src + 2 * i + VW - 1)));
#endif
#ifdef GATHER8
        if (i + 8 <= n) {
            GATHER8(src + 2 * i, dst + i);
            i += 8;
        }
#endif
        for (; i < n; i++)
            dst[i] = src[2 * i];
    }
}

/* Both column phases of rows of at least a vector from the same loads;
 * shorter rows one phase after the other (8-float rows on AVX-512 were
 * about 20% slower in one loop). Its own function: with both in one, the
 * one-destination loop's codegen got 17-26% slower. */
static void FN(gather_s2_pair)(const float *restrict src, int64_t ld, int64_t rows, int64_t n,
                               float *restrict dst, int64_t ldd, int64_t n2,
                               float *restrict dst2)
{
#ifdef VDEINT
    if (n >= VW && n2 >= VW) {
        for (int64_t r = 0; r < rows; r++, src += ld, dst += ldd, dst2 += ldd) {
            int64_t i = 0;
            for (const int64_t m = n < n2 ? n : n2; i + VW <= m; i += VW) {
                vf a = VLOAD(src + 2 * i), b = VLOAD(src + 2 * i + VW);
                VSTORE(dst + i, VDEINT(a, b, 0));
                VSTORE(dst2 + i, VDEINT(a, b, 1));
            }
            for (int64_t k = i; k < n; k++)
                dst[k] = src[2 * k];
            for (int64_t k = i; k < n2; k++)
                dst2[k] = src[2 * k + 1];
        }
        return;
    }
#endif
    FN(gather_s2)(src, ld, rows, n, dst, ldd);
    FN(gather_s2)(src + 1, ld, rows, n2, dst2, ldd);
}

/* The interleave of ops/conv.c's dx by phases (as SSE code in the generic
 * build it was most of bwd_range's 2.3% of a ResNet-8 training step). */
static void FN(interleave2)(const float *e, const float *o, int64_t ld, int64_t rows, int64_t n,
                            float *out, int64_t ldo, bool add)
{
    for (int64_t r = 0; r < rows; r++, e += ld, o += ld, out += ldo) {
        int64_t i = 0;
#ifdef VINTERLEAVE
        for (; i + VW <= n; i += VW) {
            vf lo, hi;
            VINTERLEAVE(VLOAD(e + i), VLOAD(o + i), &lo, &hi);
            if (add) {
                lo = VLOAD(out + 2 * i) + lo;
                hi = VLOAD(out + 2 * i + VW) + hi;
            }
            VSTORE(out + 2 * i, lo);
            VSTORE(out + 2 * i + VW, hi);
        }
#endif
        if (add)
            for (; i < n; i++) {
                out[2 * i] += e[i];
                out[2 * i + 1] += o[i];
            }
        else
            for (; i < n; i++) {
                out[2 * i] = e[i];
                out[2 * i + 1] = o[i];
            }
    }
}

/* The GEMM paths' epilogue (ops/conv.c), vectorised for the ISA: the
 * same elementwise operations, so the same bits (as SSE code in the
 * generic build it was most of fwd_range's 2.5% of ResNet-8's batched
 * inference). */
static void FN(conv_epi)(const tg__conv_epi *e, int64_t k0, int64_t nk, float *y,
                         const float *res, int64_t P)
{
    for (int64_t k = 0; k < nk; k++)
        tg__conv_epi_row(e, k0 + k, y + k * P, res ? res + k * P : NULL, P);
}

/* ---- max pooling 2x2 stride 2 (ops/pool.c) ------------------------------- */

/* 2x2, stride 2, no padding (the usual CNN pool): the same comparisons as
 * the generic loop in the same order (a later element wins if greater or
 * NaN), written with selects instead of branches, which the compiler
 * vectorises; random activations made the branches mispredict. */
/* The AVX-512 build has its own, explicit version (kernels_avx512.c). */
#ifndef POOL_FN_OVERRIDE
/* Branch-free select: the row is short (14 outputs for MNIST), so most of
 * it runs in the scalar tail of the vector loop, where the compiler turned
 * ternaries back into (mispredicted) branches. */
TGK_INLINE void FN(pick)(float v, int32_t vi, float *best, int32_t *bi)
{
    int32_t m = -(int32_t)(v > *best || v != v); /* all ones: take v */
    uint32_t vb, bb;
    memcpy(&vb, &v, 4);
    memcpy(&bb, best, 4);
    bb = (vb & (uint32_t)m) | (bb & ~(uint32_t)m);
    memcpy(best, &bb, 4);
    *bi = (vi & m) | (*bi & ~m);
}

/* v, or relu(v + *rb) as the convolution's epilogue (NaN and -0 stay) */
TGK_INLINE float FN(pool_in)(float v, const float *rb)
{
    if (!rb)
        return v;
    v += *rb;
    return v < 0.0f ? 0.0f : v;
}

TGK_INLINE void FN(max2x2_row)(const float *restrict r0, const float *restrict r1,
                               const float *rb, float *restrict yo, int32_t *restrict io,
                               const bool with_idx, int32_t base, int32_t W, int64_t Wo)
{
    for (int64_t ow = 0; ow < Wo; ow++) {
        float best = FN(pool_in)(r0[2 * ow], rb);
        int32_t bi = 0;
        FN(pick)(FN(pool_in)(r0[2 * ow + 1], rb), 1, &best, &bi);
        FN(pick)(FN(pool_in)(r1[2 * ow], rb), W, &best, &bi);
        FN(pick)(FN(pool_in)(r1[2 * ow + 1], rb), W + 1, &best, &bi);
        yo[ow] = best;
        if (with_idx)
            io[ow] = base + (int32_t)(2 * ow) + bi;
    }
}

void TGK_CAT(tg__max_pool2x2, SFX)(const float *restrict x, int64_t ld, const float *relu_bias,
                                   float *restrict y, int32_t *restrict idx, int64_t W,
                                   int64_t Ho, int64_t Wo)
{
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *r0 = x + 2 * oh * ld, *r1 = r0 + ld;
        int32_t base = (int32_t)(2 * oh * W);
        if (idx)
            FN(max2x2_row)(r0, r1, relu_bias, y + oh * Wo, idx + oh * Wo, true, base,
                           (int32_t)W, Wo);
        else
            FN(max2x2_row)(r0, r1, relu_bias, y + oh * Wo, NULL, false, base, (int32_t)W, Wo);
    }
}

#  define POOL_FN TGK_CAT(tg__max_pool2x2, SFX)
#else
#  define POOL_FN POOL_FN_OVERRIDE
#endif

const tg__kernels TGK_CAT(tg__kernels, SFX) = {
    .name = TGK_STR(SFX),
    .isa = ISA_ID,
    .conv_flat = FN(conv_flat),
    .conv_wgrad = FN(conv_wgrad),
    .conv_fwd_range = FN(conv_fwd_range),
    .conv_bwd_range = FN(conv_bwd_range),
    .conv_dw_fwd_range = FN(conv_dw_fwd_range),
    .conv_dw_bwd_range = FN(conv_dw_bwd_range),
    .conv_dwc_fwd_range = CONV_DWC_FWD,
    .conv_dwc_bwd_range = CONV_DWC_BWD,
    .conv_wino_range = FN(wino_range),
    .conv_wino_wgrad_range = FN(wino_wgrad_range),
    .gemm_mr = GEMM_MR,
    .gemm_nr = GEMM_NR,
    .gemm_vw = VW,
#ifdef VLOAD_HALVES
    .gemm_ind_halves = true,
#endif
    .gemm_micro = FN(gemm_micro),
    .gemm_micro_ind = GEMM_MICRO_IND,
    .gemm_abt = FN(gemm_abt),
    .gemm_abt_ind = FN(gemm_abt_ind),
    .bn_sum_range = FN(bn_sum_range),
    .bn_sqdev_range = FN(bn_sqdev_range),
    .bn_fwd_range = FN(bn_fwd_range),
    .bn_gsum_range = FN(bn_gsum_range),
    .bn_bwd_range = FN(bn_bwd_range),
    .gather_s2 = FN(gather_s2),
    .gather_s2_pair = FN(gather_s2_pair),
    .interleave2 = FN(interleave2),
    .conv_epi = FN(conv_epi),
    .max_pool2x2 = POOL_FN,
    .sum = FN(sum32),
};
