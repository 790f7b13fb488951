/* SPDX-License-Identifier: MIT */
/* AVX-512F kernels (16 floats per vector, 32 zmm registers). Compiled with
 * -mavx512f (lib/meson.build); only called after tg__kernels_get() has
 * checked the CPU. */
#include "kernels.h"

#include "kernels_x86.h"

typedef __m512 vf;
#define SFX avx512
#define ISA_ID TG__ISA_AVX512
#define VW 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VZERO() _mm512_setzero_ps()
#define VSET1(s) _mm512_set1_ps(s)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VKEEP(v) __asm__("" : "+v"(v))
/* The 256-bit halves added, then hsum_avx2: the order of GCC's
 * _mm512_reduce_add_ps, written out so that clang builds sum in it too and
 * VHSUM4 gives the same bits as VHSUM. */
static inline __m256 halves_avx512(__m512 v)
{
    return _mm256_add_ps(_mm512_castps512_ps256(v),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
#define VHSUM(v) hsum_avx2(halves_avx512(v))
#define VHSUM4(a, b, c, d)                                                                     \
    hsum4_avx2(halves_avx512(a), halves_avx512(b), halves_avx512(c), halves_avx512(d))

/* Lanes 0, 2, .., 14 of a, then 1, 3, .., 15 of b (the stride-2 gather). */
static inline __m512 even_odd_avx512(__m512 a, __m512 b)
{
    const __m512i ix = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_ps(a, ix, b);
}
#define VEVEN_ODD(a, b) even_odd_avx512(a, b)
/* Two 8-float rows as one vector (AVX512F's 64x4 insert; 32x8 is DQ) */
#define VLOAD_HALVES(p, q)                                                                    \
    _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(              \
                                            _mm256_loadu_ps(p))),                             \
                                        _mm256_castps_pd(_mm256_loadu_ps(q)), 1))
/* 8 at once below a whole vector: 8x8 maps' rows are 8 outputs */
#define GATHER8(src, dst)                                                                     \
    _mm256_storeu_ps((dst), even_odd_avx2(_mm256_loadu_ps(src), _mm256_loadu_ps((src) + 7)))
#define FWD_NV(c) ((c) <= 6 ? 4 : 2)
#define FWD_UNROLL_K3 12
#define FWD_COB_MAX 12
#define WG_ACC 27
#define GEMM_MR 12
#define GEMM_NV 2

/* 2x2 max pooling with explicit permutes: the compiler's AVX-512 loop for
 * the template's version ran mostly in its scalar tail (rows of 14 outputs)
 * and was slower than the AVX2 build. Even/odd columns are split with
 * vpermt2ps, the template's comparison order is kept (a later element wins
 * if greater or NaN), and masked loads/stores never touch memory past the
 * row. EPI (a constant once inlined): the fused epilogue's relu(v + bias)
 * on each loaded vector (lanes past the row are never stored). */
static inline __attribute__((always_inline)) void
max_pool2x2_x16(const float *x, int64_t ld, const bool EPI, float bias, float *y, int32_t *idx,
                int64_t W, int64_t Ho, int64_t Wo)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i col = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i c1 = _mm512_set1_epi32(1), cw = _mm512_set1_epi32((int32_t)W),
                  cw1 = _mm512_set1_epi32((int32_t)W + 1);
    const __m512 bv = _mm512_set1_ps(bias);
#define LD16(m, p)                                                                            \
    (EPI ? _mm512_max_ps(_mm512_setzero_ps(), _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), bv))   \
         : _mm512_maskz_loadu_ps(m, p))
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *r0 = x + 2 * oh * ld, *r1 = r0 + ld;
        for (int64_t ow = 0; ow < Wo; ow += 16) {
            int n = Wo - ow < 16 ? (int)(Wo - ow) : 16;
            __mmask16 mo = (__mmask16)((1u << n) - 1);
            __mmask16 ml = (__mmask16)(2 * n >= 16 ? 0xffffu : (1u << (2 * n)) - 1);
            __mmask16 mh = (__mmask16)(2 * n > 16 ? (1u << (2 * n - 16)) - 1 : 0);
            __m512 lo = LD16(ml, r0 + 2 * ow);
            __m512 hi = LD16(mh, r0 + 2 * ow + 16);
            __m512 a = _mm512_permutex2var_ps(lo, ev, hi), b = _mm512_permutex2var_ps(lo, od, hi);
            lo = LD16(ml, r1 + 2 * ow);
            hi = LD16(mh, r1 + 2 * ow + 16);
            __m512 c = _mm512_permutex2var_ps(lo, ev, hi), d = _mm512_permutex2var_ps(lo, od, hi);
            __m512 best = a;
            __m512i bi = _mm512_setzero_si512();
#define PICK(v, code)                                                                          \
    do {                                                                                       \
        __mmask16 m_ = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |                               \
                       _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);                                 \
        best = _mm512_mask_mov_ps(best, m_, v);                                                \
        bi = _mm512_mask_mov_epi32(bi, m_, code);                                              \
    } while (0)
            PICK(b, c1);
            PICK(c, cw);
            PICK(d, cw1);
#undef PICK
            _mm512_mask_storeu_ps(y + oh * Wo + ow, mo, best);
            if (idx) {
                __m512i base = _mm512_set1_epi32((int32_t)(2 * oh * W + 2 * ow));
                __m512i v = _mm512_add_epi32(_mm512_add_epi32(base, col), bi);
                _mm512_mask_storeu_epi32(idx + oh * Wo + ow, mo, v);
            }
        }
    }
#undef LD16
}

void tg__max_pool2x2_avx512(const float *x, int64_t ld, const float *relu_bias, float *y,
                            int32_t *idx, int64_t W, int64_t Ho, int64_t Wo);
void tg__max_pool2x2_avx512(const float *x, int64_t ld, const float *relu_bias, float *y,
                            int32_t *idx, int64_t W, int64_t Ho, int64_t Wo)
{
    if (relu_bias)
        max_pool2x2_x16(x, ld, true, *relu_bias, y, idx, W, Ho, Wo);
    else
        max_pool2x2_x16(x, ld, false, 0.0f, y, idx, W, Ho, Wo);
}

#define POOL_FN_OVERRIDE tg__max_pool2x2_avx512

/* The even (odd) lanes of lo, then those of hi. */
static inline __m512 deint_avx512(__m512 lo, __m512 hi, int odd)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_permutex2var_ps(lo, odd ? od : ev, hi);
}
/* a0 b0 a1 b1 .. a15 b15 as two vectors */
static inline void interleave_avx512(__m512 a, __m512 b, __m512 *lo, __m512 *hi)
{
    const __m512i il = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i ih =
        _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    *lo = _mm512_permutex2var_ps(a, il, b);
    *hi = _mm512_permutex2var_ps(a, ih, b);
}
#define VDEINT(lo, hi, odd) deint_avx512(lo, hi, odd)
/* The same per 256-bit half (two rows of 8 tiles, 16x16 maps) */
static inline __m512 deint_pair_avx512(__m512 lo, __m512 hi, int odd)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 14, 12, 10, 8, 22, 20, 18, 16, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 15, 13, 11, 9, 23, 21, 19, 17, 7, 5, 3, 1);
    return _mm512_permutex2var_ps(lo, odd ? od : ev, hi);
}
#define VLOAD_PAIR(p, q) VLOAD_HALVES(p, q)
#define VDEINT_PAIR(lo, hi, odd) deint_pair_avx512(lo, hi, odd)
#define VSTORE_HALVES(p, q, v)                                                                \
    (_mm256_storeu_ps((p), _mm512_castps512_ps256(v)),                                        \
     _mm256_storeu_ps((q), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))))
/* Four rows of 4 tiles (8x8 maps): 4 floats from each of p, p + s, p + 2s,
 * p + 3s; the even (odd) lanes of each 128-bit quarter of lo, then of hi. */
static inline __m512 load_quad_avx512(const float *p, int64_t s)
{
    __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(p));
    v = _mm512_insertf32x4(v, _mm_loadu_ps(p + s), 1);
    v = _mm512_insertf32x4(v, _mm_loadu_ps(p + 2 * s), 2);
    return _mm512_insertf32x4(v, _mm_loadu_ps(p + 3 * s), 3);
}
#define VLOAD_QUAD(p, s) load_quad_avx512(p, s)
#define VDEINT_QUAD(lo, hi, odd)                                                              \
    ((odd) ? _mm512_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))                                \
           : _mm512_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)))
#define VINTERLEAVE(a, b, lo, hi) interleave_avx512(a, b, lo, hi)
/* max(v, 0) as `v < 0 ? 0 : v`: NaN (the second operand) and -0 stay */
#define VRELU(v) _mm512_max_ps(_mm512_setzero_ps(), (v))
#include "kernels_impl.h"
