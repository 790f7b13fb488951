/* SPDX-License-Identifier: MIT */
/* xoshiro256** seeded through splitmix64: small, fast, reproducible on every
 * platform (no libc rand()). One state per context, no global RNG. */
#include "tg_internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void tg__rng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tg__rng_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float tg__rng_uniform(uint64_t s[4])
{
    /* 24 high bits: every value exactly representable, strictly below 1. */
    return (float)(tg__rng_next(s) >> 40) * (1.0f / 16777216.0f);
}

float tg__rng_normal(uint64_t s[4])
{
    /* Box-Muller; one of the pair is discarded to keep no hidden state. */
    double u1 = ((double)(tg__rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(tg__rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void tg_ctx_manual_seed(tg_ctx *ctx, uint64_t seed)
{
    if (ctx)
        tg__rng_seed(ctx->rng, seed);
}
