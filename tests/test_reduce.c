/* SPDX-License-Identifier: MIT */
/* Reductions: sum, mean, max over an axis (keepdim both ways, every axis,
 * negative axes) and over everything (0-d results); max tie-breaking; errors. */
#include "tg_test.h"

static const int64_t S23[2] = {2, 3}, S234[3] = {2, 3, 4};

START_TEST(forward_2d)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 5, 3, -4, 2, 9}, 6);
    tg_tensor *r = tg_sum(ctx, a, 0, false);
    tgt_assert_shape(r, 1, (int64_t[]){3});
    tgt_assert_tensor(r, ((float[]){-3, 7, 12}), 3, 0);
    r = tg_sum(ctx, a, -1, true);
    tgt_assert_shape(r, 2, (int64_t[]){2, 1});
    tgt_assert_tensor(r, ((float[]){9, 7}), 2, 0);
    r = tg_mean(ctx, a, 1, false);
    tgt_assert_shape(r, 1, (int64_t[]){2});
    tgt_assert_tensor(r, ((float[]){3, 7.0f / 3}), 2, 1e-7);
    r = tg_mean(ctx, a, -2, true);
    tgt_assert_shape(r, 2, (int64_t[]){1, 3});
    tgt_assert_tensor(r, ((float[]){-1.5f, 3.5f, 6}), 3, 0);
    r = tg_max(ctx, a, 0, true);
    tgt_assert_shape(r, 2, (int64_t[]){1, 3});
    tgt_assert_tensor(r, ((float[]){1, 5, 9}), 3, 0);
    r = tg_max(ctx, a, 1, false);
    tgt_assert_shape(r, 1, (int64_t[]){2});
    tgt_assert_tensor(r, ((float[]){5, 9}), 2, 0);

    r = tg_sum_all(ctx, a);
    tgt_assert_shape(r, 0, NULL);
    tgt_assert_tensor(r, ((float[]){16}), 1, 0);
    r = tg_mean_all(ctx, a);
    tgt_assert_shape(r, 0, NULL);
    tgt_assert_tensor(r, ((float[]){16.0f / 6}), 1, 1e-7);
    r = tg_max_all(ctx, a);
    tgt_assert_shape(r, 0, NULL);
    tgt_assert_tensor(r, ((float[]){9}), 1, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Reference reduction of [2,3,4] data over one axis, in double. */
static void ref_reduce(const float *x, int axis, int kind, float *out)
{
    int64_t d[3] = {2, 3, 4};
    int64_t o = 0;
    for (int64_t i = 0; i < (axis == 0 ? 1 : 2); i++)
        for (int64_t j = 0; j < (axis == 1 ? 1 : 3); j++)
            for (int64_t k = 0; k < (axis == 2 ? 1 : 4); k++) {
                double s = 0, m = -INFINITY;
                for (int64_t r = 0; r < d[axis]; r++) {
                    int64_t ii = axis == 0 ? r : i, jj = axis == 1 ? r : j,
                            kk = axis == 2 ? r : k;
                    double v = x[(ii * 3 + jj) * 4 + kk];
                    s += v;
                    m = v > m ? v : m;
                }
                out[o++] = (float)(kind == 0 ? s : kind == 1 ? s / (double)d[axis] : m);
            }
}

START_TEST(forward_3d_every_axis)
{
    tg_ctx *ctx = tgt_ctx(2);
    tg_tensor *a = tgt_rand(ctx, 3, S234, -3, 3, false);
    const float *x = tg_tensor_data(a);
    for (int kind = 0; kind < 3; kind++)
        for (int axis = -3; axis < 3; axis++) {
            int ax = axis < 0 ? axis + 3 : axis;
            float want[12];
            ref_reduce(x, ax, kind, want);
            for (int keep = 0; keep < 2; keep++) {
                tg_tensor *r = kind == 0   ? tg_sum(ctx, a, axis, keep)
                               : kind == 1 ? tg_mean(ctx, a, axis, keep)
                                           : tg_max(ctx, a, axis, keep);
                int64_t shape[3];
                int nd = 0;
                for (int i = 0; i < 3; i++)
                    if (i != ax || keep)
                        shape[nd++] = i == ax ? 1 : S234[i];
                tgt_assert_shape(r, nd, shape);
                tgt_assert_tensor(r, want, (size_t)(24 / S234[ax]), 1e-6);
            }
        }
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(zero_d_input)
{
    /* A 0-d tensor reduces over its implicit axis 0 / -1 (PyTorch). */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *s = tg_from_data(ctx, 0, NULL, (float[]){4}, 1);
    tg_tensor *r = tg_sum(ctx, s, -1, false);
    tgt_assert_shape(r, 0, NULL);
    tgt_assert_tensor(r, ((float[]){4}), 1, 0);
    tgt_assert_tensor(tg_max(ctx, s, 0, true), ((float[]){4}), 1, 0);
    ck_assert_ptr_null(tg_mean(ctx, s, 1, false));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(sum_accuracy)
{
    /* One million 0.1s: a naive float loop drifts by ~1%. */
    tg_ctx *ctx = tgt_ctx(1);
    static const int64_t n[1] = {1000000};
    tg_tensor *a = tg_full(ctx, 1, n, 0.1f);
    tgt_assert_tensor(tg_sum_all(ctx, a), ((float[]){100000.0f}), 1, 1e-5);
    tgt_assert_tensor(tg_mean(ctx, a, 0, false), ((float[]){0.1f}), 1, 1e-5);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Distinct values 0.25 apart (a permutation of a grid), so no maximum moves
 * under the +-0.01 finite-difference steps. */
static tg_tensor *spaced(tg_ctx *ctx, int nd, const int64_t *shape, int64_t numel)
{
    float v[24];
    for (int64_t i = 0; i < numel; i++)
        v[i] = (float)((i * 7) % numel) * 0.25f - 3.0f;
    return tgt_tensor(ctx, nd, shape, v, true);
}

typedef struct {
    int kind, axis;
    bool keep;
} red_arg;

static tg_tensor *red(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const red_arg *r = arg;
    switch (r->kind) {
    case 0: return tg_sum(ctx, in[0], r->axis, r->keep);
    case 1: return tg_mean(ctx, in[0], r->axis, r->keep);
    case 2: return tg_max(ctx, in[0], r->axis, r->keep);
    case 3: return tg_sum_all(ctx, in[0]);
    case 4: return tg_mean_all(ctx, in[0]);
    default: return tg_max_all(ctx, in[0]);
    }
}

START_TEST(grad_axis)
{
    /* _i: 0 sum, 1 mean, 2 max; every axis (both signs) of [2,3,4], [2,3]
     * and [5], keepdim both ways. */
    struct { int nd; const int64_t *s; int64_t n; } shapes[] = {
        {3, S234, 24}, {2, S23, 6}, {1, (int64_t[]){5}, 5}};
    for (size_t k = 0; k < 3; k++)
        for (int axis = -shapes[k].nd; axis < shapes[k].nd; axis++)
            for (int keep = 0; keep < 2; keep++) {
                tg_ctx *ctx = tgt_ctx(1);
                tg_tensor *x = spaced(ctx, shapes[k].nd, shapes[k].s, shapes[k].n);
                red_arg arg = {_i, axis, keep};
                tgt_gradcheck(ctx, red, &arg, &x, 1);
                tg_ctx_destroy(ctx);
            }
}
END_TEST

START_TEST(grad_all)
{
    /* _i: 3 sum_all, 4 mean_all, 5 max_all. */
    struct { int nd; const int64_t *s; int64_t n; } shapes[] = {
        {3, S234, 24}, {2, S23, 6}, {0, NULL, 1}};
    for (size_t k = 0; k < 3; k++) {
        tg_ctx *ctx = tgt_ctx(1);
        tg_tensor *x = spaced(ctx, shapes[k].nd, shapes[k].s, shapes[k].n);
        red_arg arg = {_i, 0, false};
        tgt_gradcheck(ctx, red, &arg, &x, 1);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(max_ties_go_to_first)
{
    tg_ctx *ctx = tgt_ctx(1);
    /* Contiguous rows: [1,3,3,2] -> max 3 at index 1. */
    tg_tensor *a = tgt_tensor(ctx, 2, (int64_t[]){1, 4}, (float[]){1, 3, 3, 2}, true);
    tg_tensor *m = tg_max(ctx, a, 1, false);
    tgt_assert_tensor(m, ((float[]){3}), 1, 0);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, m)), TG_OK);
    tgt_assert_close(tg_tensor_grad(a), ((float[]){0, 1, 0, 0}), 4, 0, 0);

    /* Strided (leading axis): columns (1,3,3) and (5,5,2). */
    tg_tensor *b = tgt_tensor(ctx, 2, (int64_t[]){3, 2}, (float[]){1, 5, 3, 5, 3, 2}, true);
    m = tg_max(ctx, b, 0, true);
    tgt_assert_tensor(m, ((float[]){3, 5}), 2, 0);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, m)), TG_OK);
    tgt_assert_close(tg_tensor_grad(b), ((float[]){0, 1, 1, 0, 0, 0}), 6, 0, 0);

    /* max_all: first maximum in row-major order. */
    tg_tensor *c = tgt_tensor(ctx, 2, (int64_t[]){2, 2}, (float[]){2, 7, 7, 7}, true);
    m = tg_max_all(ctx, c);
    tgt_assert_tensor(m, ((float[]){7}), 1, 0);
    ck_assert_int_eq(tg_backward(ctx, tg_mul_scalar(ctx, m, 2)), TG_OK);
    tgt_assert_close(tg_tensor_grad(c), ((float[]){0, 2, 0, 0}), 4, 0, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(max_propagates_nan)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, (int64_t[]){2, 3}, (float[]){1, NAN, 3, 4, 5, 6}, 6);
    const float *r = tg_tensor_data(tg_max(ctx, a, 1, false));
    ck_assert(isnan(r[0]));
    ck_assert_float_eq(r[1], 6);
    r = tg_tensor_data(tg_max(ctx, a, 0, false));
    ck_assert(isnan(r[1]));
    ck_assert_float_eq(r[2], 6);
    ck_assert(isnan(tg_tensor_data(tg_max_all(ctx, a))[0]));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, 6);
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_sum(ctx, a, 2, false));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "sum: axis 2 out of range for rank 2");
    ck_assert_ptr_null(tg_mean(ctx, a, -3, true));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "mean: axis -3 out of range for rank 2");
    ck_assert_ptr_null(tg_max(ctx, a, 5, true));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "max: axis 5 out of range for rank 2");
    /* Max over an empty axis has no answer; sum and mean do (0, NaN). */
    tg_tensor *e = tg_zeros(ctx, 2, (int64_t[]){3, 0});
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_max(ctx, e, 1, false));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "empty axis of [3,0]"));
    ck_assert_ptr_null(tg_max_all(ctx, e));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "max_all"));
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used);
    tgt_assert_tensor(tg_sum(ctx, e, 1, false), ((float[]){0, 0, 0}), 3, 0);
    ck_assert(isnan(tg_tensor_data(tg_mean_all(ctx, e))[0]));
    tg_tensor *m0 = tg_max(ctx, e, 0, false); /* [0]: nothing to take the max of */
    ck_assert_ptr_nonnull(m0);
    ck_assert_int_eq(tg_tensor_numel(m0), 0);
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_sum_all(ctx, NULL));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "sum_all: input tensor is NULL");
    ck_assert_ptr_null(tg_max(ctx, NULL, 0, false));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "sum_all: input tensor is NULL");
    ck_assert_ptr_null(tg_mean_all(NULL, a));
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    tcase_add_test(tc, forward_2d);
    tcase_add_test(tc, forward_3d_every_axis);
    tcase_add_test(tc, zero_d_input);
    tcase_add_test(tc, sum_accuracy);
    tcase_add_loop_test(tc, grad_axis, 0, 3);
    tcase_add_loop_test(tc, grad_all, 3, 6);
    tcase_add_test(tc, max_ties_go_to_first);
    tcase_add_test(tc, max_propagates_nan);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
