/* SPDX-License-Identifier: MIT */
/* Writes the models the ONNX consumer check (check_onnx.py) verifies: the
 * seed CNN, LeNet-5 and a residual network with batch norm, each exported
 * with tg_module_export_onnx(), plus a batch of inputs and libtinygrad's
 * outputs for them. Public API only.
 *   usage: onnx_models OUT_DIR [MNIST_DIR]
 * Inputs are the first 16 MNIST test images (scaled to [0, 1] and
 * normalised with the MNIST mean and std) when MNIST_DIR holds MNIST,
 * otherwise generated images; OUT_DIR/manifest.txt says which. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tinygrad.h>

#define N_IMG 16

static tg_ctx *ctx;

#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != TG_OK) {                                                                 \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, tg_ctx_last_error(ctx));        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static tg_module *seq(void)
{
    tg_module *s = NULL;
    CHECK(tg_sequential_create(ctx, &s));
    return s;
}

static void add(tg_module *s, tg_module *l) { CHECK(tg_sequential_append(s, l)); }

static tg_module *conv(int64_t in, int64_t out, int k, int pad)
{
    tg_module *l = NULL;
    CHECK(tg_conv2d_create(ctx, in, out, k, 1, pad, 1, 1, true, &l));
    return l;
}

static tg_module *relu(void)
{
    tg_module *l = NULL;
    CHECK(tg_relu_create(ctx, &l));
    return l;
}

static tg_module *maxpool(void)
{
    tg_module *l = NULL;
    CHECK(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
    return l;
}

static tg_module *flatten(void)
{
    tg_module *l = NULL;
    CHECK(tg_flatten_create(ctx, &l));
    return l;
}

static tg_module *linear(int64_t in, int64_t out)
{
    tg_module *l = NULL;
    CHECK(tg_linear_create(ctx, in, out, true, &l));
    return l;
}

/* examples/seed_cnn.c */
static tg_module *seed_cnn(void)
{
    tg_module *s = seq();
    int ch[4] = {1, 3, 6, 9};
    for (int i = 0; i < 3; i++) {
        add(s, conv(ch[i], ch[i + 1], 3, 1));
        add(s, relu());
    }
    add(s, maxpool());
    add(s, flatten());
    add(s, linear(1764, 10));
    return s;
}

/* examples/mnist_cnn/model.h, "lenet5" */
static tg_module *lenet5(void)
{
    tg_module *s = seq();
    add(s, conv(1, 6, 5, 2));
    add(s, relu());
    add(s, maxpool());
    add(s, conv(6, 16, 5, 0));
    add(s, relu());
    add(s, maxpool());
    add(s, flatten());
    add(s, linear(400, 120));
    add(s, relu());
    add(s, linear(120, 84));
    add(s, relu());
    add(s, linear(84, 10));
    return s;
}

/* A user-defined residual network: stem conv-bn-relu, one basic block
 * (conv-bn-relu-conv-bn + identity, relu), global average pooling, linear.
 * It has no export code of its own: its forward uses supported ops. */
static tg_module *bn(int64_t c)
{
    tg_module *l = NULL;
    CHECK(tg_batchnorm2d_create(ctx, c, 1e-5f, 0.1f, &l));
    /* non-trivial running statistics and affine parameters */
    tg_tensor_uniform_(tg_module_find(l, "running_mean"), -0.5f, 0.5f);
    tg_tensor_uniform_(tg_module_find(l, "running_var"), 0.5f, 2.0f);
    tg_tensor_uniform_(tg_module_find(l, "weight"), 0.5f, 1.5f);
    tg_tensor_uniform_(tg_module_find(l, "bias"), -0.2f, 0.2f);
    return l;
}

static tg_tensor *resnet_forward(tg_module *self, tg_ctx *c, tg_tensor *x)
{
#define CH(name) tg_module_child_by_name(self, name)
    tg_tensor *h = tg_relu(c, tg_module_forward(CH("bn0"), tg_module_forward(CH("conv0"), x)));
    tg_tensor *r = tg_relu(c, tg_module_forward(CH("bn1"), tg_module_forward(CH("conv1"), h)));
    r = tg_module_forward(CH("bn2"), tg_module_forward(CH("conv2"), r));
    h = tg_relu(c, tg_add(c, r, h));
    h = tg_mean(c, tg_mean(c, h, 3, false), 2, false); /* global average pool: [N, C] */
    return tg_module_forward(CH("fc"), h);
#undef CH
}

static const tg_module_vtable resnet_vt = {sizeof(tg_module_vtable), "TinyResNet",
                                           resnet_forward, NULL};

static tg_module *resnet(void)
{
    tg_module *m = NULL;
    CHECK(tg_module_create(ctx, &resnet_vt, NULL, &m));
    CHECK(tg_module_add_child(m, "conv0", conv(1, 8, 3, 1)));
    CHECK(tg_module_add_child(m, "bn0", bn(8)));
    CHECK(tg_module_add_child(m, "conv1", conv(8, 8, 3, 1)));
    CHECK(tg_module_add_child(m, "bn1", bn(8)));
    CHECK(tg_module_add_child(m, "conv2", conv(8, 8, 3, 1)));
    CHECK(tg_module_add_child(m, "bn2", bn(8)));
    CHECK(tg_module_add_child(m, "fc", linear(8, 10)));
    return m;
}

/* Every other supported op, in a user-defined module with its own
 * parameters: pooling, activations, element-wise math with broadcasting,
 * scalar ops, reshape/transpose/permute, a linear layer on 3-D input,
 * reductions, matmul, softmax, dropout and log-softmax. */
typedef struct {
    tg_tensor *scale, *proj;
} ops_ud;

static tg_tensor *ops_forward(tg_module *self, tg_ctx *c, tg_tensor *x)
{
    const ops_ud *u = tg_module_userdata(self);
#define CH(name) tg_module_child_by_name(self, name)
    tg_tensor *h = tg_module_forward(CH("conv"), x);                  /* [N,4,28,28] */
    h = tg_avg_pool2d(c, h, 2, 2, 0);                                 /* [N,4,14,14] */
    h = tg_leaky_relu(c, h, 0.1f);
    tg_tensor *a = tg_sigmoid(c, h), *b = tg_tanh(c, h);
    h = tg_add(c, tg_mul(c, a, b), tg_sub(c, h, tg_div(c, a, tg_add_scalar(c, b, 3.0f))));
    h = tg_mul(c, h, u->scale);                                       /* [4,1,1] broadcast */
    h = tg_log(c, tg_add_scalar(c, tg_sqrt(c, tg_exp(c, tg_neg(c, h))), 1.0f));
    /* scale first: OpenCV 4.6 fuses Pow followed by a scalar Mul wrongly */
    h = tg_pow(c, tg_mul_scalar(c, h, 0.5f), 2.0f);
    int64_t n = tg_tensor_dim(x, 0);
    const int64_t s3[3] = {n, 4, 196};
    h = tg_transpose(c, tg_reshape(c, h, 3, s3), 1, 2);               /* [N,196,4] */
    h = tg_module_forward(CH("fc3"), h);                              /* [N,196,3] */
    h = tg_softmax(c, h, -1);
    const int perm[3] = {0, 2, 1};
    h = tg_permute(c, h, perm);                                       /* [N,3,196] */
    tg_tensor *sum = tg_sum(c, h, 2, false);                          /* [N,3] */
    tg_tensor *mx = tg_max(c, h, 2, false);
    tg_tensor *mean = tg_mean(c, h, 2, false);
    h = tg_add(c, tg_mul_scalar(c, sum, 0.01f), tg_add(c, mx, mean));
    h = tg_matmul(c, h, u->proj);                                     /* [N,10] */
    h = tg_module_forward(CH("drop"), h);
    return tg_log_softmax(c, h, 1);
#undef CH
}

static void free_ops_ud(void *p) { free(p); }

static const tg_module_vtable ops_vt = {sizeof(tg_module_vtable), "OpsZoo", ops_forward,
                                        free_ops_ud};

static tg_module *ops_zoo(void)
{
    ops_ud *u = calloc(1, sizeof *u);
    tg_module *m = NULL, *l = NULL;
    if (!u)
        exit(1);
    CHECK(tg_module_create(ctx, &ops_vt, u, &m));
    CHECK(tg_module_add_child(m, "conv", conv(1, 4, 3, 1)));
    CHECK(tg_module_add_child(m, "fc3", linear(4, 3)));
    CHECK(tg_dropout_create(ctx, 0.5f, &l));
    CHECK(tg_module_add_child(m, "drop", l));
    const int64_t ss[3] = {4, 1, 1}, ps[2] = {3, 10};
    CHECK(tg_module_add_param(m, "scale", 3, ss, &u->scale));
    CHECK(tg_module_add_param(m, "proj", 2, ps, &u->proj));
    tg_tensor_uniform_(u->scale, 0.5f, 1.5f);
    tg_tensor_uniform_(u->proj, -1.0f, 1.0f);
    return m;
}

/* The ops added in 0.2.0: pad, adaptive and global average pooling,
 * narrow, slice, concat, maximum, minimum, abs, gelu and batch_norm1d (with
 * running statistics held as this module's buffers); with `norm` also
 * clamp and layer_norm, which OpenCV 4.6 cannot run (Clip with inputs,
 * broadcasting Div on 2-D tensors): that variant is checked by the onnx
 * checker and the NumPy evaluator only. */
typedef struct {
    tg_tensor *ln_w, *ln_b, *bn_w, *bn_b, *mean, *var;
} ops2_ud;

static tg_tensor *ops2_forward(tg_module *self, tg_ctx *c, tg_tensor *x)
{
    const ops2_ud *u = tg_module_userdata(self);
    bool norm = !strcmp(tg_module_type(self), "NewOpsZooNorm");
    tg_tensor *h = tg_module_forward(tg_module_child_by_name(self, "conv"), x); /* [N,6,28,28] */
    const int64_t pad[4] = {1, 1, 2, 0};
    h = tg_pad(c, h, 4, pad, 0.5f);                                    /* [N,6,30,30] */
    h = tg_adaptive_avg_pool2d(c, h, 10, 10);                          /* [N,6,10,10] */
    tg_tensor *a = tg_narrow(c, h, 1, 0, 3), *b = tg_slice(c, h, 1, 1, 6, 2);
    tg_tensor *parts[3] = {tg_maximum(c, a, b), tg_minimum(c, a, b), tg_abs(c, a)};
    h = tg_concat(c, parts, 3, 1);                                     /* [N,9,10,10] */
    if (norm)
        h = tg_clamp(c, h, -0.5f, 0.8f);
    h = tg_gelu(c, h);
    h = tg_flatten(c, tg_global_avg_pool2d(c, h), 1, -1);              /* [N,9] */
    if (norm)
        h = tg_layer_norm(c, h, 1, u->ln_w, u->ln_b, 1e-5f);
    h = tg_batch_norm1d(c, h, u->bn_w, u->bn_b, u->mean, u->var, false, 0.1f, 1e-5f);
    return tg_module_forward(tg_module_child_by_name(self, "fc"), h);
}

static const tg_module_vtable ops2_vt = {sizeof(tg_module_vtable), "NewOpsZoo", ops2_forward,
                                         free_ops_ud};
static const tg_module_vtable ops3_vt = {sizeof(tg_module_vtable), "NewOpsZooNorm",
                                         ops2_forward, free_ops_ud};

static tg_module *ops_zoo_new(const tg_module_vtable *vt)
{
    ops2_ud *u = calloc(1, sizeof *u);
    tg_module *m = NULL;
    if (!u)
        exit(1);
    CHECK(tg_module_create(ctx, vt, u, &m));
    CHECK(tg_module_add_child(m, "conv", conv(1, 6, 3, 1)));
    CHECK(tg_module_add_child(m, "fc", linear(9, 10)));
    const int64_t c9 = 9;
    CHECK(tg_module_add_param(m, "ln_weight", 1, &c9, &u->ln_w));
    CHECK(tg_module_add_param(m, "ln_bias", 1, &c9, &u->ln_b));
    CHECK(tg_module_add_param(m, "bn_weight", 1, &c9, &u->bn_w));
    CHECK(tg_module_add_param(m, "bn_bias", 1, &c9, &u->bn_b));
    CHECK(tg_module_add_buffer(m, "running_mean", 1, &c9, &u->mean));
    CHECK(tg_module_add_buffer(m, "running_var", 1, &c9, &u->var));
    tg_tensor_uniform_(u->ln_w, 0.5f, 1.5f);
    tg_tensor_uniform_(u->ln_b, -0.2f, 0.2f);
    tg_tensor_uniform_(u->bn_w, 0.5f, 1.5f);
    tg_tensor_uniform_(u->bn_b, -0.2f, 0.2f);
    tg_tensor_uniform_(u->mean, -0.5f, 0.5f);
    tg_tensor_uniform_(u->var, 0.5f, 2.0f);
    return m;
}

static tg_module *ops_zoo2(void) { return ops_zoo_new(&ops2_vt); }
static tg_module *ops_zoo3(void) { return ops_zoo_new(&ops3_vt); }

/* Non-trivial batch-norm statistics and affine parameters everywhere. */
static void randomize_bn(tg_module *m)
{
    for (size_t i = 0; i < tg_module_n_state(m); i++) {
        const char *name = NULL;
        tg_tensor *t = tg_module_state(m, i, &name, NULL);
        const char *dot = strrchr(name, '.');
        const char *leaf = dot ? dot + 1 : name;
        if (!strcmp(leaf, "running_mean"))
            tg_tensor_uniform_(t, -0.5f, 0.5f);
        else if (!strcmp(leaf, "running_var"))
            tg_tensor_uniform_(t, 0.5f, 2.0f);
    }
}

/* The built-in CIFAR ResNet-8 (BasicBlocks with strided 1x1-conv shortcuts,
 * bias-free convolutions, global average pooling) on 1-channel input. */
static tg_module *resnet8(void)
{
    tg_resnet_cifar_options o;
    tg_resnet_cifar_options_init(&o, 8);
    o.in_channels = 1;
    tg_module *m = NULL;
    CHECK(tg_nn_resnet_cifar(ctx, &o, &m));
    randomize_bn(m);
    return m;
}

/* The 0.2.0 layer modules: GELU, AdaptiveAvgPool2d, BatchNorm1d, Identity
 * (and LayerNorm in the variant OpenCV 4.6 cannot run). */
static tg_module *new_layers(bool with_layernorm)
{
    tg_module *s = seq(), *l = NULL;
    add(s, conv(1, 4, 3, 1));
    CHECK(tg_nn_gelu(ctx, &l));
    add(s, l);
    CHECK(tg_nn_adaptive_avgpool2d(ctx, 7, 7, &l));
    add(s, l);
    add(s, flatten());
    add(s, linear(196, 32));
    tg_batchnorm_options bo;
    tg_batchnorm_options_init(&bo, 32);
    CHECK(tg_nn_batchnorm1d(ctx, &bo, &l));
    add(s, l);
    if (with_layernorm) {
        const int64_t f = 32;
        tg_layernorm_options lo;
        tg_layernorm_options_init(&lo, 1, &f);
        CHECK(tg_nn_layernorm(ctx, &lo, &l));
        add(s, l);
    }
    CHECK(tg_nn_identity(ctx, &l));
    add(s, l);
    add(s, linear(32, 10));
    randomize_bn(s);
    return s;
}

static tg_module *layers_cv(void) { return new_layers(false); }
static tg_module *layers_ln(void) { return new_layers(true); }

static void write_floats(const char *dir, const char *name, const char *suffix, const float *p,
                         size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, sizeof *p, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: onnx_models OUT_DIR [MNIST_DIR]\n");
        return 2;
    }
    const char *dir = argv[1];
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.seed = 1234;
    CHECK(tg_ctx_create(&o, &ctx));

    static float input[N_IMG * 28 * 28];
    const char *source = "generated";
    tg_dataset *ds = NULL;
    if (argc > 2 && tg_dataset_load_mnist(ctx, argv[2], false, &ds) == TG_OK &&
        tg_dataset_n(ds) >= N_IMG) {
        for (size_t i = 0; i < N_IMG; i++) {
            const uint8_t *px = tg_dataset_image(ds, i);
            for (size_t k = 0; k < 28 * 28; k++)
                input[i * 784 + k] = ((float)px[k] / 255.0f - 0.1307f) / 0.3081f;
        }
        source = "mnist-test";
    } else {
        tg_ctx_clear_error(ctx);
        /* strokes: a ring and a bar per image, positions varying */
        for (size_t i = 0; i < N_IMG; i++)
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++) {
                    double cx = 10 + (double)(i % 5) * 2, cy = 12 + (double)(i % 3) * 2;
                    double r = sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
                    float v = fabs(r - 6.0) < 1.5 || (x == (int)(4 + i) && y > 5) ? 1.0f : 0.0f;
                    input[i * 784 + (size_t)(y * 28 + x)] = (v - 0.1307f) / 0.3081f;
                }
    }
    tg_dataset_destroy(ds);

    struct {
        const char *name;
        tg_module *(*build)(void);
        const char *opencv; /* "yes": OpenCV 4.6 runs it */
    } models[] = {{"seed_cnn", seed_cnn, "yes"}, {"lenet5", lenet5, "yes"},
                  {"resnet", resnet, "yes"},     {"ops_zoo", ops_zoo, "yes"},
                  {"ops_zoo2", ops_zoo2, "yes"}, {"ops_zoo3", ops_zoo3, "no"},
                  {"resnet8", resnet8, "yes"},   {"layers", layers_cv, "yes"},
                  {"layers_ln", layers_ln, "no"}};
    char mpath[1024];
    snprintf(mpath, sizeof mpath, "%s/manifest.txt", dir);
    FILE *man = fopen(mpath, "w");
    if (!man) {
        fprintf(stderr, "cannot write %s\n", mpath);
        return 1;
    }
    const int64_t shape[4] = {N_IMG, 1, 28, 28};
    const int64_t example[4] = {1, 1, 28, 28};
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        tg_module *m = models[k].build();
        CHECK(tg_module_set_metadata(m, "tg.input_scale", "0.00392156862745098"));
        CHECK(tg_module_set_metadata(m, "tg.input_mean", "0.1307"));
        CHECK(tg_module_set_metadata(m, "tg.input_std", "0.3081"));
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.onnx", dir, models[k].name);
        CHECK(tg_module_export_onnx(m, 4, example, path, NULL));

        tg_module_train(m, false);
        tg_tensor *x = tg_from_data(ctx, 4, shape, input, N_IMG * 784);
        tg_tensor *y = tg_module_forward(m, x);
        if (!y)
            CHECK(tg_ctx_last_status(ctx));
        write_floats(dir, models[k].name, ".input.bin", input, N_IMG * 784);
        write_floats(dir, models[k].name, ".expected.bin", tg_tensor_data(y),
                     (size_t)tg_tensor_numel(y));
        fprintf(man, "%s %d %d %d %d %lld %s %s\n", models[k].name, N_IMG, 1, 28, 28,
                (long long)tg_tensor_dim(y, 1), source, models[k].opencv);
        tg_ctx_reset(ctx);
        tg_module_destroy(m);
    }
    fclose(man);
    printf("wrote %zu models to %s (inputs: %s)\n", sizeof models / sizeof models[0], dir,
           source);
    tg_ctx_destroy(ctx);
    return 0;
}
