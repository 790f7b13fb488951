/* SPDX-License-Identifier: MIT */
/* AVX2 + FMA kernels (8 floats per vector, 16 ymm registers). Compiled with
 * -mavx2 -mfma (lib/meson.build); only called after tg__kernels_get() has
 * checked the CPU. */
#include "kernels.h"

#include <immintrin.h>

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
#define FWD_NV(c) ((c) <= 1 ? 8 : (c) <= 2 ? 4 : 2)
#define FWD_COB_MAX 6
#define WG_ACC 12
#define GEMM_MR 6
#define GEMM_NV 2

/* Lanes summed pairwise in a fixed order. */
static inline float hsum_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define VKEEP(v) __asm__("" : "+x"(v))
#define VHSUM(v) hsum_avx2(v)

/* a0 a2 a4 a6 b1 b3 b5 b7: shuffle within 128-bit halves, then order the
 * 64-bit pairs (a0 a2 | b1 b3 | a4 a6 | b5 b7 -> a0 a2 a4 a6 b1 b3 b5 b7). */
static inline __m256 even_odd_avx2(__m256 a, __m256 b)
{
    __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}
#define VEVEN_ODD(a, b) even_odd_avx2(a, b)

#include "kernels_impl.h"
