/* SPDX-License-Identifier: MIT */
/* A user-written optimiser through tg_optim_vtable: Lion (Chen et al., 2023),
 *   c = b1*m + (1-b1)*g;  p -= lr * (sign(c) + wd*p);  m = b2*m + (1-b2)*g,
 * training a small MLP on a toy task, compared with the built-in SGD.
 *   usage: custom_optimizer [steps]   (default 200) */
#include <stdio.h>
#include <stdlib.h>
#include <tinygrad.h>

typedef struct {
    float beta1, beta2, weight_decay;
} lion_hyper;

static void lion_update(void *hyper, const tg_optim_update *u)
{
    const lion_hyper *h = hyper;
    float *m = u->state[0]; /* zeroed by the library before the first step */
    for (size_t i = 0; i < u->n; i++) {
        float c = h->beta1 * m[i] + (1.0f - h->beta1) * u->grad[i];
        float sign = (float)((c > 0.0f) - (c < 0.0f));
        u->param[i] -= u->lr * (sign + h->weight_decay * u->param[i]);
        m[i] = h->beta2 * m[i] + (1.0f - h->beta2) * u->grad[i];
    }
}

static const tg_optim_vtable lion_vtable = {
    .struct_size = sizeof(tg_optim_vtable),
    .name = "Lion",
    .n_state = 1,
    .update = lion_update,
    .destroy_hyper = free, /* hyper is malloc'd below */
};

static tg_status lion_create(tg_ctx *ctx, tg_module *model, float lr, tg_optim **out)
{
    lion_hyper *h = malloc(sizeof *h);
    if (!h)
        return TG_ERR_NOMEM;
    *h = (lion_hyper){0.9f, 0.99f, 0.0f};
    tg_status s = tg_optim_create(ctx, model, &lion_vtable, h, lr, out);
    if (s != TG_OK)
        free(h); /* not adopted on error */
    return s;
}

/* Train a fresh MLP with the given optimiser kind; returns the final loss. */
static int train(int steps, bool lion, float *final_loss)
{
    tg_ctx_options opts;
    tg_ctx_options_init(&opts);
    opts.seed = 7;
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(&opts, &ctx) != TG_OK)
        return 1;
    tg_module *net = NULL, *l = NULL;
    tg_optim *opt = NULL;
    tg_linear_options in, out;
    tg_linear_options_init(&in, 2, 32);
    tg_linear_options_init(&out, 32, 2);
    tg_status s = tg_nn_sequential(ctx, &net);
    if (s == TG_OK && (s = tg_nn_linear(ctx, &in, &l)) == TG_OK)
        s = tg_sequential_append(net, l);
    if (s == TG_OK && (s = tg_nn_relu(ctx, &l)) == TG_OK)
        s = tg_sequential_append(net, l);
    if (s == TG_OK && (s = tg_nn_linear(ctx, &out, &l)) == TG_OK)
        s = tg_sequential_append(net, l);
    if (s == TG_OK)
        s = lion ? lion_create(ctx, net, 1e-3f, &opt) : tg_sgd_create(ctx, net, NULL, &opt);

    const int64_t shape[2] = {128, 2};
    int32_t labels[128];
    for (int step = 1; step <= steps && s == TG_OK; step++) {
        tg_tensor *x = tg_rand(ctx, 2, shape, -1.0f, 1.0f);
        const float *xd = tg_tensor_data(x);
        for (int i = 0; i < 128; i++) /* inside the circle of radius 0.7? */
            labels[i] = xd[2 * i] * xd[2 * i] + xd[2 * i + 1] * xd[2 * i + 1] < 0.49f;
        tg_tensor *loss = tg_cross_entropy(ctx, tg_module_forward(net, x), labels, 128,
                                           TG_REDUCTION_MEAN);
        if ((s = tg_backward(ctx, loss)) == TG_OK && (s = tg_optim_step(opt)) == TG_OK)
            *final_loss = tg_tensor_data(loss)[0];
        tg_optim_zero_grad(opt);
        tg_ctx_reset(ctx);
    }
    if (s != TG_OK)
        fprintf(stderr, "error: %s\n", tg_ctx_last_error(ctx));
    else
        printf("%-5s after %d steps: loss %.4f\n", tg_optim_name(opt), steps, *final_loss);
    tg_optim_destroy(opt);
    tg_module_destroy(net);
    tg_ctx_destroy(ctx);
    return s != TG_OK;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 200;
    float sgd_loss = 0.0f, lion_loss = 0.0f;
    if (train(steps, false, &sgd_loss) || train(steps, true, &lion_loss))
        return 1;
    return 0;
}
