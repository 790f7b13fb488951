/* SPDX-License-Identifier: MIT */
/* Contexts, errors, tensors, the step arena and autograd bookkeeping. */
#include "tg_test.h"

START_TEST(version_matches)
{
    ck_assert_uint_eq(tg_version(), TG_VERSION_NUMBER);
    ck_assert_str_eq(tg_version_string(), TG_VERSION_STRING);
    ck_assert(TG_VERSION_CHECK(0, 0, 0));
}
END_TEST

START_TEST(status_strings)
{
    for (int s = TG_OK; s <= TG_ERR_NUMERIC; s++) {
        ck_assert_ptr_nonnull(tg_status_string((tg_status)s));
        ck_assert_str_ne(tg_status_string((tg_status)s), "unknown status");
    }
    ck_assert_str_eq(tg_status_string((tg_status)999), "unknown status");
}
END_TEST

START_TEST(ctx_create_errors)
{
    tg_ctx *ctx = (tg_ctx *)0x1;
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = -3;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(ctx, (tg_ctx *)0x1); /* untouched */
    ck_assert_int_eq(tg_ctx_create(NULL, NULL), TG_ERR_INVALID_ARG);
    o.n_threads = 1;
    o.struct_size = 3;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_ERR_INVALID_ARG);
    tg_ctx_destroy(NULL); /* no-op */
}
END_TEST

START_TEST(tensor_create_and_query)
{
    tg_ctx *ctx = tgt_ctx(1);
    int64_t shape[6] = {2, 1, 3, 1, 2, 1};
    tg_tensor *t = NULL;
    ck_assert_int_eq(tg_tensor_create(ctx, 6, shape, &t), TG_OK);
    ck_assert_int_eq(tg_tensor_ndim(t), 6);
    ck_assert_int_eq(tg_tensor_numel(t), 12);
    ck_assert_int_eq(tg_tensor_dim(t, -2), 2);
    ck_assert_int_eq(tg_tensor_dim(t, 6), -1);
    ck_assert(tg_tensor_is_persistent(t));
    ck_assert_int_eq(tg_tensor_dtype(t), TG_F32);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(tg_tensor_data(t)[i], 0.0f);
    float buf[12];
    ck_assert_int_eq(tg_tensor_copy_data(t, buf, 11), TG_ERR_SHAPE);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "12 elements"));
    tg_tensor_destroy(t);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(tensor_create_bad_shapes)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *t = (tg_tensor *)0x1;
    int64_t neg[2] = {2, -1};
    ck_assert_int_eq(tg_tensor_create(ctx, 2, neg, &t), TG_ERR_INVALID_ARG);
    int64_t huge[3] = {INT64_C(1) << 31, INT64_C(1) << 31, INT64_C(1) << 31};
    ck_assert_int_eq(tg_tensor_create(ctx, 3, huge, &t), TG_ERR_LIMIT);
    int64_t many[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(tg_tensor_create(ctx, 9, many, &t), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(t, (tg_tensor *)0x1);
    ck_assert_ptr_null(tg_zeros(ctx, 3, huge));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_LIMIT);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(transient_creators)
{
    tg_ctx *ctx = tgt_ctx(7);
    int64_t s[2] = {2, 3};
    tgt_assert_tensor(tg_ones(ctx, 2, s), ((float[]){1, 1, 1, 1, 1, 1}), 6, 0);
    tgt_assert_tensor(tg_full(ctx, 2, s, 2.5f), ((float[]){2.5f, 2.5f, 2.5f, 2.5f, 2.5f, 2.5f}), 6, 0);
    tgt_assert_tensor(tg_arange(ctx, 0, 5, 2), ((float[]){0, 2, 4}), 3, 0);
    tgt_assert_tensor(tg_arange(ctx, 1, 0, -0.5f), ((float[]){1, 0.5f}), 2, 0);
    float d[6] = {1, 2, 3, 4, 5, 6};
    tg_tensor *t = tg_from_data(ctx, 2, s, d, 6);
    tgt_assert_tensor(t, d, 6, 0);
    ck_assert(!tg_tensor_is_persistent(t));
    ck_assert_ptr_null(tg_from_data(ctx, 2, s, d, 5));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_null(tg_arange(ctx, 0, 1, 0));
    tg_tensor *r = tg_rand(ctx, 2, s, -1, 1);
    for (int i = 0; i < 6; i++)
        ck_assert(tg_tensor_data(r)[i] >= -1 && tg_tensor_data(r)[i] < 1);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(rng_is_seeded)
{
    tg_ctx *a = tgt_ctx(42), *b = tgt_ctx(42), *c = tgt_ctx(43);
    int64_t s = 64;
    float *x = tg_tensor_data(tg_randn(a, 1, &s, 0, 1));
    float *y = tg_tensor_data(tg_randn(b, 1, &s, 0, 1));
    float *z = tg_tensor_data(tg_randn(c, 1, &s, 0, 1));
    ck_assert_mem_eq(x, y, 64 * sizeof(float));
    ck_assert(memcmp(x, z, 64 * sizeof(float)) != 0);
    double mean = 0;
    for (int i = 0; i < 64; i++)
        mean += x[i];
    ck_assert(fabs(mean / 64) < 0.5);
    tg_ctx_destroy(a);
    tg_ctx_destroy(b);
    tg_ctx_destroy(c);
}
END_TEST

START_TEST(arena_reuses_memory)
{
    tg_ctx *ctx = tgt_ctx(1);
    int64_t s[2] = {256, 1024}; /* 1 MiB each, forces several chunks */
    tg_mem_stats st;
    for (int step = 0; step < 5; step++) {
        for (int i = 0; i < 9; i++)
            ck_assert_ptr_nonnull(tg_zeros(ctx, 2, s));
        tg_ctx_mem_stats(ctx, &st);
        static uint64_t after_first;
        if (step == 0)
            after_first = st.n_allocs;
        else
            ck_assert_uint_eq(st.n_allocs, after_first);
        tg_ctx_reset(ctx);
    }
    tg_ctx_mem_stats(ctx, &st);
    ck_assert_uint_eq(st.arena_used, 0);
    ck_assert(st.arena_peak >= 9u << 20);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(null_inputs_keep_first_error)
{
    tg_ctx *ctx = tgt_ctx(1);
    int64_t a[1] = {3}, b[1] = {4};
    tg_tensor *x = tg_ones(ctx, 1, a), *y = tg_ones(ctx, 1, b);
    tg_tensor *bad = tg_add(ctx, x, y);
    ck_assert_ptr_null(bad);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "add: shapes [3] and [4] do not broadcast");
    ck_assert_ptr_null(tg_mul(ctx, bad, x)); /* propagates, keeps the first error */
    ck_assert_str_eq(tg_ctx_last_error(ctx), "add: shapes [3] and [4] do not broadcast");
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_mul(ctx, NULL, x));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_null(tg_add(NULL, x, y)); /* no ctx: just NULL */
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(backward_errors_and_accumulation)
{
    tg_ctx *ctx = tgt_ctx(1);
    int64_t s[1] = {3};
    tg_tensor *w = tgt_tensor(ctx, 1, s, (float[]){1, 2, 3}, true);
    tg_tensor *c = tg_ones(ctx, 1, s);
    ck_assert_int_eq(tg_backward(ctx, c), TG_ERR_INVALID_ARG); /* not scalar */
    ck_assert_int_eq(tg_backward(ctx, NULL), TG_ERR_INVALID_ARG);
    int64_t one[1] = {1};
    tg_tensor *k = tg_ones(ctx, 1, one);
    ck_assert_int_eq(tg_backward(ctx, k), TG_ERR_STATE);
    /* w used twice: d/dw (w*w)[0] = 2 w[0] */
    tg_tensor *one_hot = tg_from_data(ctx, 1, s, (float[]){1, 0, 0}, 3);
    tg_tensor *l = tg_mul(ctx, tg_mul(ctx, w, w), one_hot);
    /* reduce to a scalar by multiplying with broadcast: pick element 0 */
    ck_assert_ptr_nonnull(l);
    tg_tensor *scalar = tg_mul(ctx, tg_mul(ctx, w, w), tg_ones(ctx, 1, one));
    ck_assert_ptr_nonnull(scalar);
    tg_ctx_reset(ctx);
    /* scalar loss via broadcasting a [1] weight against a [1] slice */
    tg_tensor *v = tgt_tensor(ctx, 1, one, (float[]){3}, true);
    tg_tensor *loss = tg_mul(ctx, v, v);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    ck_assert_float_eq_tol(tg_tensor_grad(v)[0], 6.0f, 1e-6f);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK); /* again: leaves accumulate */
    ck_assert_float_eq_tol(tg_tensor_grad(v)[0], 12.0f, 1e-6f);
    tg_tensor_zero_grad(v);
    ck_assert_float_eq(tg_tensor_grad(v)[0], 0.0f);
    /* no-grad mode records nothing */
    bool prev = tg_ctx_set_grad_enabled(ctx, false);
    ck_assert(prev);
    tg_tensor *ng = tg_mul(ctx, v, v);
    ck_assert(!tg_tensor_requires_grad(ng));
    ck_assert_int_eq(tg_backward(ctx, ng), TG_ERR_STATE);
    tg_ctx_set_grad_enabled(ctx, true);
    ck_assert_int_eq(tg_tensor_set_requires_grad(loss, false), TG_ERR_STATE);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(anomaly_names_the_op)
{
    tg_ctx *ctx = tgt_ctx(1);
    int64_t one[1] = {1};
    tg_tensor *v = tgt_tensor(ctx, 1, one, (float[]){3}, true);
    tg_tensor *z = tg_zeros(ctx, 1, one);
    tg_tensor *loss = tg_mul(ctx, tg_div(ctx, v, z), v);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK); /* off by default */
    tg_tensor_zero_grad(v);
    ck_assert(!tg_ctx_set_detect_anomaly(ctx, true));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_NUMERIC);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "anomaly: div produced a non-finite value in its output (element 0 of [1])");
    /* finite forward, non-finite gradient: d(v/w)/dw = -v/w^2 overflows */
    tg_ctx_reset(ctx);
    tg_tensor *w = tgt_tensor(ctx, 1, one, (float[]){1e-30f}, true);
    tg_tensor *small = tgt_tensor(ctx, 1, one, (float[]){1e-30f}, false);
    loss = tg_div(ctx, v, tg_mul(ctx, w, small)); /* 3/1e-60 -> inf already in forward */
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_NUMERIC);
    tg_ctx_reset(ctx);
    ck_assert_int_eq(tg_tensor_set_data(w, (float[]){1e-20f}, 1), TG_OK);
    loss = tg_div(ctx, v, w); /* forward 3e20 finite; grad wrt w = -3e40 -> inf */
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "gradient of its input"));
    tg_ctx_destroy(ctx);
}
END_TEST

/* A copy in large enough for the pool to split its rows: every element in
 * place, for 1 to 3 threads, rows that do not divide evenly (37 = 19 + 18,
 * 13 + 12 + 12), and a 1-D tensor (rows of one float). */
START_TEST(from_data_split_rows)
{
    enum { R = 37, C = 500 };
    float *d = malloc(R * C * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (int i = 0; i < R * C; i++)
        d[i] = (float)i - 0.5f;
    for (int threads = 1; threads <= 3; threads++) {
        tg_ctx *ctx = tgt_ctx_threads(3, threads);
        tg_tensor *t = tg_from_data(ctx, 2, (int64_t[]){R, C}, d, R * C);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(memcmp(tg_tensor_data(t), d, R * C * sizeof *d), 0);
        t = tg_from_data(ctx, 3, (int64_t[]){R, 20, 25}, d, R * C);
        ck_assert_int_eq(memcmp(tg_tensor_data(t), d, R * C * sizeof *d), 0);
        t = tg_from_data(ctx, 1, (int64_t[]){R * C}, d, R * C);
        ck_assert_int_eq(memcmp(tg_tensor_data(t), d, R * C * sizeof *d), 0);
        tg_ctx_destroy(ctx);
    }
    free(d);
}
END_TEST

/* Intermediate gradients not retained (tg_ctx_set_retain_grads): a ResNet-8
 * for 3x16x16 (Winograd, strided and 1x1 layers, batch norm with ReLU and
 * the residual add, a view), plus a product with the same input twice,
 * trained three SGD steps beside the same net keeping them (its gradients
 * grow towards the input: buffers are handed on and grown). Every
 * parameter's gradient and value must match bit for bit, on 1 and 2
 * threads; intermediates keep a gradient only where retained. */
static tg_tensor *retain_step(tg_ctx *ctx, tg_module *m, tg_optim *opt, const float *xd,
                              const int32_t *ys)
{
    tg_optim_zero_grad(opt);
    tg_tensor *x = tg_from_data(ctx, 4, (int64_t[]){4, 3, 16, 16}, xd, 4 * 3 * 16 * 16);
    tg_tensor *logits = tg_module_forward(m, x);
    tg_tensor *sq = tg_mul_scalar(ctx, tg_sum_all(ctx, tg_mul(ctx, logits, logits)), 0.01f);
    tg_tensor *loss = tg_add(ctx, tg_cross_entropy(ctx, logits, ys, 4, TG_REDUCTION_MEAN), sq);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    return logits;
}

START_TEST(retain_grads_off_same_bits)
{
    const int threads = 1 + _i;
    tg_ctx *ctx[2];
    tg_module *m[2];
    tg_optim *opt[2];
    for (int k = 0; k < 2; k++) {
        ctx[k] = tgt_ctx_threads(5, threads);
        tg_resnet_cifar_options ro;
        tg_resnet_cifar_options_init(&ro, 8);
        ck_assert_int_eq(tg_nn_resnet_cifar(ctx[k], &ro, &m[k]), TG_OK);
        tg_sgd_options so;
        tg_sgd_options_init(&so);
        so.lr = 0.1f;
        so.momentum = 0.9f;
        ck_assert_int_eq(tg_sgd_create(ctx[k], m[k], &so, &opt[k]), TG_OK);
    }
    ck_assert(tg_ctx_set_retain_grads(ctx[1], false)); /* retained by default */
    ck_assert(!tg_ctx_set_retain_grads(ctx[1], false));
    float *xd = malloc(4 * 3 * 16 * 16 * sizeof *xd);
    ck_assert_ptr_nonnull(xd);
    for (int i = 0; i < 4 * 3 * 16 * 16; i++)
        xd[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    const int32_t ys[4] = {3, 1, 4, 1};
    const size_t np = tg_module_n_params(m[0]);
    for (int step = 0; step < 3; step++) {
        tg_tensor *logits[2];
        for (int k = 0; k < 2; k++)
            logits[k] = retain_step(ctx[k], m[k], opt[k], xd, ys);
        ck_assert_ptr_nonnull(tg_tensor_grad(logits[0]));
        ck_assert_ptr_null(tg_tensor_grad(logits[1]));
        for (size_t i = 0; i < np; i++) {
            const char *name;
            tg_tensor *a = tg_module_param(m[0], i, &name), *b = tg_module_param(m[1], i, NULL);
            const float *ga = tg_tensor_grad(a), *gb = tg_tensor_grad(b);
            ck_assert_ptr_nonnull(ga);
            ck_assert_ptr_nonnull(gb);
            ck_assert_msg(!memcmp(ga, gb, (size_t)tg_tensor_numel(a) * sizeof *ga),
                          "step %d: gradient of %s differs", step, name);
        }
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(tg_optim_step(opt[k]), TG_OK);
            tg_ctx_reset(ctx[k]);
        }
        for (size_t i = 0; i < np; i++) {
            const char *name;
            tg_tensor *a = tg_module_param(m[0], i, &name), *b = tg_module_param(m[1], i, NULL);
            ck_assert_msg(!memcmp(tg_tensor_data(a), tg_tensor_data(b),
                                  (size_t)tg_tensor_numel(a) * sizeof(float)),
                          "step %d: %s differs", step, name);
        }
    }
    free(xd);
    for (int k = 0; k < 2; k++)
        tg_ctx_destroy(ctx[k]);
}
END_TEST

/* A graph of 70 [64, 64] results where most have two consumers and many
 * ops two inputs: not retaining, buffers pass from one result to the next
 * (never to two live ones: the input's gradient the same bits), and the
 * arena holds far fewer of them. */
static tg_tensor *dag_loss(tg_ctx *ctx, tg_tensor *x)
{
    tg_tensor *h[24];
    h[0] = tg_tanh(ctx, x);
    for (int i = 1; i < 24; i++) {
        tg_tensor *a = h[i - 1], *b = h[i / 2];
        h[i] = i % 3 == 0   ? tg_tanh(ctx, tg_mul(ctx, a, b))
               : i % 3 == 1 ? tg_add(ctx, tg_tanh(ctx, a), b)
                            : tg_mul(ctx, tg_tanh(ctx, a), tg_tanh(ctx, b));
    }
    return tg_sum_all(ctx, h[23]);
}

START_TEST(retain_grads_off_reuses_buffers)
{
    size_t peak[2];
    float *g[2];
    const int64_t n = 64 * 64;
    for (int k = 0; k < 2; k++) {
        tg_ctx *ctx = tgt_ctx(3);
        ck_assert(tg_ctx_set_retain_grads(ctx, k == 0));
        tg_tensor *x = tgt_rand(ctx, 2, (int64_t[]){64, 64}, -1, 1, true);
        ck_assert_int_eq(tg_backward(ctx, dag_loss(ctx, x)), TG_OK);
        g[k] = malloc((size_t)n * sizeof(float));
        ck_assert_ptr_nonnull(g[k]);
        memcpy(g[k], tg_tensor_grad(x), (size_t)n * sizeof(float));
        tg_mem_stats ms;
        tg_ctx_mem_stats(ctx, &ms);
        peak[k] = ms.arena_peak;
        tg_ctx_destroy(ctx);
    }
    ck_assert(!memcmp(g[0], g[1], (size_t)n * sizeof(float)));
    const size_t buf = (size_t)n * sizeof(float);
    ck_assert_msg(peak[0] >= peak[1] + 40 * buf, "arena peak %zu retained, %zu not", peak[0],
                  peak[1]);
    free(g[0]);
    free(g[1]);
}
END_TEST

/* Not retained, views (reshape, flatten): the first op to reach a view's
 * input may be the view, which then hands its gradient buffer on; others
 * reaching the input later add into it. Graphs where the view is first and
 * where it is not, a chain of views, two views of one tensor, a view as the
 * loss: the leaf's gradient must match the retained run (which copies)
 * bit for bit. (A view that added into the buffer it shares failed graphs
 * 0, 2 and 3.) */
static tg_tensor *view_loss(tg_ctx *ctx, tg_tensor *x, int shape)
{
    const int64_t r[2] = {128, 512}, s3[3] = {4, 64, 256};
    tg_tensor *u = tg_tanh(ctx, x); /* [256, 256]: an intermediate */
    tg_tensor *a = tg_flatten(ctx, u, 0, 1);
    tg_tensor *other = tg_sum_all(ctx, tg_mul_scalar(ctx, u, 3.0f));
    tg_tensor *sq = tg_sum_all(ctx, tg_mul(ctx, a, a));
    switch (shape) {
    case 0: /* the view reaches u first: built last */
        return tg_add(ctx, other, sq);
    case 1: /* the product reaches u first */
        return tg_add(ctx, sq, other);
    case 2: { /* a chain of views, then a second view of u */
        tg_tensor *b = tg_reshape(ctx, tg_flatten(ctx, u, 0, 1), 3, s3);
        tg_tensor *c = tg_reshape(ctx, u, 2, r);
        return tg_add(ctx, tg_sum_all(ctx, tg_mul(ctx, c, c)),
                      tg_sum_all(ctx, tg_mul(ctx, b, tg_tanh(ctx, b))));
    }
    default: /* a view as the loss */
        return tg_reshape(ctx, sq, 1, (const int64_t[]){1});
    }
}

START_TEST(retain_grads_off_views)
{
    const int64_t n = 256 * 256;
    float *g[2];
    for (int k = 0; k < 2; k++) {
        tg_ctx *ctx = tgt_ctx(11);
        ck_assert(tg_ctx_set_retain_grads(ctx, k == 0));
        tg_tensor *x = tgt_rand(ctx, 2, (int64_t[]){256, 256}, -1, 1, true);
        ck_assert_int_eq(tg_backward(ctx, view_loss(ctx, x, _i)), TG_OK);
        g[k] = malloc((size_t)n * sizeof(float));
        ck_assert_ptr_nonnull(g[k]);
        memcpy(g[k], tg_tensor_grad(x), (size_t)n * sizeof(float));
        tg_ctx_destroy(ctx);
    }
    ck_assert_msg(!memcmp(g[0], g[1], (size_t)n * sizeof(float)), "graph %d", _i);
    free(g[0]);
    free(g[1]);
}
END_TEST

/* Not retained: backward twice on one graph (the leaf accumulates, its
 * intermediates rebuilt each time); an anomaly leaves no intermediate a
 * gradient and the leaf's settled. */
START_TEST(retain_grads_off_twice_and_anomaly)
{
    tg_ctx *ctx = tgt_ctx(1);
    const int64_t s[1] = {4};
    tg_tensor *p = tgt_tensor(ctx, 1, s, (float[]){1, 2, 3, 4}, true);
    tg_tensor *h = tg_mul(ctx, p, p);
    tg_tensor *loss = tg_add(ctx, tg_sum_all(ctx, h), tg_sum_all(ctx, tg_mul_scalar(ctx, h, 2)));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK); /* retained: h keeps a buffer */
    tgt_assert_close(tg_tensor_grad(h), ((float[]){3, 3, 3, 3}), 4, 0, 0);
    ck_assert(tg_ctx_set_retain_grads(ctx, false));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK); /* h's kept gradient restarts at 0 */
    tgt_assert_close(tg_tensor_grad(p), ((float[]){12, 24, 36, 48}), 4, 0, 0);
    ck_assert_ptr_null(tg_tensor_grad(h));
    ck_assert_ptr_null(tg_tensor_grad(loss));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    tgt_assert_close(tg_tensor_grad(p), ((float[]){18, 36, 54, 72}), 4, 0, 0);
    ck_assert_ptr_null(tg_tensor_grad(h));
    tg_ctx_reset(ctx);
    tg_tensor_zero_grad(p);
    ck_assert(!tg_ctx_set_detect_anomaly(ctx, true));
    const int64_t one[1] = {1};
    tg_tensor *w = tgt_tensor(ctx, 1, one, (float[]){1e-20f}, true);
    tg_tensor *q = tg_mul(ctx, tg_sum_all(ctx, p), w);
    tg_tensor *r = tg_div(ctx, tgt_tensor(ctx, 1, one, (float[]){3}, false), q);
    ck_assert_int_eq(tg_backward(ctx, r), TG_ERR_NUMERIC); /* d r / d q = -3e-40 / ... inf */
    ck_assert_ptr_null(tg_tensor_grad(q));
    ck_assert_ptr_null(tg_tensor_grad(r));
    for (int i = 0; i < 4; i++)
        ck_assert(tg_tensor_grad(p)[i] == 0.0f);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches);
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, ctx_create_errors);
    tcase_add_test(tc, tensor_create_and_query);
    tcase_add_test(tc, tensor_create_bad_shapes);
    tcase_add_test(tc, transient_creators);
    tcase_add_test(tc, from_data_split_rows);
    tcase_add_test(tc, rng_is_seeded);
    tcase_add_test(tc, arena_reuses_memory);
    tcase_add_test(tc, null_inputs_keep_first_error);
    tcase_add_test(tc, backward_errors_and_accumulation);
    tcase_add_test(tc, anomaly_names_the_op);
    tcase_add_loop_test(tc, retain_grads_off_same_bits, 0, 2);
    tcase_add_test(tc, retain_grads_off_reuses_buffers);
    tcase_add_loop_test(tc, retain_grads_off_views, 0, 4);
    tcase_add_test(tc, retain_grads_off_twice_and_anomaly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
