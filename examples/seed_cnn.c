/* SPDX-License-Identifier: MIT */
/* The seed MNIST CNN, trained for a few steps on random data.
 *   usage: seed_cnn [steps]   (default 10) */
#include <stdio.h>
#include <stdlib.h>
#include <tinygrad.h>

#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != TG_OK) {                                                                 \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, tg_ctx_last_error(ctx));        \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 10;
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(NULL, &ctx) != TG_OK)
        return 1;

    /* conv 1->3, 3->6, 6->9 (3x3, pad 1) with ReLU, maxpool 2, linear 1764->10 */
    tg_module *net = NULL, *l = NULL;
    CHECK(tg_nn_sequential(ctx, &net));
    int channels[4] = {1, 3, 6, 9};
    for (int i = 0; i < 3; i++) {
        tg_conv2d_options conv;
        tg_conv2d_options_init(&conv, channels[i], channels[i + 1], 3); /* in, out, kernel */
        conv.padding = 1;
        CHECK(tg_nn_conv2d(ctx, &conv, &l));
        CHECK(tg_sequential_append(net, l));
        CHECK(tg_nn_relu(ctx, &l));
        CHECK(tg_sequential_append(net, l));
    }
    tg_pool2d_options pool;
    tg_pool2d_options_init(&pool, 2); /* kernel 2, stride = kernel */
    CHECK(tg_nn_maxpool2d(ctx, &pool, &l));
    CHECK(tg_sequential_append(net, l));
    CHECK(tg_nn_flatten(ctx, &l));
    CHECK(tg_sequential_append(net, l));
    tg_linear_options fc;
    tg_linear_options_init(&fc, 1764, 10);
    CHECK(tg_nn_linear(ctx, &fc, &l));
    CHECK(tg_sequential_append(net, l));

    tg_optim *opt = NULL;
    CHECK(tg_sgd_create(ctx, net, NULL, &opt)); /* SGD, lr 0.01 */

    const int64_t shape[4] = {32, 1, 28, 28};
    int32_t labels[32];
    for (int i = 0; i < 32; i++)
        labels[i] = (i * 7) % 10;
    for (int step = 1; step <= steps; step++) {
        tg_tensor *x = tg_rand(ctx, 4, shape, 0.0f, 1.0f); /* stand-in for a batch */
        tg_tensor *loss = tg_cross_entropy(ctx, tg_module_forward(net, x), labels, 32,
                                           TG_REDUCTION_MEAN);
        CHECK(tg_backward(ctx, loss)); /* a NULL loss reports the first error */
        CHECK(tg_optim_step(opt));
        printf("step %d: loss %.4f\n", step, tg_tensor_data(loss)[0]);
        tg_optim_zero_grad(opt);
        tg_ctx_reset(ctx); /* frees this step's tensors in bulk */
    }
    tg_optim_destroy(opt);
    tg_module_destroy(net);
    tg_ctx_destroy(ctx);
    return 0;
}
