/* SPDX-License-Identifier: MIT */
/* Modules: the registry (names, nesting, dotted listings, errors, ownership
 * on destroy), train/eval, zero_grad, and the built-in layers (types,
 * PyTorch default initialisation ranges, state listing, forward). */
#include "tg_test.h"

#include "tg_internal.h"

/* ---- a counting allocator, to see that destroy frees everything ---------- */

typedef struct {
    long live;
} counter;

static void *count_alloc(void *opaque, size_t size)
{
    ((counter *)opaque)->live++;
    return malloc(size);
}

static void count_free(void *opaque, void *p)
{
    ((counter *)opaque)->live--;
    free(p);
}

static tg_ctx *counting_ctx(counter *c)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = 1;
    o.alloc = count_alloc;
    o.free = count_free;
    o.alloc_opaque = c;
    tg_ctx *ctx = NULL;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_OK);
    return ctx;
}

/* ---- a user module type: y = x * scale (+ an optional "bias" param) ------ */

static int destroyed_userdata;

static tg_tensor *scale_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    tg_tensor *s = tg_module_find(self, "scale");
    return tg_mul(ctx, x, s);
}

static void count_destroy(void *userdata)
{
    (void)userdata;
    destroyed_userdata++;
}

static const tg_module_vtable scale_vt = {sizeof(tg_module_vtable), "Scale", scale_forward,
                                          count_destroy};
static const tg_module_vtable box_vt = {sizeof(tg_module_vtable), "Box", NULL, NULL};

static const int64_t S1[1] = {1}, S23[2] = {2, 3}, S3[1] = {3};

static tg_module *new_module(tg_ctx *ctx, const tg_module_vtable *vt)
{
    tg_module *m = NULL;
    ck_assert_int_eq(tg_module_create(ctx, vt, NULL, &m), TG_OK);
    return m;
}

START_TEST(create_and_query)
{
    tg_ctx *ctx = tgt_ctx(1);
    int ud = 7;
    tg_module *m = NULL;
    ck_assert_int_eq(tg_module_create(ctx, &scale_vt, &ud, &m), TG_OK);
    ck_assert_str_eq(tg_module_type(m), "Scale");
    ck_assert_ptr_eq(tg_module_userdata(m), &ud);
    ck_assert_ptr_eq(tg_module_ctx(m), ctx);
    ck_assert(tg_module_is_training(m));
    ck_assert_uint_eq(tg_module_n_params(m), 0);
    ck_assert_uint_eq(tg_module_n_state(m), 0);
    ck_assert_ptr_null(tg_module_param(m, 0, NULL));

    tg_tensor *w = NULL, *b = NULL;
    ck_assert_int_eq(tg_module_add_param(m, "scale", 1, S1, &w), TG_OK);
    ck_assert_int_eq(tg_module_add_buffer(m, "count", 2, S23, &b), TG_OK);
    ck_assert(tg_tensor_requires_grad(w));
    ck_assert(!tg_tensor_requires_grad(b));
    ck_assert(tg_tensor_is_persistent(w) && tg_tensor_is_persistent(b));
    ck_assert_float_eq(tg_tensor_data(b)[5], 0.0f); /* zero-filled */
    ck_assert_int_eq(tg_module_n_weights(m), 1);
    ck_assert_uint_eq(tg_module_n_state(m), 2);

    /* Module tensors refuse tg_tensor_destroy (the module frees them). */
    tg_tensor_destroy(w);
    tg_tensor_fill(w, 3.0f);
    ck_assert_ptr_eq(tg_module_find(m, "scale"), w);

    /* Forward through the vtable. */
    tg_tensor *x = tg_from_data(ctx, 1, S3, (float[]){1, 2, 3}, 3);
    tgt_assert_tensor(tg_module_forward(m, x), ((float[]){3, 6, 9}), 3, 0);
    destroyed_userdata = 0;
    tg_module_destroy(m);
    /* The step's graph reads its parameter: freed by the next reset. */
    ck_assert_int_eq(destroyed_userdata, 0);
    tg_ctx_reset(ctx);
    ck_assert_int_eq(destroyed_userdata, 1);
    tg_module_destroy(NULL);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(create_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = (tg_module *)&ctx;
    tg_module *const sentinel = m;
    ck_assert_int_eq(tg_module_create(NULL, &box_vt, NULL, &m), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_create(ctx, NULL, NULL, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "vtable is NULL"));
    tg_module_vtable bad = box_vt;
    bad.struct_size = 4;
    ck_assert_int_eq(tg_module_create(ctx, &bad, NULL, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "struct_size"));
    bad = box_vt;
    bad.type_name = "";
    ck_assert_int_eq(tg_module_create(ctx, &bad, NULL, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(m, sentinel);
    ck_assert_int_eq(tg_module_create(ctx, &box_vt, NULL, NULL), TG_ERR_INVALID_ARG);

    /* A module without forward: TG_ERR_STATE; a NULL input keeps the first error. */
    m = new_module(ctx, &box_vt);
    tg_ctx_clear_error(ctx);
    tg_tensor *x = tg_zeros(ctx, 1, S3);
    ck_assert_ptr_null(tg_module_forward(m, x));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "Box"));
    ck_assert_ptr_null(tg_module_forward(m, NULL));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_STATE);
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_module_forward(m, NULL));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_null(tg_module_forward(NULL, x));
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(name_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = new_module(ctx, &box_vt);
    tg_tensor *t = NULL, *keep = (tg_tensor *)&m;
    ck_assert_int_eq(tg_module_add_param(m, "weight", 1, S3, &t), TG_OK);
    tg_module *c = new_module(ctx, &box_vt);
    ck_assert_int_eq(tg_module_add_child(m, "sub", c), TG_OK);

    struct {
        const char *name, *msg;
    } bad[] = {{NULL, "name is NULL"},
               {"", "name is empty"},
               {"a.b", "\"a.b\" contains a dot"},
               {"weight", "named \"weight\""},
               {"sub", "named \"sub\""}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        for (int kind = 0; kind < 3; kind++) {
            tg_ctx_clear_error(ctx);
            t = keep;
            tg_status s;
            tg_module *orphan = NULL;
            if (kind == 0)
                s = tg_module_add_param(m, bad[k].name, 1, S3, &t);
            else if (kind == 1)
                s = tg_module_add_buffer(m, bad[k].name, 1, S3, &t);
            else {
                orphan = new_module(ctx, &box_vt);
                s = tg_module_add_child(m, bad[k].name, orphan);
            }
            ck_assert_int_eq(s, TG_ERR_INVALID_ARG);
            ck_assert_msg(strstr(tg_ctx_last_error(ctx), bad[k].msg) != NULL,
                          "kind %d: \"%s\" lacks \"%s\"", kind, tg_ctx_last_error(ctx),
                          bad[k].msg);
            ck_assert_ptr_eq(t, keep);
            /* On error the child is still the caller's: destroying it works. */
            tg_module_destroy(orphan);
        }
    }
    /* Bad shape: the tensor error is reported, naming the parameter. */
    int64_t neg = -2;
    ck_assert_int_eq(tg_module_add_param(m, "neg", 1, &neg, &t), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "\"neg\""));
    ck_assert_int_eq(tg_module_add_param(m, "x", 1, S3, NULL), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_add_param(NULL, "x", 1, S3, &t), TG_ERR_INVALID_ARG);
    /* Nothing was added. */
    ck_assert_uint_eq(tg_module_n_state(m), 1);
    ck_assert_uint_eq(tg_module_n_children(m), 1);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* root { a [2,3], features { "0" { weight [3], bias [1], buffer running [3] },
 *                           "1" { } }, head { w [1] } }, with b [3] on root. */
static tg_module *build_tree(tg_ctx *ctx)
{
    tg_tensor *t;
    tg_module *root = new_module(ctx, &box_vt), *features = new_module(ctx, &box_vt);
    tg_module *f0 = new_module(ctx, &box_vt), *f1 = new_module(ctx, &box_vt);
    tg_module *head = new_module(ctx, &box_vt);
    ck_assert_int_eq(tg_module_add_param(root, "a", 2, S23, &t), TG_OK);
    ck_assert_int_eq(tg_module_add_child(root, "features", features), TG_OK);
    ck_assert_int_eq(tg_module_add_param(f0, "weight", 1, S3, &t), TG_OK);
    ck_assert_int_eq(tg_module_add_buffer(f0, "running", 1, S3, &t), TG_OK);
    ck_assert_int_eq(tg_module_add_param(f0, "bias", 1, S1, &t), TG_OK);
    ck_assert_int_eq(tg_module_add_child(features, "0", f0), TG_OK);
    ck_assert_int_eq(tg_module_add_child(features, "1", f1), TG_OK);
    ck_assert_int_eq(tg_module_add_param(head, "w", 1, S1, &t), TG_OK);
    ck_assert_int_eq(tg_module_add_child(root, "head", head), TG_OK);
    ck_assert_int_eq(tg_module_add_param(root, "b", 1, S3, &t), TG_OK);
    return root;
}

START_TEST(nested_listing)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *root = build_tree(ctx);
    /* PyTorch order: own params, own buffers, then children depth-first. */
    static const char *params[] = {"a", "b", "features.0.weight", "features.0.bias", "head.w"};
    static const char *state[] = {"a", "b", "features.0.weight", "features.0.bias",
                                  "features.0.running", "head.w"};
    ck_assert_uint_eq(tg_module_n_params(root), 5);
    ck_assert_uint_eq(tg_module_n_state(root), 6);
    for (size_t i = 0; i < 5; i++) {
        const char *name = NULL;
        tg_tensor *p = tg_module_param(root, i, &name);
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(name, params[i]);
        ck_assert_ptr_eq(tg_module_find(root, params[i]), p);
        ck_assert(tg_tensor_requires_grad(p));
    }
    for (size_t i = 0; i < 6; i++) {
        const char *name = NULL;
        bool is_param = false;
        tg_tensor *t = tg_module_state(root, i, &name, &is_param);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(name, state[i]);
        ck_assert(is_param == (i != 4));
    }
    ck_assert_ptr_null(tg_module_param(root, 5, NULL));
    ck_assert_ptr_null(tg_module_state(root, 6, NULL, NULL));
    ck_assert_int_eq(tg_module_n_weights(root), 6 + 3 + 3 + 1 + 1);

    /* Children and find. */
    ck_assert_uint_eq(tg_module_n_children(root), 2);
    tg_module *features = tg_module_child_by_name(root, "features");
    ck_assert_ptr_eq(tg_module_child(root, 0), features);
    ck_assert_ptr_null(tg_module_child(root, 2));
    ck_assert_ptr_null(tg_module_child_by_name(root, "feat"));
    ck_assert_ptr_null(tg_module_find(root, "features.0"));
    ck_assert_ptr_null(tg_module_find(root, "features.2.weight"));
    ck_assert_ptr_null(tg_module_find(root, "features.0.weight.x"));
    ck_assert_ptr_null(tg_module_find(root, "featur.0.weight"));
    ck_assert_ptr_null(tg_module_find(root, ""));
    ck_assert_ptr_nonnull(tg_module_find(root, "features.0.running"));

    /* A listing from a child uses names relative to it. */
    const char *name = NULL;
    ck_assert_ptr_nonnull(tg_module_param(features, 1, &name));
    ck_assert_str_eq(name, "0.bias");

    /* A change deep below the root shows up in the root's listing. */
    tg_module *f1 = tg_module_child_by_name(features, "1");
    tg_tensor *t;
    ck_assert_int_eq(tg_module_add_param(f1, "gamma", 1, S3, &t), TG_OK);
    ck_assert_uint_eq(tg_module_n_params(root), 6);
    ck_assert_ptr_eq(tg_module_param(root, 4, &name), t);
    ck_assert_str_eq(name, "features.1.gamma");
    ck_assert_ptr_eq(tg_module_param(features, 2, &name), t);
    ck_assert_str_eq(name, "1.gamma");
    tg_module_destroy(root);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(ctx_destroy_releases_everything)
{
    /* Modules and optimisers the caller never destroyed go with the ctx. */
    counter c = {0};
    tg_ctx *ctx = counting_ctx(&c);
    tg_module *root = build_tree(ctx);
    tg_module *lone = new_module(ctx, &box_vt);
    (void)lone;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, root, NULL, &opt), TG_OK);
    (void)tg_module_param(root, 0, NULL);
    ck_assert_int_gt(c.live, 0);
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

START_TEST(ownership)
{
    counter c = {0};
    tg_ctx *ctx = counting_ctx(&c);
    long base = c.live;
    tg_module *root = build_tree(ctx);
    tg_module *features = tg_module_child_by_name(root, "features");
    (void)tg_module_param(root, 0, NULL);     /* build the caches too */
    (void)tg_module_param(features, 0, NULL);
    ck_assert_int_gt(c.live, base);

    /* A module owned by a parent is not destroyed on request. */
    tg_module_destroy(features);
    ck_assert_ptr_eq(tg_module_child_by_name(root, "features"), features);
    ck_assert_ptr_nonnull(tg_module_find(features, "0.weight"));

    tg_ctx_clear_error(ctx);
    /* Errors: a child that already has a parent, a cycle, itself, NULL. */
    tg_module *other = new_module(ctx, &box_vt);
    ck_assert_int_eq(tg_module_add_child(other, "f", features), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "already has an owner"));
    ck_assert_int_eq(tg_module_add_child(features, "root", root), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "cycle"));
    ck_assert_int_eq(tg_module_add_child(other, "me", other), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_add_child(other, "x", NULL), TG_ERR_INVALID_ARG);
    ck_assert_uint_eq(tg_module_n_children(other), 0);

    /* A child from another context is refused. */
    tg_ctx *ctx2 = tgt_ctx(2);
    tg_module *alien = new_module(ctx2, &box_vt);
    ck_assert_int_eq(tg_module_add_child(other, "alien", alien), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "another context"));
    tg_module_destroy(alien);
    tg_ctx_destroy(ctx2);

    tg_module_destroy(other);
    tg_module_destroy(root);
    ck_assert_int_eq(c.live, base); /* everything freed, parameters included */

    /* A module with a user destroy callback inside a tree gets it called. */
    destroyed_userdata = 0;
    root = new_module(ctx, &box_vt);
    ck_assert_int_eq(tg_module_add_child(root, "s", new_module(ctx, &scale_vt)), TG_OK);
    tg_module_destroy(root);
    ck_assert_int_eq(destroyed_userdata, 1);
    ck_assert_int_eq(c.live, base);
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

START_TEST(train_eval_zero_grad)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *root = build_tree(ctx);
    tg_module *f0 = tg_module_child_by_name(tg_module_child_by_name(root, "features"), "0");
    tg_module_train(root, false);
    ck_assert(!tg_module_is_training(root));
    ck_assert(!tg_module_is_training(f0));
    tg_module_train(f0, true);
    ck_assert(tg_module_is_training(f0));
    ck_assert(!tg_module_is_training(root));
    tg_module_train(root, true);
    ck_assert(tg_module_is_training(tg_module_child_by_name(root, "head")));

    /* Backward through every parameter, then zero_grad clears them all. */
    tg_tensor *loss = NULL;
    size_t n = tg_module_n_params(root);
    for (size_t i = 0; i < n; i++) {
        tg_tensor *p = tg_module_param(root, i, NULL);
        tg_tensor_fill(p, 1.0f);
        tg_tensor *s = tg_sum_all(ctx, p);
        loss = loss ? tg_add(ctx, loss, s) : s;
    }
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(tg_tensor_grad(tg_module_param(root, i, NULL))[0], 1.0f);
    tg_module_zero_grad(root);
    for (size_t i = 0; i < n; i++) {
        tg_tensor *p = tg_module_param(root, i, NULL);
        for (int64_t k = 0; k < tg_tensor_numel(p); k++)
            ck_assert_float_eq(tg_tensor_grad(p)[k], 0.0f);
    }
    ck_assert_ptr_null(tg_tensor_grad(tg_module_find(root, "features.0.running")));
    tg_module_destroy(root);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- built-in layers ------------------------------------------------------- */

/* Every element in [-bound, bound], spread over it (not all ~0 or one sign). */
static void assert_uniform_init(tg_tensor *t, double bound)
{
    const float *d = tg_tensor_data(t);
    int64_t n = tg_tensor_numel(t);
    float lo = d[0], hi = d[0];
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(fabs(d[i]) <= bound, "element %lld = %g outside +-%g", (long long)i,
                      (double)d[i], bound);
        lo = d[i] < lo ? d[i] : lo;
        hi = d[i] > hi ? d[i] : hi;
    }
    if (n >= 50) {
        ck_assert_double_lt(lo, -0.8 * bound);
        ck_assert_double_gt(hi, 0.8 * bound);
    }
}

START_TEST(linear_conv_init_and_forward)
{
    tg_ctx *ctx = tgt_ctx(3);
    tg_module *lin = NULL, *conv = NULL, *nob = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 100, 10, true, &lin), TG_OK);
    ck_assert_str_eq(tg_module_type(lin), "Linear");
    tg_tensor *w = tg_module_find(lin, "weight"), *b = tg_module_find(lin, "bias");
    ck_assert_int_eq(tg_tensor_dim(w, 0), 10);
    ck_assert_int_eq(tg_tensor_dim(w, 1), 100);
    assert_uniform_init(w, 0.1);
    assert_uniform_init(b, 0.1);
    ck_assert_int_eq(tg_module_n_weights(lin), 1010);

    /* Conv2d(6, 4, 3, groups 2): fan_in = 6/2*3*3 = 27. */
    ck_assert_int_eq(tg_conv2d_create(ctx, 6, 4, 3, 1, 1, 1, 2, true, &conv), TG_OK);
    ck_assert_str_eq(tg_module_type(conv), "Conv2d");
    w = tg_module_find(conv, "weight");
    static const int64_t wshape[4] = {4, 3, 3, 3};
    ck_assert_int_eq(tg_tensor_ndim(w), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(tg_tensor_dim(w, i), wshape[i]);
    assert_uniform_init(w, 1.0 / sqrt(27.0));
    assert_uniform_init(tg_module_find(conv, "bias"), 1.0 / sqrt(27.0));

    ck_assert_int_eq(tg_conv2d_create(ctx, 2, 2, 3, 1, 0, 1, 1, false, &nob), TG_OK);
    ck_assert_uint_eq(tg_module_n_params(nob), 1);
    ck_assert_ptr_null(tg_module_find(nob, "bias"));

    /* Forward equals the functional op with the module's tensors. */
    static const int64_t xs[4] = {2, 6, 5, 5};
    tg_tensor *x = tg_rand(ctx, 4, xs, -1, 1);
    tg_tensor *y = tg_module_forward(conv, x);
    tg_tensor *ref = tg_conv2d(ctx, x, tg_module_find(conv, "weight"),
                               tg_module_find(conv, "bias"), 1, 1, 1, 2);
    ck_assert_ptr_nonnull(y);
    tgt_assert_close(tg_tensor_data(y), tg_tensor_data(ref), (size_t)tg_tensor_numel(ref), 0, 0);
    static const int64_t ls[2] = {3, 100};
    x = tg_rand(ctx, 2, ls, -1, 1);
    y = tg_module_forward(lin, x);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 10);

    /* Same seed, same initial weights. */
    tg_ctx *ctx2 = tgt_ctx(3);
    tg_module *lin2 = NULL;
    ck_assert_int_eq(tg_linear_create(ctx2, 100, 10, true, &lin2), TG_OK);
    tgt_assert_close(tg_tensor_data(tg_module_find(lin2, "weight")),
                     tg_tensor_data(tg_module_find(lin, "weight")), 1000, 0, 0);
    tg_module_destroy(lin2);
    tg_ctx_destroy(ctx2);

    tg_module_destroy(lin);
    tg_module_destroy(conv);
    tg_module_destroy(nob);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(layer_create_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = (tg_module *)&ctx;
    tg_module *const sentinel = m;
#define BAD(call, text)                                                                        \
    do {                                                                                       \
        tg_ctx_clear_error(ctx);                                                               \
        ck_assert_int_eq((call), TG_ERR_INVALID_ARG);                                          \
        ck_assert_msg(strstr(tg_ctx_last_error(ctx), text) != NULL, "\"%s\" lacks \"%s\"",     \
                      tg_ctx_last_error(ctx), text);                                           \
        ck_assert_ptr_eq(m, sentinel);                                                         \
    } while (0)
    BAD(tg_linear_create(ctx, 0, 10, true, &m), "linear_create");
    BAD(tg_linear_create(ctx, 10, -1, true, &m), "out -1");
    BAD(tg_conv2d_create(ctx, 3, 4, 0, 1, 0, 1, 1, true, &m), "kernel 0");
    BAD(tg_conv2d_create(ctx, 3, 4, 3, 1, -1, 1, 1, true, &m), "padding -1");
    BAD(tg_conv2d_create(ctx, 3, 4, 3, 1, 0, 1, 2, true, &m), "divisible by groups 2");
    BAD(tg_maxpool2d_create(ctx, 2, 0, 2, &m), "padding 2");
    BAD(tg_avgpool2d_create(ctx, 0, 0, 0, &m), "kernel 0");
    BAD(tg_dropout_create(ctx, 1.5f, &m), "1.5");
    BAD(tg_batchnorm2d_create(ctx, 0, 1e-5f, 0.1f, &m), "channels 0");
    BAD(tg_batchnorm2d_create(ctx, 4, 1e-5f, 2.0f, &m), "momentum 2");
    BAD(tg_relu_create(ctx, NULL), "out is NULL");
    BAD(tg_sequential_create(ctx, NULL), "out is NULL");
#undef BAD
    ck_assert_int_eq(tg_linear_create(NULL, 1, 1, true, &m), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(m, sentinel);

    /* Forward errors come from the op and name it. */
    tg_module *lin = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 4, 2, true, &lin), TG_OK);
    static const int64_t xs[2] = {3, 5};
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_module_forward(lin, tg_zeros(ctx, 2, xs)));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    /* Appending to something that is not a Sequential. */
    tg_module *relu = NULL;
    ck_assert_int_eq(tg_relu_create(ctx, &relu), TG_OK);
    ck_assert_int_eq(tg_sequential_append(lin, relu), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "not a Sequential"));
    tg_module_destroy(relu); /* still ours */
    tg_module_destroy(lin);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(sequential_cnn_listing)
{
    /* The seed CNN: names and shapes as PyTorch's state_dict. */
    counter c = {0};
    tg_ctx *ctx = counting_ctx(&c);
    tg_module *seq = NULL, *l = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_conv2d_create(ctx, 1, 3, 3, 1, 1, 1, 1, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_relu_create(ctx, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_batchnorm2d_create(ctx, 3, 1e-5f, 0.1f, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_maxpool2d_create(ctx, 2, 0, 0, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_dropout_create(ctx, 0.5f, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_flatten_create(ctx, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_linear_create(ctx, 3 * 14 * 14, 10, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_str_eq(tg_module_type(seq), "Sequential");
    static const char *types[] = {"Conv2d",  "ReLU",    "BatchNorm2d", "MaxPool2d",
                                  "Dropout", "Flatten", "Linear"};
    for (size_t i = 0; i < 7; i++)
        ck_assert_str_eq(tg_module_type(tg_module_child(seq, i)), types[i]);

    static const char *state[] = {"0.weight",          "0.bias",
                                  "2.weight",          "2.bias",
                                  "2.running_mean",    "2.running_var",
                                  "2.num_batches_tracked", "6.weight",
                                  "6.bias"};
    ck_assert_uint_eq(tg_module_n_state(seq), 9);
    ck_assert_uint_eq(tg_module_n_params(seq), 6);
    for (size_t i = 0; i < 9; i++) {
        const char *name;
        bool is_param;
        ck_assert_ptr_nonnull(tg_module_state(seq, i, &name, &is_param));
        ck_assert_str_eq(name, state[i]);
        ck_assert(is_param == (i < 4 || i > 6));
    }
    /* BatchNorm defaults: weight 1, bias 0, running_mean 0, running_var 1. */
    ck_assert_float_eq(tg_tensor_data(tg_module_find(seq, "2.weight"))[2], 1.0f);
    ck_assert_float_eq(tg_tensor_data(tg_module_find(seq, "2.bias"))[2], 0.0f);
    ck_assert_float_eq(tg_tensor_data(tg_module_find(seq, "2.running_mean"))[0], 0.0f);
    ck_assert_float_eq(tg_tensor_data(tg_module_find(seq, "2.running_var"))[1], 1.0f);
    ck_assert_int_eq(tg_module_n_weights(seq), 30 + 6 + 5880 + 10);

    /* Training forward: shape [4, 10]; BatchNorm counts the batch and moves
     * its running mean. Eval forward is deterministic and does not. */
    static const int64_t xs[4] = {4, 1, 28, 28};
    tg_tensor *x = tg_rand(ctx, 4, xs, 0, 1);
    tg_tensor *y = tg_module_forward(seq, x);
    ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
    ck_assert_int_eq(tg_tensor_dim(y, 0), 4);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 10);
    tg_tensor *nbt = tg_module_find(seq, "2.num_batches_tracked");
    ck_assert_float_eq(tg_tensor_data(nbt)[0], 1.0f);
    float rm = tg_tensor_data(tg_module_find(seq, "2.running_mean"))[0];
    ck_assert_float_ne(rm, 0.0f);
    tg_module_train(seq, false);
    tg_tensor *e1 = tg_module_forward(seq, x), *e2 = tg_module_forward(seq, x);
    tgt_assert_close(tg_tensor_data(e1), tg_tensor_data(e2), 40, 0, 0);
    ck_assert_float_eq(tg_tensor_data(nbt)[0], 1.0f);
    ck_assert_float_eq(tg_tensor_data(tg_module_find(seq, "2.running_mean"))[0], rm);

    /* Dropout follows its module's flag: in training (p 0.5) about half the
     * activations vanish, in eval none. */
    tg_module *drop = tg_module_child(seq, 4);
    static const int64_t ds[1] = {1000};
    tg_tensor *ones = tg_ones(ctx, 1, ds);
    tg_tensor *de = tg_module_forward(drop, ones);
    tgt_assert_tensor(de, tg_tensor_data(ones), 1000, 0);
    tg_module_train(drop, true);
    tg_tensor *dt = tg_module_forward(drop, ones);
    int zeros = 0;
    for (int i = 0; i < 1000; i++)
        zeros += tg_tensor_data(dt)[i] == 0.0f;
    ck_assert_int_gt(zeros, 400);
    ck_assert_int_lt(zeros, 600);

    tg_ctx_reset(ctx);
    tg_module_destroy(seq);
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(c.live, 0); /* userdata and registry freed too */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("module");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, create_and_query);
    tcase_add_test(tc, create_errors);
    tcase_add_test(tc, name_errors);
    tcase_add_test(tc, nested_listing);
    tcase_add_test(tc, ownership);
    tcase_add_test(tc, train_eval_zero_grad);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_add_test(tc, linear_conv_init_and_forward);
    tcase_add_test(tc, layer_create_errors);
    tcase_add_test(tc, sequential_cnn_listing);
    tcase_add_test(tc, ctx_destroy_releases_everything);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
