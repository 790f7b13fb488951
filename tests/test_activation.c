/* SPDX-License-Identifier: MIT */
/* Activations: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax.
 * Forward values, gradients (away from relu's kink), axis handling,
 * numerical stability with huge logits, errors and thread independence. */
#include "tg_test.h"

static const int64_t S6[1] = {6}, S23[2] = {2, 3}, S34[2] = {3, 4}, S234[3] = {2, 3, 4};

START_TEST(forward_pointwise)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 1, S6, (float[]){-2, -0.5f, 0, 0.5f, 2, 100}, 6);
    tgt_assert_tensor(tg_relu(ctx, a), ((float[]){0, 0, 0, 0.5f, 2, 100}), 6, 0);
    tgt_assert_tensor(tg_leaky_relu(ctx, a, 0.1f), ((float[]){-0.2f, -0.05f, 0, 0.5f, 2, 100}),
                      6, 1e-7);
    tgt_assert_tensor(tg_sigmoid(ctx, a),
                      ((float[]){0.11920292f, 0.37754067f, 0.5f, 0.62245933f, 0.88079708f, 1}),
                      6, 1e-6);
    tgt_assert_tensor(tg_tanh(ctx, a),
                      ((float[]){-0.96402758f, -0.46211716f, 0, 0.46211716f, 0.96402758f, 1}),
                      6, 1e-6);
    /* Sigmoid saturates without overflow or NaN at extreme inputs. */
    tg_tensor *ext = tg_from_data(ctx, 1, (int64_t[]){2}, (float[]){-1000, 1000}, 2);
    tgt_assert_tensor(tg_sigmoid(ctx, ext), ((float[]){0, 1}), 2, 0);
    /* relu keeps NaN like PyTorch. */
    tg_tensor *nan = tg_from_data(ctx, 1, (int64_t[]){1}, (float[]){NAN}, 1);
    ck_assert(isnan(tg_tensor_data(tg_relu(ctx, nan))[0]));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(relu_grad_at_and_around_zero)
{
    /* PyTorch's convention: gradient 0 at exactly 0; leaky_relu gets slope. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_tensor(ctx, 1, (int64_t[]){3}, (float[]){-1, 0, 2}, true);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_relu(ctx, x))), TG_OK);
    tgt_assert_close(tg_tensor_grad(x), ((float[]){0, 0, 1}), 3, 0, 0);
    tg_tensor_zero_grad(x);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_leaky_relu(ctx, x, 0.25f))), TG_OK);
    tgt_assert_close(tg_tensor_grad(x), ((float[]){0.25f, 0.25f, 1}), 3, 0, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

enum { A_RELU, A_LEAKY, A_SIGMOID, A_TANH, A_COUNT };

static tg_tensor *act(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    switch (*(int *)arg) {
    case A_RELU: return tg_relu(ctx, in[0]);
    case A_LEAKY: return tg_leaky_relu(ctx, in[0], 0.1f);
    case A_SIGMOID: return tg_sigmoid(ctx, in[0]);
    default: return tg_tanh(ctx, in[0]);
    }
}

START_TEST(grad_pointwise)
{
    /* Values at least 0.1 away from 0 (relu's kink) with eps 0.01. */
    int op = _i;
    static const float v[12] = {-2.0f, -1.1f, -0.4f, -0.1f, 0.1f, 0.3f,
                                0.7f,  1.3f,  1.9f,  -0.7f, 0.5f, -1.6f};
    struct { int nd; const int64_t *s; } shapes[] = {{1, S6}, {2, S23}, {2, S34}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        tg_ctx *ctx = tgt_ctx(1);
        tg_tensor *x = tgt_tensor(ctx, shapes[k].nd, shapes[k].s, v, true);
        tgt_gradcheck(ctx, act, &op, &x, 1);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(forward_softmax)
{
    tg_ctx *ctx = tgt_ctx(1);
    /* Rows [1,2,3] and [1,1,1]; along axis 1 and, transposed, axis 0. */
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 1, 1, 1}, 6);
    const float third = 1.0f / 3;
    tgt_assert_tensor(tg_softmax(ctx, a, 1),
                      ((float[]){0.09003057f, 0.24472847f, 0.66524096f, third, third, third}), 6,
                      1e-6);
    tgt_assert_tensor(tg_log_softmax(ctx, a, -1),
                      ((float[]){-2.40760596f, -1.40760596f, -0.40760596f, -1.09861229f,
                                 -1.09861229f, -1.09861229f}),
                      6, 1e-6);
    /* Axis 0: columns (1,1), (2,1), (3,1). */
    float s0 = 0.5f, s1 = 0.73105858f, s2 = 0.88079708f;
    tgt_assert_tensor(tg_softmax(ctx, a, 0), ((float[]){s0, s1, s2, 1 - s0, 1 - s1, 1 - s2}), 6,
                      1e-6);
    tgt_assert_tensor(tg_log_softmax(ctx, a, -2),
                      ((float[]){logf(s0), logf(s1), logf(s2), logf(1 - s0), logf(1 - s1),
                                 logf(1 - s2)}),
                      6, 1e-6);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(softmax_stable_huge_logits)
{
    tg_ctx *ctx = tgt_ctx(1);
    /* Last axis (contiguous rows). */
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1000, 0, -1000, 1000, 1000, -1000}, 6);
    tgt_assert_tensor(tg_softmax(ctx, a, 1), ((float[]){1, 0, 0, 0.5f, 0.5f, 0}), 6, 1e-7);
    tgt_assert_tensor(tg_log_softmax(ctx, a, 1),
                      ((float[]){0, -1000, -2000, -0.69314718f, -0.69314718f, -2000.6931f}), 6,
                      1e-6);
    /* Leading axis (strided slab path): the same numbers, transposed. */
    tg_tensor *b = tg_from_data(ctx, 2, (int64_t[]){3, 2}, (float[]){1000, 1000, 0, 1000, -1000,
                                                                     -1000}, 6);
    tgt_assert_tensor(tg_softmax(ctx, b, 0), ((float[]){1, 0.5f, 0, 0.5f, 0, 0}), 6, 1e-7);
    tgt_assert_tensor(tg_log_softmax(ctx, b, 0),
                      ((float[]){0, -0.69314718f, -1000, -0.69314718f, -2000, -2000.6931f}), 6,
                      1e-6);
    /* Gradients stay finite at saturation. */
    tg_tensor *x = tgt_tensor(ctx, 2, S23, (float[]){1000, 0, -1000, 1000, 1000, -1000}, true);
    tg_tensor *w = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, 6);
    tg_tensor *y = tg_add(ctx, tg_sum_all(ctx, tg_mul(ctx, tg_softmax(ctx, x, 1), w)),
                          tg_sum_all(ctx, tg_mul(ctx, tg_log_softmax(ctx, x, 0), w)));
    ck_assert_int_eq(tg_backward(ctx, y), TG_OK);
    const float *g = tg_tensor_grad(x);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(isfinite(g[i]), "grad[%d] = %g", i, (double)g[i]);
    tg_ctx_destroy(ctx);
}
END_TEST

typedef struct {
    int axis;
    bool log;
} sm_arg;

static tg_tensor *sm(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const sm_arg *a = arg;
    return a->log ? tg_log_softmax(ctx, in[0], a->axis) : tg_softmax(ctx, in[0], a->axis);
}

START_TEST(grad_softmax)
{
    /* _i: 0 softmax, 1 log_softmax; every axis of 1-, 2- and 3-D inputs,
     * positive and negative. */
    bool log = _i;
    struct { int nd; const int64_t *s; int axis; } cases[] = {
        {1, S6, 0}, {1, S6, -1}, {2, S34, 0}, {2, S34, 1}, {2, S34, -2},
        {3, S234, 0}, {3, S234, 1}, {3, S234, 2}, {3, S234, -1}, {3, S234, -3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_ctx *ctx = tgt_ctx(20 + k);
        tg_tensor *x = tgt_rand(ctx, cases[k].nd, cases[k].s, -3, 3, true);
        sm_arg arg = {cases[k].axis, log};
        tgt_gradcheck(ctx, sm, &arg, &x, 1);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, 6);
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_softmax(ctx, a, 2));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "softmax: axis 2 out of range for rank 2");
    ck_assert_ptr_null(tg_log_softmax(ctx, a, -3));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "log_softmax: axis -3 out of range for rank 2");
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used); /* nothing allocated */
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_relu(ctx, NULL));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "relu: input tensor is NULL");
    ck_assert_ptr_null(tg_softmax(ctx, NULL, 0));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "relu: input tensor is NULL"); /* first kept */
    ck_assert_ptr_null(tg_sigmoid(NULL, a));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(threads_bit_identical)
{
    /* relu over a large batch and a softmax over a middle axis, split across
     * threads, must match one thread exactly, forward and backward. */
    static const int64_t big[3] = {64, 40, 50};
    size_t n = 64 * 40 * 50;
    float *res[2];
    for (int run = 0; run < 2; run++) {
        tg_ctx *ctx = tgt_ctx_threads(5, run ? 2 : 1);
        tg_tensor *x = tgt_rand(ctx, 3, big, -2, 2, true);
        tg_tensor *r = tg_relu(ctx, x);
        tg_tensor *s = tg_softmax(ctx, r, 1);
        tg_tensor *l = tg_log_softmax(ctx, x, 2);
        tg_tensor *y = tg_add(ctx, tg_sum_all(ctx, tg_mul(ctx, s, x)), tg_sum_all(ctx, l));
        ck_assert_int_eq(tg_backward(ctx, y), TG_OK);
        res[run] = malloc(sizeof(float) * 2 * n);
        memcpy(res[run], tg_tensor_data(s), sizeof(float) * n);
        memcpy(res[run] + n, tg_tensor_grad(x), sizeof(float) * n);
        tg_ctx_destroy(ctx);
    }
    ck_assert(memcmp(res[0], res[1], sizeof(float) * 2 * n) == 0);
    free(res[0]);
    free(res[1]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("activation");
    tcase_add_test(tc, forward_pointwise);
    tcase_add_test(tc, relu_grad_at_and_around_zero);
    tcase_add_loop_test(tc, grad_pointwise, 0, A_COUNT);
    tcase_add_test(tc, forward_softmax);
    tcase_add_test(tc, softmax_stable_huge_logits);
    tcase_add_loop_test(tc, grad_softmax, 0, 2);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, threads_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
