/* SPDX-License-Identifier: MIT */
/* tg_max_pool2d, tg_avg_pool2d (and the fresh-gradient contract of the
 * adaptive and global average pools): hand-computed values, PyTorch's tie and
 * padding rules, finite-difference gradients and the parameter errors. */
#include "tg_test.h"

static const int64_t S1133[4] = {1, 1, 3, 3}, S1122[4] = {1, 1, 2, 2}, S1144[4] = {1, 1, 4, 4};

static float *grad_of_sum(tg_ctx *ctx, tg_tensor *x, tg_tensor *y)
{
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    return tg_tensor_grad(x);
}

START_TEST(max_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    float d[16] = {1, 5, 2, 0, 3, 4, 8, 7, -1, -2, -3, -4, 6, -6, -7, 9};
    tg_tensor *x = tgt_tensor(ctx, 4, S1144, d, true);
    tg_tensor *y = tg_max_pool2d(ctx, x, 2, 0, 0); /* stride 0 = kernel */
    ck_assert_int_eq(tg_tensor_dim(y, 2), 2);
    tgt_assert_tensor(y, ((float[]){5, 8, 6, 9}), 4, 0);
    float *g = grad_of_sum(ctx, x, y);
    tgt_assert_close(g, ((float[]){0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1}), 16, 0, 0);

    /* overlapping windows, stride 1: the shared maximum collects both */
    tg_tensor_zero_grad(x);
    y = tg_max_pool2d(ctx, x, 3, 1, 0);
    tgt_assert_tensor(y, ((float[]){8, 8, 8, 9}), 4, 0);
    g = grad_of_sum(ctx, x, y);
    ck_assert_float_eq(g[6], 3);
    ck_assert_float_eq(g[15], 1);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(max_ties_and_padding)
{
    tg_ctx *ctx = tgt_ctx(1);
    /* ties: the first maximum in row-major order gets the gradient */
    tg_tensor *x = tgt_tensor(ctx, 4, S1122, (float[]){1, 1, 1, 1}, true);
    float *g = grad_of_sum(ctx, x, tg_max_pool2d(ctx, x, 2, 2, 0));
    tgt_assert_close(g, ((float[]){1, 0, 0, 0}), 4, 0, 0);
    tg_tensor *x2 = tgt_tensor(ctx, 4, S1122, (float[]){0, 3, 3, 1}, true);
    g = grad_of_sum(ctx, x2, tg_max_pool2d(ctx, x2, 2, 2, 0));
    tgt_assert_close(g, ((float[]){0, 1, 0, 0}), 4, 0, 0);

    /* padding is -inf, never 0: all-negative input keeps its values */
    float neg[9] = {-5, -4, -9, -8, -7, -6, -3, -2, -1};
    tg_tensor *x3 = tgt_tensor(ctx, 4, S1133, neg, true);
    tg_tensor *y = tg_max_pool2d(ctx, x3, 2, 2, 1);
    ck_assert_int_eq(tg_tensor_dim(y, 2), 2);
    tgt_assert_tensor(y, ((float[]){-5, -4, -3, -1}), 4, 0);
    g = grad_of_sum(ctx, x3, y);
    tgt_assert_close(g, ((float[]){1, 1, 0, 0, 0, 0, 1, 0, 1}), 9, 0, 0);

    /* an all -inf window yields -inf and routes to its first real element */
    tg_tensor *x4 = tgt_tensor(ctx, 4, S1122,
                               (float[]){-INFINITY, -INFINITY, -INFINITY, -INFINITY}, true);
    y = tg_max_pool2d(ctx, x4, 2, 2, 0);
    ck_assert(isinf(tg_tensor_data(y)[0]) && tg_tensor_data(y)[0] < 0);
    tg_ctx_destroy(ctx);

    /* NaN propagates (PyTorch: a NaN always counts as the maximum) */
    ctx = tgt_ctx(1);
    tg_tensor *x5 = tgt_tensor(ctx, 4, S1122, (float[]){1, NAN, 7, 2}, false);
    ck_assert(isnan(tg_tensor_data(tg_max_pool2d(ctx, x5, 2, 2, 0))[0]));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(avg_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 4, S1122, (float[]){1, 2, 3, 4}, true);
    /* padding counts in the divisor (count_include_pad=True) */
    tg_tensor *y = tg_avg_pool2d(ctx, x, 2, 1, 1);
    ck_assert_int_eq(tg_tensor_dim(y, 2), 3);
    tgt_assert_tensor(y, ((float[]){0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1}), 9,
                      1e-7);
    float *g = grad_of_sum(ctx, x, y);
    tgt_assert_close(g, ((float[]){1, 1, 1, 1}), 4, 1e-7, 1e-7);
    tg_tensor *x2 = tgt_tensor(ctx, 4, S1144, NULL, false);
    for (int i = 0; i < 16; i++)
        tg_tensor_data(x2)[i] = (float)i;
    tgt_assert_tensor(tg_avg_pool2d(ctx, x2, 2, 0, 0), ((float[]){2.5f, 4.5f, 10.5f, 12.5f}), 4,
                      0);
    tg_ctx_destroy(ctx);
}
END_TEST

typedef struct { int k, s, p, max; } pool_case;
static const pool_case gcases[] = {
    {2, 2, 0, 1}, {3, 2, 1, 1}, {3, 1, 1, 1}, {2, 1, 1, 1},
    {2, 2, 0, 0}, {3, 2, 1, 0}, {3, 1, 1, 0}, {2, 1, 1, 0},
};

static tg_tensor *pool_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const pool_case *c = arg;
    return c->max ? tg_max_pool2d(ctx, in[0], c->k, c->s, c->p)
                  : tg_avg_pool2d(ctx, in[0], c->k, c->s, c->p);
}

START_TEST(pool_grad)
{
    const pool_case *c = &gcases[_i];
    tg_ctx *ctx = tgt_ctx(5);
    const int64_t shape[4] = {2, 2, 5, 6};
    tg_tensor *x = tgt_tensor(ctx, 4, shape, NULL, true);
    /* distinct values 0.05 apart (a multiplicative shuffle of 0..119), so
     * the finite-difference steps never change which element is the maximum */
    for (int i = 0; i < 120; i++)
        tg_tensor_data(x)[i] = (float)((i * 37) % 120) * 0.05f - 3.0f;
    tgt_gradcheck(ctx, pool_fn, (void *)c, &x, 1);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A fresh input gradient (odd H and W) is stored in full: tgt_check_fresh_grad. */
START_TEST(pool_fresh_dx_overwrites_stale)
{
    tgt_check_fresh_grad(pool_fn, (void *)&gcases[_i], 4, (int64_t[]){3, 2, 7, 5});
}
END_TEST

static tg_tensor *adaptive_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    return arg ? tg_adaptive_avg_pool2d(ctx, in[0], 4, 3) /* overlapping windows */
               : tg_global_avg_pool2d(ctx, in[0]);
}

START_TEST(adaptive_fresh_dx_overwrites_stale)
{
    tgt_check_fresh_grad(adaptive_fn, _i ? (void *)1 : NULL, 4, (int64_t[]){3, 2, 7, 5});
}
END_TEST

START_TEST(pool_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_zeros(ctx, 4, (int64_t[]){1, 2, 4, 4});
    ck_assert_ptr_null(tg_max_pool2d(ctx, x, 2, 2, 2));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "max_pool2d: padding 2 must be at most half the kernel size 2");
    ck_assert_ptr_null(tg_avg_pool2d(ctx, x, 3, 1, 2));
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "avg_pool2d: padding 2 must be at most half the kernel size 3");
    ck_assert_ptr_null(tg_max_pool2d(ctx, x, 0, 1, 0));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "got kernel 0"));
    ck_assert_ptr_null(tg_avg_pool2d(ctx, x, 2, -1, 0));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_null(tg_max_pool2d(ctx, x, 5, 1, 0));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "max_pool2d: kernel 5 is larger than the padded input 4x4 of [1,2,4,4]");
    ck_assert_ptr_nonnull(tg_max_pool2d(ctx, x, 5, 1, 2)); /* padded to 8x8: fine */
    tg_tensor *x3 = tg_reshape(ctx, x, 3, (int64_t[]){2, 4, 4});
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_max_pool2d(ctx, x3, 2, 2, 0));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "max_pool2d: input must be 4-D [N,C,H,W], got [2,4,4]");
    ck_assert_ptr_null(tg_avg_pool2d(ctx, x, 2, 2, 3));
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(after.arena_used, before.arena_used); /* failures allocate nothing */
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_avg_pool2d(ctx, NULL, 2, 2, 0));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "avg_pool2d: input tensor is NULL");
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, max_values);
    tcase_add_test(tc, max_ties_and_padding);
    tcase_add_test(tc, avg_values);
    tcase_add_loop_test(tc, pool_grad, 0, (int)(sizeof gcases / sizeof *gcases));
    tcase_add_loop_test(tc, pool_fresh_dx_overwrites_stale, 0,
                        (int)(sizeof gcases / sizeof *gcases));
    tcase_add_loop_test(tc, adaptive_fresh_dx_overwrites_stale, 0, 2);
    tcase_add_test(tc, pool_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
