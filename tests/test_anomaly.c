/* SPDX-License-Identifier: MIT */
/* NaN/Inf detection (tg_ctx_set_detect_anomaly) on real op chains: the
 * first op whose output or input gradient is non-finite is named, the
 * status is TG_ERR_NUMERIC, and the leaves' gradients are left as they were.
 * Public API only. */
#include "tg_test.h"

static const int64_t S4[1] = {4};

static void assert_msg_has(tg_ctx *ctx, const char *needle)
{
    const char *msg = tg_ctx_last_error(ctx);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
}

START_TEST(off_by_default)
{
    tg_ctx *ctx = tgt_ctx(1);
    ck_assert(!tg_ctx_set_detect_anomaly(ctx, true));
    ck_assert(tg_ctx_set_detect_anomaly(ctx, false));
    ck_assert(!tg_ctx_set_detect_anomaly(NULL, true));
    /* Off: log of a negative number just propagates NaN. */
    tg_tensor *x = tgt_tensor(ctx, 1, S4, (float[]){1, 2, -1, 3}, true);
    tg_tensor *loss = tg_sum_all(ctx, tg_log(ctx, x));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    ck_assert(isnan(tg_tensor_data(loss)[0]));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(log_of_negative)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 1, S4, (float[]){1, 2, -1, 3}, true);
    /* A first, clean backward leaves a gradient that must survive. */
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul_scalar(ctx, x, 2.0f))), TG_OK);
    float before[4];
    ck_assert_int_eq(tg_tensor_copy_grad(x, before, 4), TG_OK);
    tg_ctx_reset(ctx);

    tg_ctx_set_detect_anomaly(ctx, true);
    tg_tensor *y = tg_mul_scalar(ctx, tg_log(ctx, tg_add_scalar(ctx, x, 0.0f)), 3.0f);
    tg_tensor *loss = tg_mean_all(ctx, tg_exp(ctx, y));
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_NUMERIC);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_NUMERIC);
    /* log is the first op with a NaN (the add before it is finite) */
    assert_msg_has(ctx, "anomaly: log produced a non-finite value in its output");
    assert_msg_has(ctx, "element 2 of [4]");
    float after[4];
    ck_assert_int_eq(tg_tensor_copy_grad(x, after, 4), TG_OK);
    ck_assert_mem_eq(before, after, sizeof before);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(sqrt_gradient_inf)
{
    /* sqrt(0) = 0 is finite, but its gradient 1/(2 sqrt 0) is not: the check
     * of gradients as they are produced names sqrt. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 1, S4, (float[]){4, 0, 1, 9}, true);
    tg_ctx_set_detect_anomaly(ctx, true);
    tg_tensor *loss = tg_sum_all(ctx, tg_relu(ctx, tg_sqrt(ctx, x)));
    ck_assert(isfinite(tg_tensor_data(loss)[0]));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_NUMERIC);
    assert_msg_has(ctx, "anomaly: sqrt produced a non-finite value in the gradient of its input");
    assert_msg_has(ctx, "element 1");
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(div_by_zero_and_exp_overflow)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_ctx_set_detect_anomaly(ctx, true);
    tg_tensor *a = tgt_tensor(ctx, 1, S4, (float[]){1, 2, 3, 4}, true);
    tg_tensor *b = tgt_tensor(ctx, 1, S4, (float[]){1, 1, 0, 1}, true);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_div(ctx, a, b))), TG_ERR_NUMERIC);
    assert_msg_has(ctx, "anomaly: div produced");
    tg_ctx_clear_error(ctx);
    tg_ctx_reset(ctx);

    tg_tensor *e = tg_exp(ctx, tg_mul_scalar(ctx, a, 40.0f)); /* e^160 overflows float */
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, e)), TG_ERR_NUMERIC);
    assert_msg_has(ctx, "anomaly: exp produced");
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(nan_input_named_at_first_op)
{
    /* A NaN in the data (a leaf, which is not an op) is reported at the
     * first op that consumes it: here the linear layer of a small MLP. */
    tg_ctx *ctx = tgt_ctx(3);
    static const int64_t sx[2] = {2, 3}, sw[2] = {4, 3}, sb[1] = {4};
    tg_tensor *x = tg_from_data(ctx, 2, sx, (float[]){1, 2, 3, 4, NAN, 6}, 6);
    tg_tensor *w = tgt_rand(ctx, 2, sw, -1, 1, true);
    tg_tensor *b = tgt_rand(ctx, 1, sb, -1, 1, true);
    tg_ctx_set_detect_anomaly(ctx, true);
    tg_tensor *h = tg_relu(ctx, tg_linear(ctx, x, w, b));
    tg_tensor *loss = tg_cross_entropy(ctx, h, (int32_t[]){1, 3}, 2, TG_REDUCTION_MEAN);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_NUMERIC);
    assert_msg_has(ctx, "anomaly: linear produced a non-finite value in its output");
    float g[12];
    ck_assert_int_eq(tg_tensor_copy_grad(w, g, 12), TG_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(g[i], 0.0f); /* nothing was accumulated */

    /* The same graph with clean data passes with detection on. */
    tg_ctx_clear_error(ctx);
    tg_ctx_reset(ctx);
    x = tg_from_data(ctx, 2, sx, (float[]){1, 2, 3, 4, 5, 6}, 6);
    loss = tg_cross_entropy(ctx, tg_relu(ctx, tg_linear(ctx, x, w, b)), (int32_t[]){1, 3}, 2,
                            TG_REDUCTION_MEAN);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("anomaly");
    TCase *tc = tcase_create("detect");
    tcase_add_test(tc, off_by_default);
    tcase_add_test(tc, log_of_negative);
    tcase_add_test(tc, sqrt_gradient_inf);
    tcase_add_test(tc, div_by_zero_and_exp_overflow);
    tcase_add_test(tc, nan_input_named_at_first_op);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
