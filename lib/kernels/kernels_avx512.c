/* SPDX-License-Identifier: MIT */
/* AVX-512F kernels (16 floats per vector, 32 zmm registers). Compiled with
 * -mavx512f (lib/meson.build); only called after tg__kernels_get() has
 * checked the CPU. */
#include "kernels.h"

#include <immintrin.h>

typedef __m512 vf;
#define SFX avx512
#define ISA_ID TG__ISA_AVX512
#define VW 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VZERO() _mm512_setzero_ps()
#define VSET1(s) _mm512_set1_ps(s)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VKEEP(v) __asm__("" : "+v"(v))
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define FWD_NV(c) ((c) <= 6 ? 4 : 2)
#define FWD_COB_MAX 12
#define WG_ACC 27
#define GEMM_MR 12
#define GEMM_NV 2

#include "kernels_impl.h"
