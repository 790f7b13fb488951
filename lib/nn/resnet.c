/* SPDX-License-Identifier: MIT */
/* Residual networks: torchvision's BasicBlock (its "downsample" named
 * "shortcut") and the CIFAR ResNet-(6n+2) of He et al. 2016, section 4.2,
 * built from the public layer constructors so their state names are the
 * dotted names PyTorch gives the same model. */
#include "nn_internal.h"

#include <stddef.h>
#include <stdio.h>

#define MIN_SIZE(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* ---- BasicBlock ------------------------------------------------------------------ */

typedef struct {
    tg_ctx *ctx;
    tg_module *conv1, *bn1, *conv2, *bn2, *shortcut; /* borrowed children */
} block_ud;

static void free_ud(void *userdata)
{
    if (userdata)
        tg__free(*(tg_ctx **)userdata, userdata);
}

static tg_tensor *block_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    const block_ud *u = tg_module_userdata(self);
    tg_tensor *h = tg__nn_conv_bn(u->conv1, u->bn1, ctx, x, NULL, true);
    if (!h)
        return NULL;
    /* the shortcut first, so that a fused conv2 can add it as it writes (the
     * backward order comes from the graph, not from this order) */
    tg_tensor *sc = u->shortcut ? tg_module_forward(u->shortcut, x) : x;
    if (!sc)
        return NULL;
    return tg__nn_conv_bn(u->conv2, u->bn2, ctx, h, sc, true);
}

static const tg_module_vtable block_vt = {sizeof(tg_module_vtable), "BasicBlock", block_forward,
                                          free_ud};

/* Create a child with @p st (the creator's status) and add it to @p parent
 * under @p name; the child is destroyed when adding fails. */
static tg_status adopt(tg_module *parent, const char *name, tg_status st, tg_module **pchild,
                       tg_module **keep)
{
    if (st != TG_OK)
        return st;
    tg_module *child = *pchild; /* read after the creator ran */
    st = tg_module_add_child(parent, name, child);
    if (st != TG_OK) {
        tg_module_destroy(child);
        return st;
    }
    if (keep)
        *keep = child;
    return TG_OK;
}

static tg_status conv(tg_ctx *ctx, int64_t in, int64_t out, int k, int stride, tg_module **m)
{
    tg_conv2d_options o;
    tg_conv2d_options_init(&o, in, out, k);
    o.stride = stride;
    o.padding = k / 2;
    o.bias = false;
    return tg_nn_conv2d(ctx, &o, m);
}

static tg_status bn(tg_ctx *ctx, int64_t c, tg_module **m)
{
    tg_batchnorm_options o;
    tg_batchnorm_options_init(&o, c);
    return tg_nn_batchnorm2d(ctx, &o, m);
}

void tg_resnet_block_options_init(tg_resnet_block_options *o, int64_t in_channels,
                                  int64_t out_channels)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->in_channels = in_channels;
    o->out_channels = out_channels;
    o->stride = 1;
}

tg_status tg_nn_resnet_block(tg_ctx *ctx, const tg_resnet_block_options *o, tg_module **out)
{
    const char *who = "nn_resnet_block";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_resnet_block_options c;
    tg_resnet_block_options_init(&c, 0, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c,
                           MIN_SIZE(tg_resnet_block_options, out_channels), o, out))
        return ctx->status;
    if (c.in_channels <= 0 || c.out_channels <= 0 || c.stride <= 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: bad configuration (in_channels %lld, out_channels %lld, stride "
                         "%d; all must be > 0)",
                         who, (long long)c.in_channels, (long long)c.out_channels, c.stride);
    block_ud *u = tg__calloc(ctx, 1, sizeof *u);
    if (!u)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    u->ctx = ctx;
    tg_module *m = NULL, *ch = NULL, *sc = NULL;
    tg_status s = tg_module_create(ctx, &block_vt, u, &m);
    if (s != TG_OK) {
        tg__free(ctx, u);
        return s;
    }
    s = adopt(m, "conv1", conv(ctx, c.in_channels, c.out_channels, 3, c.stride, &ch), &ch,
              &u->conv1);
    if (s == TG_OK)
        s = adopt(m, "bn1", bn(ctx, c.out_channels, &ch), &ch, &u->bn1);
    if (s == TG_OK)
        s = adopt(m, "conv2", conv(ctx, c.out_channels, c.out_channels, 3, 1, &ch), &ch,
                  &u->conv2);
    if (s == TG_OK)
        s = adopt(m, "bn2", bn(ctx, c.out_channels, &ch), &ch, &u->bn2);
    if (s == TG_OK && (c.stride != 1 || c.in_channels != c.out_channels)) {
        s = adopt(m, "shortcut", tg_nn_sequential(ctx, &sc), &sc, &u->shortcut);
        if (s == TG_OK)
            s = adopt(sc, "0", conv(ctx, c.in_channels, c.out_channels, 1, c.stride, &ch), &ch,
                      NULL);
        if (s == TG_OK)
            s = adopt(sc, "1", bn(ctx, c.out_channels, &ch), &ch, NULL);
    }
    if (s != TG_OK) {
        tg_module_destroy(m);
        return s;
    }
    *out = m;
    return TG_OK;
}

/* ---- CIFAR ResNet ------------------------------------------------------------------ */

static tg_tensor *resnet_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)ctx;
    return tg__forward_children(self, x);
}

static const tg_module_vtable resnet_vt = {sizeof(tg_module_vtable), "ResNet", resnet_forward,
                                           NULL};

bool tg__nn_is_resnet_container(const tg_module *m)
{
    const char *t = tg_module_type(m);
    return t == block_vt.type_name || t == resnet_vt.type_name;
}

void tg_resnet_cifar_options_init(tg_resnet_cifar_options *o, int depth)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->depth = depth;
    o->in_channels = 3;
    o->num_classes = 10;
}

/* Stage @p name: @p n blocks from @p in to @p width channels, the first with
 * @p stride. */
static tg_status stage(tg_ctx *ctx, tg_module *net, const char *name, int n, int64_t in,
                       int64_t width, int stride)
{
    tg_module *seq = NULL, *b = NULL;
    tg_status s = adopt(net, name, tg_nn_sequential(ctx, &seq), &seq, NULL);
    for (int i = 0; i < n && s == TG_OK; i++) {
        tg_resnet_block_options o;
        tg_resnet_block_options_init(&o, i == 0 ? in : width, width);
        o.stride = i == 0 ? stride : 1;
        s = tg_nn_resnet_block(ctx, &o, &b);
        if (s == TG_OK && (s = tg_sequential_append(seq, b)) != TG_OK)
            tg_module_destroy(b);
    }
    return s;
}

tg_status tg_nn_resnet_cifar(tg_ctx *ctx, const tg_resnet_cifar_options *o, tg_module **out)
{
    const char *who = "nn_resnet_cifar";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_resnet_cifar_options c;
    tg_resnet_cifar_options_init(&c, 0);
    if (!tg__layer_options(ctx, who, &c, sizeof c, MIN_SIZE(tg_resnet_cifar_options, depth), o,
                           out))
        return ctx->status;
    if (c.depth < 8 || (c.depth - 2) % 6 != 0 || c.depth > 6 * 1000 + 2 ||
        c.in_channels <= 0 || c.num_classes <= 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: bad configuration (depth %d: must be 6n + 2 with 1 <= n <= 1000, "
                         "e.g. 8 or 20; in_channels %lld, num_classes %lld: must be > 0)",
                         who, c.depth, (long long)c.in_channels, (long long)c.num_classes);
    const int n = (c.depth - 2) / 6;
    tg_module *m = NULL, *ch = NULL;
    tg_status s = tg_module_create(ctx, &resnet_vt, NULL, &m);
    if (s != TG_OK)
        return s;
    s = adopt(m, "conv1", conv(ctx, c.in_channels, 16, 3, 1, &ch), &ch, NULL);
    if (s == TG_OK)
        s = adopt(m, "bn1", bn(ctx, 16, &ch), &ch, NULL);
    if (s == TG_OK)
        s = adopt(m, "relu", tg_nn_relu(ctx, &ch), &ch, NULL);
    if (s == TG_OK)
        s = stage(ctx, m, "layer1", n, 16, 16, 1);
    if (s == TG_OK)
        s = stage(ctx, m, "layer2", n, 16, 32, 2);
    if (s == TG_OK)
        s = stage(ctx, m, "layer3", n, 32, 64, 2);
    if (s == TG_OK)
        s = adopt(m, "avgpool", tg_nn_global_avgpool2d(ctx, &ch), &ch, NULL);
    if (s == TG_OK)
        s = adopt(m, "flatten", tg_nn_flatten(ctx, &ch), &ch, NULL);
    if (s == TG_OK) {
        tg_linear_options lo;
        tg_linear_options_init(&lo, 64, c.num_classes);
        s = adopt(m, "fc", tg_nn_linear(ctx, &lo, &ch), &ch, NULL);
    }
    if (s != TG_OK) {
        tg_module_destroy(m);
        return s;
    }
    *out = m;
    return TG_OK;
}
