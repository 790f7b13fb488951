/* SPDX-License-Identifier: MIT */
/* tg_matmul (torch.matmul semantics) and tg_linear: hand-computed values,
 * broadcasting against a naive loop, gradients by finite differences, thread
 * invariance and error paths. */
#include "tg_test.h"

#define T(ctx, nd, shp, ...) tg_from_data(ctx, nd, (int64_t[])shp, (float[])__VA_ARGS__, \
                                          sizeof((float[])__VA_ARGS__) / sizeof(float))
#define SHP(...) {__VA_ARGS__}

START_TEST(matmul_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = T(ctx, 2, SHP(2, 2), {1, 2, 3, 4});
    tg_tensor *b = T(ctx, 2, SHP(2, 2), {5, 6, 7, 8});
    tg_tensor *r = tg_matmul(ctx, a, b);
    tgt_assert_shape(r, 2, (int64_t[]){2, 2});
    tgt_assert_tensor(r, ((float[]){19, 22, 43, 50}), 4, 0);

    /* 1-D . 1-D is a 0-d dot product */
    tg_tensor *u = T(ctx, 1, SHP(3), {1, 2, 3}), *v = T(ctx, 1, SHP(3), {4, 5, 6});
    r = tg_matmul(ctx, u, v);
    tgt_assert_shape(r, 0, NULL);
    tgt_assert_tensor(r, ((float[]){32}), 1, 0);

    /* 1-D @ 2-D: promoted to [1,k], the added dim removed */
    tg_tensor *m23 = T(ctx, 2, SHP(2, 3), {1, 2, 3, 4, 5, 6});
    r = tg_matmul(ctx, T(ctx, 1, SHP(2), {1, 2}), m23);
    tgt_assert_shape(r, 1, (int64_t[]){3});
    tgt_assert_tensor(r, ((float[]){9, 12, 15}), 3, 0);

    /* 2-D @ 1-D */
    r = tg_matmul(ctx, m23, u);
    tgt_assert_shape(r, 1, (int64_t[]){2});
    tgt_assert_tensor(r, ((float[]){14, 32}), 2, 0);

    /* N-D @ 1-D and 1-D @ N-D */
    tg_tensor *a3 = T(ctx, 3, SHP(2, 1, 3), {1, 2, 3, 4, 5, 6});
    r = tg_matmul(ctx, a3, u);
    tgt_assert_shape(r, 2, (int64_t[]){2, 1});
    tgt_assert_tensor(r, ((float[]){14, 32}), 2, 0);
    tg_tensor *b3 = T(ctx, 3, SHP(2, 2, 1), {1, 2, 3, 4});
    r = tg_matmul(ctx, T(ctx, 1, SHP(2), {1, 10}), b3);
    tgt_assert_shape(r, 2, (int64_t[]){2, 1});
    tgt_assert_tensor(r, ((float[]){21, 43}), 2, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Batched broadcast against a naive loop: a [2,1,2,3] @ b [3,3,4] -> [2,3,2,4]. */
START_TEST(matmul_broadcast)
{
    tg_ctx *ctx = tgt_ctx(2);
    const int64_t sa[4] = {2, 1, 2, 3}, sb[3] = {3, 3, 4};
    tg_tensor *a = tg_rand(ctx, 4, sa, -1, 1), *b = tg_rand(ctx, 3, sb, -1, 1);
    tg_tensor *r = tg_matmul(ctx, a, b);
    tgt_assert_shape(r, 4, (int64_t[]){2, 3, 2, 4});
    const float *A = tg_tensor_data(a), *B = tg_tensor_data(b), *R = tg_tensor_data(r);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int n = 0; n < 2; n++)
                for (int m = 0; m < 4; m++) {
                    double s = 0;
                    for (int k = 0; k < 3; k++)
                        s += (double)A[(i * 2 + n) * 3 + k] * B[(j * 3 + k) * 4 + m];
                    ck_assert_float_eq_tol(R[((i * 3 + j) * 2 + n) * 4 + m], s, 1e-5);
                }
    tg_ctx_destroy(ctx);
}
END_TEST

typedef struct { int na, nb; int64_t a[4], b[4]; } mm_case;
static const mm_case grad_cases[] = {
    {2, 2, {3, 4}, {4, 5}},             /* plain */
    {1, 1, {4}, {4}},                   /* dot */
    {1, 2, {3}, {3, 2}},                /* vector-matrix */
    {2, 1, {2, 3}, {3}},                /* matrix-vector */
    {3, 2, {2, 3, 4}, {4, 2}},          /* batch folded into rows */
    {2, 3, {3, 4}, {2, 4, 2}},          /* a broadcast over b's batch */
    {4, 3, {2, 1, 2, 3}, {3, 3, 2}},    /* both broadcast */
    {3, 1, {2, 2, 3}, {3}},             /* batched matrix-vector */
};

static tg_tensor *mm_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    (void)arg;
    return tg_matmul(ctx, in[0], in[1]);
}

START_TEST(matmul_grad)
{
    const mm_case *c = &grad_cases[_i];
    tg_ctx *ctx = tgt_ctx(10 + (uint64_t)_i);
    tg_tensor *in[2] = {tgt_rand(ctx, c->na, c->a, -1, 1, true),
                        tgt_rand(ctx, c->nb, c->b, -1, 1, true)};
    tgt_gradcheck(ctx, mm_fn, NULL, in, 2);
    /* one side only */
    ck_assert_int_eq(tg_tensor_set_requires_grad(in[0], false), TG_OK);
    tgt_gradcheck(ctx, mm_fn, NULL, in, 2);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Forward and gradients are bit-identical for 1 and 2 threads. */
static void run_threads(int nt, const mm_case *c, float *out, float *ga, float *gb)
{
    tg_ctx *ctx = tgt_ctx_threads(7, nt);
    tg_tensor *a = tgt_rand(ctx, c->na, c->a, -1, 1, true);
    tg_tensor *b = tgt_rand(ctx, c->nb, c->b, -1, 1, true);
    tg_tensor *r = tg_matmul(ctx, a, b);
    ck_assert_ptr_nonnull(r);
    memcpy(out, tg_tensor_data(r), (size_t)tg_tensor_numel(r) * sizeof(float));
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, r)), TG_OK);
    memcpy(ga, tg_tensor_grad(a), (size_t)tg_tensor_numel(a) * sizeof(float));
    memcpy(gb, tg_tensor_grad(b), (size_t)tg_tensor_numel(b) * sizeof(float));
    tg_ctx_destroy(ctx);
}

START_TEST(matmul_threads)
{
    static const mm_case cases[] = {
        {3, 3, {8, 30, 40}, {8, 40, 20}}, {2, 2, {70, 90}, {90, 50}}, {2, 3, {6, 7}, {9, 7, 5}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        static float o1[20000], o2[20000], a1[20000], a2[20000], b1[20000], b2[20000];
        run_threads(1, &cases[k], o1, a1, b1);
        run_threads(2, &cases[k], o2, a2, b2);
        ck_assert(memcmp(o1, o2, sizeof o1) == 0);
        ck_assert(memcmp(a1, a2, sizeof a1) == 0);
        ck_assert(memcmp(b1, b2, sizeof b1) == 0);
    }
}
END_TEST

START_TEST(matmul_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_zeros(ctx, 2, (int64_t[]){32, 1764});
    tg_tensor *b = tg_zeros(ctx, 2, (int64_t[]){10, 1764});
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_matmul(ctx, a, b));
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used); /* nothing allocated */
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "matmul: shapes [32,1764] and [10,1764] do not align");

    tg_ctx_clear_error(ctx);
    tg_tensor *c = tg_zeros(ctx, 3, (int64_t[]){2, 3, 4}), *d = tg_zeros(ctx, 3, (int64_t[]){3, 4, 5});
    ck_assert_ptr_null(tg_matmul(ctx, c, d));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "matmul: batch dims of shapes [2,3,4] and [3,4,5] do not broadcast");

    tg_ctx_clear_error(ctx);
    tg_tensor *s = tg_zeros(ctx, 0, NULL);
    ck_assert_ptr_null(tg_matmul(ctx, s, c));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "at least 1 dimension"));

    /* NULL input: reported, and the first error is kept */
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_matmul(ctx, NULL, c));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "matmul: input tensor is NULL");
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_matmul(ctx, tg_matmul(ctx, a, b), c));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "do not align"));
    ck_assert_ptr_null(tg_matmul(NULL, a, b));
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- linear ------------------------------------------------------------- */

START_TEST(linear_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = T(ctx, 2, SHP(2, 3), {1, 2, 3, 4, 5, 6});
    tg_tensor *w = T(ctx, 2, SHP(2, 3), {1, 0, -1, 0.5f, 0.5f, 0.5f});
    tg_tensor *b = T(ctx, 1, SHP(2), {10, 20});
    tg_tensor *y = tg_linear(ctx, x, w, b);
    tgt_assert_shape(y, 2, (int64_t[]){2, 2});
    tgt_assert_tensor(y, ((float[]){8, 23, 8, 27.5f}), 4, 0);
    y = tg_linear(ctx, x, w, NULL);
    tgt_assert_tensor(y, ((float[]){-2, 3, -2, 7.5f}), 4, 0);
    /* 1-D input and 3-D input keep their leading dims */
    y = tg_linear(ctx, T(ctx, 1, SHP(3), {1, 2, 3}), w, b);
    tgt_assert_shape(y, 1, (int64_t[]){2});
    tgt_assert_tensor(y, ((float[]){8, 23}), 2, 0);
    y = tg_linear(ctx, tg_ones(ctx, 3, (int64_t[]){2, 2, 3}), w, b);
    tgt_assert_shape(y, 3, (int64_t[]){2, 2, 2});
    tgt_assert_tensor(y, ((float[]){10, 21.5f, 10, 21.5f, 10, 21.5f, 10, 21.5f}), 8, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

static tg_tensor *lin_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    (void)arg;
    return tg_linear(ctx, in[0], in[1], in[2]);
}

START_TEST(linear_grad)
{
    static const int64_t xs[][3] = {{4, 5}, {5}, {2, 3, 5}};
    static const int xn[] = {2, 1, 3};
    tg_ctx *ctx = tgt_ctx(3);
    for (int k = 0; k < 3; k++) {
        tg_tensor *in[3] = {tgt_rand(ctx, xn[k], xs[k], -1, 1, true),
                            tgt_rand(ctx, 2, (int64_t[]){3, 5}, -1, 1, true),
                            tgt_rand(ctx, 1, (int64_t[]){3}, -1, 1, true)};
        tgt_gradcheck(ctx, lin_fn, NULL, in, 3);
        in[2] = NULL; /* no bias */
        tgt_gradcheck(ctx, lin_fn, NULL, in, 2);
    }
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(linear_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_zeros(ctx, 2, (int64_t[]){32, 1764});
    tg_tensor *w = tg_zeros(ctx, 2, (int64_t[]){10, 1765});
    ck_assert_ptr_null(tg_linear(ctx, x, w, NULL));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx),
                                 "linear: input [32,1764] and weight [10,1765] do not align"));
    tg_ctx_clear_error(ctx);
    tg_tensor *w2 = tg_zeros(ctx, 2, (int64_t[]){10, 1764}), *b = tg_zeros(ctx, 1, (int64_t[]){9});
    ck_assert_ptr_null(tg_linear(ctx, x, w2, b));
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "linear: bias [9] does not match weight [10,1764] (want [10])");
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_linear(ctx, x, tg_zeros(ctx, 1, (int64_t[]){1764}), NULL));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_linear(ctx, x, NULL, NULL));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "linear: input tensor is NULL");
    tg_ctx_destroy(ctx);
}
END_TEST

/* y = linear(x, W, b) with W [3,7], b [3] fixed: a fresh dx is right
 * (tgt_check_fresh_grad), for a 2-D and a 3-D input. */
static tg_tensor *linear_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    (void)arg;
    tg_tensor *w = tg_reshape(ctx, tg_mul_scalar(ctx, tg_arange(ctx, -10, 11, 1), 0.1f), 2,
                              (int64_t[]){3, 7});
    tg_tensor *b = tg_arange(ctx, 0.5f, 3.5f, 1);
    return tg_linear(ctx, in[0], w, b);
}

/* The same with W [30,300]: big enough for the two threads to split dx's
 * rows (tgt_check_fresh_grad's context has two). */
static tg_tensor *linear_big_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    (void)arg;
    tg_tensor *w = tg_reshape(ctx, tg_mul_scalar(ctx, tg_arange(ctx, -4500, 4500, 1), 1e-4f), 2,
                              (int64_t[]){30, 300});
    return tg_linear(ctx, in[0], w, NULL);
}

START_TEST(linear_fresh_dx_overwrites_stale)
{
    tgt_check_fresh_grad(linear_fn, NULL, 2, (int64_t[]){5, 7});
    tgt_check_fresh_grad(linear_fn, NULL, 3, (int64_t[]){2, 4, 7});
    tgt_check_fresh_grad(linear_big_fn, NULL, 2, (int64_t[]){37, 300});
}
END_TEST

/* A linear layer's result and gradients on 1, 2 and 3 threads: the same
 * bits (dx's rows split by threads, dW's columns). */
static void linear_run(int threads, float *out)
{
    tg_ctx *ctx = tgt_ctx_threads(11, threads);
    tg_tensor *x0 = tgt_rand(ctx, 2, (int64_t[]){37, 300}, -1, 1, true);
    tg_tensor *w = tgt_rand(ctx, 2, (int64_t[]){30, 300}, -1, 1, true);
    tg_tensor *b = tgt_rand(ctx, 1, (int64_t[]){30}, -1, 1, true);
    tg_tensor *y = tg_linear(ctx, tg_mul_scalar(ctx, x0, 1.0f), w, b);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, y))), TG_OK);
    memcpy(out, tg_tensor_data(y), 1110 * sizeof *out);
    memcpy(out + 1110, tg_tensor_grad(x0), 11100 * sizeof *out);
    memcpy(out + 12210, tg_tensor_grad(w), 9000 * sizeof *out);
    memcpy(out + 21210, tg_tensor_grad(b), 30 * sizeof *out);
    tg_ctx_destroy(ctx);
}

START_TEST(linear_threads_same_bits)
{
    static float r1[21240], r2[21240];
    linear_run(1, r1);
    for (int t = 2; t <= 3; t++) {
        linear_run(t, r2);
        ck_assert_msg(memcmp(r1, r2, sizeof r1) == 0, "%d threads", t);
    }
}
END_TEST

/* A linear layer's weight gradient against g^T x in double, added into on
 * the second backward, on 1 and 2 threads, at sizes gradcheck does not
 * reach: rows and columns that are not multiples of the kernels' tiles, an
 * odd batch, the seed CNN's layer. */
START_TEST(linear_dw_values)
{
    static const int64_t shapes[][3] = {{37, 300, 30}, {32, 1764, 10}, {64, 17, 3}, {33, 5, 1}};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
            const int64_t M = shapes[k][0], in = shapes[k][1], nout = shapes[k][2];
            tg_ctx *ctx = tgt_ctx_threads(7 + k, threads);
            tg_tensor *x = tgt_rand(ctx, 2, (int64_t[]){M, in}, -1, 1, false);
            tg_tensor *w = tgt_rand(ctx, 2, (int64_t[]){nout, in}, -1, 1, true);
            tg_tensor *c = tgt_rand(ctx, 2, (int64_t[]){M, nout}, -1, 1, false);
            for (int pass = 1; pass <= 2; pass++) { /* sum(y * c): g = c */
                tg_tensor *y = tg_linear(ctx, x, w, NULL);
                ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, c))), TG_OK);
                const float *gx = tg_tensor_data(c), *xd = tg_tensor_data(x);
                const float *dw = tg_tensor_grad(w);
                for (int64_t n = 0; n < nout; n++)
                    for (int64_t i = 0; i < in; i++) {
                        double want = 0;
                        for (int64_t m = 0; m < M; m++)
                            want += (double)gx[m * nout + n] * xd[m * in + i];
                        want *= pass;
                        ck_assert_msg(fabs(dw[n * in + i] - want) <= 1e-5 * (1 + fabs(want)),
                                      "[%lld,%lld,%lld] %d threads, pass %d: dW[%lld,%lld] = "
                                      "%g, want %g", (long long)M, (long long)in,
                                      (long long)nout, threads, pass, (long long)n,
                                      (long long)i, (double)dw[n * in + i], want);
                    }
            }
            tg_ctx_destroy(ctx);
        }
}
END_TEST

/* Weight and bias that are intermediates (W0 * 1, b0 * 1): their gradients
 * start from zero in every step, although the arena hands back the buffers
 * of the step before (which hold that step's gradients). */
START_TEST(linear_intermediate_params_restart)
{
    tg_ctx *ctx = tgt_ctx_threads(5, 2);
    tg_tensor *x = tgt_rand(ctx, 2, (int64_t[]){37, 300}, -1, 1, false);
    tg_tensor *w0 = tgt_rand(ctx, 2, (int64_t[]){30, 300}, -1, 1, true);
    tg_tensor *b0 = tgt_rand(ctx, 1, (int64_t[]){30}, -1, 1, true);
    float *want = malloc(30 * 301 * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (int run = 0; run < 3; run++) {
        tg_tensor *w = run ? tg_mul_scalar(ctx, w0, 1.0f) : w0;
        tg_tensor *b = run ? tg_mul_scalar(ctx, b0, 1.0f) : b0;
        tg_tensor *y = tg_linear(ctx, x, w, b);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, y))), TG_OK);
        for (int64_t i = 0; i < 30 * 301; i++) {
            float g = i < 9000 ? tg_tensor_grad(w0)[i] : tg_tensor_grad(b0)[i - 9000];
            if (run == 0)
                want[i] = g;
            else
                ck_assert_msg(g == want[i], "run %d: grad %lld = %g, want %g", run,
                              (long long)i, (double)g, (double)want[i]);
        }
        memset(tg_tensor_grad(w0), 0, 9000 * sizeof(float));
        memset(tg_tensor_grad(b0), 0, 30 * sizeof(float));
        tg_ctx_reset(ctx);
    }
    free(want);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("matmul");
    tcase_add_test(tc, matmul_values);
    tcase_add_test(tc, matmul_broadcast);
    tcase_add_loop_test(tc, matmul_grad, 0, (int)(sizeof grad_cases / sizeof *grad_cases));
    tcase_add_test(tc, matmul_threads);
    tcase_add_test(tc, matmul_errors);
    tcase_add_test(tc, linear_values);
    tcase_add_test(tc, linear_grad);
    tcase_add_test(tc, linear_errors);
    tcase_add_test(tc, linear_fresh_dx_overwrites_stale);
    tcase_add_test(tc, linear_intermediate_params_restart);
    tcase_add_test(tc, linear_threads_same_bits);
    tcase_add_test(tc, linear_dw_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
