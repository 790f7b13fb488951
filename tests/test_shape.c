/* SPDX-License-Identifier: MIT */
/* Shape ops: reshape and flatten (views, no copy), transpose and permute
 * (contiguous copies). Shapes, values, gradients and error messages. */
#include "tg_test.h"

static const int64_t S23[2] = {2, 3}, S234[3] = {2, 3, 4};

START_TEST(reshape_views)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, 6);
    tg_tensor *r = tg_reshape(ctx, a, 2, (int64_t[]){3, 2});
    tgt_assert_shape(r, 2, (int64_t[]){3, 2});
    ck_assert_ptr_eq(tg_tensor_data(r), tg_tensor_data(a)); /* no copy */
    tgt_assert_shape(tg_reshape(ctx, a, 1, (int64_t[]){-1}), 1, (int64_t[]){6});
    tgt_assert_shape(tg_reshape(ctx, a, 3, (int64_t[]){3, -1, 1}), 3, (int64_t[]){3, 2, 1});
    tgt_assert_shape(tg_reshape(ctx, a, 4, (int64_t[]){1, 2, 1, 3}), 4, (int64_t[]){1, 2, 1, 3});
    tg_tensor *one = tg_from_data(ctx, 2, (int64_t[]){1, 1}, (float[]){7}, 1);
    r = tg_reshape(ctx, one, 0, NULL);
    tgt_assert_shape(r, 0, NULL);
    ck_assert_float_eq(tg_tensor_data(r)[0], 7);
    tgt_assert_shape(tg_reshape(ctx, r, 1, (int64_t[]){-1}), 1, (int64_t[]){1});
    tg_tensor *e = tg_zeros(ctx, 2, (int64_t[]){0, 4});
    tgt_assert_shape(tg_reshape(ctx, e, 2, (int64_t[]){2, 0}), 2, (int64_t[]){2, 0});
    tgt_assert_shape(tg_reshape(ctx, e, 1, (int64_t[]){-1}), 1, (int64_t[]){0});
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(reshape_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_zeros(ctx, 2, S23), *e = tg_zeros(ctx, 1, (int64_t[]){0});
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_reshape(ctx, a, 2, (int64_t[]){4, 2}));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "reshape: cannot view [2,3] (6 elements) as [4,2]");
    ck_assert_ptr_null(tg_reshape(ctx, a, 2, (int64_t[]){4, -1}));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "reshape: cannot view [2,3] (6 elements) as [4,-1]");
    ck_assert_ptr_null(tg_reshape(ctx, e, 2, (int64_t[]){0, -1}));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE); /* -1 would be ambiguous */
    ck_assert_ptr_null(tg_reshape(ctx, a, 3, (int64_t[]){-1, 2, -1}));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "only one -1"));
    ck_assert_ptr_null(tg_reshape(ctx, a, 2, (int64_t[]){-2, -3}));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_null(tg_reshape(ctx, a, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2, 3}));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "reshape: rank 9 outside 0..8");
    ck_assert_ptr_null(tg_reshape(ctx, a, 2, NULL));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "reshape: shape is NULL");
    ck_assert_ptr_null(tg_reshape(ctx, a, 2, (int64_t[]){INT64_MAX / 2, 4}));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE); /* overflow, not a crash */
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used);
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_reshape(ctx, NULL, 1, (int64_t[]){6}));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "reshape: input tensor is NULL");
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(flatten_views)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_zeros(ctx, 3, S234);
    tg_tensor *f = tg_flatten(ctx, a, 1, -1);
    tgt_assert_shape(f, 2, (int64_t[]){2, 12});
    ck_assert_ptr_eq(tg_tensor_data(f), tg_tensor_data(a));
    tgt_assert_shape(tg_flatten(ctx, a, 0, 1), 2, (int64_t[]){6, 4});
    tgt_assert_shape(tg_flatten(ctx, a, 0, -1), 1, (int64_t[]){24});
    tgt_assert_shape(tg_flatten(ctx, a, -2, -2), 3, (int64_t[]){2, 3, 4});
    tgt_assert_shape(tg_flatten(ctx, tg_from_data(ctx, 0, NULL, (float[]){1}, 1), 0, -1), 1,
                 (int64_t[]){1});
    ck_assert_ptr_null(tg_flatten(ctx, a, 2, 1));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "flatten: start_dim 2 comes after end_dim 1");
    ck_assert_ptr_null(tg_flatten(ctx, a, 0, 3));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "flatten: axis 3 out of range for rank 3");
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(transpose_permute_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, 6);
    tg_tensor *t = tg_transpose(ctx, a, 0, 1);
    tgt_assert_shape(t, 2, (int64_t[]){3, 2});
    tgt_assert_tensor(t, ((float[]){1, 4, 2, 5, 3, 6}), 6, 0);
    tgt_assert_tensor(tg_transpose(ctx, a, -1, -2), ((float[]){1, 4, 2, 5, 3, 6}), 6, 0);
    tgt_assert_tensor(tg_transpose(ctx, a, 1, 1), ((float[]){1, 2, 3, 4, 5, 6}), 6, 0);

    /* 3-D permutes against direct indexing. */
    tg_tensor *b = tg_arange(ctx, 0, 24, 1);
    b = tg_reshape(ctx, b, 3, S234);
    const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int p = 0; p < 6; p++) {
        tg_tensor *r = tg_permute(ctx, b, perms[p]);
        int64_t sh[3] = {S234[perms[p][0]], S234[perms[p][1]], S234[perms[p][2]]};
        tgt_assert_shape(r, 3, sh);
        const float *y = tg_tensor_data(r);
        int64_t i = 0, idx[3];
        for (idx[0] = 0; idx[0] < sh[0]; idx[0]++)
            for (idx[1] = 0; idx[1] < sh[1]; idx[1]++)
                for (idx[2] = 0; idx[2] < sh[2]; idx[2]++, i++) {
                    int64_t src[3];
                    for (int d = 0; d < 3; d++)
                        src[perms[p][d]] = idx[d];
                    ck_assert_float_eq(y[i], (float)((src[0] * 3 + src[1]) * 4 + src[2]));
                }
    }
    /* Negative entries count from the end; transpose(0, 2) == permute {2,1,0}. */
    tg_tensor *n = tg_permute(ctx, b, (int[]){-1, 1, -3});
    tgt_assert_tensor(tg_transpose(ctx, b, 0, 2), tg_tensor_data(n), 24, 0);
    /* 0-d: permute with no dims is a copy. */
    tg_tensor *z = tg_permute(ctx, tg_from_data(ctx, 0, NULL, (float[]){5}, 1), NULL);
    tgt_assert_shape(z, 0, NULL);
    ck_assert_float_eq(tg_tensor_data(z)[0], 5);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(permute_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_zeros(ctx, 3, S234);
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_permute(ctx, a, (int[]){0, 2, 0}));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "permute: perm repeats dim 0 (perm[2] = 0)");
    ck_assert_ptr_null(tg_permute(ctx, a, (int[]){0, 3, 1}));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "permute: perm[1] = 3 out of range for rank 3");
    ck_assert_ptr_null(tg_permute(ctx, a, NULL));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "permute: perm is NULL");
    ck_assert_ptr_null(tg_transpose(ctx, a, 0, -4));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "transpose: axis -4 out of range for rank 3");
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used);
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_transpose(ctx, NULL, 0, 1));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "transpose: input tensor is NULL");
    ck_assert_ptr_null(tg_flatten(ctx, NULL, 0, 1));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "transpose: input tensor is NULL"); /* first kept */
    tg_ctx_destroy(ctx);
}
END_TEST

typedef struct {
    int kind;
    int a, b;
    int perm[3];
    int nd;
    int64_t shape[3];
} sh_arg;

static tg_tensor *shp(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const sh_arg *s = arg;
    switch (s->kind) {
    case 0: return tg_reshape(ctx, in[0], s->nd, s->shape);
    case 1: return tg_flatten(ctx, in[0], s->a, s->b);
    case 2: return tg_transpose(ctx, in[0], s->a, s->b);
    case 3: return tg_permute(ctx, in[0], s->perm);
    /* A view of a copy of a view, then an op that reads the view's data. */
    default:
        return tg_exp(ctx, tg_reshape(ctx, tg_permute(ctx, tg_flatten(ctx, in[0], 0, 1), s->perm),
                                      s->nd, s->shape));
    }
}

START_TEST(grad_shape_ops)
{
    sh_arg cases[] = {
        {0, 0, 0, {0}, 2, {4, 6}},
        {0, 0, 0, {0}, 3, {-1, 2, 2}},
        {1, 1, 2, {0}, 0, {0}},
        {1, 0, -2, {0}, 0, {0}},
        {2, 0, 1, {0}, 0, {0}},
        {2, -1, 0, {0}, 0, {0}},
        {2, 1, 2, {0}, 0, {0}},
        {3, 0, 0, {2, 0, 1}, 0, {0}},
        {3, 0, 0, {1, 2, 0}, 0, {0}},
        {3, 0, 0, {-1, -2, -3}, 0, {0}},
        {4, 0, 0, {1, 0}, 2, {-1, 3}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_ctx *ctx = tgt_ctx(40 + k);
        tg_tensor *x = tgt_rand(ctx, 3, S234, -1, 1, true);
        tgt_gradcheck(ctx, shp, &cases[k], &x, 1);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(grad_through_view_accumulates)
{
    /* x used directly and through a reshape: gradients add. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, true);
    tg_tensor *v = tg_reshape(ctx, x, 1, (int64_t[]){6});
    tg_tensor *y = tg_add(ctx, tg_sum_all(ctx, tg_mul(ctx, v, v)), tg_sum_all(ctx, x));
    ck_assert_int_eq(tg_backward(ctx, y), TG_OK);
    tgt_assert_close(tg_tensor_grad(x), ((float[]){3, 5, 7, 9, 11, 13}), 6, 0, 0);
    /* Views of tensors without grad do not require grad. */
    tg_tensor *c = tg_zeros(ctx, 2, S23);
    ck_assert(!tg_tensor_requires_grad(tg_flatten(ctx, c, 0, -1)));
    ck_assert(!tg_tensor_requires_grad(tg_transpose(ctx, c, 0, 1)));
    tg_ctx_destroy(ctx);
}
END_TEST

/* A view's fresh base gradient is right (tgt_check_fresh_grad). */
static tg_tensor *view_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    return arg ? tg_flatten(ctx, in[0], 1, -1)
               : tg_reshape(ctx, in[0], 2, (int64_t[]){4, 10});
}

START_TEST(view_fresh_grad_overwrites_stale)
{
    tgt_check_fresh_grad(view_fn, NULL, 3, (int64_t[]){2, 4, 5});
    tgt_check_fresh_grad(view_fn, (void *)1, 4, (int64_t[]){2, 3, 4, 5});
    /* big enough for the two threads to split the copy, with a tail */
    tgt_check_fresh_grad(view_fn, (void *)1, 4, (int64_t[]){7, 5, 31, 33});
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("shape");
    tcase_add_test(tc, reshape_views);
    tcase_add_test(tc, reshape_errors);
    tcase_add_test(tc, flatten_views);
    tcase_add_test(tc, transpose_permute_values);
    tcase_add_test(tc, permute_errors);
    tcase_add_test(tc, grad_shape_ops);
    tcase_add_test(tc, grad_through_view_accumulates);
    tcase_add_test(tc, view_fresh_grad_overwrites_stale);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
