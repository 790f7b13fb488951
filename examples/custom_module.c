/* SPDX-License-Identifier: MIT */
/* A user-defined module: a residual MLP block y = x + scale * fc2(relu(fc1(x)))
 * with two Linear children and a parameter of its own, used inside a
 * Sequential and trained for a few steps on a toy classification task.
 *   usage: custom_module [steps]   (default 100) */
#include <stdio.h>
#include <stdlib.h>
#include <tinygrad.h>

typedef struct {
    tg_module *fc1, *fc2; /* children: owned by the module, borrowed here */
    tg_tensor *scale;     /* own parameter: owned by the module */
} residual;

static tg_tensor *residual_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    residual *r = tg_module_userdata(self);
    tg_tensor *h = tg_relu(ctx, tg_module_forward(r->fc1, x));
    h = tg_mul(ctx, tg_module_forward(r->fc2, h), r->scale);
    return tg_add(ctx, x, h); /* a NULL anywhere above propagates to here */
}

static void residual_free(void *userdata) { free(userdata); }

static const tg_module_vtable residual_vtable = {
    .struct_size = sizeof(tg_module_vtable),
    .type_name = "Residual",
    .forward = residual_forward,
    .destroy_userdata = residual_free,
};

static tg_status residual_create(tg_ctx *ctx, int64_t dim, int64_t hidden, tg_module **out)
{
    residual *r = calloc(1, sizeof *r);
    if (!r)
        return TG_ERR_NOMEM;
    tg_module *m = NULL;
    tg_status s = tg_module_create(ctx, &residual_vtable, r, &m);
    if (s != TG_OK) {
        free(r);
        return s;
    }
    /* From here on tg_module_destroy(m) frees r too. A child that was not
     * adopted (add_child failed) is still ours to destroy. */
    const int64_t one = 1;
    tg_linear_options o1, o2;
    tg_linear_options_init(&o1, dim, hidden);
    tg_linear_options_init(&o2, hidden, dim);
    if ((s = tg_nn_linear(ctx, &o1, &r->fc1)) != TG_OK ||
        (s = tg_module_add_child(m, "fc1", r->fc1)) != TG_OK) {
        tg_module_destroy(r->fc1);
        tg_module_destroy(m);
        return s;
    }
    if ((s = tg_nn_linear(ctx, &o2, &r->fc2)) != TG_OK ||
        (s = tg_module_add_child(m, "fc2", r->fc2)) != TG_OK) {
        tg_module_destroy(r->fc2);
        tg_module_destroy(m);
        return s;
    }
    if ((s = tg_module_add_param(m, "scale", 1, &one, &r->scale)) != TG_OK) {
        tg_module_destroy(m);
        return s;
    }
    tg_tensor_fill(r->scale, 0.5f); /* parameters start zero-filled */
    *out = m;
    return TG_OK;
}

#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != TG_OK) {                                                                 \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, tg_ctx_last_error(ctx));        \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 100;
    tg_ctx_options opts;
    tg_ctx_options_init(&opts);
    opts.seed = 1;
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(&opts, &ctx) != TG_OK)
        return 1;

    /* Linear(4,16) -> Residual(16,32) -> Linear(16,2) */
    tg_module *net = NULL, *l = NULL;
    tg_linear_options in, out;
    tg_linear_options_init(&in, 4, 16);
    tg_linear_options_init(&out, 16, 2);
    CHECK(tg_nn_sequential(ctx, &net));
    CHECK(tg_nn_linear(ctx, &in, &l));
    CHECK(tg_sequential_append(net, l));
    CHECK(residual_create(ctx, 16, 32, &l));
    CHECK(tg_sequential_append(net, l));
    CHECK(tg_nn_linear(ctx, &out, &l));
    CHECK(tg_sequential_append(net, l));

    printf("%lld weights:\n", (long long)tg_module_n_weights(net));
    for (size_t i = 0; i < tg_module_n_params(net); i++) {
        const char *name;
        tg_tensor *p = tg_module_param(net, i, &name);
        printf("  %-14s %lld\n", name, (long long)tg_tensor_numel(p));
    }

    tg_optim *opt = NULL;
    CHECK(tg_adam_create(ctx, net, NULL, &opt));
    const int64_t shape[2] = {64, 4};
    int32_t labels[64];
    float loss_value = 0.0f;
    for (int step = 1; step <= steps; step++) {
        tg_tensor *x = tg_rand(ctx, 2, shape, -1.0f, 1.0f);
        const float *xd = tg_tensor_data(x);
        for (int i = 0; i < 64; i++) /* class 1 when x0 * x1 > 0 */
            labels[i] = xd[i * 4] * xd[i * 4 + 1] > 0.0f;
        tg_tensor *loss = tg_cross_entropy(ctx, tg_module_forward(net, x), labels, 64,
                                           TG_REDUCTION_MEAN);
        CHECK(tg_backward(ctx, loss));
        CHECK(tg_optim_step(opt));
        loss_value = tg_tensor_data(loss)[0];
        if (step == 1 || step % 25 == 0 || step == steps)
            printf("step %d: loss %.4f\n", step, loss_value);
        tg_optim_zero_grad(opt);
        tg_ctx_reset(ctx);
    }
    tg_optim_destroy(opt);
    tg_module_destroy(net);
    tg_ctx_destroy(ctx);
    return 0;
}
