/* SPDX-License-Identifier: MIT */
/* AVX2 + FMA kernels (8 floats per vector, 16 ymm registers). Compiled with
 * -mavx2 -mfma (lib/meson.build); only called after tg__kernels_get() has
 * checked the CPU. */
#include "kernels.h"

#include "kernels_x86.h"

typedef __m256 vf;
#define SFX avx2
#define ISA_ID TG__ISA_AVX2
#define VW 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VZERO() _mm256_setzero_ps()
#define VSET1(s) _mm256_set1_ps(s)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm256_add_ps((a), (b))
/* Forward tiles of 12 accumulators where 16 registers allow (6 channels x 2
 * vectors; 3 x 3: 3 x 4 spilled): 2 FMA pipes of 4-cycle latency need 8
 * independent chains, and the 3-channel tile's 6 stalled (the seed CNN's
 * first layer and its second's input gradient). Full 6-channel tiles first:
 * its 6 -> 9 layer as 6 + 3 channels, not 4 + 5 (8 and 10 accumulators).
 * One thread, TG_CPU=avx2 on a Zen 5, A/B: 3 x 3 +1.1%, then 6 + 3 +4.1%. */
#define FWD_NV(c) ((c) <= 1 ? 8 : (c) <= 2 ? 4 : (c) <= 3 ? 3 : 2)
#define FWD_COB_MAX 6
#define FWD_FULL_FIRST 1
#define FWD_UNROLL_K3 3
#define WG_ACC 12
#define GEMM_MR 6
#define GEMM_NV 2

#define VKEEP(v) __asm__("" : "+x"(v))
#define VHSUM(v) hsum_avx2(v)
#define VHSUM4(a, b, c, d) hsum4_avx2((a), (b), (c), (d))

#define VEVEN_ODD(a, b) even_odd_avx2(a, b)

/* 2x2 max pooling, 8 outputs per step: the template's branch-free scalar
 * picks cost ~10 cycles per output (a fifth of the seed CNN's forward).
 * Same comparisons in the same order as the plain C loop (a later element
 * wins if greater or NaN), so values and indices are the same bits. A row's
 * last block overlaps the one before (outputs recomputed to the same
 * values) instead of reading past the row; rows of 4-7 outputs take 4 per
 * step, shorter ones the plain C loop. */
static inline __m256 deint_avx2(__m256 lo, __m256 hi, int odd)
{
    __m256 s = odd ? _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))
                   : _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* The same with 4 outputs per step, for rows of 4-7 outputs (LeNet-5's
 * second pool: 5). */
static void max_pool2x2_x4(const float *x, int64_t ld, const float *rb, float *y,
                           int32_t *idx, int64_t W, int64_t Ho, int64_t Wo)
{
    const __m128i col = _mm_setr_epi32(0, 2, 4, 6), c1 = _mm_set1_epi32(1),
                  cw = _mm_set1_epi32((int32_t)W), cw1 = _mm_set1_epi32((int32_t)W + 1);
    const __m128 bv = _mm_set1_ps(rb ? *rb : 0.0f);
    /* relu(v + bias) where fused: max's second operand on NaN and -0 */
#define LD4(p)                                                                                \
    (rb ? _mm_max_ps(_mm_setzero_ps(), _mm_add_ps(_mm_loadu_ps(p), bv)) : _mm_loadu_ps(p))
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *r0 = x + 2 * oh * ld, *r1 = r0 + ld;
        for (int64_t o = 0; o < Wo; o += 4) {
            const int64_t ow = o + 4 <= Wo ? o : Wo - 4;
            __m128 lo = LD4(r0 + 2 * ow), hi = LD4(r0 + 2 * ow + 4);
            __m128 a = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            __m128 b = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
            lo = LD4(r1 + 2 * ow);
            hi = LD4(r1 + 2 * ow + 4);
            __m128 c = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            __m128 d = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
            __m128 best = a;
            __m128i bi = _mm_setzero_si128();
#define PICK4(v, code)                                                                         \
    do {                                                                                       \
        __m128 m_ = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v));                   \
        best = _mm_blendv_ps(best, v, m_);                                                     \
        bi = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(bi), _mm_castsi128_ps(code), m_)); \
    } while (0)
            PICK4(b, c1);
            PICK4(c, cw);
            PICK4(d, cw1);
#undef PICK4
            _mm_storeu_ps(y + oh * Wo + ow, best);
            if (idx) {
                __m128i base = _mm_set1_epi32((int32_t)(2 * oh * W + 2 * ow));
                _mm_storeu_si128((__m128i *)(idx + oh * Wo + ow),
                                 _mm_add_epi32(_mm_add_epi32(base, col), bi));
            }
        }
    }
#undef LD4
}

/* The 8-wide rows, with the fused epilogue's relu(v + bias) (EPI, a
 * constant once inlined) on each loaded vector. */
static inline __attribute__((always_inline)) void
max_pool2x2_x8(const float *x, int64_t ld, const bool EPI, float bias, float *y, int32_t *idx,
               int64_t W, int64_t Ho, int64_t Wo)
{
    const __m256i col = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i c1 = _mm256_set1_epi32(1), cw = _mm256_set1_epi32((int32_t)W),
                  cw1 = _mm256_set1_epi32((int32_t)W + 1);
    const __m256 bv = _mm256_set1_ps(bias);
#define LD8(p)                                                                                \
    (EPI ? _mm256_max_ps(_mm256_setzero_ps(), _mm256_add_ps(_mm256_loadu_ps(p), bv))            \
         : _mm256_loadu_ps(p))
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *r0 = x + 2 * oh * ld, *r1 = r0 + ld;
        for (int64_t o = 0; o < Wo; o += 8) {
            const int64_t ow = o + 8 <= Wo ? o : Wo - 8;
            __m256 lo = LD8(r0 + 2 * ow), hi = LD8(r0 + 2 * ow + 8);
            __m256 a = deint_avx2(lo, hi, 0), b = deint_avx2(lo, hi, 1);
            lo = LD8(r1 + 2 * ow);
            hi = LD8(r1 + 2 * ow + 8);
            __m256 c = deint_avx2(lo, hi, 0), d = deint_avx2(lo, hi, 1);
            __m256 best = a;
            __m256i bi = _mm256_setzero_si256();
#define PICK(v, code)                                                                          \
    do {                                                                                       \
        __m256 m_ = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),                           \
                                 _mm256_cmp_ps(v, v, _CMP_UNORD_Q));                           \
        best = _mm256_blendv_ps(best, v, m_);                                                  \
        bi = _mm256_castps_si256(                                                              \
            _mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(code), m_));         \
    } while (0)
            PICK(b, c1);
            PICK(c, cw);
            PICK(d, cw1);
#undef PICK
            _mm256_storeu_ps(y + oh * Wo + ow, best);
            if (idx) {
                __m256i base = _mm256_set1_epi32((int32_t)(2 * oh * W + 2 * ow));
                _mm256_storeu_si256((__m256i *)(idx + oh * Wo + ow),
                                    _mm256_add_epi32(_mm256_add_epi32(base, col), bi));
            }
        }
    }
#undef LD8
}

void tg__max_pool2x2_avx2(const float *x, int64_t ld, const float *relu_bias, float *y,
                          int32_t *idx, int64_t W, int64_t Ho, int64_t Wo)
{
    if (Wo < 8) {
        if (Wo >= 4)
            max_pool2x2_x4(x, ld, relu_bias, y, idx, W, Ho, Wo);
        else
            tg__max_pool2x2_generic(x, ld, relu_bias, y, idx, W, Ho, Wo);
    } else if (relu_bias) {
        max_pool2x2_x8(x, ld, true, *relu_bias, y, idx, W, Ho, Wo);
    } else {
        max_pool2x2_x8(x, ld, false, 0.0f, y, idx, W, Ho, Wo);
    }
}
#define POOL_FN_OVERRIDE tg__max_pool2x2_avx2

/* a0 b0 a1 b1 .. a7 b7 as two vectors (the Winograd output's even and odd
 * columns back into a row) */
static inline void interleave_avx2(__m256 a, __m256 b, __m256 *lo, __m256 *hi)
{
    __m256 l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);
    *lo = _mm256_permute2f128_ps(l, h, 0x20);
    *hi = _mm256_permute2f128_ps(l, h, 0x31);
}
#define VDEINT(lo, hi, odd) deint_avx2(lo, hi, odd)
/* Two rows of 4 tiles (8x8 maps): a vector of p's 4 floats, then q's; the
 * even (odd) lanes of each 128-bit half of lo, then of hi, per half. */
#define VLOAD_PAIR(p, q) _mm256_loadu2_m128((q), (p))
#define VDEINT_PAIR(lo, hi, odd)                                                              \
    ((odd) ? _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))                                \
           : _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)))
#define VINTERLEAVE(a, b, lo, hi) interleave_avx2(a, b, lo, hi)
/* max(v, 0) as `v < 0 ? 0 : v`: NaN (the second operand) and -0 stay */
#define VRELU(v) _mm256_max_ps(_mm256_setzero_ps(), (v))

#include "kernels_impl.h"
