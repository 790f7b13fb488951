/* SPDX-License-Identifier: MIT */
/* Built-in layers, each a static tg_module_vtable over the public registry:
 * the same interface a user-defined module has. Parameters are initialised
 * like PyTorch's defaults (kaiming_uniform(a=sqrt(5)) for weights, i.e.
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for biases) from
 * the context RNG. Userdata holds the configuration and borrowed pointers to
 * the layer's own tensors, so forward never looks names up. */
#include "tg_internal.h"
#include "nn_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

/* Every layer's userdata starts with the ctx: destroy_userdata gets only the
 * pointer, and needs the ctx's allocator to free it. */
typedef struct {
    tg_ctx *ctx;
} layer_base;

static void free_layer(void *userdata)
{
    if (userdata)
        tg__free(((layer_base *)userdata)->ctx, userdata);
}

/* Create a module with zeroed userdata of @p size (ctx filled in). On error
 * nothing is left allocated. */
static tg_status new_layer(tg_ctx *ctx, const char *who, const tg_module_vtable *vt, size_t size,
                           tg_module **out, void **ud)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: out is NULL", who);
    layer_base *u = NULL;
    if (size) {
        u = tg__calloc(ctx, 1, size);
        if (!u)
            return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
        u->ctx = ctx;
    }
    tg_status s = tg_module_create(ctx, vt, u, out);
    if (s != TG_OK)
        tg__free(ctx, u);
    else if (ud)
        *ud = u;
    return s;
}

/* Add weight (and bias) initialised U(-bound, bound) with bound =
 * 1/sqrt(fan_in), weight first as PyTorch's reset_parameters(). */
static tg_status add_weight_bias(tg_module *m, int ndim, const int64_t *wshape, int64_t out_dim,
                                 bool bias, int64_t fan_in, tg_tensor **w, tg_tensor **b)
{
    tg_status s = tg_module_add_param(m, "weight", ndim, wshape, w);
    if (s != TG_OK)
        return s;
    float bound = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
    tg_tensor_uniform_(*w, -bound, bound);
    *b = NULL;
    if (!bias)
        return TG_OK;
    s = tg_module_add_param(m, "bias", 1, &out_dim, b);
    if (s == TG_OK)
        tg_tensor_uniform_(*b, -bound, bound);
    return s;
}

/* Finish a creator: on error destroy the half-built module (*out untouched). */
static tg_status finish(tg_module *m, tg_status s, tg_module **out)
{
    if (s != TG_OK) {
        tg_module_destroy(m);
        return s;
    }
    *out = m;
    return TG_OK;
}

/* ---- Linear ------------------------------------------------------------------ */

typedef struct {
    tg_ctx *ctx;
    tg_tensor *w, *b;
} linear_ud;

static tg_tensor *linear_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const linear_ud *u = tg_module_userdata(self);
    return tg_linear(ctx, x, u->w, u->b);
}

static const tg_module_vtable linear_vt = {sizeof(tg_module_vtable), "Linear", linear_forward,
                                           free_layer};

static tg_status linear_make(tg_ctx *ctx, const char *who, int64_t in_features,
                             int64_t out_features, bool bias, tg_module **out)
{
    if (ctx && (in_features <= 0 || out_features <= 0))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: features must be positive (in %lld, out %lld)", who,
                         (long long)in_features, (long long)out_features);
    tg_module *m = NULL;
    linear_ud *u = NULL;
    tg_status s = new_layer(ctx, who, &linear_vt, sizeof *u, &m, (void **)&u);
    if (s != TG_OK)
        return s;
    const int64_t shape[2] = {out_features, in_features};
    s = add_weight_bias(m, 2, shape, out_features, bias, in_features, &u->w, &u->b);
    return finish(m, s, out);
}

/* ---- Conv2d ------------------------------------------------------------------ */

typedef struct {
    tg_ctx *ctx;
    tg_tensor *w, *b;
    int stride, padding, dilation, groups;
} conv_ud;

static tg_tensor *conv_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const conv_ud *u = tg_module_userdata(self);
    return tg_conv2d(ctx, x, u->w, u->b, u->stride, u->padding, u->dilation, u->groups);
}

static const tg_module_vtable conv_vt = {sizeof(tg_module_vtable), "Conv2d", conv_forward,
                                         free_layer};

static tg_status conv_make(tg_ctx *ctx, const char *who, int64_t in_channels,
                           int64_t out_channels, int kernel, int stride, int padding, int dilation,
                           int groups, bool bias, tg_module **out)
{
    if (ctx) {
        if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 ||
            padding < 0 || dilation <= 0 || groups <= 0)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: bad configuration (in %lld, out %lld, kernel %d, stride %d, "
                             "padding %d, dilation %d, groups %d)",
                             who, (long long)in_channels, (long long)out_channels, kernel,
                             stride, padding, dilation, groups);
        if (in_channels % groups || out_channels % groups)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: channels (in %lld, out %lld) must be divisible by groups %d",
                             who, (long long)in_channels, (long long)out_channels, groups);
    }
    tg_module *m = NULL;
    conv_ud *u = NULL;
    tg_status s = new_layer(ctx, who, &conv_vt, sizeof *u, &m, (void **)&u);
    if (s != TG_OK)
        return s;
    u->stride = stride;
    u->padding = padding;
    u->dilation = dilation;
    u->groups = groups;
    const int64_t cin_g = in_channels / groups;
    const int64_t shape[4] = {out_channels, cin_g, kernel, kernel};
    s = add_weight_bias(m, 4, shape, out_channels, bias, cin_g * kernel * kernel, &u->w, &u->b);
    return finish(m, s, out);
}

/* ---- pooling ----------------------------------------------------------------- */

typedef struct {
    tg_ctx *ctx;
    int kernel, stride, padding;
} pool_ud;

static tg_tensor *maxpool_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const pool_ud *u = tg_module_userdata(self);
    return tg_max_pool2d(ctx, x, u->kernel, u->stride, u->padding);
}

static tg_tensor *avgpool_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const pool_ud *u = tg_module_userdata(self);
    return tg_avg_pool2d(ctx, x, u->kernel, u->stride, u->padding);
}

static const tg_module_vtable maxpool_vt = {sizeof(tg_module_vtable), "MaxPool2d",
                                            maxpool_forward, free_layer};
static const tg_module_vtable avgpool_vt = {sizeof(tg_module_vtable), "AvgPool2d",
                                            avgpool_forward, free_layer};

static tg_status pool_create(tg_ctx *ctx, const char *who, const tg_module_vtable *vt,
                             int kernel, int stride, int padding, tg_module **out)
{
    /* PyTorch: padding should be at most half the kernel size. */
    if (ctx && (kernel <= 0 || stride < 0 || padding < 0 || padding > kernel / 2))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: bad configuration (kernel %d, stride %d, padding %d; padding "
                         "must be at most kernel/2)",
                         who, kernel, stride, padding);
    tg_module *m = NULL;
    pool_ud *u = NULL;
    tg_status s = new_layer(ctx, who, vt, sizeof *u, &m, (void **)&u);
    if (s != TG_OK)
        return s;
    u->kernel = kernel;
    u->stride = stride ? stride : kernel;
    u->padding = padding;
    *out = m;
    return TG_OK;
}

tg_status tg_maxpool2d_create(tg_ctx *ctx, int kernel, int stride, int padding, tg_module **out)
{
    return pool_create(ctx, "maxpool2d_create", &maxpool_vt, kernel, stride, padding, out);
}

tg_status tg_avgpool2d_create(tg_ctx *ctx, int kernel, int stride, int padding, tg_module **out)
{
    return pool_create(ctx, "avgpool2d_create", &avgpool_vt, kernel, stride, padding, out);
}

/* ---- ReLU, Flatten, Dropout ----------------------------------------------------- */

static tg_tensor *relu_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    return tg_relu(ctx, x);
}

static tg_tensor *flatten_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    return tg_flatten(ctx, x, 1, -1);
}

static const tg_module_vtable relu_vt = {sizeof(tg_module_vtable), "ReLU", relu_forward, NULL};
static const tg_module_vtable flatten_vt = {sizeof(tg_module_vtable), "Flatten",
                                            flatten_forward, NULL};

tg_status tg_relu_create(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "relu_create", &relu_vt, 0, out, NULL);
}

tg_status tg_flatten_create(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "flatten_create", &flatten_vt, 0, out, NULL);
}

typedef struct {
    tg_ctx *ctx;
    float p;
} dropout_ud;

static tg_tensor *dropout_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const dropout_ud *u = tg_module_userdata(self);
    return tg_dropout(ctx, x, u->p, tg_module_is_training(self));
}

static const tg_module_vtable dropout_vt = {sizeof(tg_module_vtable), "Dropout",
                                            dropout_forward, free_layer};

tg_status tg_dropout_create(tg_ctx *ctx, float p, tg_module **out)
{
    const char *who = "dropout_create";
    if (ctx && !(p >= 0.0f && p <= 1.0f))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: dropout probability has to be between 0 and 1, but got %g", who,
                         (double)p);
    tg_module *m = NULL;
    dropout_ud *u = NULL;
    tg_status s = new_layer(ctx, who, &dropout_vt, sizeof *u, &m, (void **)&u);
    if (s != TG_OK)
        return s;
    u->p = p;
    *out = m;
    return TG_OK;
}

/* ---- BatchNorm2d ---------------------------------------------------------------- */

typedef struct {
    tg_ctx *ctx;
    tg_tensor *w, *b, *mean, *var, *count;
    float eps, momentum;
} bn_ud;

typedef tg_tensor *(*bn_op)(tg_ctx *, tg_tensor *, tg_tensor *, tg_tensor *, tg_tensor *,
                            tg_tensor *, bool, float, float);

/* BatchNorm1d and BatchNorm2d share their state (bn_ud); only the op differs. */
static tg_tensor *bn_run(tg_module *self, tg_ctx *ctx, tg_tensor *x, bn_op op)
{
    const bn_ud *u = tg_module_userdata(self);
    bool training = tg_module_is_training(self);
    tg_tensor *y = op(ctx, x, u->w, u->b, u->mean, u->var, training, u->momentum, u->eps);
    if (y && training)
        u->count->data[0] += 1.0f; /* num_batches_tracked (float storage) */
    return y;
}

static tg_tensor *bn_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    return bn_run(self, ctx, x, tg_batch_norm2d);
}

static const tg_module_vtable bn_vt = {sizeof(tg_module_vtable), "BatchNorm2d", bn_forward,
                                       free_layer};

tg_tensor *tg__nn_bn_relu(tg_module *bn, tg_ctx *ctx, tg_tensor *x)
{
    if (!bn || tg_module_type(bn) != bn_vt.type_name || tg_module_ctx(bn)->trace)
        return tg_relu(ctx, tg_module_forward(bn, x));
    return bn_run(bn, tg_module_ctx(bn), x, tg__batch_norm2d_relu);
}

tg_tensor *tg__nn_bn_add_relu(tg_module *bn, tg_ctx *ctx, tg_tensor *x, tg_tensor *res)
{
    if (!bn || tg_module_type(bn) != bn_vt.type_name || tg_module_ctx(bn)->trace || !x ||
        !res || !tg__same_shape(x, res))
        return tg_relu(ctx, tg_add(ctx, tg_module_forward(bn, x), res));
    const bn_ud *u = tg_module_userdata(bn);
    bool training = tg_module_is_training(bn);
    tg_tensor *y = tg__batch_norm2d_add_relu(tg_module_ctx(bn), x, u->w, u->b, u->mean, u->var,
                                             training, u->momentum, u->eps, res);
    if (y && training)
        u->count->data[0] += 1.0f; /* num_batches_tracked, as bn_run */
    return y;
}

/* Evaluation mode, built-in Conv2d and BatchNorm2d, no trace: the ops layer
 * decides the rest (tg__conv2d_bn_eval). */
static bool conv_bn_fuses(tg_module *conv, tg_module *bn)
{
    return conv && bn && tg_module_type(conv) == conv_vt.type_name &&
           tg_module_type(bn) == bn_vt.type_name && !tg_module_is_training(bn) &&
           !tg_module_ctx(bn)->trace && tg_module_ctx(conv) == tg_module_ctx(bn);
}

typedef struct {
    tg_module *bn;
    tg_tensor *res;
    bool relu;
} conv_bn_args;

static tg_tensor *conv_bn_run(tg_module *conv, tg_ctx *ctx, tg_tensor *x, void *arg)
{
    const conv_bn_args *a = arg;
    const conv_ud *c = tg_module_userdata(conv);
    const bn_ud *u = tg_module_userdata(a->bn);
    const tg__bn_eval e = {u->w, u->b, u->mean, u->var, u->eps};
    return tg__conv2d_bn_eval(ctx, x, c->w, c->b, c->stride, c->padding, c->dilation, c->groups,
                              &e, a->res, a->relu);
}

tg_tensor *tg__nn_conv_bn(tg_module *conv, tg_module *bn, tg_ctx *ctx, tg_tensor *x,
                          tg_tensor *res, bool relu)
{
    if (!conv_bn_fuses(conv, bn)) {
        tg_tensor *y = tg_module_forward(conv, x);
        if (res)
            return tg__nn_bn_add_relu(bn, ctx, y, res);
        return relu ? tg__nn_bn_relu(bn, ctx, y) : tg_module_forward(bn, y);
    }
    conv_bn_args a = {bn, res, relu};
    return tg__nn_run_as(conv, x, conv_bn_run, &a);
}

static tg_status bn_make(tg_ctx *ctx, const char *who, const tg_module_vtable *vt,
                         int64_t channels, float eps, float momentum, bool affine,
                         tg_module **out)
{
    if (ctx && (channels <= 0 || !(eps > 0.0f) || isinf(eps) ||
                !(momentum >= 0.0f && momentum <= 1.0f)))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: bad configuration (channels %lld, eps %g, momentum %g; need "
                         "channels > 0, eps > 0, momentum in [0, 1])",
                         who, (long long)channels, (double)eps, (double)momentum);
    tg_module *m = NULL;
    bn_ud *u = NULL;
    tg_status s = new_layer(ctx, who, vt, sizeof *u, &m, (void **)&u);
    if (s != TG_OK)
        return s;
    u->eps = eps;
    u->momentum = momentum;
    const int64_t one = 1;
    if ((!affine || ((s = tg_module_add_param(m, "weight", 1, &channels, &u->w)) == TG_OK &&
                     (s = tg_module_add_param(m, "bias", 1, &channels, &u->b)) == TG_OK)) &&
        (s = tg_module_add_buffer(m, "running_mean", 1, &channels, &u->mean)) == TG_OK &&
        (s = tg_module_add_buffer(m, "running_var", 1, &channels, &u->var)) == TG_OK &&
        (s = tg_module_add_buffer(m, "num_batches_tracked", 1, &one, &u->count)) == TG_OK) {
        if (u->w)
            tg_tensor_fill(u->w, 1.0f);
        tg_tensor_fill(u->var, 1.0f);
    }
    return finish(m, s, out);
}

/* ---- Sequential ------------------------------------------------------------------ */

static tg_tensor *seq_forward_tiled(tg_module *self, tg_ctx *ctx, tg_tensor *x);
static bool per_sample(const tg_module *m);
static int64_t tile_samples(const tg_ctx *ctx);

/* A built-in MaxPool2d of kernel 2, stride 2, no padding. */
static bool is_pool2x2(const tg_module *m)
{
    if (tg_module_type(m) != maxpool_vt.type_name)
        return false;
    const pool_ud *u = tg_module_userdata(m);
    return u->kernel == 2 && (u->stride == 2 || u->stride == 0) && u->padding == 0;
}

/* Children in order; each runs in its own module's ctx, which is this one. */
static tg_tensor *seq_forward_layers(tg_module *self, tg_tensor *x)
{
    size_t n = tg_module_n_children(self);
    for (size_t i = 0; i < n && x; i++) {
        tg_module *c = tg_module_child(self, i);
        /* A built-in Conv2d, a ReLU and a 2x2 MaxPool2d of stride 2: one
         * fused op (tg__conv2d_relu_pool), same values and gradients. */
        if (i + 2 < n && !tg_module_ctx(c)->trace && tg_module_type(c) == conv_vt.type_name &&
            tg_module_type(tg_module_child(self, i + 1)) == relu_vt.type_name &&
            is_pool2x2(tg_module_child(self, i + 2))) {
            const conv_ud *u = tg_module_userdata(c);
            x = tg__conv2d_relu_pool(tg_module_ctx(c), x, u->w, u->b, u->stride, u->padding,
                                     u->dilation, u->groups);
            i += 2;
            continue;
        }
        /* A built-in Conv2d followed by a ReLU runs as one fused op: same
         * values and gradients, one pass over the activations fewer each way
         * (docs/performance.md). A trace (export, summary) wants both layers. */
        if (i + 1 < n && !tg_module_ctx(c)->trace && tg_module_type(c) == conv_vt.type_name &&
            tg_module_type(tg_module_child(self, i + 1)) == relu_vt.type_name) {
            const conv_ud *u = tg_module_userdata(c);
            x = tg__conv2d_relu(tg_module_ctx(c), x, u->w, u->b, u->stride, u->padding,
                                u->dilation, u->groups);
            i++;
            continue;
        }
        /* A Conv2d then a BatchNorm2d in evaluation (and a ReLU): one op
         * when nothing needs a gradient (inference), same values. */
        if (i + 1 < n && conv_bn_fuses(c, tg_module_child(self, i + 1))) {
            tg_module *bn = tg_module_child(self, i + 1);
            bool relu = i + 2 < n && tg_module_type(tg_module_child(self, i + 2)) ==
                                         relu_vt.type_name;
            x = tg__nn_conv_bn(c, bn, tg_module_ctx(c), x, NULL, relu);
            i += relu ? 2 : 1;
            continue;
        }
        /* Likewise a built-in BatchNorm2d followed by a ReLU. */
        if (i + 1 < n && !tg_module_ctx(c)->trace && tg_module_type(c) == bn_vt.type_name &&
            tg_module_type(tg_module_child(self, i + 1)) == relu_vt.type_name) {
            x = tg__nn_bn_relu(c, tg_module_ctx(c), x);
            i++;
            continue;
        }
        x = tg_module_forward(c, x);
    }
    return x;
}

static tg_tensor *seq_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    if (x && !tg_ctx_grad_enabled(ctx) && x->ndim >= 2 && x->shape[0] > 2 * tile_samples(ctx) &&
        per_sample(self))
        return seq_forward_tiled(self, ctx, x);
    return seq_forward_layers(self, x);
}

static const tg_module_vtable seq_vt = {sizeof(tg_module_vtable), "Sequential", seq_forward,
                                        NULL};

/* ---- tiled inference ---------------------------------------------------------
 * With grad disabled, a Sequential made only of layers that treat every
 * sample on its own runs the batch in tiles of a few samples through all
 * layers, rewinding the arena after each tile: the activations stay in cache
 * instead of streaming every layer's output for the whole batch through
 * memory (2x at batch 1000 on the seed CNN, docs/performance.md). Each
 * sample's result is computed by the same kernels with the same operations,
 * so the output is bit-identical to the untiled forward. */

/* Samples per tile: enough to split over the threads, few enough that a
 * tile's activations stay in L2. */
static int64_t tile_samples(const tg_ctx *ctx) { return 16 * (int64_t)tg_ctx_n_threads(ctx); }

/* Rows [n0, n0+nb) of x as a transient tensor sharing x's data (no grad). */
static tg_tensor *batch_rows(tg_ctx *ctx, tg_tensor *x, int64_t n0, int64_t nb)
{
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = nb;
    tg_tensor *v = tg__view(ctx, NULL, x, x->ndim, shape);
    if (!v)
        return NULL;
    int64_t per = x->numel / x->shape[0];
    v->numel = nb * per;
    v->data = x->data + n0 * per;
    return v;
}

static tg_tensor *seq_forward_tiles(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const int64_t N = x->shape[0], T = tile_samples(ctx);
    tg_tensor *out = NULL;
    tg__arena_mark mark = tg__arena_get_mark(ctx);
    int64_t per_out = 0;
    for (int64_t n0 = 0; n0 < N; n0 += T) {
        int64_t nb = N - n0 < T ? N - n0 : T;
        tg_tensor *y = seq_forward_layers(self, batch_rows(ctx, x, n0, nb));
        if (!y || y->ndim < 1 || y->shape[0] != nb) {
            if (out) /* later tiles have the first one's shapes: only NOMEM */
                return NULL;
            /* Redo untiled so that an error names the caller's shapes. */
            tg__prep_drop(ctx); /* its entries are rewound */
            tg__arena_rewind(ctx, mark);
            tg_ctx_clear_error(ctx);
            return seq_forward_layers(self, x);
        }
        if (!out) {
            int64_t shape[TG_MAX_DIMS];
            memcpy(shape, y->shape, sizeof shape);
            shape[0] = N;
            out = tg__tensor_new(ctx, "Sequential", y->ndim, shape);
            if (!out)
                return NULL;
            per_out = y->numel / nb;
            memcpy(out->data, y->data, (size_t)y->numel * sizeof(float));
            mark = tg__arena_get_mark(ctx); /* tiles after the first reuse memory */
            tg__prep_freeze(ctx);
            continue;
        }
        memcpy(out->data + n0 * per_out, y->data, (size_t)y->numel * sizeof(float));
        tg__arena_rewind(ctx, mark);
    }
    return out;
}

/* The tiles reuse the first tile's prepared weights (tg__prep_get). */
static tg_tensor *seq_forward_tiled(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    tg__prep_begin(ctx);
    tg_tensor *out = seq_forward_tiles(self, ctx, x);
    tg__prep_end(ctx);
    return out;
}

tg_status tg_sequential_create(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "sequential_create", &seq_vt, 0, out, NULL);
}

tg_status tg_sequential_append(tg_module *seq, tg_module *child)
{
    if (!seq)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = tg_module_ctx(seq);
    if (tg_module_type(seq) != seq_vt.type_name)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "sequential_append: module is a %s, not a Sequential",
                         tg_module_type(seq));
    char name[24];
    snprintf(name, sizeof name, "%zu", tg_module_n_children(seq));
    return tg_module_add_child(seq, name, child);
}

/* ---- 0.1.0 positional constructors (deprecated wrappers) ------------------------ */

tg_status tg_linear_create(tg_ctx *ctx, int64_t in_features, int64_t out_features, bool bias,
                           tg_module **out)
{
    return linear_make(ctx, "linear_create", in_features, out_features, bias, out);
}

tg_status tg_conv2d_create(tg_ctx *ctx, int64_t in_channels, int64_t out_channels, int kernel,
                           int stride, int padding, int dilation, int groups, bool bias,
                           tg_module **out)
{
    return conv_make(ctx, "conv2d_create", in_channels, out_channels, kernel, stride, padding,
                     dilation, groups, bias, out);
}

tg_status tg_batchnorm2d_create(tg_ctx *ctx, int64_t channels, float eps, float momentum,
                                tg_module **out)
{
    return bn_make(ctx, "batchnorm2d_create", &bn_vt, channels, eps, momentum, true, out);
}

/* ---- options-struct constructors (0.2.0) ------------------------------------------ */

void tg_linear_options_init(tg_linear_options *o, int64_t in_features, int64_t out_features)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->in_features = in_features;
    o->out_features = out_features;
    o->bias = true;
}

void tg_conv2d_options_init(tg_conv2d_options *o, int64_t in_channels, int64_t out_channels,
                            int kernel)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->in_channels = in_channels;
    o->out_channels = out_channels;
    o->kernel = kernel;
    o->stride = 1;
    o->dilation = 1;
    o->groups = 1;
    o->bias = true;
}

void tg_batchnorm_options_init(tg_batchnorm_options *o, int64_t num_features)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->num_features = num_features;
    o->eps = 1e-5f;
    o->momentum = 0.1f;
    o->affine = true;
}

void tg_pool2d_options_init(tg_pool2d_options *o, int kernel)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->kernel = kernel;
}

/* Copy the caller's options over @p dst (already holding the defaults):
 * struct_size must cover at least the required fields (@p min) and at most
 * what this version knows. false (error recorded) otherwise. */
bool tg__layer_options(tg_ctx *ctx, const char *who, void *dst, size_t dst_size, size_t min,
                       const void *src, tg_module **out)
{
    if (!out) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: out is NULL", who);
        return false;
    }
    if (!src) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: options are NULL (fill them with the "
                  "matching tg_*_options_init())", who);
        return false;
    }
    size_t n = *(const size_t *)src;
    if (n < min || n > dst_size) {
        tg__error(ctx, TG_ERR_INVALID_ARG,
                  "%s: options struct_size %zu is invalid (expected %zu; use the matching "
                  "tg_*_options_init())", who, n, dst_size);
        return false;
    }
    memcpy(dst, src, n);
    *(size_t *)dst = dst_size;
    return true;
}

#define MIN_SIZE(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

tg_status tg_nn_linear(tg_ctx *ctx, const tg_linear_options *o, tg_module **out)
{
    const char *who = "nn_linear";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_linear_options c;
    tg_linear_options_init(&c, 0, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c, MIN_SIZE(tg_linear_options, out_features), o,
                           out))
        return ctx->status;
    return linear_make(ctx, who, c.in_features, c.out_features, c.bias, out);
}

tg_status tg_nn_conv2d(tg_ctx *ctx, const tg_conv2d_options *o, tg_module **out)
{
    const char *who = "nn_conv2d";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_conv2d_options c;
    tg_conv2d_options_init(&c, 0, 0, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c, MIN_SIZE(tg_conv2d_options, kernel), o, out))
        return ctx->status;
    return conv_make(ctx, who, c.in_channels, c.out_channels, c.kernel, c.stride, c.padding,
                     c.dilation, c.groups, c.bias, out);
}

tg_status tg_nn_batchnorm2d(tg_ctx *ctx, const tg_batchnorm_options *o, tg_module **out)
{
    const char *who = "nn_batchnorm2d";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_batchnorm_options c;
    tg_batchnorm_options_init(&c, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c, MIN_SIZE(tg_batchnorm_options, num_features),
                           o, out))
        return ctx->status;
    return bn_make(ctx, who, &bn_vt, c.num_features, c.eps, c.momentum, c.affine, out);
}

tg_status tg_nn_maxpool2d(tg_ctx *ctx, const tg_pool2d_options *o, tg_module **out)
{
    const char *who = "nn_maxpool2d";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_pool2d_options c;
    tg_pool2d_options_init(&c, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c, MIN_SIZE(tg_pool2d_options, kernel), o, out))
        return ctx->status;
    return pool_create(ctx, who, &maxpool_vt, c.kernel, c.stride, c.padding, out);
}

tg_status tg_nn_avgpool2d(tg_ctx *ctx, const tg_pool2d_options *o, tg_module **out)
{
    const char *who = "nn_avgpool2d";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_pool2d_options c;
    tg_pool2d_options_init(&c, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c, MIN_SIZE(tg_pool2d_options, kernel), o, out))
        return ctx->status;
    return pool_create(ctx, who, &avgpool_vt, c.kernel, c.stride, c.padding, out);
}

tg_status tg_nn_relu(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "nn_relu", &relu_vt, 0, out, NULL);
}

tg_status tg_nn_flatten(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "nn_flatten", &flatten_vt, 0, out, NULL);
}

tg_status tg_nn_dropout(tg_ctx *ctx, float p, tg_module **out)
{
    return tg_dropout_create(ctx, p, out);
}

tg_status tg_nn_sequential(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "nn_sequential", &seq_vt, 0, out, NULL);
}

/* ---- global average pooling ------------------------------------------------------- */

/* [N, C, H, W] -> [N, C, 1, 1] */
static tg_tensor *gap_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    return tg_global_avg_pool2d(ctx, x);
}

static const tg_module_vtable gap_vt = {sizeof(tg_module_vtable), "AdaptiveAvgPool2d",
                                        gap_forward, NULL};

tg_status tg_nn_global_avgpool2d(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "nn_global_avgpool2d", &gap_vt, 0, out, NULL);
}

/* Forward through the children in order (ResNet's trunk), in tiles of a few
 * samples when grad is off and every child is per-sample, as Sequential. */
tg_tensor *tg__forward_children(tg_module *self, tg_tensor *x)
{
    return seq_forward(self, tg_module_ctx(self), x);
}

/* ---- layers for the 0.2.0 ops -------------------------------------------------------- */

static tg_tensor *gelu_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    return tg_gelu(ctx, x);
}

static tg_tensor *identity_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    (void)ctx;
    return x;
}

static const tg_module_vtable gelu_vt = {sizeof(tg_module_vtable), "GELU", gelu_forward, NULL};
static const tg_module_vtable identity_vt = {sizeof(tg_module_vtable), "Identity",
                                             identity_forward, NULL};

tg_status tg_nn_gelu(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "nn_gelu", &gelu_vt, 0, out, NULL);
}

tg_status tg_nn_identity(tg_ctx *ctx, tg_module **out)
{
    return new_layer(ctx, "nn_identity", &identity_vt, 0, out, NULL);
}

static tg_tensor *bn1d_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    return bn_run(self, ctx, x, tg_batch_norm1d);
}

static const tg_module_vtable bn1d_vt = {sizeof(tg_module_vtable), "BatchNorm1d", bn1d_forward,
                                         free_layer};

tg_status tg_nn_batchnorm1d(tg_ctx *ctx, const tg_batchnorm_options *o, tg_module **out)
{
    const char *who = "nn_batchnorm1d";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_batchnorm_options c;
    tg_batchnorm_options_init(&c, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c, MIN_SIZE(tg_batchnorm_options, num_features),
                           o, out))
        return ctx->status;
    return bn_make(ctx, who, &bn1d_vt, c.num_features, c.eps, c.momentum, c.affine, out);
}

typedef struct {
    tg_ctx *ctx;
    int64_t h, w;
} adaptive_ud;

static tg_tensor *adaptive_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const adaptive_ud *u = tg_module_userdata(self);
    return tg_adaptive_avg_pool2d(ctx, x, u->h, u->w);
}

static const tg_module_vtable adaptive_vt = {sizeof(tg_module_vtable), "AdaptiveAvgPool2d",
                                             adaptive_forward, free_layer};

tg_status tg_nn_adaptive_avgpool2d(tg_ctx *ctx, int64_t out_h, int64_t out_w, tg_module **out)
{
    const char *who = "nn_adaptive_avgpool2d";
    if (ctx && (out_h <= 0 || out_w <= 0 || out_h > (1 << 20) || out_w > (1 << 20)))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: output size %lld x %lld must be positive", who, (long long)out_h,
                         (long long)out_w);
    tg_module *m = NULL;
    adaptive_ud *u = NULL;
    tg_status s = new_layer(ctx, who, &adaptive_vt, sizeof *u, &m, (void **)&u);
    if (s != TG_OK)
        return s;
    u->h = out_h;
    u->w = out_w;
    *out = m;
    return TG_OK;
}

typedef struct {
    tg_ctx *ctx;
    tg_tensor *w, *b;
    int n_dims;
    float eps;
} layernorm_ud;

static tg_tensor *layernorm_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const layernorm_ud *u = tg_module_userdata(self);
    return tg_layer_norm(ctx, x, u->n_dims, u->w, u->b, u->eps);
}

static const tg_module_vtable layernorm_vt = {sizeof(tg_module_vtable), "LayerNorm",
                                              layernorm_forward, free_layer};

void tg_layernorm_options_init(tg_layernorm_options *o, int n_dims, const int64_t *shape)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->n_dims = n_dims;
    for (int i = 0; shape && i < n_dims && i < 4; i++)
        o->normalized_shape[i] = shape[i];
    o->eps = 1e-5f;
    o->elementwise_affine = true;
}

tg_status tg_nn_layernorm(tg_ctx *ctx, const tg_layernorm_options *o, tg_module **out)
{
    const char *who = "nn_layernorm";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_layernorm_options c;
    tg_layernorm_options_init(&c, 0, NULL);
    if (!tg__layer_options(ctx, who, &c, sizeof c,
                           MIN_SIZE(tg_layernorm_options, normalized_shape), o, out))
        return ctx->status;
    bool ok = c.n_dims >= 1 && c.n_dims <= 4 && c.eps > 0.0f && !isinf(c.eps);
    for (int i = 0; ok && i < c.n_dims; i++)
        ok = c.normalized_shape[i] > 0;
    if (!ok)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: bad configuration (n_dims %d must be 1..4 with positive sizes, "
                         "eps %g > 0)", who, c.n_dims, (double)c.eps);
    tg_module *m = NULL;
    layernorm_ud *u = NULL;
    tg_status s = new_layer(ctx, who, &layernorm_vt, sizeof *u, &m, (void **)&u);
    if (s != TG_OK)
        return s;
    u->n_dims = c.n_dims;
    u->eps = c.eps;
    if (c.elementwise_affine &&
        (s = tg_module_add_param(m, "weight", c.n_dims, c.normalized_shape, &u->w)) == TG_OK &&
        (s = tg_module_add_param(m, "bias", c.n_dims, c.normalized_shape, &u->b)) == TG_OK)
        tg_tensor_fill(u->w, 1.0f);
    return finish(m, s, out);
}

/* ---- which modules treat every sample on its own (tiled inference) ------------ */

/* Dropout and BatchNorm in training are not: the RNG and batch statistics.
 * BatchNorm in evaluation is (running statistics); the containers are when
 * all their children are (the residual add of a BasicBlock is per sample). */
static bool per_sample(const tg_module *m)
{
    const char *t = tg_module_type(m);
    if (t == seq_vt.type_name || tg__nn_is_resnet_container(m)) {
        for (size_t i = 0; i < tg_module_n_children(m); i++)
            if (!per_sample(tg_module_child(m, i)))
                return false;
        return true;
    }
    if (t == bn_vt.type_name || t == bn1d_vt.type_name)
        return !tg_module_is_training(m);
    return t == conv_vt.type_name || t == relu_vt.type_name || t == maxpool_vt.type_name ||
           t == avgpool_vt.type_name || t == flatten_vt.type_name || t == linear_vt.type_name ||
           t == gap_vt.type_name || t == adaptive_vt.type_name || t == identity_vt.type_name ||
           t == gelu_vt.type_name;
}
