/* SPDX-License-Identifier: MIT */
/* tg_batch_norm2d (training and evaluation, running statistics, gradients)
 * and tg_dropout (mask statistics, determinism, identity modes, gradients),
 * plus their error paths, and the fused BN+ReLU and BN+add+ReLU ops. */
#include "tg_internal.h" /* tg__batch_norm2d_add_relu */
#include "tg_test.h"

static const int64_t SX[4] = {2, 2, 1, 2}, SC[1] = {2};

/* ---- batch norm ---------------------------------------------------------- */

START_TEST(bn_train_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    /* channel 0: {1, 3, 5, 7}; channel 1: {2, 2, 4, 8} (x[n][c][0][w]) */
    float xd[8] = {1, 3, 2, 2, 5, 7, 4, 8};
    tg_tensor *x = tgt_tensor(ctx, 4, SX, xd, false);
    tg_tensor *w = tgt_tensor(ctx, 1, SC, (float[]){2, 0.5f}, true);
    tg_tensor *b = tgt_tensor(ctx, 1, SC, (float[]){1, -1}, true);
    tg_tensor *rm = tgt_tensor(ctx, 1, SC, (float[]){0, 0}, false);
    tg_tensor *rv = tgt_tensor(ctx, 1, SC, (float[]){1, 1}, false);
    float eps = 1e-5f;
    tg_tensor *y = tg_batch_norm2d(ctx, x, w, b, rm, rv, true, 0.1f, eps);
    ck_assert_ptr_nonnull(y);
    /* channel 0: mean 4, biased var 5, unbiased 20/3; channel 1: mean 4, var 6, unbiased 8 */
    double mean[2] = {4, 4}, var[2] = {5, 6}, unb[2] = {20.0 / 3.0, 8}, wv[2] = {2, 0.5},
           bv[2] = {1, -1};
    float want[8];
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 2; i++) {
                int k = (n * 2 + c) * 2 + i;
                want[k] = (float)((xd[k] - mean[c]) / sqrt(var[c] + eps) * wv[c] + bv[c]);
            }
    tgt_assert_tensor(y, want, 8, 1e-6);
    tgt_assert_tensor(rm, ((float[]){0.4f, 0.4f}), 2, 1e-7);
    tgt_assert_tensor(rv, ((float[]){(float)(0.9 + 0.1 * unb[0]), (float)(0.9 + 0.1 * unb[1])}),
                      2, 1e-6);

    /* evaluation uses the running statistics */
    y = tg_batch_norm2d(ctx, x, w, b, rm, rv, false, 0.1f, eps);
    for (int k = 0; k < 8; k++) {
        int c = (k / 2) % 2;
        double r_m = tg_tensor_data(rm)[c], r_v = tg_tensor_data(rv)[c];
        want[k] = (float)((xd[k] - r_m) / sqrt(r_v + eps) * wv[c] + bv[c]);
    }
    tgt_assert_tensor(y, want, 8, 1e-6);
    /* ... and leaves them alone */
    tgt_assert_tensor(rm, ((float[]){0.4f, 0.4f}), 2, 1e-7);

    /* no affine parameters, no running stats in training */
    y = tg_batch_norm2d(ctx, x, NULL, NULL, NULL, NULL, true, 0.1f, 0.0f);
    ck_assert_float_eq_tol(tg_tensor_data(y)[0], (float)(-3 / sqrt(5.0)), 1e-6);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Batch statistics against a double-precision reference where float
 * arithmetic is at its weakest: a large common offset (1000, where a sum
 * of squares minus the squared mean loses every digit) and planes whose
 * means differ, plus a constant channel, whose variance must come out 0
 * (not negative: NaN after the sqrt). Momentum 1: the running statistics
 * are the batch mean and the unbiased variance. 1 and 2 threads. */
START_TEST(bn_stats_offset)
{
    tg_ctx *ctx = tgt_ctx_threads(5, 1 + _i);
    enum { N = 5, C = 3, H = 7, W = 9, HW = H * W, NUMEL = N * C * HW };
    const int64_t sx[4] = {N, C, H, W}, sc[1] = {C};
    static float xd[NUMEL];
    uint32_t st = 4242;
    for (int i = 0; i < NUMEL; i++) {
        int n = i / (C * HW), c = i / HW % C;
        st = st * 1664525u + 1013904223u;
        float u = (float)(st >> 8) / (float)(1 << 24) * 2.0f - 1.0f;
        xd[i] = c == 2 ? 3.25f : 1000.0f + 0.5f * (float)n * (float)(c + 1) + u;
    }
    tg_tensor *x = tgt_tensor(ctx, 4, sx, xd, false);
    tg_tensor *rm = tgt_tensor(ctx, 1, sc, (float[]){0, 0, 0}, false);
    tg_tensor *rv = tgt_tensor(ctx, 1, sc, (float[]){1, 1, 1}, false);
    tg_tensor *y = tg_batch_norm2d(ctx, x, NULL, NULL, rm, rv, true, 1.0f, 1e-5f);
    ck_assert_ptr_nonnull(y);
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < HW; k++)
                s += xd[(n * C + c) * HW + k];
        double mu = s / (N * HW);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < HW; k++) {
                double d = xd[(n * C + c) * HW + k] - mu;
                ss += d * d;
            }
        double unb = ss / (N * HW - 1), var = ss / (N * HW);
        ck_assert_msg(fabs(tg_tensor_data(rm)[c] - mu) <= 1e-7 * fabs(mu), "mean %d", c);
        ck_assert_msg(fabs(tg_tensor_data(rv)[c] - unb) <= 1e-5 * unb + 1e-12,
                      "channel %d: var %.9g, want %.9g", c, (double)tg_tensor_data(rv)[c], unb);
        for (int n = 0; n < N; n++) /* y = (x - mu) / sqrt(var + eps) */
            for (int k = 0; k < HW; k += 5) {
                int i = (n * C + c) * HW + k;
                double want = (xd[i] - mu) / sqrt(var + 1e-5);
                ck_assert_msg(fabs(tg_tensor_data(y)[i] - want) <= 2e-4 * (1 + fabs(want)),
                              "y[%d] %.9g, want %.9g", i, (double)tg_tensor_data(y)[i], want);
            }
    }
    ck_assert(tg_tensor_data(rv)[2] == 0.0f);
    tg_ctx_destroy(ctx);
}
END_TEST

typedef struct { bool training, affine, running; } bn_case;
static const bn_case bn_cases[] = {
    {true, true, true}, {true, false, false}, {false, true, true}, {true, true, false},
};

static tg_tensor *bn_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const bn_case *c = arg;
    return tg_batch_norm2d(ctx, in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL,
                           c->running ? in[3] : NULL, c->running ? in[4] : NULL, c->training,
                           0.1f, 1e-5f);
}

START_TEST(bn_grad)
{
    const bn_case *c = &bn_cases[_i];
    tg_ctx *ctx = tgt_ctx(20 + (uint64_t)_i);
    const int64_t sx[4] = {3, 2, 2, 3};
    tg_tensor *in[5] = {tgt_rand(ctx, 4, sx, -2, 2, true), tgt_rand(ctx, 1, SC, 0.5f, 1.5f, true),
                        tgt_rand(ctx, 1, SC, -1, 1, true), tgt_rand(ctx, 1, SC, -0.5f, 0.5f, false),
                        tgt_rand(ctx, 1, SC, 0.5f, 2, false)};
    tgt_gradcheck_tol(ctx, bn_fn, (void *)c, in, c->affine ? 3 : 1, 1e-3, 2e-2, 3e-3);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(bn_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_zeros(ctx, 4, (int64_t[]){2, 3, 2, 2});
    tg_tensor *w = tgt_tensor(ctx, 1, (int64_t[]){3}, NULL, true);
    tg_tensor *w2 = tgt_tensor(ctx, 1, (int64_t[]){2}, NULL, true);
    tg_tensor *rm = tgt_tensor(ctx, 1, (int64_t[]){3}, (float[]){1, 2, 3}, false);
    tg_tensor *rv = tgt_tensor(ctx, 1, (int64_t[]){3}, (float[]){1, 1, 1}, false);
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);

    ck_assert_ptr_null(tg_batch_norm2d(ctx, x, w2, NULL, rm, rv, true, 0.1f, 1e-5f));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "batch_norm2d: weight [2] does not match input [2,3,2,2] (want [3])");
    tgt_assert_tensor(rm, ((float[]){1, 2, 3}), 3, 0); /* running stats untouched */

    ck_assert_ptr_null(tg_batch_norm2d(ctx, tg_zeros(ctx, 2, (int64_t[]){2, 3}), w, NULL, rm, rv,
                                       true, 0.1f, 1e-5f));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "input must be 4-D"));
    ck_assert_ptr_null(tg_batch_norm2d(ctx, x, w, NULL, NULL, NULL, false, 0.1f, 1e-5f));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "evaluation mode needs running_mean"));
    ck_assert_ptr_null(tg_batch_norm2d(ctx, x, w, NULL, rm, NULL, true, 0.1f, 1e-5f));
    ck_assert_ptr_null(tg_batch_norm2d(ctx, x, w, NULL, rm, rv, true, 1.5f, 1e-5f));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "momentum 1.5"));
    ck_assert_ptr_null(tg_batch_norm2d(ctx, x, w, NULL, rm, rv, true, 0.1f, -1.0f));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    tg_tensor *one = tg_zeros(ctx, 4, (int64_t[]){1, 3, 1, 1});
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_batch_norm2d(ctx, one, w, NULL, rm, rv, true, 0.1f, 1e-5f));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "batch_norm2d: expected more than 1 value per "
                                             "channel when training, got input [1,3,1,1]");
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used);
    tgt_assert_tensor(rm, ((float[]){1, 2, 3}), 3, 0);
    ck_assert_ptr_nonnull(tg_batch_norm2d(ctx, one, w, NULL, rm, rv, false, 0.1f, 1e-5f));
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_batch_norm2d(ctx, NULL, w, NULL, rm, rv, true, 0.1f, 1e-5f));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "batch_norm2d: input tensor is NULL");
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- dropout ------------------------------------------------------------- */

START_TEST(dropout_values)
{
    tg_ctx *ctx = tgt_ctx(42);
    const int64_t s[1] = {10000};
    tg_tensor *x = tgt_rand(ctx, 1, s, 1, 2, true);
    tg_tensor *y = tg_dropout(ctx, x, 0.25f, true);
    ck_assert_ptr_nonnull(y);
    int kept = 0;
    for (int i = 0; i < 10000; i++) {
        float v = tg_tensor_data(y)[i];
        if (v != 0.0f) {
            kept++;
            ck_assert_float_eq_tol(v, tg_tensor_data(x)[i] / 0.75f, 1e-6);
        }
    }
    ck_assert_int_ge(kept, 7300); /* 7500 expected, sd ~43 */
    ck_assert_int_le(kept, 7700);
    /* gradient: g * mask / (1-p) */
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    for (int i = 0; i < 10000; i++)
        ck_assert_float_eq(tg_tensor_grad(x)[i],
                           tg_tensor_data(y)[i] != 0.0f ? 1.0f / 0.75f : 0.0f);

    /* the next call draws a fresh mask */
    tg_tensor *y2 = tg_dropout(ctx, x, 0.25f, true);
    ck_assert(memcmp(tg_tensor_data(y), tg_tensor_data(y2), 10000 * sizeof(float)) != 0);

    /* identity out of training and for p == 0, still differentiable */
    tg_tensor_zero_grad(x);
    tg_tensor *e = tg_dropout(ctx, x, 0.5f, false);
    tgt_assert_tensor(e, tg_tensor_data(x), 10000, 0);
    ck_assert(tg_tensor_requires_grad(e));
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, e)), TG_OK);
    ck_assert_float_eq(tg_tensor_grad(x)[17], 1.0f);
    tgt_assert_tensor(tg_dropout(ctx, x, 0.0f, true), tg_tensor_data(x), 10000, 0);

    /* p == 1 drops everything */
    tg_tensor_zero_grad(x);
    tg_tensor *z = tg_dropout(ctx, x, 1.0f, true);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, z)), TG_OK);
    for (int i = 0; i < 10000; i++) {
        ck_assert_float_eq(tg_tensor_data(z)[i], 0.0f);
        ck_assert_float_eq(tg_tensor_grad(x)[i], 0.0f);
    }
    tg_ctx_destroy(ctx);
}
END_TEST

/* Same seed => same mask, whatever the thread count. */
START_TEST(dropout_deterministic)
{
    float *m[2];
    for (int t = 0; t < 2; t++) {
        tg_ctx *ctx = tgt_ctx_threads(7, t + 1);
        tg_tensor *y = tg_dropout(ctx, tg_ones(ctx, 1, (int64_t[]){5000}), 0.5f, true);
        m[t] = malloc(5000 * sizeof(float));
        memcpy(m[t], tg_tensor_data(y), 5000 * sizeof(float));
        tg_ctx_destroy(ctx);
    }
    ck_assert(memcmp(m[0], m[1], 5000 * sizeof(float)) == 0);
    free(m[0]);
    free(m[1]);
}
END_TEST

static tg_tensor *drop_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    (void)arg;
    tg_ctx_manual_seed(ctx, 99); /* the same mask on every evaluation */
    return tg_dropout(ctx, in[0], 0.3f, true);
}

START_TEST(dropout_grad)
{
    tg_ctx *ctx = tgt_ctx(3);
    tg_tensor *x = tgt_rand(ctx, 2, (int64_t[]){6, 7}, -1, 1, true);
    tgt_gradcheck(ctx, drop_fn, NULL, &x, 1);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(dropout_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_ones(ctx, 1, (int64_t[]){4});
    float r0[2];
    tg_tensor *probe = tg_rand(ctx, 1, (int64_t[]){2}, 0, 1);
    memcpy(r0, tg_tensor_data(probe), sizeof r0);
    tg_ctx_manual_seed(ctx, 1);
    tg_tensor_uniform_(probe, 0, 1); /* reseeded: same two draws again */
    ck_assert(memcmp(r0, tg_tensor_data(probe), sizeof r0) == 0);
    tg_ctx_manual_seed(ctx, 1);
    ck_assert_ptr_null(tg_dropout(ctx, x, 1.5f, true));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "dropout: probability must be in [0, 1], got 1.5");
    ck_assert_ptr_null(tg_dropout(ctx, x, -0.1f, false));
    ck_assert_ptr_null(tg_dropout(ctx, x, NAN, true));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    /* failures consumed no random numbers */
    tg_tensor_uniform_(probe, 0, 1);
    ck_assert(memcmp(r0, tg_tensor_data(probe), sizeof r0) == 0);
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_dropout(ctx, NULL, 0.5f, true));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "dropout: input tensor is NULL");
    tg_ctx_destroy(ctx);
}
END_TEST

/* A Sequential's BatchNorm2d followed by ReLU runs as one fused op, in
 * training and in evaluation: same values and gradients, bit for bit, as
 * tg_relu on tg_batch_norm2d, whether the input's gradient is fresh (an
 * intermediate, stored) or accumulated (a leaf). _i % 2: threads - 1;
 * _i / 2: evaluation mode (the running statistics, set to non-trivial ones). */
START_TEST(bn_relu_fused_bits)
{
    tg_ctx *ctx = tgt_ctx_threads(7, 1 + _i % 2);
    const bool training = _i < 2;
    enum { N = 4, C = 3, H = 5, W = 7, NUMEL = N * C * H * W };
    const int64_t sx[4] = {N, C, H, W}, sc[1] = {C};
    static float xd[NUMEL], rd[NUMEL];
    uint32_t st = 12345;
    for (int i = 0; i < NUMEL; i++) {
        st = st * 1664525u + 1013904223u;
        xd[i] = (float)(st >> 8) / (float)(1 << 24) * 4.0f - 2.0f + (float)(i % C) * 0.3f;
        st = st * 1664525u + 1013904223u;
        rd[i] = (float)(st >> 8) / (float)(1 << 24) - 0.5f;
    }
    tg_module *seq, *bn, *relu;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_batchnorm2d_create(ctx, C, 1e-5f, 0.1f, &bn), TG_OK);
    ck_assert_int_eq(tg_relu_create(ctx, &relu), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, bn), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, relu), TG_OK);
    tg_tensor *w = tg_module_param(bn, 0, NULL), *b = tg_module_param(bn, 1, NULL);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(b);
    for (int c = 0; c < C; c++) {
        tg_tensor_data(w)[c] = 0.5f + (float)c;
        tg_tensor_data(b)[c] = 0.25f - 0.2f * (float)c;
    }
    const float m0[C] = {0.3f, -0.2f, 0.1f}, v0[C] = {0.5f, 2.0f, 1.5f};
    tg_tensor *rm = tgt_tensor(ctx, 1, sc, m0, false), *rv = tgt_tensor(ctx, 1, sc, v0, false);
    memcpy(tg_tensor_data(tg_module_find(bn, "running_mean")), m0, sizeof m0);
    memcpy(tg_tensor_data(tg_module_find(bn, "running_var")), v0, sizeof v0);
    tg_module_train(seq, training);
    tg_tensor *x0 = tgt_tensor(ctx, 4, sx, xd, true), *r = tgt_tensor(ctx, 4, sx, rd, false);
    static float y1[NUMEL], gx1[NUMEL], gw1[C], gb1[C];
    for (int pass = 0; pass < 2; pass++) {
        for (int leaf = 0; leaf < 2; leaf++) {
            /* leaf: BN reads x0 (accumulated gradient); else x0 * 1 (fresh) */
            tg_tensor *x = leaf ? x0 : tg_mul_scalar(ctx, x0, 1.0f);
            tg_tensor *y = pass == 0 ? tg_module_forward(seq, x)
                                     : tg_relu(ctx, tg_batch_norm2d(ctx, x, w, b, rm, rv,
                                                                    training, 0.1f, 1e-5f));
            ck_assert_ptr_nonnull(y);
            ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, r))), TG_OK);
            if (pass == 0 && leaf == 0) {
                memcpy(y1, tg_tensor_data(y), sizeof y1);
                memcpy(gx1, tg_tensor_grad(x0), sizeof gx1);
                memcpy(gw1, tg_tensor_grad(w), sizeof gw1);
                memcpy(gb1, tg_tensor_grad(b), sizeof gb1);
            } else {
                ck_assert(memcmp(y1, tg_tensor_data(y), sizeof y1) == 0);
                ck_assert(memcmp(gx1, tg_tensor_grad(x0), sizeof gx1) == 0);
                ck_assert(memcmp(gw1, tg_tensor_grad(w), sizeof gw1) == 0);
                ck_assert(memcmp(gb1, tg_tensor_grad(b), sizeof gb1) == 0);
            }
            memset(tg_tensor_grad(x0), 0, sizeof gx1);
            memset(tg_tensor_grad(w), 0, sizeof gw1);
            memset(tg_tensor_grad(b), 0, sizeof gb1);
            tg_ctx_reset(ctx);
        }
    }
    float nz = 0;
    for (int i = 0; i < NUMEL; i++)
        nz += y1[i] == 0.0f;
    ck_assert(nz > NUMEL / 8 && nz < NUMEL * 7 / 8); /* the ReLU cuts some, not all */
    if (!training) /* evaluation leaves the running statistics alone */
        ck_assert(memcmp(tg_tensor_data(tg_module_find(bn, "running_var")), v0, sizeof v0) == 0);
    tg_module_destroy(seq);
    tg_ctx_destroy(ctx);
}
END_TEST

/* relu(bn(x) + res) as the fused op of a residual block's end: same values
 * and gradients, bit for bit, as tg_relu(tg_add(tg_batch_norm2d(...), res)).
 * _i / 4 % 2 is the thread count - 1, _i >= 8 evaluation mode; _i % 4 picks
 * the inputs: 0 x and res intermediates (fresh gradients, stored), 1 leaves
 * (accumulated over two backward passes), 2 res is x (one gradient, two
 * contributions), 3 res needs no gradient (and gets none). */
START_TEST(bn_add_relu_fused_bits)
{
    tg_ctx *ctx = tgt_ctx_threads(7, 1 + _i / 4 % 2);
    const int v = _i % 4;
    const bool training = _i < 8;
    enum { N = 3, C = 4, H = 5, W = 9, NUMEL = N * C * H * W };
    const int64_t sx[4] = {N, C, H, W}, sc[1] = {C};
    static float xd[NUMEL], rd[NUMEL], cd[NUMEL];
    uint32_t st = 777;
    for (int i = 0; i < NUMEL; i++) {
        st = st * 1664525u + 1013904223u;
        xd[i] = (float)(st >> 8) / (float)(1 << 24) * 4.0f - 2.0f + (float)(i % C) * 0.3f;
        st = st * 1664525u + 1013904223u;
        rd[i] = (float)(st >> 8) / (float)(1 << 24) * 2.0f - 1.0f;
        st = st * 1664525u + 1013904223u;
        cd[i] = (float)(st >> 8) / (float)(1 << 24) - 0.5f;
    }
    tg_tensor *w = tgt_tensor(ctx, 1, sc, (float[]){0.5f, 1.5f, -0.75f, 1}, true);
    tg_tensor *b = tgt_tensor(ctx, 1, sc, (float[]){0.25f, -0.5f, 0, 0.1f}, true);
    tg_tensor *rm = tgt_tensor(ctx, 1, sc, (float[]){0, 0, 0, 0}, false);
    tg_tensor *rv = tgt_tensor(ctx, 1, sc, (float[]){1, 1, 1, 1}, false);
    tg_tensor *x0 = tgt_tensor(ctx, 4, sx, xd, true);
    tg_tensor *r0 = tgt_tensor(ctx, 4, sx, rd, v < 2), *co = tgt_tensor(ctx, 4, sx, cd, false);
    static float y1[NUMEL], gx1[NUMEL], gr1[NUMEL], gw1[C], gb1[C], rm1[C], rv1[C];
    for (int fused = 0; fused < 2; fused++) {
        memcpy(tg_tensor_data(rm), (float[]){0.2f, -0.1f, 0.4f, 0}, C * sizeof(float));
        memcpy(tg_tensor_data(rv), (float[]){0.7f, 1.9f, 1, 0.3f}, C * sizeof(float));
        for (int rep = 0; rep < (v == 1 ? 2 : 1); rep++) {
            tg_tensor *x = v == 1 ? x0 : tg_mul_scalar(ctx, x0, 1.0f);
            tg_tensor *r = v == 2 ? x : v == 1 || v == 3 ? r0 : tg_mul_scalar(ctx, r0, 1.0f);
            tg_tensor *y =
                fused ? tg__batch_norm2d_add_relu(ctx, x, w, b, rm, rv, training, 0.1f, 1e-5f,
                                                  r)
                      : tg_relu(ctx, tg_add(ctx, tg_batch_norm2d(ctx, x, w, b, rm, rv, training,
                                                                 0.1f, 1e-5f),
                                            r));
            ck_assert_ptr_nonnull(y);
            ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, co))), TG_OK);
            if (rep == (v == 1 ? 1 : 0) && !fused) {
                memcpy(y1, tg_tensor_data(y), sizeof y1);
                memcpy(gx1, tg_tensor_grad(x0), sizeof gx1);
                if (v < 2)
                    memcpy(gr1, tg_tensor_grad(r0), sizeof gr1);
                memcpy(gw1, tg_tensor_grad(w), sizeof gw1);
                memcpy(gb1, tg_tensor_grad(b), sizeof gb1);
                memcpy(rm1, tg_tensor_data(rm), sizeof rm1);
                memcpy(rv1, tg_tensor_data(rv), sizeof rv1);
            } else if (rep == (v == 1 ? 1 : 0)) {
                ck_assert(memcmp(y1, tg_tensor_data(y), sizeof y1) == 0);
                ck_assert(memcmp(gx1, tg_tensor_grad(x0), sizeof gx1) == 0);
                if (v < 2)
                    ck_assert(memcmp(gr1, tg_tensor_grad(r0), sizeof gr1) == 0);
                else
                    ck_assert_ptr_null(tg_tensor_grad(r0));
                ck_assert(memcmp(gw1, tg_tensor_grad(w), sizeof gw1) == 0);
                ck_assert(memcmp(gb1, tg_tensor_grad(b), sizeof gb1) == 0);
                ck_assert(memcmp(rm1, tg_tensor_data(rm), sizeof rm1) == 0);
                ck_assert(memcmp(rv1, tg_tensor_data(rv), sizeof rv1) == 0);
            }
            tg_ctx_reset(ctx);
        }
        memset(tg_tensor_grad(x0), 0, sizeof gx1);
        if (v < 2)
            memset(tg_tensor_grad(r0), 0, sizeof gr1);
        memset(tg_tensor_grad(w), 0, sizeof gw1);
        memset(tg_tensor_grad(b), 0, sizeof gb1);
    }
    float nz = 0, gnz = 0;
    for (int i = 0; i < NUMEL; i++) {
        nz += y1[i] == 0.0f;
        gnz += v < 2 && gr1[i] != 0.0f;
    }
    ck_assert(nz > NUMEL / 8 && nz < NUMEL * 7 / 8); /* the ReLU cuts some, not all */
    ck_assert(v >= 2 || (gnz > NUMEL / 8 && gnz < NUMEL * 7 / 8));

    /* a residual of another shape is refused, with a message */
    const int64_t s2[4] = {N, C, H, W - 1};
    tg_tensor *bad = tg_zeros(ctx, 4, s2);
    ck_assert_ptr_null(tg__batch_norm2d_add_relu(ctx, x0, w, b, rm, rv, true, 0.1f, 1e-5f, bad));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "residual"));
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("norm_dropout");
    TCase *tc = tcase_create("batch_norm2d");
    tcase_add_test(tc, bn_train_values);
    tcase_add_loop_test(tc, bn_grad, 0, (int)(sizeof bn_cases / sizeof *bn_cases));
    tcase_add_test(tc, bn_errors);
    tcase_add_loop_test(tc, bn_stats_offset, 0, 2);
    tcase_add_loop_test(tc, bn_relu_fused_bits, 0, 4);
    tcase_add_loop_test(tc, bn_add_relu_fused_bits, 0, 16);
    suite_add_tcase(s, tc);
    tc = tcase_create("dropout");
    tcase_add_test(tc, dropout_values);
    tcase_add_test(tc, dropout_deterministic);
    tcase_add_test(tc, dropout_grad);
    tcase_add_test(tc, dropout_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
