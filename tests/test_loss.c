/* SPDX-License-Identifier: MIT */
/* Losses: cross_entropy (fused), nll_loss, mse_loss. Values, reductions,
 * gradients, stability with huge logits, and error paths that must leave
 * everything untouched. */
#include "tg_test.h"

static const int64_t S23[2] = {2, 3}, S45[2] = {4, 5};

START_TEST(cross_entropy_forward)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 1, 1, 1}, 6);
    const int32_t t[2] = {2, 0};
    tg_tensor *l = tg_cross_entropy(ctx, x, t, 2, TG_REDUCTION_NONE);
    ck_assert_int_eq(tg_tensor_ndim(l), 1);
    ck_assert_int_eq(tg_tensor_dim(l, 0), 2);
    tgt_assert_tensor(l, ((float[]){0.40760596f, 1.09861229f}), 2, 1e-6);
    l = tg_cross_entropy(ctx, x, t, 2, TG_REDUCTION_MEAN);
    ck_assert_int_eq(tg_tensor_ndim(l), 0);
    tgt_assert_tensor(l, ((float[]){0.75310913f}), 1, 1e-6);
    l = tg_cross_entropy(ctx, x, t, 2, TG_REDUCTION_SUM);
    ck_assert_int_eq(tg_tensor_ndim(l), 0);
    tgt_assert_tensor(l, ((float[]){1.50621825f}), 1, 1e-6);
    /* Same as nll_loss(log_softmax(x)). */
    tg_tensor *n = tg_nll_loss(ctx, tg_log_softmax(ctx, x, 1), t, 2, TG_REDUCTION_MEAN);
    tgt_assert_tensor(n, ((float[]){0.75310913f}), 1, 1e-6);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(cross_entropy_stable)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 2, S23, (float[]){1000, 0, -1000, -1000, 1000, 1000}, true);
    const int32_t t[2] = {0, 0};
    tg_tensor *l = tg_cross_entropy(ctx, x, t, 2, TG_REDUCTION_NONE);
    tgt_assert_tensor(l, ((float[]){0, 2000.6931f}), 2, 1e-6);
    tg_tensor *m = tg_cross_entropy(ctx, x, (int32_t[]){0, 1}, 2, TG_REDUCTION_MEAN);
    tgt_assert_tensor(m, ((float[]){0.34657359f}), 1, 1e-6);
    ck_assert_int_eq(tg_backward(ctx, m), TG_OK);
    /* (softmax - onehot) / N: row 0 [1,0,0]-[1,0,0]; row 1 [0,.5,.5]-[0,1,0]. */
    tgt_assert_close(tg_tensor_grad(x), ((float[]){0, 0, 0, 0, -0.25f, 0.25f}), 6, 1e-6, 1e-7);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(cross_entropy_grad_formula)
{
    /* Against (softmax - onehot) * g / N computed here in double. */
    tg_ctx *ctx = tgt_ctx(4);
    tg_tensor *x = tgt_rand(ctx, 2, S45, -4, 4, true);
    const int32_t t[4] = {4, 0, 2, 2};
    tg_tensor *l = tg_mul_scalar(ctx, tg_cross_entropy(ctx, x, t, 4, TG_REDUCTION_MEAN), 3);
    ck_assert_int_eq(tg_backward(ctx, l), TG_OK);
    float want[20];
    const float *v = tg_tensor_data(x);
    for (int i = 0; i < 4; i++) {
        double m = -INFINITY, s = 0;
        for (int k = 0; k < 5; k++)
            m = v[i * 5 + k] > m ? v[i * 5 + k] : m;
        for (int k = 0; k < 5; k++)
            s += exp(v[i * 5 + k] - m);
        for (int k = 0; k < 5; k++)
            want[i * 5 + k] = (float)((exp(v[i * 5 + k] - m) / s - (k == t[i])) * 3.0 / 4.0);
    }
    tgt_assert_close(tg_tensor_grad(x), want, 20, 1e-5, 1e-7);
    tg_ctx_destroy(ctx);
}
END_TEST

typedef struct {
    int which; /* 0 cross_entropy, 1 nll */
    tg_reduction r;
    const int32_t *t;
} cls_arg;

static tg_tensor *cls(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const cls_arg *a = arg;
    size_t n = (size_t)tg_tensor_dim(in[0], 0);
    return a->which ? tg_nll_loss(ctx, in[0], a->t, n, a->r)
                    : tg_cross_entropy(ctx, in[0], a->t, n, a->r);
}

START_TEST(grad_classification)
{
    /* _i: 0 cross_entropy, 1 nll; each reduction; [4,5], [1,3], [3,1]. */
    static const int32_t t[4] = {3, 0, 4, 1}, z[3] = {0, 0, 0};
    struct { const int64_t *s; const int32_t *t; } cases[] = {
        {S45, t}, {(int64_t[]){1, 3}, (int32_t[]){2}}, {(int64_t[]){3, 1}, z}};
    for (int r = 0; r < 3; r++)
        for (size_t k = 0; k < 3; k++) {
            tg_ctx *ctx = tgt_ctx(30 + k);
            tg_tensor *x = tgt_rand(ctx, 2, cases[k].s, -3, 3, true);
            cls_arg arg = {_i, (tg_reduction)r, cases[k].t};
            tgt_gradcheck(ctx, cls, &arg, &x, 1);
            tg_ctx_destroy(ctx);
        }
}
END_TEST

START_TEST(targets_are_copied)
{
    /* Backward must use the targets given at forward time. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 2, S23, (float[]){0, 0, 0, 0, 0, 0}, true);
    int32_t t[2] = {1, 2};
    tg_tensor *l = tg_cross_entropy(ctx, x, t, 2, TG_REDUCTION_SUM);
    tg_tensor *n = tg_nll_loss(ctx, x, t, 2, TG_REDUCTION_SUM);
    t[0] = 0;
    t[1] = 0;
    ck_assert_int_eq(tg_backward(ctx, tg_add(ctx, l, n)), TG_OK);
    const float third = 1.0f / 3;
    tgt_assert_close(tg_tensor_grad(x),
                     ((float[]){third, third - 2, third, third, third, third - 2}), 6, 1e-6,
                     1e-7);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(nll_forward)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *lp = tg_from_data(ctx, 2, S23, (float[]){-1, -2, -3, -4, -5, -6}, 6);
    const int32_t t[2] = {1, 2};
    tgt_assert_tensor(tg_nll_loss(ctx, lp, t, 2, TG_REDUCTION_NONE), ((float[]){2, 6}), 2, 0);
    tgt_assert_tensor(tg_nll_loss(ctx, lp, t, 2, TG_REDUCTION_MEAN), ((float[]){4}), 1, 0);
    tgt_assert_tensor(tg_nll_loss(ctx, lp, t, 2, TG_REDUCTION_SUM), ((float[]){8}), 1, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(class_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    const float v[6] = {1, 2, 3, 4, 5, 6};
    tg_tensor *x = tgt_tensor(ctx, 2, S23, v, true);
    int32_t bad[2] = {0, 3};
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);

    ck_assert_ptr_null(tg_cross_entropy(ctx, x, bad, 2, TG_REDUCTION_MEAN));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "cross_entropy: target[1] = 3 is out of range for 3 classes");
    bad[1] = -1;
    ck_assert_ptr_null(tg_nll_loss(ctx, x, bad, 2, TG_REDUCTION_NONE));
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "nll_loss: target[1] = -1 is out of range for 3 classes");
    /* Nothing changed: no arena use, data, grad, targets untouched. */
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used);
    tgt_assert_close(tg_tensor_data(x), v, 6, 0, 0);
    ck_assert_ptr_null(tg_tensor_grad(x));
    ck_assert_int_eq(bad[0], 0);
    ck_assert_int_eq(bad[1], -1);

    const int32_t t[2] = {0, 1};
    ck_assert_ptr_null(tg_cross_entropy(ctx, x, t, 3, TG_REDUCTION_MEAN));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "cross_entropy: 3 targets for input [2,3]");
    ck_assert_ptr_null(tg_cross_entropy(ctx, x, NULL, 2, TG_REDUCTION_MEAN));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "cross_entropy: targets is NULL");
    ck_assert_ptr_null(tg_cross_entropy(ctx, x, t, 2, (tg_reduction)7));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "cross_entropy: unknown reduction 7");
    tg_tensor *flat = tg_from_data(ctx, 1, (int64_t[]){6}, v, 6);
    ck_assert_ptr_null(tg_nll_loss(ctx, flat, t, 2, TG_REDUCTION_SUM));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "nll_loss: input must be [N, C], got [6]");
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_cross_entropy(ctx, NULL, t, 2, TG_REDUCTION_MEAN));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "cross_entropy: input tensor is NULL");
    ck_assert_ptr_null(tg_cross_entropy(NULL, x, t, 2, TG_REDUCTION_MEAN));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(mse_forward)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, 6);
    tg_tensor *b = tg_from_data(ctx, 2, S23, (float[]){1, 0, 4, 4, 8, 2}, 6);
    tg_tensor *r = tg_mse_loss(ctx, a, b, TG_REDUCTION_NONE);
    ck_assert_int_eq(tg_tensor_ndim(r), 2);
    tgt_assert_tensor(r, ((float[]){0, 4, 1, 0, 9, 16}), 6, 0);
    r = tg_mse_loss(ctx, a, b, TG_REDUCTION_MEAN);
    ck_assert_int_eq(tg_tensor_ndim(r), 0);
    tgt_assert_tensor(r, ((float[]){5}), 1, 0);
    tgt_assert_tensor(tg_mse_loss(ctx, a, b, TG_REDUCTION_SUM), ((float[]){30}), 1, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

static tg_tensor *mse(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    return tg_mse_loss(ctx, in[0], in[1], *(tg_reduction *)arg);
}

START_TEST(grad_mse)
{
    static const int64_t S234[3] = {2, 3, 4};
    tg_reduction r = (tg_reduction)_i;
    tg_ctx *ctx = tgt_ctx(8);
    tg_tensor *in[2] = {tgt_rand(ctx, 3, S234, -2, 2, true), tgt_rand(ctx, 3, S234, -2, 2, true)};
    tgt_gradcheck(ctx, mse, &r, in, 2);
    /* Only one side requiring grad. */
    tg_tensor *c[2] = {tgt_rand(ctx, 2, S23, -2, 2, false), tgt_rand(ctx, 2, S23, -2, 2, true)};
    tgt_gradcheck(ctx, mse, &r, c, 2);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(mse_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_zeros(ctx, 2, S23);
    tg_tensor *b = tg_zeros(ctx, 1, (int64_t[]){3});
    ck_assert_ptr_null(tg_mse_loss(ctx, a, b, TG_REDUCTION_MEAN));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "mse_loss: shapes [2,3] and [3] differ");
    ck_assert_ptr_null(tg_mse_loss(ctx, a, a, (tg_reduction)-1));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_mse_loss(ctx, a, NULL, TG_REDUCTION_MEAN));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "mse_loss: input tensor is NULL");
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_add_test(tc, cross_entropy_forward);
    tcase_add_test(tc, cross_entropy_stable);
    tcase_add_test(tc, cross_entropy_grad_formula);
    tcase_add_loop_test(tc, grad_classification, 0, 2);
    tcase_add_test(tc, targets_are_copied);
    tcase_add_test(tc, nll_forward);
    tcase_add_test(tc, class_errors);
    tcase_add_test(tc, mse_forward);
    tcase_add_loop_test(tc, grad_mse, 0, 3);
    tcase_add_test(tc, mse_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
