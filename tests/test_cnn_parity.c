/* SPDX-License-Identifier: MIT */
/* PyTorch parity of the seed CNN (fixtures from tests/fixtures/gen_torch_cnn.py):
 * with PyTorch's initial weights, one forward/backward with cross-entropy
 * must give PyTorch's loss and every parameter gradient (1e-5 relative,
 * 1e-6 absolute), and one SGD(lr 0.01) step and, separately, one Adam step
 * must give PyTorch's updated weights. Uses only the public API. */
#include "tg_test.h"

#define N_PARAMS 8

static const char *const NAMES[N_PARAMS] = {"0.weight", "0.bias", "2.weight", "2.bias",
                                            "4.weight", "4.bias", "8.weight", "8.bias"};

static tg_module *seed_cnn(tg_ctx *ctx)
{
    tg_module *seq = NULL, *l = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
#define ADD(call)                                                                              \
    do {                                                                                       \
        ck_assert_int_eq((call), TG_OK);                                                       \
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);                                 \
    } while (0)
    ADD(tg_conv2d_create(ctx, 1, 3, 3, 1, 1, 1, 1, true, &l));
    ADD(tg_relu_create(ctx, &l));
    ADD(tg_conv2d_create(ctx, 3, 6, 3, 1, 1, 1, 1, true, &l));
    ADD(tg_relu_create(ctx, &l));
    ADD(tg_conv2d_create(ctx, 6, 9, 3, 1, 1, 1, 1, true, &l));
    ADD(tg_relu_create(ctx, &l));
    ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
    ADD(tg_flatten_create(ctx, &l));
    ADD(tg_linear_create(ctx, 1764, 10, true, &l));
#undef ADD
    return seq;
}

typedef struct {
    tg_ctx *ctx;
    tg_module *net;
    float *params, *grads;
    size_t n;
} fixture;

/* Build the net, load PyTorch's initial weights, run forward + backward. */
static fixture setup(int n_threads)
{
    fixture f;
    f.ctx = tgt_ctx_threads(7, n_threads);
    f.net = seed_cnn(f.ctx);
    f.params = tgt_read_fixture("cnn_params.bin", &f.n);
    ck_assert_uint_eq(f.n, (size_t)tg_module_n_weights(f.net));
    ck_assert_uint_eq(tg_module_n_params(f.net), N_PARAMS);
    size_t off = 0;
    for (size_t i = 0; i < N_PARAMS; i++) {
        const char *name;
        tg_tensor *p = tg_module_param(f.net, i, &name);
        ck_assert_str_eq(name, NAMES[i]);
        size_t n = (size_t)tg_tensor_numel(p);
        ck_assert_int_eq(tg_tensor_set_data(p, f.params + off, n), TG_OK);
        off += n;
    }

    size_t nx, nt;
    float *x = tgt_read_fixture("cnn_input.bin", &nx);
    float *traw = tgt_read_fixture("cnn_targets.bin", &nt);
    ck_assert_uint_eq(nx, 4 * 28 * 28);
    ck_assert_uint_eq(nt, 4);
    int32_t targets[4];
    memcpy(targets, traw, sizeof targets);
    static const int64_t xs[4] = {4, 1, 28, 28};
    tg_tensor *input = tg_from_data(f.ctx, 4, xs, x, nx);
    tg_tensor *loss = tg_cross_entropy(f.ctx, tg_module_forward(f.net, input), targets, 4,
                                       TG_REDUCTION_MEAN);
    ck_assert_msg(loss != NULL, "forward: %s", tg_ctx_last_error(f.ctx));
    ck_assert_int_eq(tg_backward(f.ctx, loss), TG_OK);

    size_t nl;
    float *want_loss = tgt_read_fixture("cnn_loss.bin", &nl);
    tgt_assert_close(tg_tensor_data(loss), want_loss, 1, 1e-5, 1e-6);
    free(want_loss);
    free(x);
    free(traw);
    size_t ng;
    f.grads = tgt_read_fixture("cnn_grads.bin", &ng);
    ck_assert_uint_eq(ng, f.n);
    return f;
}

static void teardown(fixture *f)
{
    tg_module_destroy(f->net);
    tg_ctx_destroy(f->ctx);
    free(f->params);
    free(f->grads);
}

/* Compare every parameter's values (or gradients) with a fixture. */
static void assert_all(fixture *f, const float *want, bool grads, double rtol, double atol)
{
    size_t off = 0;
    for (size_t i = 0; i < N_PARAMS; i++) {
        tg_tensor *p = tg_module_param(f->net, i, NULL);
        size_t n = (size_t)tg_tensor_numel(p);
        const float *got = grads ? tg_tensor_grad(p) : tg_tensor_data(p);
        ck_assert_msg(got != NULL, "%s has no gradient", NAMES[i]);
        for (size_t k = 0; k < n; k++) {
            double d = fabs((double)got[k] - want[off + k]);
            ck_assert_msg(d <= atol + rtol * fabs((double)want[off + k]),
                          "%s %s[%zu]: got %.9g, PyTorch %.9g", grads ? "grad" : "value",
                          NAMES[i], k, (double)got[k], (double)want[off + k]);
        }
        off += n;
    }
}

START_TEST(loss_and_gradients)
{
    fixture f = setup(_i + 1);
    assert_all(&f, f.grads, true, 1e-5, 1e-6);
    teardown(&f);
}
END_TEST

START_TEST(sgd_step)
{
    fixture f = setup(1);
    size_t n;
    float *want = tgt_read_fixture("cnn_sgd.bin", &n);
    ck_assert_uint_eq(n, f.n);
    tg_sgd_options o;
    tg_sgd_options_init(&o);
    o.lr = 0.01f;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(f.ctx, f.net, &o, &opt), TG_OK);
    ck_assert_int_eq(tg_optim_step(opt), TG_OK);
    assert_all(&f, want, false, 1e-5, 1e-6);
    tg_optim_destroy(opt);
    free(want);
    teardown(&f);
}
END_TEST

START_TEST(adam_step)
{
    fixture f = setup(1);
    size_t n;
    float *want = tgt_read_fixture("cnn_adam.bin", &n);
    ck_assert_uint_eq(n, f.n);
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_adam_create(f.ctx, f.net, NULL, &opt), TG_OK);
    ck_assert_int_eq(tg_optim_step(opt), TG_OK);
    /* Adam's first step is lr * g / (|g| + eps): exact up to rounding for
     * every element whose gradient is not tiny. */
    assert_all(&f, want, false, 1e-5, 1e-6);
    tg_optim_destroy(opt);
    free(want);
    teardown(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cnn_parity");
    TCase *tc = tcase_create("seed_cnn");
    tcase_add_loop_test(tc, loss_and_gradients, 0, 2); /* 1 and 2 threads */
    tcase_add_test(tc, sgd_step);
    tcase_add_test(tc, adam_step);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
