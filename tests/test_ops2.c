/* SPDX-License-Identifier: MIT */
/* The 0.2.0 ops: concat, narrow, slice, pad, adaptive/global average
 * pooling, batch_norm1d, layer_norm, gelu, clamp, abs, maximum, minimum and
 * argmax. Forward and backward against PyTorch 1.13 (fixtures written by
 * tests/fixtures/gen_torch_ops2.py; gradients of sum(y * gy), 1e-5 relative
 * and 1e-6 absolute), finite-difference gradients, views, error paths and
 * NULL inputs, and thread-count independence. */
#include "tg_test.h"

#include <stdio.h>

#define RTOL 1e-5
#define ATOL 1e-6

/* ---- fixtures ------------------------------------------------------------ */

static size_t numel_of(int nd, const int64_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    return n;
}

static float *load(const char *name, size_t want)
{
    char path[128];
    size_t n;
    snprintf(path, sizeof path, "op2_%s.bin", name);
    float *d = tgt_read_fixture(path, &n);
    ck_assert_msg(n == want, "fixture %s: %zu values, want %zu", path, n, want);
    return d;
}

static tg_tensor *fix(tg_ctx *ctx, const char *name, int nd, const int64_t *shape, bool rg)
{
    float *d = load(name, numel_of(nd, shape));
    tg_tensor *t = tgt_tensor(ctx, nd, shape, d, rg);
    free(d);
    return t;
}

/* Compare t's data (or grad) with fixture <prefix>_<suffix>. */
static void expect(const char *prefix, const char *suffix, tg_tensor *t, bool grad)
{
    char name[96];
    snprintf(name, sizeof name, "%s_%s", prefix, suffix);
    ck_assert_msg(t != NULL, "%s: tensor is NULL", name);
    const float *got = grad ? tg_tensor_grad(t) : tg_tensor_data(t);
    ck_assert_msg(got != NULL, "%s: no data", name);
    size_t n = (size_t)tg_tensor_numel(t);
    float *want = load(name, n);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        ck_assert_msg(d <= ATOL + RTOL * fabs((double)want[i]), "%s[%zu]: got %.9g, PyTorch %.9g",
                      name, i, (double)got[i], (double)want[i]);
    }
    free(want);
}

/* backward of sum(y * gy) with gy from <prefix>_gy */
static void backward_with(tg_ctx *ctx, tg_tensor *y, const char *prefix)
{
    ck_assert_msg(y != NULL, "%s: %s", prefix, tg_ctx_last_error(ctx));
    char name[96];
    snprintf(name, sizeof name, "%s_gy", prefix);
    tg_tensor *gy = fix(ctx, name, tg_tensor_ndim(y), tg_tensor_shape(y), false);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, gy))), TG_OK);
}

/* ---- PyTorch parity ------------------------------------------------------ */

START_TEST(concat_parity)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *xs[3] = {fix(ctx, "cat_a", 3, (int64_t[]){2, 3, 4}, true),
                        fix(ctx, "cat_b", 3, (int64_t[]){2, 1, 4}, true),
                        fix(ctx, "cat_c", 3, (int64_t[]){2, 2, 4}, true)};
    tg_tensor *y = tg_concat(ctx, xs, 3, -2);
    tgt_assert_shape(y, 3, (int64_t[]){2, 6, 4});
    backward_with(ctx, y, "cat");
    expect("cat", "y", y, false);
    expect("cat", "da", xs[0], true);
    expect("cat", "db", xs[1], true);
    expect("cat", "dc", xs[2], true);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(narrow_slice_pad_parity)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *x = fix(ctx, "nar_x", 3, (int64_t[]){3, 5, 4}, true);
    tg_tensor *y = tg_narrow(ctx, x, 1, 1, 3);
    tgt_assert_shape(y, 3, (int64_t[]){3, 3, 4});
    backward_with(ctx, y, "nar");
    expect("nar", "y", y, false);
    expect("nar", "dx", x, true);

    x = fix(ctx, "sl_x", 3, (int64_t[]){3, 5, 4}, true);
    y = tg_slice(ctx, x, 1, -4, 5, 2);
    tgt_assert_shape(y, 3, (int64_t[]){3, 2, 4});
    backward_with(ctx, y, "sl");
    expect("sl", "y", y, false);
    expect("sl", "dx", x, true);

    x = fix(ctx, "pad_x", 3, (int64_t[]){2, 3, 4}, true);
    y = tg_pad(ctx, x, 4, (int64_t[]){1, 2, -1, 1}, 0.5f);
    tgt_assert_shape(y, 3, (int64_t[]){2, 3, 7});
    backward_with(ctx, y, "pad");
    expect("pad", "y", y, false);
    expect("pad", "dx", x, true);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(pool_parity)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *x = fix(ctx, "ap_x", 4, (int64_t[]){2, 3, 7, 5}, true);
    tg_tensor *y = tg_adaptive_avg_pool2d(ctx, x, 3, 2);
    tgt_assert_shape(y, 4, (int64_t[]){2, 3, 3, 2});
    backward_with(ctx, y, "ap");
    expect("ap", "y", y, false);
    expect("ap", "dx", x, true);
    tg_tensor_zero_grad(x);
    y = tg_global_avg_pool2d(ctx, x);
    tgt_assert_shape(y, 4, (int64_t[]){2, 3, 1, 1});
    backward_with(ctx, y, "gap");
    expect("gap", "y", y, false);
    expect("gap", "dx", x, true);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(batch_norm1d_parity)
{
    static const struct { const char *p; int nd; int64_t s[3]; } cases[] = {
        {"bn1", 2, {6, 4, 0}}, {"bn3", 3, {4, 3, 5}},
    };
    for (size_t k = 0; k < 2; k++) {
        tg_ctx *ctx = tgt_ctx_threads(1, 2);
        char n[32];
        int64_t C[1] = {cases[k].s[1]};
        snprintf(n, sizeof n, "%s_x", cases[k].p);
        tg_tensor *x = fix(ctx, n, cases[k].nd, cases[k].s, true);
        snprintf(n, sizeof n, "%s_w", cases[k].p);
        tg_tensor *w = fix(ctx, n, 1, C, true);
        snprintf(n, sizeof n, "%s_b", cases[k].p);
        tg_tensor *b = fix(ctx, n, 1, C, true);
        static const float zeros[4] = {0, 0, 0, 0}, ones[4] = {1, 1, 1, 1};
        tg_tensor *rm = tgt_tensor(ctx, 1, C, zeros, false);
        tg_tensor *rv = tgt_tensor(ctx, 1, C, ones, false);
        tg_tensor *y = tg_batch_norm1d(ctx, x, w, b, rm, rv, true, 0.1f, 1e-5f);
        tgt_assert_shape(y, cases[k].nd, cases[k].s);
        backward_with(ctx, y, cases[k].p);
        expect(cases[k].p, "y", y, false);
        expect(cases[k].p, "dx", x, true);
        expect(cases[k].p, "dw", w, true);
        expect(cases[k].p, "db", b, true);
        expect(cases[k].p, "rm", rm, false);
        expect(cases[k].p, "rv", rv, false);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(layer_norm_parity)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *x = fix(ctx, "ln_x", 3, (int64_t[]){3, 4, 5}, true);
    tg_tensor *w = fix(ctx, "ln_w", 2, (int64_t[]){4, 5}, true);
    tg_tensor *b = fix(ctx, "ln_b", 2, (int64_t[]){4, 5}, true);
    tg_tensor *y = tg_layer_norm(ctx, x, 2, w, b, 1e-5f);
    backward_with(ctx, y, "ln");
    expect("ln", "y", y, false);
    expect("ln", "dx", x, true);
    expect("ln", "dw", w, true);
    expect("ln", "db", b, true);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(pointwise_parity)
{
    static const char *names[3] = {"gelu", "clamp", "abs"};
    for (int k = 0; k < 3; k++) {
        tg_ctx *ctx = tgt_ctx_threads(1, 2);
        tg_tensor *x = fix(ctx, "pw_x", 2, (int64_t[]){4, 5}, true);
        tg_tensor *gy = fix(ctx, "pw_gy", 2, (int64_t[]){4, 5}, false);
        tg_tensor *y = k == 0 ? tg_gelu(ctx, x) : k == 1 ? tg_clamp(ctx, x, -0.3f, 0.4f)
                                                        : tg_abs(ctx, x);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, gy))), TG_OK);
        expect(names[k], "y", y, false);
        expect(names[k], "dx", x, true);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(maximum_minimum_parity)
{
    /* Small integers: many ties, which split the gradient as PyTorch does. */
    for (int k = 0; k < 2; k++) {
        const char *p = k ? "min" : "max";
        tg_ctx *ctx = tgt_ctx_threads(1, 2);
        tg_tensor *a = fix(ctx, "mm_a", 3, (int64_t[]){3, 1, 4}, true);
        tg_tensor *b = fix(ctx, "mm_b", 2, (int64_t[]){5, 1}, true);
        tg_tensor *y = k ? tg_minimum(ctx, a, b) : tg_maximum(ctx, a, b);
        tgt_assert_shape(y, 3, (int64_t[]){3, 5, 4});
        backward_with(ctx, y, p);
        expect(p, "y", y, false);
        expect(p, "da", a, true);
        expect(p, "db", b, true);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(argmax_parity)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = fix(ctx, "am_x", 2, (int64_t[]){4, 6}, true);
    tg_tensor *y = tg_argmax(ctx, x, -1, false);
    tgt_assert_shape(y, 1, (int64_t[]){4});
    ck_assert(!tg_tensor_requires_grad(y));
    expect("am", "y", y, false);
    tg_tensor *yk = tg_argmax(ctx, x, 1, true);
    tgt_assert_shape(yk, 2, (int64_t[]){4, 1});
    expect("am", "y", yk, false);
    /* axis 0, NaN is the largest, first on ties */
    float d[6] = {1, 5, 2, 3, NAN, 2};
    tg_tensor *t = tg_from_data(ctx, 2, (int64_t[]){2, 3}, d, 6);
    tgt_assert_tensor(tg_argmax(ctx, t, 0, false), ((float[]){1, 1, 0}), 3, 0);
    tgt_assert_tensor(tg_argmax(ctx, t, 1, false), ((float[]){1, 1}), 2, 0);
    tg_tensor *s = tg_argmax(ctx, tg_from_data(ctx, 0, NULL, (float[]){4}, 1), 0, false);
    tgt_assert_shape(s, 0, NULL);
    ck_assert_float_eq(tg_tensor_data(s)[0], 0.0f);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- finite differences ---------------------------------------------------- */

enum {
    G_CONCAT, G_CONCAT6, G_NARROW_VIEW, G_NARROW_COPY, G_SLICE, G_PAD, G_ADAPTIVE, G_GLOBAL,
    G_BN1, G_BN3, G_LN, G_LN1, G_GELU, G_CLAMP, G_ABS, G_MAX, G_MIN, G_COUNT
};

static tg_tensor *gfn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    switch (*(int *)arg) {
    case G_CONCAT: return tg_concat(ctx, in, 3, 0);
    case G_CONCAT6: {
        tg_tensor *xs[6] = {in[0], in[1], in[2], in[1], in[0], in[2]};
        return tg_concat(ctx, xs, 6, 0); /* more inputs than one node records */
    }
    case G_NARROW_VIEW: { /* the view feeds two consumers */
        tg_tensor *v = tg_narrow(ctx, in[0], 0, 1, 1);
        tg_tensor *parts[2] = {tg_mul(ctx, v, v), tg_narrow(ctx, v, 1, 1, 2)};
        return tg_concat(ctx, parts, 2, 1);
    }
    case G_NARROW_COPY: return tg_exp(ctx, tg_narrow(ctx, in[0], 1, -3, 2));
    case G_SLICE: return tg_slice(ctx, in[0], -1, 0, 100, 3);
    case G_PAD: return tg_pad(ctx, in[0], 6, (int64_t[]){2, -1, 0, 1, 1, 1}, -2.0f);
    case G_ADAPTIVE: return tg_adaptive_avg_pool2d(ctx, in[0], 4, 3);
    case G_GLOBAL: return tg_global_avg_pool2d(ctx, in[0]);
    case G_BN1: return tg_batch_norm1d(ctx, in[0], in[1], in[2], NULL, NULL, true, 0.1f, 1e-5f);
    case G_BN3: return tg_batch_norm1d(ctx, in[0], in[1], in[2], NULL, NULL, true, 0.1f, 1e-5f);
    case G_LN: return tg_layer_norm(ctx, in[0], 2, in[1], in[2], 1e-5f);
    case G_LN1: return tg_layer_norm(ctx, in[0], 1, NULL, NULL, 1e-5f);
    case G_GELU: return tg_gelu(ctx, in[0]);
    case G_CLAMP: return tg_clamp(ctx, in[0], -0.5f, 0.5f);
    case G_ABS: return tg_abs(ctx, in[0]);
    case G_MAX: return tg_maximum(ctx, in[0], in[1]);
    default: return tg_minimum(ctx, in[0], in[1]);
    }
}

/* Values at least 0.1 away from 0 and from +-0.5 (kinks of abs and clamp),
 * and operands of maximum/minimum at least 0.1 apart. */
static const float KINKFREE[12] = {-1.3f, -0.8f, -0.3f, 0.2f, 0.7f, 1.1f,
                                   -0.15f, 0.35f, 0.85f, -0.65f, 0.25f, -1.0f};

START_TEST(grad_fd)
{
    int op = _i;
    tg_ctx *ctx = tgt_ctx(20 + (uint64_t)op);
    tg_tensor *in[3] = {NULL, NULL, NULL};
    int n = 1;
    switch (op) {
    case G_CONCAT:
    case G_CONCAT6:
        in[0] = tgt_rand(ctx, 2, (int64_t[]){2, 3}, -1, 1, true);
        in[1] = tgt_rand(ctx, 2, (int64_t[]){1, 3}, -1, 1, true);
        in[2] = tgt_rand(ctx, 2, (int64_t[]){3, 3}, -1, 1, true);
        n = 3;
        break;
    case G_NARROW_VIEW:
    case G_NARROW_COPY:
    case G_SLICE: in[0] = tgt_rand(ctx, 3, (int64_t[]){3, 4, 5}, -1, 1, true); break;
    case G_PAD: in[0] = tgt_rand(ctx, 3, (int64_t[]){2, 3, 3}, -1, 1, true); break;
    case G_ADAPTIVE:
    case G_GLOBAL: in[0] = tgt_rand(ctx, 4, (int64_t[]){2, 2, 5, 7}, -1, 1, true); break;
    case G_BN1:
    case G_BN3:
        in[0] = op == G_BN1 ? tgt_rand(ctx, 2, (int64_t[]){5, 3}, -1, 2, true)
                            : tgt_rand(ctx, 3, (int64_t[]){3, 3, 4}, -1, 2, true);
        in[1] = tgt_rand(ctx, 1, (int64_t[]){3}, 0.5f, 1.5f, true);
        in[2] = tgt_rand(ctx, 1, (int64_t[]){3}, -1, 1, true);
        n = 3;
        break;
    case G_LN:
        in[0] = tgt_rand(ctx, 3, (int64_t[]){2, 3, 4}, -1, 2, true);
        in[1] = tgt_rand(ctx, 2, (int64_t[]){3, 4}, 0.5f, 1.5f, true);
        in[2] = tgt_rand(ctx, 2, (int64_t[]){3, 4}, -1, 1, true);
        n = 3;
        break;
    case G_LN1: in[0] = tgt_rand(ctx, 2, (int64_t[]){3, 6}, -1, 2, true); break;
    case G_GELU: in[0] = tgt_rand(ctx, 2, (int64_t[]){3, 4}, -3, 3, true); break;
    case G_CLAMP:
    case G_ABS: in[0] = tgt_tensor(ctx, 2, (int64_t[]){3, 4}, KINKFREE, true); break;
    default:
        in[0] = tgt_tensor(ctx, 2, (int64_t[]){2, 6}, KINKFREE, true);
        in[1] = tgt_tensor(ctx, 1, (int64_t[]){6}, (float[]){0, 0.5f, -0.5f, 1, -1, 0.05f}, true);
        n = 2;
        break;
    }
    tgt_gradcheck(ctx, gfn, &op, in, n);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- views, values, edge cases ------------------------------------------------ */

START_TEST(narrow_views_and_copies)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_arange(ctx, 0, 24, 1);
    x = tg_reshape(ctx, x, 3, (int64_t[]){2, 3, 4});
    /* whole axis 0 range inside a leading-1 tensor: a view */
    tg_tensor *v = tg_narrow(ctx, x, 0, 1, 1);
    ck_assert_ptr_eq(tg_tensor_data(v), tg_tensor_data(x) + 12);
    tgt_assert_shape(v, 3, (int64_t[]){1, 3, 4});
    tg_tensor *v2 = tg_narrow(ctx, v, 1, 1, 2); /* leading dims are 1: still a view */
    ck_assert_ptr_eq(tg_tensor_data(v2), tg_tensor_data(x) + 16);
    tgt_assert_tensor(v2, ((float[]){16, 17, 18, 19, 20, 21, 22, 23}), 8, 0);
    tg_tensor *full = tg_narrow(ctx, x, 2, 0, 4);
    ck_assert_ptr_eq(tg_tensor_data(full), tg_tensor_data(x));
    /* not contiguous: a copy with the right values */
    tg_tensor *c = tg_narrow(ctx, x, 2, 1, 2);
    ck_assert_ptr_ne(tg_tensor_data(c), tg_tensor_data(x));
    tgt_assert_tensor(c, ((float[]){1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}), 12, 0);
    tgt_assert_tensor(tg_slice(ctx, x, 1, -1, -10, 1), ((float[]){0}), 0, 0); /* empty */
    tgt_assert_tensor(tg_slice(ctx, x, -1, 1, 4, 2), ((float[]){1, 3, 5, 7, 9, 11, 13, 15, 17,
                                                                19, 21, 23}), 12, 0);
    tgt_assert_tensor(tg_narrow(ctx, x, 1, 0, 0), ((float[]){0}), 0, 0);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(concat_pad_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4}, 4);
    tg_tensor *b = tg_from_data(ctx, 2, (int64_t[]){2, 1}, (float[]){5, 6}, 2);
    tg_tensor *e = tg_zeros(ctx, 2, (int64_t[]){2, 0});
    tg_tensor *xs[3] = {a, e, b};
    tgt_assert_tensor(tg_concat(ctx, xs, 3, 1), ((float[]){1, 2, 5, 3, 4, 6}), 6, 0);
    tg_tensor *one = tg_concat(ctx, xs, 1, 0);
    tgt_assert_tensor(one, ((float[]){1, 2, 3, 4}), 4, 0);
    tg_tensor *p = tg_pad(ctx, b, 4, (int64_t[]){1, 0, 0, 1}, 9);
    tgt_assert_shape(p, 2, (int64_t[]){3, 2});
    tgt_assert_tensor(p, ((float[]){9, 5, 9, 6, 9, 9}), 6, 0);
    tgt_assert_tensor(tg_pad(ctx, a, 0, NULL, 0), ((float[]){1, 2, 3, 4}), 4, 0);
    /* a fully cropped dim gives an empty tensor */
    tgt_assert_shape(tg_pad(ctx, a, 2, (int64_t[]){-1, -1}, 0), 2, (int64_t[]){2, 0});
    /* clamp with lo > hi gives hi (torch.clamp), NaN stays NaN */
    float *cl = tg_tensor_data(tg_clamp(ctx, tg_from_data(ctx, 1, (int64_t[]){3},
                                                          (float[]){0, 5, NAN}, 3), 3, 1));
    ck_assert(cl[0] == 1 && cl[1] == 1 && isnan(cl[2]));
    float *mx = tg_tensor_data(tg_maximum(ctx, tg_from_data(ctx, 1, (int64_t[]){2},
                                                            (float[]){NAN, 1}, 2),
                                          tg_from_data(ctx, 0, NULL, (float[]){2}, 1)));
    ck_assert(isnan(mx[0]) && mx[1] == 2);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(batch_norm1d_eval_and_no_stats)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_from_data(ctx, 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 6}, 4);
    tg_tensor *rm = tg_from_data(ctx, 1, (int64_t[]){2}, (float[]){1, 2}, 2);
    tg_tensor *rv = tg_from_data(ctx, 1, (int64_t[]){2}, (float[]){4, 16}, 2);
    tgt_assert_tensor(tg_batch_norm1d(ctx, x, NULL, NULL, rm, rv, false, 0.1f, 0),
                      ((float[]){0, 0, 1, 1}), 4, 1e-6);
    /* training without running stats: normalised by the batch */
    tgt_assert_tensor(tg_batch_norm1d(ctx, x, NULL, NULL, NULL, NULL, true, 0.1f, 0),
                      ((float[]){-1, -1, 1, 1}), 4, 1e-6);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- errors -------------------------------------------------------------------- */

#define EXPECT_ERR(ctx, call, status, text)                                                    \
    do {                                                                                       \
        tg_ctx_clear_error(ctx);                                                               \
        ck_assert_ptr_null(call);                                                              \
        ck_assert_int_eq(tg_ctx_last_status(ctx), (status));                                   \
        ck_assert_msg(strstr(tg_ctx_last_error(ctx), (text)) != NULL, "error '%s' lacks '%s'", \
                      tg_ctx_last_error(ctx), (text));                                         \
    } while (0)

START_TEST(errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_zeros(ctx, 2, (int64_t[]){2, 3});
    tg_tensor *b = tg_zeros(ctx, 2, (int64_t[]){3, 3});
    tg_tensor *s = tg_zeros(ctx, 0, NULL);
    tg_tensor *x4 = tg_zeros(ctx, 4, (int64_t[]){1, 2, 3, 3});
    tg_tensor *ab[2] = {a, b}, *an[2] = {a, NULL}, *as[2] = {a, s};
    EXPECT_ERR(ctx, tg_concat(ctx, ab, 2, 1), TG_ERR_SHAPE,
               "concat: input 1 has shape [3,3], input 0 has [2,3]");
    EXPECT_ERR(ctx, tg_concat(ctx, as, 2, 0), TG_ERR_SHAPE, "concat: input 1");
    EXPECT_ERR(ctx, tg_concat(ctx, ab, 2, 2), TG_ERR_INVALID_ARG, "concat: axis 2 out of range");
    EXPECT_ERR(ctx, tg_concat(ctx, ab, 0, 0), TG_ERR_INVALID_ARG, "concat: need at least one");
    EXPECT_ERR(ctx, tg_concat(ctx, NULL, 2, 0), TG_ERR_INVALID_ARG, "concat:");
    EXPECT_ERR(ctx, tg_concat(ctx, an, 2, 0), TG_ERR_INVALID_ARG, "concat: input tensor is NULL");
    EXPECT_ERR(ctx, tg_narrow(ctx, a, 1, 2, 2), TG_ERR_INVALID_ARG, "narrow: start 2, length 2");
    EXPECT_ERR(ctx, tg_narrow(ctx, a, 1, -4, 1), TG_ERR_INVALID_ARG, "narrow: start -4");
    EXPECT_ERR(ctx, tg_narrow(ctx, a, 1, 0, -1), TG_ERR_INVALID_ARG, "narrow:");
    EXPECT_ERR(ctx, tg_narrow(ctx, a, 3, 0, 1), TG_ERR_INVALID_ARG, "narrow: axis 3");
    EXPECT_ERR(ctx, tg_narrow(ctx, s, 0, 0, 1), TG_ERR_SHAPE, "narrow: cannot");
    EXPECT_ERR(ctx, tg_slice(ctx, a, 0, 0, 1, 0), TG_ERR_INVALID_ARG, "slice: step must be >= 1");
    EXPECT_ERR(ctx, tg_slice(ctx, a, -3, 0, 1, 1), TG_ERR_INVALID_ARG, "slice: axis -3");
    EXPECT_ERR(ctx, tg_pad(ctx, a, 3, (int64_t[]){1, 1, 1}, 0), TG_ERR_INVALID_ARG,
               "pad: n_pad 3");
    EXPECT_ERR(ctx, tg_pad(ctx, a, 6, (int64_t[]){1, 1, 1, 1, 1, 1}, 0), TG_ERR_INVALID_ARG,
               "pad: n_pad 6");
    EXPECT_ERR(ctx, tg_pad(ctx, a, 2, NULL, 0), TG_ERR_INVALID_ARG, "pad: pad is NULL");
    EXPECT_ERR(ctx, tg_pad(ctx, a, 2, (int64_t[]){-2, -2}, 0), TG_ERR_INVALID_ARG,
               "pad: padding (-2, -2) of dim 1");
    EXPECT_ERR(ctx, tg_pad(ctx, a, 2, (int64_t[]){INT64_MAX, 0}, 0), TG_ERR_INVALID_ARG, "pad:");
    EXPECT_ERR(ctx, tg_adaptive_avg_pool2d(ctx, a, 1, 1), TG_ERR_SHAPE,
               "adaptive_avg_pool2d: input must be 4-D");
    EXPECT_ERR(ctx, tg_adaptive_avg_pool2d(ctx, x4, 0, 2), TG_ERR_INVALID_ARG,
               "adaptive_avg_pool2d: output size 0x2");
    EXPECT_ERR(ctx, tg_global_avg_pool2d(ctx, a), TG_ERR_SHAPE, "global_avg_pool2d: input");
    EXPECT_ERR(ctx, tg_global_avg_pool2d(ctx, tg_zeros(ctx, 4, (int64_t[]){1, 1, 0, 2})),
               TG_ERR_SHAPE, "global_avg_pool2d: input [1,1,0,2] has an empty");
    EXPECT_ERR(ctx, tg_batch_norm1d(ctx, x4, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f),
               TG_ERR_SHAPE, "batch_norm1d: input must be [N,C] or [N,C,L]");
    EXPECT_ERR(ctx, tg_batch_norm1d(ctx, a, b, NULL, NULL, NULL, true, 0.1f, 1e-5f),
               TG_ERR_SHAPE, "batch_norm1d: weight [3,3]");
    EXPECT_ERR(ctx, tg_batch_norm1d(ctx, a, NULL, NULL, NULL, NULL, false, 0.1f, 1e-5f),
               TG_ERR_INVALID_ARG, "batch_norm1d: evaluation mode");
    EXPECT_ERR(ctx, tg_batch_norm1d(ctx, tg_zeros(ctx, 2, (int64_t[]){1, 3}), NULL, NULL, NULL,
                                    NULL, true, 0.1f, 1e-5f),
               TG_ERR_SHAPE, "batch_norm1d: expected more than 1 value");
    EXPECT_ERR(ctx, tg_batch_norm1d(ctx, a, NULL, NULL, NULL, NULL, true, 2.0f, 1e-5f),
               TG_ERR_INVALID_ARG, "batch_norm1d: need eps");
    EXPECT_ERR(ctx, tg_layer_norm(ctx, a, 3, NULL, NULL, 1e-5f), TG_ERR_INVALID_ARG,
               "layer_norm: n_norm_dims 3");
    EXPECT_ERR(ctx, tg_layer_norm(ctx, a, 0, NULL, NULL, 1e-5f), TG_ERR_INVALID_ARG,
               "layer_norm: n_norm_dims 0");
    EXPECT_ERR(ctx, tg_layer_norm(ctx, a, 1, b, NULL, 1e-5f), TG_ERR_SHAPE,
               "layer_norm: weight [3,3] does not match the last 1 dims of input [2,3]");
    EXPECT_ERR(ctx, tg_layer_norm(ctx, a, 1, NULL, a, 1e-5f), TG_ERR_SHAPE, "layer_norm: bias");
    EXPECT_ERR(ctx, tg_layer_norm(ctx, a, 1, NULL, NULL, -1.0f), TG_ERR_INVALID_ARG,
               "layer_norm: eps");
    EXPECT_ERR(ctx, tg_clamp(ctx, a, NAN, 1), TG_ERR_INVALID_ARG, "clamp: bounds must not be NaN");
    EXPECT_ERR(ctx, tg_maximum(ctx, a, b), TG_ERR_SHAPE,
               "maximum: shapes [2,3] and [3,3] do not broadcast");
    EXPECT_ERR(ctx, tg_minimum(ctx, b, a), TG_ERR_SHAPE, "minimum: shapes");
    EXPECT_ERR(ctx, tg_argmax(ctx, a, 2, false), TG_ERR_INVALID_ARG, "argmax: axis 2");
    EXPECT_ERR(ctx, tg_argmax(ctx, tg_zeros(ctx, 2, (int64_t[]){2, 0}), 1, false), TG_ERR_SHAPE,
               "argmax: axis 1 of input [2,0] is empty");
    /* NULL inputs name the op; a NULL ctx returns NULL */
    static const char *names[] = {"narrow", "slice", "pad", "adaptive_avg_pool2d",
                                  "global_avg_pool2d", "batch_norm1d", "layer_norm", "gelu",
                                  "clamp", "abs", "maximum", "minimum", "argmax"};
    for (int k = 0; k < 13; k++) {
        tg_ctx_clear_error(ctx);
        tg_tensor *r = NULL;
        switch (k) {
        case 0: r = tg_narrow(ctx, NULL, 0, 0, 1); break;
        case 1: r = tg_slice(ctx, NULL, 0, 0, 1, 1); break;
        case 2: r = tg_pad(ctx, NULL, 0, NULL, 0); break;
        case 3: r = tg_adaptive_avg_pool2d(ctx, NULL, 1, 1); break;
        case 4: r = tg_global_avg_pool2d(ctx, NULL); break;
        case 5: r = tg_batch_norm1d(ctx, NULL, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f); break;
        case 6: r = tg_layer_norm(ctx, NULL, 1, NULL, NULL, 1e-5f); break;
        case 7: r = tg_gelu(ctx, NULL); break;
        case 8: r = tg_clamp(ctx, NULL, 0, 1); break;
        case 9: r = tg_abs(ctx, NULL); break;
        case 10: r = tg_maximum(ctx, a, NULL); break;
        case 11: r = tg_minimum(ctx, NULL, a); break;
        default: r = tg_argmax(ctx, NULL, 0, false); break;
        }
        ck_assert_ptr_null(r);
        char want[64];
        snprintf(want, sizeof want, "%s: input tensor is NULL", names[k]);
        ck_assert_str_eq(tg_ctx_last_error(ctx), want);
    }
    /* the first error survives a chain */
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_gelu(ctx, tg_abs(ctx, tg_narrow(ctx, a, 5, 0, 1))));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "narrow: axis 5"));
    ck_assert_ptr_null(tg_concat(NULL, ab, 2, 0));
    ck_assert_ptr_null(tg_gelu(NULL, a));
    ck_assert_ptr_null(tg_argmax(NULL, a, 0, false));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(no_grad_and_argmax_has_no_graph)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tgt_rand(ctx, 2, (int64_t[]){2, 3}, -1, 1, true);
    tg_tensor *c = tgt_rand(ctx, 2, (int64_t[]){2, 3}, -1, 1, false);
    /* only the 4th of 4 concat inputs requires grad: it still gets one */
    tg_tensor *xs[4] = {c, c, c, x};
    tg_tensor *y = tg_concat(ctx, xs, 4, 1);
    ck_assert(tg_tensor_requires_grad(y));
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    tgt_assert_close(tg_tensor_grad(x), ((float[]){1, 1, 1, 1, 1, 1}), 6, 0, 0);
    ck_assert(!tg_tensor_requires_grad(tg_argmax(ctx, x, 1, false)));
    ck_assert(!tg_tensor_requires_grad(tg_concat(ctx, xs, 3, 0)));
    tg_ctx_set_grad_enabled(ctx, false);
    ck_assert(!tg_tensor_requires_grad(tg_concat(ctx, xs, 4, 0)));
    ck_assert(!tg_tensor_requires_grad(tg_narrow(ctx, x, 0, 0, 1)));
    ck_assert(!tg_tensor_requires_grad(tg_layer_norm(ctx, x, 1, NULL, NULL, 1e-5f)));
    ck_assert(!tg_tensor_requires_grad(tg_maximum(ctx, x, c)));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(threads_bit_identical)
{
    /* Large enough for the pool to split rows, planes and elements. */
    static const int64_t shp[4] = {8, 16, 33, 35};
    float *ref[2] = {NULL, NULL};
    size_t n = (size_t)(8 * 16 * 33 * 35);
    for (int run = 0; run < 2; run++) {
        tg_ctx *ctx = tgt_ctx_threads(5, run ? 2 : 1);
        tg_tensor *x = tgt_rand(ctx, 4, shp, -2, 2, true);
        tg_tensor *w = tgt_rand(ctx, 1, (int64_t[]){35}, 0.5f, 1.5f, true);
        tg_tensor *h = tg_gelu(ctx, tg_layer_norm(ctx, x, 1, w, NULL, 1e-5f));
        h = tg_clamp(ctx, tg_abs(ctx, h), 0.1f, 1.5f);
        h = tg_adaptive_avg_pool2d(ctx, h, 5, 7);
        tg_tensor *loss = tg_add(ctx, tg_sum_all(ctx, tg_mul(ctx, h, h)),
                                 tg_sum_all(ctx, tg_global_avg_pool2d(ctx, x)));
        ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
        ref[run] = malloc(sizeof(float) * (n + 36));
        memcpy(ref[run], tg_tensor_grad(x), sizeof(float) * n);
        memcpy(ref[run] + n, tg_tensor_grad(w), sizeof(float) * 35);
        ref[run][n + 35] = tg_tensor_data(loss)[0];
        tg_ctx_destroy(ctx);
    }
    ck_assert(memcmp(ref[0], ref[1], sizeof(float) * (n + 36)) == 0);
    free(ref[0]);
    free(ref[1]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ops2");
    TCase *tc = tcase_create("ops2");
    tcase_add_test(tc, concat_parity);
    tcase_add_test(tc, narrow_slice_pad_parity);
    tcase_add_test(tc, pool_parity);
    tcase_add_test(tc, batch_norm1d_parity);
    tcase_add_test(tc, layer_norm_parity);
    tcase_add_test(tc, pointwise_parity);
    tcase_add_test(tc, maximum_minimum_parity);
    tcase_add_test(tc, argmax_parity);
    tcase_add_loop_test(tc, grad_fd, 0, G_COUNT);
    tcase_add_test(tc, narrow_views_and_copies);
    tcase_add_test(tc, concat_pad_values);
    tcase_add_test(tc, batch_norm1d_eval_and_no_stats);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, no_grad_and_argmax_has_no_graph);
    tcase_add_test(tc, threads_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
