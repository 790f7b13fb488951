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
/* the example input of the summary and the ONNX export: [N, 1, 28, 28] */
static const int64_t MNIST_INPUT_SHAPE[4] = {1, 1, 28, 28};

/* Append the layer *l that status s created to seq (*l is read after the
 * creator ran). */
static void layer(tg_module *seq, tg_status s, tg_module **l)
{
    CHECK(s);
    CHECK(tg_sequential_append(seq, *l));
}

/* conv k x k with padding pad, and a linear layer, appended to seq */
static void conv(tg_ctx *c, tg_module *seq, int64_t in, int64_t out, int k, int pad)
{
    tg_conv2d_options o;
    tg_module *l = NULL;
    tg_conv2d_options_init(&o, in, out, k);
    o.padding = pad;
    layer(seq, tg_nn_conv2d(c, &o, &l), &l);
}

static void linear(tg_ctx *c, tg_module *seq, int64_t in, int64_t out)
{
    tg_linear_options o;
    tg_module *l = NULL;
    tg_linear_options_init(&o, in, out);
    layer(seq, tg_nn_linear(c, &o, &l), &l);
}

static tg_module *build_model(tg_ctx *c, int kind)
{
    tg_module *seq = NULL, *l = NULL;
    tg_pool2d_options pool;
    tg_pool2d_options_init(&pool, 2);
    CHECK(tg_nn_sequential(c, &seq));
    if (kind == MODEL_SEED) { /* the report's CNN */
        conv(c, seq, 1, 3, 3, 1);
        layer(seq, tg_nn_relu(c, &l), &l);
        conv(c, seq, 3, 6, 3, 1);
        layer(seq, tg_nn_relu(c, &l), &l);
        conv(c, seq, 6, 9, 3, 1);
        layer(seq, tg_nn_relu(c, &l), &l);
        layer(seq, tg_nn_maxpool2d(c, &pool, &l), &l);
        layer(seq, tg_nn_flatten(c, &l), &l);
        linear(c, seq, 1764, 10);
    } else {
        bool wide = kind == MODEL_CNN_WIDE;
        int64_t c1 = wide ? 16 : 6, c2 = wide ? 32 : 16;
        conv(c, seq, 1, c1, 5, 2);
        layer(seq, tg_nn_relu(c, &l), &l);
        layer(seq, tg_nn_maxpool2d(c, &pool, &l), &l);
        conv(c, seq, c1, c2, 5, 0);
        layer(seq, tg_nn_relu(c, &l), &l);
        layer(seq, tg_nn_maxpool2d(c, &pool, &l), &l);
        layer(seq, tg_nn_flatten(c, &l), &l);
        linear(c, seq, c2 * 25, wide ? 128 : 120);
        layer(seq, tg_nn_relu(c, &l), &l);
        if (wide) {
            layer(seq, tg_nn_dropout(c, 0.25f, &l), &l);
        } else {
            linear(c, seq, 120, 84);
            layer(seq, tg_nn_relu(c, &l), &l);
        }
        linear(c, seq, wide ? 128 : 84, 10);
    }
    return seq;
}

#endif /* MNIST_MODEL_H */
