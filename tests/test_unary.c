/* SPDX-License-Identifier: MIT */
/* Element-wise math (neg, exp, log, sqrt, pow, add/mul by scalar): forward
 * values, finite-difference gradients, NULL inputs, no-grad mode and
 * thread-count independence. */
#include "tg_test.h"

static const int64_t S5[1] = {5}, S23[2] = {2, 3}, S213[3] = {2, 1, 3};

START_TEST(forward_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 1, S5, (float[]){0.25f, 1, 2, 4, 9}, 5);
    tgt_assert_tensor(tg_neg(ctx, a), ((float[]){-0.25f, -1, -2, -4, -9}), 5, 0);
    tgt_assert_tensor(tg_exp(ctx, a),
                      ((float[]){1.2840254f, 2.7182818f, 7.3890561f, 54.598150f, 8103.0839f}), 5,
                      1e-6);
    tgt_assert_tensor(tg_log(ctx, a),
                      ((float[]){-1.3862944f, 0, 0.69314718f, 1.3862944f, 2.1972246f}), 5, 1e-6);
    tgt_assert_tensor(tg_sqrt(ctx, a), ((float[]){0.5f, 1, 1.4142136f, 2, 3}), 5, 1e-6);
    tgt_assert_tensor(tg_pow(ctx, a, 2), ((float[]){0.0625f, 1, 4, 16, 81}), 5, 0);
    tgt_assert_tensor(tg_pow(ctx, a, 3), ((float[]){0.015625f, 1, 8, 64, 729}), 5, 1e-6);
    tgt_assert_tensor(tg_pow(ctx, a, -1), ((float[]){4, 1, 0.5f, 0.25f, 1.0f / 9}), 5, 1e-6);
    tgt_assert_tensor(tg_pow(ctx, a, 0.5f), ((float[]){0.5f, 1, 1.4142136f, 2, 3}), 5, 1e-6);
    tgt_assert_tensor(tg_pow(ctx, a, 0), ((float[]){1, 1, 1, 1, 1}), 5, 0);
    tgt_assert_tensor(tg_add_scalar(ctx, a, -1.5f), ((float[]){-1.25f, -0.5f, 0.5f, 2.5f, 7.5f}),
                      5, 0);
    tgt_assert_tensor(tg_mul_scalar(ctx, a, -2), ((float[]){-0.5f, -2, -4, -8, -18}), 5, 0);
    /* Results keep the input's shape, including 0-d. */
    tg_tensor *r = tg_exp(ctx, tg_from_data(ctx, 2, S23, (float[]){0, 0, 0, 0, 0, 0}, 6));
    ck_assert_int_eq(tg_tensor_ndim(r), 2);
    ck_assert_int_eq(tg_tensor_dim(r, 1), 3);
    tg_tensor *z = tg_neg(ctx, tg_from_data(ctx, 0, NULL, (float[]){3}, 1));
    ck_assert_int_eq(tg_tensor_ndim(z), 0);
    ck_assert_float_eq(tg_tensor_data(z)[0], -3.0f);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(domain_follows_ieee)
{
    /* log(0) = -inf, log(-1) = NaN, sqrt(-1) = NaN: values, not errors. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 1, (int64_t[]){2}, (float[]){0, -1}, 2);
    float *l = tg_tensor_data(tg_log(ctx, a));
    ck_assert(isinf(l[0]) && l[0] < 0);
    ck_assert(isnan(l[1]));
    ck_assert(isnan(tg_tensor_data(tg_sqrt(ctx, a))[1]));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

enum { U_NEG, U_EXP, U_LOG, U_SQRT, U_POW2, U_POW3, U_POWH, U_POWM1, U_ADD, U_MUL, U_COUNT };

static tg_tensor *unary(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    switch (*(int *)arg) {
    case U_NEG: return tg_neg(ctx, in[0]);
    case U_EXP: return tg_exp(ctx, in[0]);
    case U_LOG: return tg_log(ctx, in[0]);
    case U_SQRT: return tg_sqrt(ctx, in[0]);
    case U_POW2: return tg_pow(ctx, in[0], 2);
    case U_POW3: return tg_pow(ctx, in[0], 3);
    case U_POWH: return tg_pow(ctx, in[0], 0.5f);
    case U_POWM1: return tg_pow(ctx, in[0], -1.5f);
    case U_ADD: return tg_add_scalar(ctx, in[0], 0.75f);
    default: return tg_mul_scalar(ctx, in[0], -1.25f);
    }
}

START_TEST(grad_unary)
{
    /* _i selects the op; inputs in [0.5, 2] keep log/sqrt/negative powers
     * well conditioned. Shapes: 1-D, 2-D, 3-D with a unit dim, and 0-d. */
    int op = _i;
    struct { int nd; const int64_t *s; } shapes[] = {{1, S5}, {2, S23}, {3, S213}, {0, NULL}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        tg_ctx *ctx = tgt_ctx(10 + k);
        tg_tensor *x = tgt_rand(ctx, shapes[k].nd, shapes[k].s, 0.5f, 2.0f, true);
        tgt_gradcheck(ctx, unary, &op, &x, 1);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(grad_pow_negative_base)
{
    /* Integer exponents are defined for negative bases. */
    tg_ctx *ctx = tgt_ctx(3);
    tg_tensor *x = tgt_rand(ctx, 2, S23, -2.0f, -0.5f, true);
    int op = U_POW3;
    tgt_gradcheck(ctx, unary, &op, &x, 1);
    op = U_POW2;
    tgt_gradcheck(ctx, unary, &op, &x, 1);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(pow_zero_exponent_grad_is_zero)
{
    /* d/dx x^0 = 0 even at x = 0 (no 0 * inf = NaN), as PyTorch. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 1, (int64_t[]){3}, (float[]){0, 1, -2}, true);
    tg_tensor *y = tg_sum_all(ctx, tg_pow(ctx, x, 0));
    ck_assert_int_eq(tg_backward(ctx, y), TG_OK);
    tgt_assert_close(tg_tensor_grad(x), ((float[]){0, 0, 0}), 3, 0, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(grad_accumulates_through_reuse)
{
    /* y = exp(x) * exp(x) uses exp twice: dy/dx = 2 e^{2x}. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 1, (int64_t[]){2}, (float[]){0.5f, -1}, true);
    tg_tensor *e = tg_exp(ctx, x);
    tg_tensor *y = tg_sum_all(ctx, tg_add(ctx, tg_mul(ctx, e, e), tg_mul_scalar(ctx, x, 3)));
    ck_assert_int_eq(tg_backward(ctx, y), TG_OK);
    float want[2] = {2 * expf(1.0f) + 3, 2 * expf(-2.0f) + 3};
    tgt_assert_close(tg_tensor_grad(x), want, 2, 1e-6, 1e-6);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(null_input)
{
    tg_ctx *ctx = tgt_ctx(1);
    ck_assert_ptr_null(tg_exp(ctx, NULL));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "exp: input tensor is NULL");
    /* The first error survives a chain of NULLs. */
    ck_assert_ptr_null(tg_mul_scalar(ctx, tg_pow(ctx, tg_log(ctx, NULL), 2), 3));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "exp: input tensor is NULL");
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_add_scalar(ctx, NULL, 1));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "add_scalar"));
    ck_assert_ptr_null(tg_neg(NULL, NULL));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(no_grad_mode)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_rand(ctx, 2, S23, 0.5f, 1, true);
    ck_assert(tg_tensor_requires_grad(tg_sqrt(ctx, x)));
    ck_assert(tg_ctx_set_grad_enabled(ctx, false));
    tg_tensor *y = tg_sqrt(ctx, x);
    ck_assert(!tg_tensor_requires_grad(y));
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_ERR_STATE);
    tg_ctx_set_grad_enabled(ctx, true);
    tg_tensor *c = tgt_rand(ctx, 2, S23, 0.5f, 1, false);
    ck_assert(!tg_tensor_requires_grad(tg_exp(ctx, c)));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(threads_bit_identical)
{
    /* Large enough to be split across threads: forward and backward must
     * match the single-threaded run bit for bit. */
    static const int64_t big[1] = {300001};
    float *ref[2] = {NULL, NULL};
    for (int run = 0; run < 2; run++) {
        tg_ctx *ctx = tgt_ctx_threads(7, run ? 2 : 1);
        tg_tensor *x = tgt_rand(ctx, 1, big, 0.1f, 3.0f, true);
        tg_tensor *y = tg_sum_all(ctx, tg_sqrt(ctx, tg_exp(ctx, tg_pow(ctx, x, 1.5f))));
        ck_assert_int_eq(tg_backward(ctx, y), TG_OK);
        ref[run] = malloc(sizeof(float) * (size_t)(big[0] + 1));
        memcpy(ref[run], tg_tensor_grad(x), sizeof(float) * (size_t)big[0]);
        ref[run][big[0]] = tg_tensor_data(y)[0];
        tg_ctx_destroy(ctx);
    }
    ck_assert(memcmp(ref[0], ref[1], sizeof(float) * (size_t)(big[0] + 1)) == 0);
    free(ref[0]);
    free(ref[1]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("unary");
    TCase *tc = tcase_create("unary");
    tcase_add_test(tc, forward_values);
    tcase_add_test(tc, domain_follows_ieee);
    tcase_add_loop_test(tc, grad_unary, 0, U_COUNT);
    tcase_add_test(tc, grad_pow_negative_base);
    tcase_add_test(tc, pow_zero_exponent_grad_is_zero);
    tcase_add_test(tc, grad_accumulates_through_reuse);
    tcase_add_test(tc, null_input);
    tcase_add_test(tc, no_grad_mode);
    tcase_add_test(tc, threads_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
