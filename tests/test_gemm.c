/* SPDX-License-Identifier: MIT */
/* Internal test of the GEMM kernel (lib/kernels/gemm.c) against a naive
 * double-precision reference: every transpose combination, odd sizes that
 * leave partial micro-tiles, sizes that cross the cache blocks, alpha/beta,
 * and bit-identical results for 1 and 2 threads and for the single-threaded
 * entry point. */
#include "tg_test.h"

#include "tg_internal.h"

static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s[4];
    tg__rng_seed(s, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = tg__rng_uniform(s) * 2.0f - 1.0f;
}

/* C = alpha op(A) op(B) + beta C in double, same storage conventions. */
static void ref_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * s + c);
        }
}

typedef struct { int64_t M, N, K; } dims;
static const dims sizes[] = {
    {1, 1, 1}, {7, 13, 5}, {67, 129, 33}, {3, 784, 9}, {130, 37, 300}, {5, 300, 520},
    /* A B^T by dot products in blocks of B's rows, split by them; past
     * ABT_MAX_M rows, packed */
    {40, 600, 1030}, {600, 70, 40},
    /* ... in tiles of 4, 2 and 1 of B's rows: the seed CNN's linear layer
     * (10 outputs), and 7 */
    {32, 10, 1764}, {13, 7, 45},
    /* B in place (K <= 64, blocks of <= 32 rows), its partial last tile
     * packed: the seed CNN's linear layer's dx (K = 10); {67, 129, 33}
     * above runs in place on 2 threads, packed on 1 (memcmp below) */
    {20, 1764, 10},
};

/* Runs one case with padded leading dimensions (lda etc. > the row length)
 * so the kernel must honour them; compares against the reference. */
static void run_case(bool ta, bool tb, dims d, float alpha, float beta)
{
    int64_t M = d.M, N = d.N, K = d.K;
    int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int64_t lda = ac + 3, ldb = bc + 1, ldc = N + 2;
    size_t na = (size_t)(ar * lda), nb = (size_t)(br * ldb), nc = (size_t)(M * ldc);
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    float *C0 = malloc(nc * sizeof *C0), *C1 = malloc(nc * sizeof *C1);
    float *C2 = malloc(nc * sizeof *C2);
    float *R = malloc(nc * sizeof *R);
    fill(A, na, 1 + (uint64_t)M);
    fill(B, nb, 2 + (uint64_t)N);
    fill(C0, nc, 3 + (uint64_t)K);
    if (beta == 0.0f) /* beta 0 must not read C: poison it */
        for (size_t i = 0; i < nc; i++)
            C0[i] = NAN;
    memcpy(C1, C0, nc * sizeof *C0);
    memcpy(C2, C0, nc * sizeof *C0);
    memcpy(R, C0, nc * sizeof *C0);

    tg_ctx *c1 = tgt_ctx_threads(1, 1), *c2 = tgt_ctx_threads(1, 2);
    tg__sgemm(c1, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc);
    tg__sgemm(c2, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
    tg__sgemm_st(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    ref_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    for (int64_t i = 0; i < M; i++)
        tgt_assert_close(C0 + i * ldc, R + i * ldc, (size_t)N, 1e-5, 1e-5 * (double)K);
    ck_assert_msg(memcmp(C0, C1, nc * sizeof *C0) == 0, "1 vs 2 threads differ (%lldx%lldx%lld)",
                  (long long)M, (long long)N, (long long)K);
    ck_assert_msg(memcmp(C0, C2, nc * sizeof *C0) == 0, "sgemm vs sgemm_st differ");
    /* the padding columns of C stay untouched (memcmp: they may be NaN) */
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = N; j < ldc; j++)
            ck_assert(memcmp(&C0[i * ldc + j], &R[i * ldc + j], sizeof(float)) == 0);
    tg_ctx_destroy(c1);
    tg_ctx_destroy(c2);
    free(A); free(B); free(C0); free(C1); free(C2); free(R);
}

START_TEST(trans_combos)
{
    bool ta = _i & 1, tb = (_i >> 1) & 1;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        run_case(ta, tb, sizes[s], 1.0f, 0.0f);
        run_case(ta, tb, sizes[s], 0.5f, 2.0f);
    }
}
END_TEST

START_TEST(alpha_beta)
{
    dims d = {9, 17, 11};
    run_case(false, false, d, -1.5f, 1.0f);
    run_case(true, false, d, 2.0f, -0.25f);
    run_case(false, true, d, 0.0f, 3.0f);   /* alpha 0: C = beta C */
    run_case(true, true, d, 0.0f, 0.0f);    /* both 0: C = 0 even over NaN */
    dims k0 = {5, 6, 0};                    /* empty K: C = beta C */
    run_case(false, false, k0, 1.0f, 0.5f);
    run_case(false, false, k0, 1.0f, 0.0f);
}
END_TEST

START_TEST(exact_small)
{
    /* [1 2 3; 4 5 6] @ [1 0; 0 1; 1 1] = [4 5; 10 11], plus 2 * C */
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4] = {1, 1, 1, 1};
    tg_ctx *ctx = tgt_ctx(1);
    tg__sgemm(ctx, false, false, 2, 2, 3, 1.0f, A, 3, B, 2, 2.0f, C, 2);
    tgt_assert_close(C, ((float[]){6, 7, 12, 13}), 4, 0, 0);
    /* A^T (3x2) @ A (2x3) row 0 = [17 22 27] */
    float D[9];
    tg__sgemm(ctx, true, false, 3, 3, 2, 1.0f, A, 3, A, 3, 0.0f, D, 3);
    tgt_assert_close(D, ((float[]){17, 22, 27, 22, 29, 36, 27, 36, 45}), 9, 0, 0);
    /* M or N zero: nothing written */
    float E[1] = {42};
    tg__sgemm(ctx, false, false, 0, 1, 3, 1.0f, A, 3, B, 1, 0.0f, E, 1);
    tg__sgemm_st(false, false, 1, 0, 3, 1.0f, A, 3, B, 1, 0.0f, E, 1);
    ck_assert_float_eq(E[0], 42);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_add_loop_test(tc, trans_combos, 0, 4);
    tcase_add_test(tc, alpha_beta);
    tcase_add_test(tc, exact_small);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
