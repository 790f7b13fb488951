/* SPDX-License-Identifier: MIT */
/* Run-time CPU dispatch. The kernel table is picked once per process
 * (pthread_once) and never changes afterwards, so it is the only global the
 * kernels read, and it is immutable after init. TG_CPU=generic|avx2|avx512
 * caps the choice: tests run the whole suite a second time with
 * TG_CPU=generic to cover the plain C path on SIMD machines. */
#include "kernels.h"

#include <pthread.h>
#include <stdlib.h>

static bool cpu_supports(tg__isa isa)
{
#if defined(TG__HAVE_X86_KERNELS)
    __builtin_cpu_init();
    switch (isa) {
    case TG__ISA_GENERIC: return true;
    case TG__ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case TG__ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
    }
    return false;
#else
    return isa == TG__ISA_GENERIC;
#endif
}

const tg__kernels *tg__kernels_for(tg__isa isa)
{
    if (!cpu_supports(isa))
        return NULL;
    switch (isa) {
#if defined(TG__HAVE_X86_KERNELS)
    case TG__ISA_AVX2: return &tg__kernels_avx2;
    case TG__ISA_AVX512: return &tg__kernels_avx512;
#endif
    default: return &tg__kernels_generic;
    }
}

static const tg__kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    /* Highest ISA the CPU runs, capped by $TG_CPU (unknown values: no cap). */
    int cap = TG__ISA_COUNT - 1;
    const char *env = getenv("TG_CPU");
    if (env) {
        if (strcmp(env, "generic") == 0)
            cap = TG__ISA_GENERIC;
        else if (strcmp(env, "avx2") == 0)
            cap = TG__ISA_AVX2;
        else if (strcmp(env, "avx512") == 0)
            cap = TG__ISA_AVX512;
    }
    for (int isa = cap; isa >= 0; isa--) {
        const tg__kernels *k = tg__kernels_for((tg__isa)isa);
        if (k) {
            chosen = k;
            return;
        }
    }
    chosen = &tg__kernels_generic;
}

const tg__kernels *tg__kernels_get(void)
{
    pthread_once(&chosen_once, choose);
    return chosen;
}
