/* SPDX-License-Identifier: MIT */
/* PyTorch parity of one training step of the CIFAR ResNet-8
 * (tg_nn_resnet_cifar, depth 8; fixtures from
 * tests/fixtures/gen_torch_resnet.py): the same state names, loss, every
 * gradient, BatchNorm running statistics and the parameters after one
 * SGD(lr 0.1, momentum 0.9, weight_decay 5e-4) step, to 1e-5 relative
 * (1e-6 absolute). The initial state and the input come from the 32-bit LCG
 * the generator uses (exact in float32). Uses only the public API. */
#include "tg_test.h"

#include <stdio.h>

#define N_WEIGHTS 78042
#define BATCH 8

static uint32_t lcg_state;

/* Next u in [-1, 1), exact in float32 (as the generator's Lcg.u). */
static float lcg_u(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)((double)(lcg_state >> 8) / 8388608.0 - 1.0);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The generator's init_state(), over tg_module_state() in order. */
static void init_state(tg_module *net)
{
    for (size_t i = 0; i < tg_module_n_state(net); i++) {
        const char *name;
        tg_tensor *t = tg_module_state(net, i, &name, NULL);
        float *d = tg_tensor_data(t);
        int64_t n = tg_tensor_numel(t);
        if (ends_with(name, "num_batches_tracked")) {
            d[0] = 0.0f;
            continue;
        }
        bool fc = strncmp(name, "fc.", 3) == 0;
        int64_t fan_in = fc ? 64 : tg_tensor_ndim(t) == 4 ? n / tg_tensor_dim(t, 0) : 0;
        float bound = fan_in ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
        for (int64_t k = 0; k < n; k++) {
            float u = lcg_u();
            if (fan_in)
                d[k] = u * bound;
            else if (ends_with(name, ".weight"))
                d[k] = 1.0f + u / 8.0f;
            else if (ends_with(name, ".bias") || ends_with(name, "running_mean"))
                d[k] = u / 8.0f;
            else /* running_var */
                d[k] = 1.0f + u / 4.0f;
        }
    }
}

typedef struct {
    tg_ctx *ctx;
    tg_module *net;
} fixture;

/* Build ResNet-8, set the generator's state, run forward + backward. */
static fixture setup(int n_threads)
{
    fixture f;
    f.ctx = tgt_ctx_threads(3, n_threads);
    tg_resnet_cifar_options o;
    tg_resnet_cifar_options_init(&o, 8);
    ck_assert_int_eq(tg_nn_resnet_cifar(f.ctx, &o, &f.net), TG_OK);
    ck_assert_int_eq(tg_module_n_weights(f.net), N_WEIGHTS);

    /* state names in PyTorch's state_dict order */
    char path[4096];
    snprintf(path, sizeof path, "%s/resnet8_names.txt", TG_FIXTURE_DIR);
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    char line[256];
    size_t i = 0;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = '\0';
        const char *name = NULL;
        ck_assert_msg(tg_module_state(f.net, i, &name, NULL) != NULL, "no state %zu (%s)", i,
                      line);
        ck_assert_str_eq(name, line);
        i++;
    }
    fclose(fp);
    ck_assert_uint_eq(i, tg_module_n_state(f.net));

    lcg_state = 12345u;
    init_state(f.net);
    const int64_t xs[4] = {BATCH, 3, 32, 32};
    float *x = malloc(BATCH * 3 * 32 * 32 * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t k = 0; k < BATCH * 3 * 32 * 32; k++)
        x[k] = lcg_u();
    static const int32_t targets[BATCH] = {3, 1, 4, 1, 5, 9, 2, 6};
    tg_module_train(f.net, true);
    tgt_poison_arena(f.ctx, 48); /* a gradient read before it is written shows as NaN */
    tg_tensor *input = tg_from_data(f.ctx, 4, xs, x, BATCH * 3 * 32 * 32);
    tg_tensor *loss = tg_cross_entropy(f.ctx, tg_module_forward(f.net, input), targets, BATCH,
                                       TG_REDUCTION_MEAN);
    ck_assert_msg(loss != NULL, "forward: %s", tg_ctx_last_error(f.ctx));
    ck_assert_int_eq(tg_backward(f.ctx, loss), TG_OK);
    size_t nl;
    float *want_loss = tgt_read_fixture("resnet8_loss.bin", &nl);
    ck_assert_uint_eq(nl, 1);
    tgt_assert_close(tg_tensor_data(loss), want_loss, 1, 1e-5, 1e-6);
    free(want_loss);
    free(x);
    return f;
}

static void teardown(fixture *f)
{
    tg_module_destroy(f->net);
    tg_ctx_destroy(f->ctx);
}

/* Compare every parameter's values or gradients with a fixture. */
static void assert_params(tg_module *net, const char *fixture_name, bool grads)
{
    size_t n;
    float *want = tgt_read_fixture(fixture_name, &n);
    ck_assert_uint_eq(n, N_WEIGHTS);
    size_t off = 0;
    for (size_t i = 0; i < tg_module_n_params(net); i++) {
        const char *name;
        tg_tensor *p = tg_module_param(net, i, &name);
        size_t k = (size_t)tg_tensor_numel(p);
        const float *got = grads ? tg_tensor_grad(p) : tg_tensor_data(p);
        ck_assert_msg(got != NULL, "%s has no gradient", name);
        for (size_t j = 0; j < k; j++) {
            double w = want[off + j], d = fabs((double)got[j] - w);
            ck_assert_msg(d <= 1e-6 + 1e-5 * fabs(w), "%s %s[%zu]: got %.9g, PyTorch %.9g",
                          grads ? "grad" : "value", name, j, (double)got[j], w);
        }
        off += k;
    }
    ck_assert_uint_eq(off, n);
    free(want);
}

START_TEST(loss_gradients_and_running_stats)
{
    fixture f = setup(_i + 1);
    assert_params(f.net, "resnet8_grads.bin", true);
    size_t n, off = 0;
    float *want = tgt_read_fixture("resnet8_stats.bin", &n);
    for (size_t i = 0; i < tg_module_n_state(f.net); i++) {
        const char *name;
        tg_tensor *t = tg_module_state(f.net, i, &name, NULL);
        if (!ends_with(name, "running_mean") && !ends_with(name, "running_var"))
            continue;
        size_t k = (size_t)tg_tensor_numel(t);
        ck_assert_uint_le(off + k, n);
        tgt_assert_close(tg_tensor_data(t), want + off, k, 1e-5, 1e-6);
        off += k;
    }
    ck_assert_uint_eq(off, n);
    free(want);
    teardown(&f);
}
END_TEST

START_TEST(sgd_momentum_step)
{
    fixture f = setup(1);
    tg_sgd_options o;
    tg_sgd_options_init(&o);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    o.weight_decay = 5e-4f;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(f.ctx, f.net, &o, &opt), TG_OK);
    ck_assert_int_eq(tg_optim_step(opt), TG_OK);
    assert_params(f.net, "resnet8_sgd.bin", false);
    tg_optim_destroy(opt);
    teardown(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("resnet_parity");
    TCase *tc = tcase_create("resnet8");
    tcase_add_loop_test(tc, loss_gradients_and_running_stats, 0, 2); /* 1 and 2 threads */
    tcase_add_test(tc, sgd_momentum_step);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
