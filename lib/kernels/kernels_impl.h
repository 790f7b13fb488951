/* SPDX-License-Identifier: MIT */
/* Kernel template, included once per ISA by kernels_{generic,avx2,avx512}.c.
 * The includer defines:
 *   SFX              suffix of the generated function names
 *   VW               floats per vector; vf the vector type
 *   VLOAD/VSTORE     unaligned load/store, VZERO(), VSET1(s), VFMA(a,b,c) = a*b+c,
 *   VHSUM(v)         sum of the lanes in a fixed order
 *   VKEEP(v)         keep v in a register (stops the compiler from folding
 *                    the load into every FMA that uses it)
 *   FWD_NV(c)        vectors per forward tile for c output channels (a power
 *                    of two; FWD_NV(c)*VW divides TG__CONV_CHUNK)
 *   FWD_COB_MAX      output channels per forward tile (<= 12)
 *   WG_ACC           accumulator budget of the weight-gradient tile (cob <= 9)
 *   GEMM_MR, GEMM_NV micro-tile: GEMM_MR rows x GEMM_NV vectors
 * Loops over register tiles have compile-time trip counts once the
 * always-inline tile functions are instantiated from the switches below, so
 * the accumulators live in registers. */
#include "kernels.h"

#define TGK_CAT_(a, b) a##_##b
#define TGK_CAT(a, b) TGK_CAT_(a, b)
#define FN(name) TGK_CAT(name, SFX)
#define TGK_INLINE static inline __attribute__((always_inline))
#define TGK_STR_(x) #x
#define TGK_STR(x) TGK_STR_(x)

#define FWD_NV_MAX 8

/* ---- forward ------------------------------------------------------------ */

TGK_INLINE void FN(fwd_tile)(const int cob, const int nv, int cin, int k, int64_t wp, int64_t o0,
                             const float *in, int64_t in_cs, const float *w, int64_t wcs,
                             float *out, int64_t out_cs)
{
    vf acc[FWD_COB_MAX][FWD_NV_MAX];
#pragma GCC unroll 16
    for (int c = 0; c < cob; c++)
#pragma GCC unroll 8
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
#pragma GCC unroll 8
                for (int v = 0; v < nv; v++) {
                    x[v] = VLOAD(row + kx + v * VW);
                    VKEEP(x[v]);
                }
#pragma GCC unroll 16
                for (int c = 0; c < cob; c++) {
                    vf s = VSET1(wr[c * wcs + kx]);
#pragma GCC unroll 8
                    for (int v = 0; v < nv; v++)
                        acc[c][v] = VFMA(s, x[v], acc[c][v]);
                }
            }
        }
    }
#pragma GCC unroll 16
    for (int c = 0; c < cob; c++)
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            VSTORE(out + c * out_cs + o0 + v * VW, acc[c][v]);
}

#define FWD_CASE(C)                                                                            \
    case C:                                                                                    \
        for (int64_t o0 = 0; o0 < n; o0 += FWD_NV(C) * VW)                                     \
            FN(fwd_tile)(C, FWD_NV(C), cin, k, wp, o0, in, in_cs, wco, wcs, oco, out_cs);      \
        break;

static void FN(conv_flat)(int cin, int cout, int k, int64_t wp, int64_t len, const float *in,
                          int64_t in_cs, const float *w, float *out, int64_t out_cs)
{
    const int64_t n = tg__conv_round(len), wcs = (int64_t)cin * k * k;
    /* Split cout into near-equal blocks of at most FWD_COB_MAX channels. */
    int nblk = (cout + FWD_COB_MAX - 1) / FWD_COB_MAX;
    for (int b = 0, co = 0; b < nblk; b++) {
        int cob = (cout - co) / (nblk - b);
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
#pragma GCC unroll 8
    for (int c = 0; c < cob; c++)
#pragma GCC unroll 8
        for (int kx = 0; kx < k; kx++)
            acc[c][kx] = VZERO();
    for (int64_t o = 0; o < n; o += VW) {
        vf x[TG__CONV_KMAX];
#pragma GCC unroll 8
        for (int kx = 0; kx < k; kx++) {
            x[kx] = VLOAD(xr + o + kx);
            VKEEP(x[kx]); /* one load per tap, not one per FMA */
        }
#pragma GCC unroll 8
        for (int c = 0; c < cob; c++) {
            vf d = VLOAD(dy + c * dy_cs + o);
            VKEEP(d);
#pragma GCC unroll 8
            for (int kx = 0; kx < k; kx++)
                acc[c][kx] = VFMA(d, x[kx], acc[c][kx]);
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < cob; c++)
#pragma GCC unroll 8
        for (int kx = 0; kx < k; kx++)
            dw[c * dw_cs + kx] += VHSUM(acc[c][kx]);
}

/* Channels per weight-gradient tile for kernel size k. */
#define WG_COB(k) ((WG_ACC / (k)) < 1 ? 1 : (WG_ACC / (k)) > 9 ? 9 : (WG_ACC / (k)))

/* Only tiles that fit the budget are instantiated (the rest is dead code the
 * compiler drops before inlining, which keeps compile time and size down). */
#define WG_C(C, K)                                                                             \
    case C:                                                                                    \
        if ((C) <= WG_COB(K))                                                                  \
            FN(wg_tile)(C, K, n, xr, dyc, dy_cs, dwc, dw_cs);                                  \
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
    const int64_t n = tg__conv_round(len), kk = (int64_t)k * k, dw_cs = cin * kk;
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

/* ---- GEMM micro-kernel ---------------------------------------------------- */

#define GEMM_NR (GEMM_NV * VW)

static void FN(gemm_micro)(int64_t kc, float alpha, const float *a, const float *b, float beta,
                           float *c, int64_t ldc, int m, int n)
{
    vf acc[GEMM_MR][GEMM_NV];
#pragma GCC unroll 16
    for (int i = 0; i < GEMM_MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < GEMM_NV; v++)
            acc[i][v] = VZERO();
    for (int64_t p = 0; p < kc; p++) {
        vf bv[GEMM_NV];
#pragma GCC unroll 4
        for (int v = 0; v < GEMM_NV; v++)
            bv[v] = VLOAD(b + p * GEMM_NR + v * VW);
#pragma GCC unroll 16
        for (int i = 0; i < GEMM_MR; i++) {
            vf s = VSET1(a[p * GEMM_MR + i]);
#pragma GCC unroll 4
            for (int v = 0; v < GEMM_NV; v++)
                acc[i][v] = VFMA(s, bv[v], acc[i][v]);
        }
    }
    float tile[GEMM_MR * GEMM_NR];
#pragma GCC unroll 16
    for (int i = 0; i < GEMM_MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < GEMM_NV; v++)
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

const tg__kernels TGK_CAT(tg__kernels, SFX) = {
    .name = TGK_STR(SFX),
    .isa = ISA_ID,
    .conv_flat = FN(conv_flat),
    .conv_wgrad = FN(conv_wgrad),
    .gemm_mr = GEMM_MR,
    .gemm_nr = GEMM_NR,
    .gemm_micro = FN(gemm_micro),
};
