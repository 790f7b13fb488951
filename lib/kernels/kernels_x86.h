/* SPDX-License-Identifier: MIT */
/* 256-bit helpers shared by the AVX2 and AVX-512 kernels (both compiled
 * with -mavx2). The AVX-512 horizontal sums add the two 256-bit halves first
 * and then run these, the order of GCC's _mm512_reduce_add_ps. */
#ifndef TG_KERNELS_X86_H
#define TG_KERNELS_X86_H

#include <immintrin.h>

/* Lanes summed pairwise in a fixed order. */
static inline float hsum_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
/* hsum_avx2 of four vectors at once, as lanes 0-3: the halves added, a 4x4
 * transpose, then the same pairs added in the same order (same bits). */
static inline __m128 hsum4_avx2(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m128 sa = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 sb = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
    __m128 sc = _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
    __m128 sd = _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
    __m128 ab01 = _mm_unpacklo_ps(sa, sb), cd01 = _mm_unpacklo_ps(sc, sd);
    __m128 ab23 = _mm_unpackhi_ps(sa, sb), cd23 = _mm_unpackhi_ps(sc, sd);
    __m128 l0 = _mm_movelh_ps(ab01, cd01), l1 = _mm_movehl_ps(cd01, ab01);
    __m128 l2 = _mm_movelh_ps(ab23, cd23), l3 = _mm_movehl_ps(cd23, ab23);
    return _mm_add_ps(_mm_add_ps(l0, l2), _mm_add_ps(l1, l3));
}

/* a0 a2 a4 a6 b1 b3 b5 b7: shuffle within 128-bit halves, then order the
 * 64-bit pairs (a0 a2 | b1 b3 | a4 a6 | b5 b7 -> a0 a2 a4 a6 b1 b3 b5 b7). */
static inline __m256 even_odd_avx2(__m256 a, __m256 b)
{
    __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

#endif
