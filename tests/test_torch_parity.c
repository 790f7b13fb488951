/* SPDX-License-Identifier: MIT */
/* Forward and backward of conv2d, pooling, matmul, linear, batch_norm2d and
 * cross_entropy against PyTorch 1.13 (fixtures written by
 * tests/fixtures/gen_torch.py, float64 references rounded to float32).
 * Gradients are of sum(y * gy) for the saved gy. Tolerance: 1e-5 relative,
 * 1e-6 absolute. */
#include "tg_test.h"

#include <stdio.h>

#define RTOL 1e-5
#define ATOL 1e-6

static float *load(const char *name, size_t want)
{
    char path[128];
    size_t n;
    snprintf(path, sizeof path, "op_%s.bin", name);
    float *d = tgt_read_fixture(path, &n);
    ck_assert_msg(n == want, "fixture %s: %zu values, want %zu", path, n, want);
    return d;
}

static size_t numel(int nd, const int64_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    return n;
}

/* Persistent leaf tensor from a fixture. */
static tg_tensor *fixture_tensor(tg_ctx *ctx, const char *name, int nd, const int64_t *shape,
                                 bool requires_grad)
{
    float *d = load(name, numel(nd, shape));
    tg_tensor *t = tgt_tensor(ctx, nd, shape, d, requires_grad);
    free(d);
    return t;
}

static void expect(const char *name, const float *got, size_t n)
{
    ck_assert_ptr_nonnull(got);
    float *want = load(name, n);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        ck_assert_msg(d <= ATOL + RTOL * fabs((double)want[i]),
                      "%s[%zu]: got %.9g, PyTorch %.9g", name, i, (double)got[i],
                      (double)want[i]);
    }
    free(want);
}

static void expect_tensor(const char *name, tg_tensor *t, bool grad)
{
    ck_assert_ptr_nonnull(t);
    expect(name, grad ? tg_tensor_grad(t) : tg_tensor_data(t), (size_t)tg_tensor_numel(t));
}

/* backward of sum(y * gy) with gy from the fixture <prefix>_gy */
static void backward_with(tg_ctx *ctx, tg_tensor *y, const char *prefix)
{
    ck_assert_msg(y != NULL, "%s: %s", prefix, tg_ctx_last_error(ctx));
    char name[96];
    snprintf(name, sizeof name, "%s_gy", prefix);
    tg_tensor *gy = fixture_tensor(ctx, name, tg_tensor_ndim(y), tg_tensor_shape(y), false);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, gy))), TG_OK);
}

static void expect_named(const char *prefix, const char *suffix, tg_tensor *t, bool grad)
{
    char name[96];
    snprintf(name, sizeof name, "%s_%s", prefix, suffix);
    expect_tensor(name, t, grad);
}

/* conv2d of fixture x, w, b (shapes xs, ws; bias [ws[0]]) against the
 * fixtures <name>_y, _dx, _dw, _db. */
static void conv_parity(const char *name, const char *xf, const int64_t *xs, const char *wf,
                        const int64_t *ws, const char *bf, int p, int s, int groups)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *x = fixture_tensor(ctx, xf, 4, xs, true);
    tg_tensor *w = fixture_tensor(ctx, wf, 4, ws, true);
    tg_tensor *b = fixture_tensor(ctx, bf, 1, ws, true);
    tg_tensor *y = tg_conv2d(ctx, x, w, b, s, p, 1, groups);
    backward_with(ctx, y, name);
    expect_named(name, "y", y, false);
    expect_named(name, "dx", x, true);
    expect_named(name, "dw", w, true);
    expect_named(name, "db", b, true);
    tg_ctx_destroy(ctx);
}

START_TEST(conv2d_parity)
{
    static const struct { const char *name; int p, s; } cases[] = {
        {"conv_p0s1", 0, 1}, {"conv_p1s1", 1, 1}, {"conv_p1s2", 1, 2}, {"conv_p0s2", 0, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        conv_parity(cases[k].name, "conv_x", (int64_t[]){2, 3, 7, 6}, "conv_w",
                    (int64_t[]){4, 3, 3, 3}, "conv_b", cases[k].p, cases[k].s, 1);
}
END_TEST

/* Depthwise (groups = channels): the direct kernels, with the channels in
 * the vector lanes (AVX2, AVX-512) or a plane at a time (plain C; at
 * stride 2 over phase planes). */
START_TEST(conv2d_depthwise_parity)
{
    static const struct { const char *name; int k, p, s; } cases[] = {
        {"dw_k3p1s1", 3, 1, 1}, {"dw_k3p1s2", 3, 1, 2}, {"dw_k5p2s2", 5, 2, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char wf[96];
        snprintf(wf, sizeof wf, "%s_w", cases[c].name);
        const int64_t k = cases[c].k;
        conv_parity(cases[c].name, "dw_x", (int64_t[]){2, 4, 9, 8}, wf,
                    (int64_t[]){4, 1, k, k}, "dw_b", cases[c].p, cases[c].s, 4);
    }
}
END_TEST

START_TEST(pool_parity)
{
    static const struct { const char *name; bool max; int k, s, p; } cases[] = {
        {"pool_max_k2s2p0", true, 2, 2, 0},
        {"pool_max_k3s2p1", true, 3, 2, 1},
        {"pool_avg_k3s2p1", false, 3, 2, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_ctx *ctx = tgt_ctx_threads(1, 2);
        tg_tensor *x = fixture_tensor(ctx, "pool_x", 4, (int64_t[]){2, 3, 6, 6}, true);
        tg_tensor *y = cases[k].max ? tg_max_pool2d(ctx, x, cases[k].k, cases[k].s, cases[k].p)
                                    : tg_avg_pool2d(ctx, x, cases[k].k, cases[k].s, cases[k].p);
        backward_with(ctx, y, cases[k].name);
        expect_named(cases[k].name, "y", y, false);
        expect_named(cases[k].name, "dx", x, true); /* ties routed as PyTorch does */
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(matmul_parity)
{
    static const struct { const char *name; int na, nb; int64_t a[4], b[4]; } cases[] = {
        {"mm2", 2, 2, {5, 7}, {7, 3}},
        {"mmb", 4, 3, {2, 1, 4, 5}, {3, 5, 6}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_ctx *ctx = tgt_ctx_threads(1, 2);
        char na[32], nb[32];
        snprintf(na, sizeof na, "%s_a", cases[k].name);
        snprintf(nb, sizeof nb, "%s_b", cases[k].name);
        tg_tensor *a = fixture_tensor(ctx, na, cases[k].na, cases[k].a, true);
        tg_tensor *b = fixture_tensor(ctx, nb, cases[k].nb, cases[k].b, true);
        tg_tensor *y = tg_matmul(ctx, a, b);
        backward_with(ctx, y, cases[k].name);
        expect_named(cases[k].name, "y", y, false);
        expect_named(cases[k].name, "da", a, true);
        expect_named(cases[k].name, "db", b, true);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(linear_parity)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *x = fixture_tensor(ctx, "lin_x", 2, (int64_t[]){6, 5}, true);
    tg_tensor *w = fixture_tensor(ctx, "lin_w", 2, (int64_t[]){4, 5}, true);
    tg_tensor *b = fixture_tensor(ctx, "lin_b", 1, (int64_t[]){4}, true);
    tg_tensor *y = tg_linear(ctx, x, w, b);
    backward_with(ctx, y, "lin");
    expect_tensor("lin_y", y, false);
    expect_tensor("lin_dx", x, true);
    expect_tensor("lin_dw", w, true);
    expect_tensor("lin_db", b, true);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(batch_norm_parity)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *x = fixture_tensor(ctx, "bn_x", 4, (int64_t[]){4, 3, 3, 2}, true);
    tg_tensor *w = fixture_tensor(ctx, "bn_w", 1, (int64_t[]){3}, true);
    tg_tensor *b = fixture_tensor(ctx, "bn_b", 1, (int64_t[]){3}, true);
    tg_tensor *rm = tgt_tensor(ctx, 1, (int64_t[]){3}, (float[]){0, 0, 0}, false);
    tg_tensor *rv = tgt_tensor(ctx, 1, (int64_t[]){3}, (float[]){1, 1, 1}, false);
    tg_tensor *y = tg_batch_norm2d(ctx, x, w, b, rm, rv, true, 0.1f, 1e-5f);
    backward_with(ctx, y, "bn");
    expect_tensor("bn_y", y, false);
    expect_tensor("bn_dx", x, true);
    expect_tensor("bn_dw", w, true);
    expect_tensor("bn_db", b, true);
    expect_tensor("bn_rm", rm, false);
    expect_tensor("bn_rv", rv, false);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(cross_entropy_parity)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *z = fixture_tensor(ctx, "ce_logits", 2, (int64_t[]){8, 10}, true);
    float *raw = load("ce_targets", 8); /* int32 payload, same size as float */
    int32_t targets[8];
    memcpy(targets, raw, sizeof targets);
    free(raw);
    tg_tensor *loss = tg_cross_entropy(ctx, z, targets, 8, TG_REDUCTION_MEAN);
    ck_assert_msg(loss != NULL, "%s", tg_ctx_last_error(ctx));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    expect_tensor("ce_loss", loss, false);
    expect_tensor("ce_dlogits", z, true);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("torch_parity");
    TCase *tc = tcase_create("ops");
    tcase_add_test(tc, conv2d_parity);
    tcase_add_test(tc, conv2d_depthwise_parity);
    tcase_add_test(tc, pool_parity);
    tcase_add_test(tc, matmul_parity);
    tcase_add_test(tc, linear_parity);
    tcase_add_test(tc, batch_norm_parity);
    tcase_add_test(tc, cross_entropy_parity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
