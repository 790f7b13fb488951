/* SPDX-License-Identifier: MIT */
/* Options-struct layer constructors (tg_nn_*), the ResNet basic block and
 * the CIFAR ResNet builder: defaults, names, shapes, weight counts and the
 * error paths. Uses only the public API. */
#include "tg_test.h"

START_TEST(options_defaults)
{
    tg_linear_options l;
    tg_linear_options_init(&l, 4, 3);
    ck_assert_uint_eq(l.struct_size, sizeof l);
    ck_assert(l.bias);
    tg_conv2d_options c;
    tg_conv2d_options_init(&c, 1, 8, 3);
    ck_assert_int_eq(c.stride, 1);
    ck_assert_int_eq(c.padding, 0);
    ck_assert_int_eq(c.dilation, 1);
    ck_assert_int_eq(c.groups, 1);
    ck_assert(c.bias);
    tg_batchnorm_options b;
    tg_batchnorm_options_init(&b, 5);
    ck_assert_float_eq(b.eps, 1e-5f);
    ck_assert_float_eq(b.momentum, 0.1f);
    ck_assert(b.affine);
    tg_pool2d_options p;
    tg_pool2d_options_init(&p, 2);
    ck_assert_int_eq(p.stride, 0);
    ck_assert_int_eq(p.padding, 0);
    tg_resnet_block_options r;
    tg_resnet_block_options_init(&r, 16, 32);
    ck_assert_int_eq(r.stride, 1);
    tg_resnet_cifar_options rc;
    tg_resnet_cifar_options_init(&rc, 20);
    ck_assert_int_eq(rc.in_channels, 3);
    ck_assert_int_eq(rc.num_classes, 10);
    tg_linear_options_init(NULL, 1, 1); /* no crash */
}
END_TEST

/* The new constructors give the same module as the 0.1.0 ones (same RNG). */
START_TEST(same_as_positional)
{
    tg_ctx *a = tgt_ctx(5), *b = tgt_ctx(5);
    tg_module *m1 = NULL, *m2 = NULL;
    ck_assert_int_eq(tg_conv2d_create(a, 3, 6, 3, 2, 1, 1, 1, true, &m1), TG_OK);
    tg_conv2d_options c;
    tg_conv2d_options_init(&c, 3, 6, 3);
    c.stride = 2;
    c.padding = 1;
    ck_assert_int_eq(tg_nn_conv2d(b, &c, &m2), TG_OK);
    ck_assert_str_eq(tg_module_type(m2), "Conv2d");
    tg_tensor *w1 = tg_module_find(m1, "weight"), *w2 = tg_module_find(m2, "weight");
    tgt_assert_close(tg_tensor_data(w2), tg_tensor_data(w1), (size_t)tg_tensor_numel(w1), 0, 0);
    const int64_t xs[4] = {2, 3, 9, 9}, ys[4] = {2, 6, 5, 5};
    tgt_assert_shape(tg_module_forward(m2, tgt_rand(b, 4, xs, -1, 1, false)), 4, ys);
    tg_module_destroy(m1);
    tg_module_destroy(m2);

    tg_linear_options l;
    tg_linear_options_init(&l, 7, 3);
    l.bias = false;
    ck_assert_int_eq(tg_nn_linear(b, &l, &m2), TG_OK);
    ck_assert_int_eq(tg_module_n_weights(m2), 21);
    ck_assert_str_eq(tg_module_type(m2), "Linear");
    tg_module_destroy(m2);
    tg_ctx_destroy(a);
    tg_ctx_destroy(b);
}
END_TEST

START_TEST(batchnorm_and_pools)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_batchnorm_options bo;
    tg_batchnorm_options_init(&bo, 4);
    bo.affine = false;
    tg_module *bn = NULL, *mp = NULL, *ap = NULL, *gap = NULL, *seq = NULL;
    ck_assert_int_eq(tg_nn_batchnorm2d(ctx, &bo, &bn), TG_OK);
    ck_assert_int_eq(tg_module_n_params(bn), 0);
    ck_assert_int_eq(tg_module_n_state(bn), 3); /* running_mean, running_var, count */
    const int64_t xs[4] = {3, 4, 6, 6};
    tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, false);
    tg_tensor *y = tg_module_forward(bn, x);
    tgt_assert_shape(y, 4, xs);
    /* normalised per channel: mean ~ 0 */
    tg_tensor *mean = tg_mean_all(ctx, y);
    ck_assert(fabsf(tg_tensor_data(mean)[0]) < 1e-5f);

    tg_pool2d_options po;
    tg_pool2d_options_init(&po, 2);
    ck_assert_int_eq(tg_nn_maxpool2d(ctx, &po, &mp), TG_OK);
    po.stride = 1;
    ck_assert_int_eq(tg_nn_avgpool2d(ctx, &po, &ap), TG_OK);
    const int64_t m_s[4] = {3, 4, 3, 3}, a_s[4] = {3, 4, 5, 5}, g_s[4] = {3, 4, 1, 1};
    tgt_assert_shape(tg_module_forward(mp, x), 4, m_s);
    tgt_assert_shape(tg_module_forward(ap, x), 4, a_s);
    ck_assert_int_eq(tg_nn_global_avgpool2d(ctx, &gap), TG_OK);
    tg_tensor *g = tg_module_forward(gap, x);
    tgt_assert_shape(g, 4, g_s);
    /* channel 1 of sample 2 is the mean of its 36 values */
    const float *xd = tg_tensor_data(x);
    double s = 0;
    for (int k = 0; k < 36; k++)
        s += xd[(2 * 4 + 1) * 36 + k];
    ck_assert(fabs(tg_tensor_data(g)[2 * 4 + 1] - s / 36) < 1e-6);
    const int64_t bad[2] = {3, 4};
    ck_assert_ptr_null(tg_module_forward(gap, tgt_rand(ctx, 2, bad, 0, 1, false)));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);

    ck_assert_int_eq(tg_nn_sequential(ctx, &seq), TG_OK);
    ck_assert_str_eq(tg_module_type(seq), "Sequential");
    tg_module *r = NULL, *f = NULL, *d = NULL;
    ck_assert_int_eq(tg_nn_relu(ctx, &r), TG_OK);
    ck_assert_int_eq(tg_nn_flatten(ctx, &f), TG_OK);
    ck_assert_int_eq(tg_nn_dropout(ctx, 0.5f, &d), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, r), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, f), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, d), TG_OK);
    const int64_t fs[2] = {3, 144};
    tgt_assert_shape(tg_module_forward(seq, x), 2, fs);
    tg_module_destroy(seq);
    tg_module_destroy(bn);
    tg_module_destroy(mp);
    tg_module_destroy(ap);
    tg_module_destroy(gap);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = (tg_module *)(uintptr_t)0x1;
    tg_linear_options l;
    tg_linear_options_init(&l, 0, 3);
    ck_assert_int_eq(tg_nn_linear(ctx, &l, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(m, (tg_module *)(uintptr_t)0x1); /* untouched */
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "nn_linear"));
    ck_assert_int_eq(tg_nn_linear(ctx, NULL, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "options_init"));
    ck_assert_int_eq(tg_nn_linear(NULL, &l, &m), TG_ERR_INVALID_ARG);
    tg_linear_options_init(&l, 2, 3);
    ck_assert_int_eq(tg_nn_linear(ctx, &l, NULL), TG_ERR_INVALID_ARG);
    l.struct_size = 3;
    ck_assert_int_eq(tg_nn_linear(ctx, &l, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "struct_size"));
    l.struct_size = sizeof l + 8;
    ck_assert_int_eq(tg_nn_linear(ctx, &l, &m), TG_ERR_INVALID_ARG);

    tg_conv2d_options c;
    tg_conv2d_options_init(&c, 3, 4, 3);
    c.groups = 2;
    ck_assert_int_eq(tg_nn_conv2d(ctx, &c, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "groups"));
    tg_batchnorm_options b;
    tg_batchnorm_options_init(&b, 4);
    b.momentum = 2.0f;
    ck_assert_int_eq(tg_nn_batchnorm2d(ctx, &b, &m), TG_ERR_INVALID_ARG);
    tg_pool2d_options p;
    tg_pool2d_options_init(&p, 2);
    p.padding = 2;
    ck_assert_int_eq(tg_nn_maxpool2d(ctx, &p, &m), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_nn_dropout(ctx, 1.5f, &m), TG_ERR_INVALID_ARG);
    tg_resnet_block_options r;
    tg_resnet_block_options_init(&r, 16, 16);
    r.stride = 0;
    ck_assert_int_eq(tg_nn_resnet_block(ctx, &r, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "stride 0"));
    tg_resnet_cifar_options rc;
    tg_resnet_cifar_options_init(&rc, 9);
    ck_assert_int_eq(tg_nn_resnet_cifar(ctx, &rc, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "depth 9"));
    ck_assert_ptr_eq(m, (tg_module *)(uintptr_t)0x1);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Identity and projection shortcuts: children, names, shapes, values. */
START_TEST(resnet_block)
{
    tg_ctx *ctx = tgt_ctx(2);
    tg_resnet_block_options o;
    tg_resnet_block_options_init(&o, 4, 4);
    tg_module *id = NULL, *proj = NULL;
    ck_assert_int_eq(tg_nn_resnet_block(ctx, &o, &id), TG_OK);
    ck_assert_str_eq(tg_module_type(id), "BasicBlock");
    ck_assert_uint_eq(tg_module_n_children(id), 4);
    ck_assert_ptr_null(tg_module_child_by_name(id, "shortcut"));
    ck_assert_int_eq(tg_module_n_weights(id), 2 * 4 * 4 * 9 + 2 * 8);
    o.out_channels = 8;
    o.stride = 2;
    ck_assert_int_eq(tg_nn_resnet_block(ctx, &o, &proj), TG_OK);
    ck_assert_ptr_nonnull(tg_module_find(proj, "shortcut.0.weight"));
    ck_assert_ptr_nonnull(tg_module_find(proj, "shortcut.1.running_var"));
    ck_assert_ptr_null(tg_module_find(proj, "conv1.bias"));
    const int64_t xs[4] = {2, 4, 6, 6}, ys[4] = {2, 8, 3, 3};
    tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, true);
    tg_tensor *y = tg_module_forward(id, x);
    tgt_assert_shape(y, 4, xs);
    for (int64_t k = 0; k < tg_tensor_numel(y); k++)
        ck_assert(tg_tensor_data(y)[k] >= 0.0f); /* ends in ReLU */
    tgt_assert_shape(tg_module_forward(proj, x), 4, ys);

    /* With bn2 scaled to zero the block is relu(x + 0) = relu(x). */
    tg_tensor_fill(tg_module_find(id, "bn2.weight"), 0.0f);
    y = tg_module_forward(id, x);
    for (int64_t k = 0; k < tg_tensor_numel(y); k++) {
        float v = tg_tensor_data(x)[k];
        ck_assert(fabsf(tg_tensor_data(y)[k] - (v > 0 ? v : 0)) < 1e-6f);
    }
    /* a gradient reaches the input through both paths */
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_module_forward(proj, x))), TG_OK);
    ck_assert_ptr_nonnull(tg_tensor_grad(x));

    /* Evaluation (its BatchNorm2d+ReLU and BatchNorm2d+add+ReLU run fused):
     * bit for bit the layers' ops on the running statistics, which stay. */
    tg_module_train(proj, false);
    for (int i = 0; i < 8; i++) { /* statistics as if trained */
        const char *nm[4] = {"bn1.running_mean", "bn1.running_var", "bn2.running_mean",
                             "bn2.running_var"};
        tg_tensor *t = tg_module_find(proj, i < 4 ? nm[i] : i == 4 ? "shortcut.1.running_mean"
                                                                   : "shortcut.1.running_var");
        if (!t)
            continue;
        for (int64_t k = 0; k < tg_tensor_numel(t); k++)
            tg_tensor_data(t)[k] = i % 2 ? 0.5f + 0.1f * (float)k : 0.05f * (float)k - 0.2f;
    }
    float count = tg_tensor_data(tg_module_find(proj, "bn2.num_batches_tracked"))[0];
    tg_tensor *ye = tg_module_forward(proj, x);
#define P(name) tg_module_find(proj, name)
#define BN(t, pre) tg_batch_norm2d(ctx, t, P(pre ".weight"), P(pre ".bias"), \
                                   P(pre ".running_mean"), P(pre ".running_var"), false, 0.1f, 1e-5f)
    tg_tensor *h = tg_relu(ctx, BN(tg_conv2d(ctx, x, P("conv1.weight"), NULL, 2, 1, 1, 1), "bn1"));
    h = BN(tg_conv2d(ctx, h, P("conv2.weight"), NULL, 1, 1, 1, 1), "bn2");
    tg_tensor *sc = BN(tg_conv2d(ctx, x, P("shortcut.0.weight"), NULL, 2, 0, 1, 1), "shortcut.1");
    tg_tensor *yr = tg_relu(ctx, tg_add(ctx, h, sc));
#undef BN
#undef P
    ck_assert_ptr_nonnull(ye);
    ck_assert_ptr_nonnull(yr);
    tgt_assert_shape(ye, 4, ys);
    ck_assert(memcmp(tg_tensor_data(ye), tg_tensor_data(yr), sizeof(float) * 2 * 8 * 3 * 3) == 0);
    ck_assert(tg_tensor_data(tg_module_find(proj, "bn2.num_batches_tracked"))[0] == count);

    /* With nothing to differentiate each convolution runs with its batch
     * norm (and residual, ReLU) fused into its output: the same bits, and
     * the profiler still gives every convolution its row. */
    tg_module_train(id, false);
    tg_tensor *yi = tg_module_forward(id, x);
    ck_assert_ptr_nonnull(yi);
    ck_assert_int_eq(tg_profiler_enable(ctx, true), TG_OK);
    ck_assert(tg_ctx_set_grad_enabled(ctx, false));
    tg_tensor *yf = tg_module_forward(proj, x), *yif = tg_module_forward(id, x);
    ck_assert_ptr_nonnull(yf);
    ck_assert_ptr_nonnull(yif);
    ck_assert(memcmp(tg_tensor_data(yf), tg_tensor_data(yr), sizeof(float) * 2 * 8 * 3 * 3) == 0);
    ck_assert(memcmp(tg_tensor_data(yif), tg_tensor_data(yi), sizeof(float) * 2 * 4 * 6 * 6) == 0);
    ck_assert_int_eq(tg_profiler_enable(ctx, false), TG_OK); /* closes the last op's time */
    int fused_rows = 0, conv_rows = 0;
    for (size_t i = 0; i < tg_profiler_n_rows(ctx); i++) {
        tg_profile_row r;
        ck_assert_int_eq(tg_profiler_row(ctx, i, &r), TG_OK);
        fused_rows += !r.module_type && !strncmp(r.name, "conv2d_bn", 9) ? (int)r.forward_calls : 0;
        conv_rows += r.module_type && !strcmp(r.module_type, "Conv2d") && r.forward_calls > 0;
    }
    ck_assert_int_eq(fused_rows, 5); /* proj: conv1, conv2, shortcut; id: conv1, conv2 */
    ck_assert_int_ge(conv_rows, 3);  /* conv1, conv2, shortcut.0 (the blocks share names) */
    ck_assert(!tg_ctx_set_grad_enabled(ctx, true));
    tg_module_destroy(id);
    tg_module_destroy(proj);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(resnet_cifar)
{
    tg_ctx *ctx = tgt_ctx(3);
    tg_resnet_cifar_options o;
    tg_resnet_cifar_options_init(&o, 8);
    tg_module *r8 = NULL, *r20 = NULL;
    ck_assert_int_eq(tg_nn_resnet_cifar(ctx, &o, &r8), TG_OK);
    ck_assert_str_eq(tg_module_type(r8), "ResNet");
    ck_assert_int_eq(tg_module_n_weights(r8), 78042);
    ck_assert_ptr_nonnull(tg_module_find(r8, "layer3.0.shortcut.0.weight"));
    ck_assert_ptr_null(tg_module_find(r8, "layer1.0.shortcut.0.weight"));
    ck_assert_ptr_nonnull(tg_module_find(r8, "fc.bias"));
    o.depth = 20;
    o.num_classes = 100;
    ck_assert_int_eq(tg_nn_resnet_cifar(ctx, &o, &r20), TG_OK);
    ck_assert_int_eq(tg_module_n_weights(r20), 272474 + 64 * 90 + 90);
    ck_assert_ptr_nonnull(tg_module_find(r20, "layer2.2.bn2.weight"));
    const int64_t xs[4] = {2, 3, 32, 32}, ys[2] = {2, 10};
    tg_tensor *y = tg_module_forward(r8, tgt_rand(ctx, 4, xs, 0, 1, false));
    tgt_assert_shape(y, 2, ys);
    tg_module_train(r8, false); /* running statistics: also fine at batch 1 */
    const int64_t x1[4] = {1, 3, 32, 32}, y1[2] = {1, 10};
    tgt_assert_shape(tg_module_forward(r8, tgt_rand(ctx, 4, x1, 0, 1, false)), 2, y1);
    tg_module_destroy(r8);
    tg_module_destroy(r20);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Layers over the 0.2.0 ops: each module computes exactly its op. */
START_TEST(new_op_layers)
{
    tg_ctx *ctx = tgt_ctx(6);
    const int64_t xs[4] = {2, 3, 4, 5};
    tg_tensor *x = tgt_rand(ctx, 4, xs, -2, 2, false);
    tg_module *g = NULL, *id = NULL, *ap = NULL, *ln = NULL, *bn = NULL;
    ck_assert_int_eq(tg_nn_gelu(ctx, &g), TG_OK);
    ck_assert_str_eq(tg_module_type(g), "GELU");
    tg_tensor *y = tg_module_forward(g, x), *want = tg_gelu(ctx, x);
    tgt_assert_close(tg_tensor_data(y), tg_tensor_data(want), 120, 0, 0);
    ck_assert_int_eq(tg_nn_identity(ctx, &id), TG_OK);
    ck_assert_ptr_eq(tg_module_forward(id, x), x);
    ck_assert_int_eq(tg_nn_adaptive_avgpool2d(ctx, 2, 1, &ap), TG_OK);
    const int64_t as[4] = {2, 3, 2, 1};
    tgt_assert_shape(tg_module_forward(ap, x), 4, as);
    ck_assert_int_eq(tg_nn_adaptive_avgpool2d(ctx, 0, 1, &ap), TG_ERR_INVALID_ARG);

    const int64_t ns[2] = {4, 5};
    tg_layernorm_options lo;
    tg_layernorm_options_init(&lo, 2, ns);
    ck_assert_int_eq(tg_nn_layernorm(ctx, &lo, &ln), TG_OK);
    ck_assert_str_eq(tg_module_type(ln), "LayerNorm");
    ck_assert_int_eq(tg_module_n_weights(ln), 40);
    y = tg_module_forward(ln, x);
    want = tg_layer_norm(ctx, x, 2, tg_module_find(ln, "weight"), tg_module_find(ln, "bias"), 1e-5f);
    tgt_assert_close(tg_tensor_data(y), tg_tensor_data(want), 120, 0, 0);
    lo.n_dims = 5;
    ck_assert_int_eq(tg_nn_layernorm(ctx, &lo, &bn), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "n_dims 5"));

    tg_batchnorm_options bo;
    tg_batchnorm_options_init(&bo, 3);
    ck_assert_int_eq(tg_nn_batchnorm1d(ctx, &bo, &bn), TG_OK);
    ck_assert_str_eq(tg_module_type(bn), "BatchNorm1d");
    const int64_t s1[3] = {4, 3, 6};
    tg_tensor *x1 = tgt_rand(ctx, 3, s1, -1, 1, false);
    tgt_assert_shape(tg_module_forward(bn, x1), 3, s1);
    ck_assert_float_eq(tg_tensor_data(tg_module_find(bn, "num_batches_tracked"))[0], 1.0f);
    tg_module_destroy(g);
    tg_module_destroy(id);
    tg_module_destroy(ap);
    tg_module_destroy(ln);
    tg_module_destroy(bn);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn_layers");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, options_defaults);
    tcase_add_test(tc, same_as_positional);
    tcase_add_test(tc, batchnorm_and_pools);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, resnet_block);
    tcase_add_test(tc, resnet_cifar);
    tcase_add_test(tc, new_op_layers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
