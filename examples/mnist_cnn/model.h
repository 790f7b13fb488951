/* SPDX-License-Identifier: MIT */
/* The two MNIST models, shared by mnist_cnn and mnist_predict. The includer
 * defines CHECK(call) (exit with the context's message on failure).
 *  seed:   conv 1->3, relu, conv 3->6, relu, conv 6->9, relu (3x3, pad 1),
 *          maxpool 2, flatten, linear 1764->10 (the report's CNN)
 *  lenet5: conv 1->6 5x5 pad 2, relu, maxpool 2, conv 6->16 5x5, relu,
 *          maxpool 2, flatten, linear 400->120, relu, 120->84, relu, 84->10
 * Parameter names follow torch.nn.Sequential: "0.weight", "0.bias", ... */
#ifndef MNIST_MODEL_H
#define MNIST_MODEL_H

#include <tinygrad.h>

static tg_module *build_model(tg_ctx *ctx, bool lenet)
{
    tg_module *seq, *l;
#define ADD(create)                                                                            \
    do {                                                                                       \
        CHECK(create);                                                                         \
        CHECK(tg_sequential_append(seq, l));                                                   \
    } while (0)
    CHECK(tg_sequential_create(ctx, &seq));
    if (!lenet) { /* the report's CNN */
        ADD(tg_conv2d_create(ctx, 1, 3, 3, 1, 1, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_conv2d_create(ctx, 3, 6, 3, 1, 1, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_conv2d_create(ctx, 6, 9, 3, 1, 1, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
        ADD(tg_flatten_create(ctx, &l));
        ADD(tg_linear_create(ctx, 1764, 10, true, &l));
    } else {
        ADD(tg_conv2d_create(ctx, 1, 6, 5, 1, 2, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
        ADD(tg_conv2d_create(ctx, 6, 16, 5, 1, 0, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
        ADD(tg_flatten_create(ctx, &l));
        ADD(tg_linear_create(ctx, 400, 120, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_linear_create(ctx, 120, 84, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_linear_create(ctx, 84, 10, true, &l));
    }
#undef ADD
    return seq;
}

#endif /* MNIST_MODEL_H */
