/* SPDX-License-Identifier: MIT */
/* The MNIST models and input normalisation, shared by mnist_cnn and
 * mnist_predict. The includer defines CHECK(call) (exit with the context's
 * message on failure).
 *  seed:     conv 1->3, relu, conv 3->6, relu, conv 6->9, relu (3x3, pad 1),
 *            maxpool 2, flatten, linear 1764->10 (the report's CNN)
 *  lenet5:   conv 1->6 5x5 pad 2, relu, maxpool 2, conv 6->16 5x5, relu,
 *            maxpool 2, flatten, linear 400->120, relu, 120->84, relu, 84->10
 *  cnn_wide: conv 1->16 5x5 pad 2, relu, maxpool 2, conv 16->32 5x5, relu,
 *            maxpool 2, flatten, linear 800->128, relu, dropout 0.25, 128->10
 * Parameter names follow torch.nn.Sequential: "0.weight", "0.bias", ... */
#ifndef MNIST_MODEL_H
#define MNIST_MODEL_H

#include <tinygrad.h>

enum { MODEL_SEED, MODEL_LENET5, MODEL_CNN_WIDE, N_MODELS };
static const char *const MODELS[N_MODELS] = {"seed", "lenet5", "cnn_wide"};

/* normalize = true: the MNIST training set's pixel mean and std (after
 * scaling to [0, 1]); mnist_predict --normalize must use the same. */
#define MNIST_MEAN 0.1307f
#define MNIST_STD 0.3081f

static tg_module *build_model(tg_ctx *ctx, int kind)
{
    tg_module *seq, *l;
#define ADD(create)                                                                            \
    do {                                                                                       \
        CHECK(create);                                                                         \
        CHECK(tg_sequential_append(seq, l));                                                   \
    } while (0)
    CHECK(tg_sequential_create(ctx, &seq));
    if (kind == MODEL_SEED) { /* the report's CNN */
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
        bool wide = kind == MODEL_CNN_WIDE;
        int64_t c1 = wide ? 16 : 6, c2 = wide ? 32 : 16;
        ADD(tg_conv2d_create(ctx, 1, c1, 5, 1, 2, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
        ADD(tg_conv2d_create(ctx, c1, c2, 5, 1, 0, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
        ADD(tg_flatten_create(ctx, &l));
        if (wide) {
            ADD(tg_linear_create(ctx, c2 * 25, 128, true, &l));
            ADD(tg_relu_create(ctx, &l));
            ADD(tg_dropout_create(ctx, 0.25f, &l));
            ADD(tg_linear_create(ctx, 128, 10, true, &l));
        } else {
            ADD(tg_linear_create(ctx, c2 * 25, 120, true, &l));
            ADD(tg_relu_create(ctx, &l));
            ADD(tg_linear_create(ctx, 120, 84, true, &l));
            ADD(tg_relu_create(ctx, &l));
            ADD(tg_linear_create(ctx, 84, 10, true, &l));
        }
    }
#undef ADD
    return seq;
}

#endif /* MNIST_MODEL_H */
