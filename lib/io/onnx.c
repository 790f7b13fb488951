/* SPDX-License-Identifier: MIT */
/* ONNX export by tracing (tg_module_export_onnx), like torch.onnx.export:
 * the module's forward runs once in evaluation mode on a zero input that
 * requires grad, so every op result records its inputs (src[]) and its
 * parameters (p); tg__module_trace also lists the op results in creation
 * order (a topological order) and the module calls. The ops that reach the
 * output become ONNX nodes; leaves become initializers, named by their
 * dotted state names when they belong to the module. The protobuf is
 * written by lib/io/pb.c; field numbers are onnx.proto's (ONNX 1.12). */
#include "io_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* onnx.proto field numbers */
enum {
    MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3,
    MODEL_DOC = 6, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_METADATA_PROPS = 14,
    OPSET_DOMAIN = 1, OPSET_VERSION = 2,
    KV_KEY = 1, KV_VALUE = 2,
    GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
    NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
    ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_INTS = 8, ATTR_TYPE = 20,
    ATTR_T_FLOAT = 1, ATTR_T_INT = 2, ATTR_T_INTS = 7,
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
    DT_FLOAT = 1, DT_INT64 = 7,
    VI_NAME = 1, VI_TYPE = 2,
    TYPE_TENSOR = 1, TT_ELEM_TYPE = 1, TT_SHAPE = 2,
    SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2,
};

typedef struct {
    const tg_tensor *t; /* NULL for constants made by the exporter */
    char *name;
} vname;

typedef struct {
    tg_ctx *ctx;
    const char *who;
    tg_module *root;
    const tg__trace *tr;
    tg__pb nodes, inits;
    vname *v;                  /* value names: graph input, node outputs, initializers */
    size_t n_v, cap_v;
    vname *state;              /* the root's parameters and buffers */
    size_t n_state;
    int64_t batch;
    bool dynamic;
    int opset;
    unsigned counter;
    int cur_op;                /* index in tr->ops of the op being exported */
    bool failed;               /* an error is recorded in ctx */
} ex;

static char *xstrdup(ex *e, const char *s)
{
    char *d = tg__strdup(e->ctx, s);
    if (!d && !e->failed) {
        e->failed = true;
        tg__error(e->ctx, TG_ERR_NOMEM, "%s: out of memory", e->who);
    }
    return d;
}

static const char *add_name(ex *e, const tg_tensor *t, const char *name)
{
    if (e->failed)
        return "";
    if (e->n_v == e->cap_v) {
        size_t ncap = e->cap_v ? e->cap_v * 2 : 64;
        vname *p = tg__malloc(e->ctx, ncap * sizeof *p);
        if (!p) {
            e->failed = true;
            tg__error(e->ctx, TG_ERR_NOMEM, "%s: out of memory", e->who);
            return "";
        }
        if (e->n_v)
            memcpy(p, e->v, e->n_v * sizeof *p);
        tg__free(e->ctx, e->v);
        e->v = p;
        e->cap_v = ncap;
    }
    char *d = xstrdup(e, name);
    if (!d)
        return "";
    e->v[e->n_v++] = (vname){t, d};
    return d;
}

static const char *find_name(const ex *e, const tg_tensor *t)
{
    for (size_t i = e->n_v; i-- > 0;)
        if (e->v[i].t == t)
            return e->v[i].name;
    return NULL;
}

/* ---- initializers ---------------------------------------------------------- */

static void tensor_proto(ex *e, const char *name, int dtype, int ndim, const int64_t *dims,
                         const void *data, size_t n)
{
    tg__pb t;
    tg__pb_init(&t, e->ctx);
    if (ndim)
        tg__pb_packed_int64(&t, TENSOR_DIMS, dims, (size_t)ndim);
    tg__pb_int(&t, TENSOR_DATA_TYPE, dtype);
    tg__pb_str(&t, TENSOR_NAME, name);
    if (dtype == DT_FLOAT) {
        tg__pb_f32le(&t, TENSOR_RAW_DATA, data, n);
    } else {
        const int64_t *v = data;
        uint8_t *le = tg__malloc(e->ctx, n ? n * 8 : 1);
        if (!le) {
            t.oom = true;
        } else {
            for (size_t i = 0; i < n; i++)
                for (int k = 0; k < 8; k++)
                    le[8 * i + (size_t)k] = (uint8_t)((uint64_t)v[i] >> (8 * k));
            tg__pb_bytes(&t, TENSOR_RAW_DATA, le, n * 8);
            tg__free(e->ctx, le);
        }
    }
    tg__pb_msg(&e->inits, GRAPH_INITIALIZER, &t);
    tg__pb_free(&t);
}

/* A new constant initializer (not tied to a tensor). */
static const char *const_f32(ex *e, int ndim, const int64_t *dims, const float *data, size_t n)
{
    char name[48];
    snprintf(name, sizeof name, "/const_%u", e->counter++);
    const char *nm = add_name(e, NULL, name);
    tensor_proto(e, nm, DT_FLOAT, ndim, dims, data, n);
    return nm;
}

static const char *const_i64(ex *e, const int64_t *data, size_t n)
{
    char name[48];
    snprintf(name, sizeof name, "/const_%u", e->counter++);
    const char *nm = add_name(e, NULL, name);
    int64_t dim = (int64_t)n;
    tensor_proto(e, nm, DT_INT64, 1, &dim, data, n);
    return nm;
}

/* Name of value t, which an exported node has already produced, or (for a
 * leaf) a new initializer: the state name if t belongs to the module. */
static const char *value(ex *e, const tg_tensor *t)
{
    const char *n = find_name(e, t);
    if (n)
        return n;
    const char *sn = NULL;
    for (size_t i = 0; i < e->n_state && !sn; i++)
        if (e->state[i].t == t)
            sn = e->state[i].name;
    char buf[48];
    if (!sn) {
        snprintf(buf, sizeof buf, "/const_%u", e->counter++);
        sn = buf;
    }
    const char *nm = add_name(e, t, sn);
    if (!e->failed && (uint64_t)t->numel * 4 > INT32_MAX) {
        e->failed = true;
        tg__error(e->ctx, TG_ERR_LIMIT, "%s: tensor '%s' is over 2 GiB", e->who, nm);
    }
    tensor_proto(e, nm, DT_FLOAT, t->ndim, t->shape, t->data, (size_t)t->numel);
    return nm;
}

/* ---- nodes ------------------------------------------------------------------- */

static void attr_int(tg__pb *n, const char *name, int64_t v)
{
    tg__pb a;
    tg__pb_init(&a, n->ctx);
    tg__pb_str(&a, ATTR_NAME, name);
    tg__pb_int(&a, ATTR_I, v);
    tg__pb_int(&a, ATTR_TYPE, ATTR_T_INT);
    tg__pb_msg(n, NODE_ATTRIBUTE, &a);
    tg__pb_free(&a);
}

static void attr_float(tg__pb *n, const char *name, float v)
{
    tg__pb a;
    tg__pb_init(&a, n->ctx);
    tg__pb_str(&a, ATTR_NAME, name);
    tg__pb_float(&a, ATTR_F, v);
    tg__pb_int(&a, ATTR_TYPE, ATTR_T_FLOAT);
    tg__pb_msg(n, NODE_ATTRIBUTE, &a);
    tg__pb_free(&a);
}

static void attr_ints(tg__pb *n, const char *name, const int64_t *v, size_t k)
{
    tg__pb a;
    tg__pb_init(&a, n->ctx);
    tg__pb_str(&a, ATTR_NAME, name);
    for (size_t i = 0; i < k; i++)
        tg__pb_int(&a, ATTR_INTS, v[i]);
    tg__pb_int(&a, ATTR_TYPE, ATTR_T_INTS);
    tg__pb_msg(n, NODE_ATTRIBUTE, &a);
    tg__pb_free(&a);
}

static void ints2(tg__pb *n, const char *name, int64_t v)
{
    int64_t a[2] = {v, v};
    attr_ints(n, name, a, 2);
}

static void ints4(tg__pb *n, const char *name, int64_t v)
{
    int64_t a[4] = {v, v, v, v};
    attr_ints(n, name, a, 4);
}

/* Start a node: inputs in[0..n_in) (NULL entries become "" = omitted). */
static void node_begin(ex *e, tg__pb *n, const char *op_type, const char *const *in, int n_in,
                       const char *out)
{
    tg__pb_init(n, e->ctx);
    for (int i = 0; i < n_in; i++)
        tg__pb_str(n, NODE_INPUT, in[i] ? in[i] : "");
    tg__pb_str(n, NODE_OUTPUT, out);
    char name[320], path[256] = "";
    int call = e->cur_op >= 0 ? e->tr->op_call[e->cur_op] : -1;
    if (call >= 0)
        tg__module_path(e->tr->calls[call].m, path, sizeof path);
    snprintf(name, sizeof name, "%s%s%s_%u", path, path[0] ? "/" : "", op_type, e->counter++);
    tg__pb_str(n, NODE_NAME, name);
    tg__pb_str(n, NODE_OP_TYPE, op_type);
}

static void node_end(ex *e, tg__pb *n)
{
    tg__pb_msg(&e->nodes, GRAPH_NODE, n);
    tg__pb_free(n);
}

/* A node with no attributes. */
static void simple(ex *e, const char *op_type, const char *const *in, int n_in, const char *out)
{
    tg__pb n;
    node_begin(e, &n, op_type, in, n_in, out);
    node_end(e, &n);
}

/* A fresh intermediate value name. */
static const char *tmp_name(ex *e)
{
    char buf[48];
    snprintf(buf, sizeof buf, "/t%u", e->counter++);
    return add_name(e, NULL, buf);
}

/* Axis of a reduction/softmax over [outer, n, inner] of input a. */
static int find_axis(const tg_tensor *a, int64_t n, int64_t inner)
{
    for (int ax = a->ndim - 1; ax >= 0; ax--) {
        int64_t in = 1;
        for (int d = ax + 1; d < a->ndim; d++)
            in *= a->shape[d];
        if (in == inner && a->shape[ax] == n)
            return ax;
    }
    return a->ndim ? a->ndim - 1 : 0;
}

/* The running statistics a batch_norm2d result t used in evaluation mode,
 * if they are the "running_mean"/"running_var" buffers of the module whose
 * forward made it (BatchNorm2d, BatchNorm1d or a user module): the op saved
 * the mean it used and 1/sqrt(var + eps), which must match exactly. */
static bool bn_buffers(const ex *e, const tg_tensor *t, int64_t C, float eps, tg_tensor **rm,
                       tg_tensor **rv)
{
    int call = e->tr->op_call[e->cur_op];
    if (call < 0)
        return false;
    tg_module *m = (tg_module *)e->tr->calls[call].m;
    tg_tensor *mean = tg_module_find(m, "running_mean"), *var = tg_module_find(m, "running_var");
    if (!mean || !var || mean->numel != C || var->numel != C)
        return false;
    const float *st = t->aux;
    for (int64_t c = 0; c < C; c++)
        if (st[c] != mean->data[c] ||
            st[C + c] != (float)(1.0 / sqrt((double)var->data[c] + eps)))
            return false;
    *rm = mean;
    *rv = var;
    return true;
}

static tg_status unsupported(ex *e, const tg_tensor *t, const char *why)
{
    int call = e->tr->op_call[e->cur_op];
    char path[256] = "";
    const char *type = NULL;
    if (call >= 0) {
        type = tg_module_type(e->tr->calls[call].m);
        tg__module_path(e->tr->calls[call].m, path, sizeof path);
    }
    e->failed = true;
    if (type)
        return tg__error(e->ctx, TG_ERR_STATE,
                         "%s: op '%s' in the forward of module '%s' (type %s) %s", e->who,
                         t->op->name, path, type, why);
    return tg__error(e->ctx, TG_ERR_STATE, "%s: op '%s' %s", e->who, t->op->name, why);
}

/* Emit the nodes computing t, whose output is named out. */
static tg_status export_op(ex *e, const tg_tensor *t, const char *out)
{
    const char *op = t->op->name;
    tg_tensor *const *s = t->src;
    const tg_tensor *a = s[0];
    if (!a)
        return unsupported(e, t, "recorded no inputs (was it computed with grad disabled?)");
    const char *in[5] = {value(e, a), s[1] ? value(e, s[1]) : NULL,
                         s[2] ? value(e, s[2]) : NULL, NULL, NULL};
    tg__pb n;
    static const struct {
        const char *tg, *onnx;
    } unary[] = {{"relu", "Relu"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}, {"neg", "Neg"},
                 {"exp", "Exp"},   {"log", "Log"},         {"sqrt", "Sqrt"}, {"dropout", "Identity"},
                 {"add", "Add"},   {"sub", "Sub"},         {"mul", "Mul"},   {"div", "Div"},
                 {"matmul", "MatMul"}};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        if (!strcmp(op, unary[i].tg)) {
            simple(e, unary[i].onnx, in, s[1] ? 2 : 1, out);
            return TG_OK;
        }
    if (!strcmp(op, "conv2d") || !strcmp(op, "conv2d_relu")) {
        bool relu = !strcmp(op, "conv2d_relu");
        const char *co = relu ? tmp_name(e) : out;
        node_begin(e, &n, "Conv", in, s[2] ? 3 : 2, co);
        int64_t ks[2] = {s[1]->shape[2], s[1]->shape[3]};
        attr_ints(&n, "kernel_shape", ks, 2);
        ints2(&n, "strides", t->p.i[0]);
        ints4(&n, "pads", t->p.i[1]);
        ints2(&n, "dilations", t->p.i[2]);
        attr_int(&n, "group", t->p.i[3]);
        node_end(e, &n);
        if (relu)
            simple(e, "Relu", &co, 1, out);
        return TG_OK;
    }
    if (!strcmp(op, "linear")) {
        if (a->ndim == 2) {
            node_begin(e, &n, "Gemm", in, s[2] ? 3 : 2, out);
            attr_int(&n, "transB", 1);
            node_end(e, &n);
            return TG_OK;
        }
        const char *wt = tmp_name(e);
        node_begin(e, &n, "Transpose", &in[1], 1, wt);
        int64_t perm[2] = {1, 0};
        attr_ints(&n, "perm", perm, 2);
        node_end(e, &n);
        const char *mm_in[2] = {in[0], wt};
        const char *mo = s[2] ? tmp_name(e) : out;
        simple(e, "MatMul", mm_in, 2, mo);
        if (s[2]) {
            const char *add_in[2] = {mo, in[2]};
            simple(e, "Add", add_in, 2, out);
        }
        return TG_OK;
    }
    if (!strcmp(op, "max_pool2d") || !strcmp(op, "avg_pool2d")) {
        bool avg = op[0] == 'a';
        node_begin(e, &n, avg ? "AveragePool" : "MaxPool", in, 1, out);
        ints2(&n, "kernel_shape", t->p.i[0]);
        ints2(&n, "strides", t->p.i[1]);
        ints4(&n, "pads", t->p.i[2]);
        if (avg)
            attr_int(&n, "count_include_pad", 1);
        node_end(e, &n);
        return TG_OK;
    }
    if (!strcmp(op, "leaky_relu")) {
        node_begin(e, &n, "LeakyRelu", in, 1, out);
        attr_float(&n, "alpha", t->p.f[0]);
        node_end(e, &n);
        return TG_OK;
    }
    if (!strcmp(op, "pow") || !strcmp(op, "add_scalar") || !strcmp(op, "mul_scalar")) {
        float c = t->p.f[0];
        in[1] = const_f32(e, 0, NULL, &c, 1);
        simple(e, op[0] == 'p' ? "Pow" : op[0] == 'a' ? "Add" : "Mul", in, 2, out);
        return TG_OK;
    }
    if (!strcmp(op, "softmax") || !strcmp(op, "log_softmax")) {
        node_begin(e, &n, op[0] == 'l' ? "LogSoftmax" : "Softmax", in, 1, out);
        attr_int(&n, "axis", a->ndim ? find_axis(a, t->p.l[0], t->p.l[1]) : 0);
        node_end(e, &n);
        return TG_OK;
    }
    if (!strcmp(op, "sum") || !strcmp(op, "mean") || !strcmp(op, "max") ||
        !strcmp(op, "sum_all") || !strcmp(op, "mean_all") || !strcmp(op, "max_all")) {
        bool all = strstr(op, "_all") != NULL;
        bool sum = op[0] == 's';
        int64_t axis = all || !a->ndim ? 0 : find_axis(a, t->p.l[0], t->p.l[1]);
        bool keep = !all && t->ndim == a->ndim;
        /* A sum is exported as ReduceMean times the count: opset 13 moved
         * ReduceSum's axes into an input, which OpenCV 4.6 cannot read. */
        const char *ro = sum ? tmp_name(e) : out;
        node_begin(e, &n, sum || op[1] == 'e' ? "ReduceMean" : "ReduceMax", in, 1, ro);
        if (!all && a->ndim)
            attr_ints(&n, "axes", &axis, 1);
        attr_int(&n, "keepdims", keep);
        node_end(e, &n);
        if (sum) {
            float cnt = (float)(all ? a->numel : a->ndim ? a->shape[axis] : 1);
            const char *mi[2] = {ro, const_f32(e, 0, NULL, &cnt, 1)};
            simple(e, "Mul", mi, 2, out);
        }
        return TG_OK;
    }
    if (!strcmp(op, "reshape") || !strcmp(op, "flatten")) {
        if (!strcmp(op, "flatten") && t->ndim == 2 && a->ndim >= 2 && t->shape[0] == a->shape[0]) {
            node_begin(e, &n, "Flatten", in, 1, out);
            attr_int(&n, "axis", 1);
            node_end(e, &n);
            return TG_OK;
        }
        int64_t shape[TG_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++)
            shape[d] = t->shape[d];
        /* keep the batch dimension symbolic: copy it (0) or infer it (-1) */
        if (e->dynamic && t->ndim && a->ndim && a->shape[0] == e->batch)
            shape[0] = t->shape[0] == a->shape[0] ? 0 : -1;
        in[1] = const_i64(e, shape, (size_t)t->ndim);
        simple(e, "Reshape", in, 2, out);
        return TG_OK;
    }
    if (!strcmp(op, "permute") || !strcmp(op, "transpose")) {
        node_begin(e, &n, "Transpose", in, 1, out);
        int64_t perm[TG_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++)
            perm[d] = t->p.i[d];
        attr_ints(&n, "perm", perm, (size_t)t->ndim);
        node_end(e, &n);
        return TG_OK;
    }
    if (!strcmp(op, "batch_norm2d")) {
        if (t->p.i[0])
            return unsupported(e, t, "ran in training mode (export uses evaluation mode)");
        int64_t C = a->shape[1];
        float eps = t->p.f[1];
        tg_tensor *rm = NULL, *rv = NULL;
        bool named = bn_buffers(e, t, C, eps, &rm, &rv);
        float *tmp = tg__malloc(e->ctx, 2 * (size_t)C * sizeof(float));
        if (!tmp) {
            e->failed = true;
            return tg__error(e->ctx, TG_ERR_NOMEM, "%s: out of memory", e->who);
        }
        if (!s[1] || !s[2]) {
            for (int64_t c = 0; c < C; c++) {
                tmp[c] = 1.0f;
                tmp[C + c] = 0.0f;
            }
            if (!s[1])
                in[1] = const_f32(e, 1, &C, tmp, (size_t)C);
            if (!s[2])
                in[2] = const_f32(e, 1, &C, tmp + C, (size_t)C);
        }
        if (named) {
            in[3] = value(e, rm);
            in[4] = value(e, rv);
        } else {
            /* statistics not held by the calling module: those the op used,
             * saved in aux as mean and 1/sqrt(var + eps) */
            const float *st = t->aux;
            for (int64_t c = 0; c < C; c++) {
                double is = st[C + c];
                tmp[c] = st[c];
                tmp[C + c] = (float)(1.0 / (is * is) - eps);
            }
            in[3] = const_f32(e, 1, &C, tmp, (size_t)C);
            in[4] = const_f32(e, 1, &C, tmp + C, (size_t)C);
        }
        tg__free(e->ctx, tmp);
        node_begin(e, &n, "BatchNormalization", in, 5, out);
        attr_float(&n, "epsilon", eps);
        node_end(e, &n);
        return TG_OK;
    }
    if (!strcmp(op, "abs")) {
        simple(e, "Abs", in, 1, out);
        return TG_OK;
    }
    if (!strcmp(op, "maximum") || !strcmp(op, "minimum")) {
        simple(e, op[1] == 'a' ? "Max" : "Min", in, 2, out);
        return TG_OK;
    }
    if (!strcmp(op, "clamp")) {
        float lo = t->p.f[0], hi = t->p.f[1];
        in[1] = const_f32(e, 0, NULL, &lo, 1);
        in[2] = const_f32(e, 0, NULL, &hi, 1);
        simple(e, "Clip", in, 3, out);
        return TG_OK;
    }
    if (!strcmp(op, "gelu")) { /* exact: 0.5 x (1 + erf(x / sqrt 2)); Gelu needs opset 20 */
        float r2 = 1.41421356237309515f, one = 1.0f, half = 0.5f;
        const char *d = tmp_name(e), *er = tmp_name(e), *p1 = tmp_name(e), *xm = tmp_name(e);
        const char *i1[2] = {in[0], const_f32(e, 0, NULL, &r2, 1)};
        simple(e, "Div", i1, 2, d);
        simple(e, "Erf", &d, 1, er);
        const char *i2[2] = {er, const_f32(e, 0, NULL, &one, 1)};
        simple(e, "Add", i2, 2, p1);
        const char *i3[2] = {in[0], p1};
        simple(e, "Mul", i3, 2, xm);
        const char *i4[2] = {xm, const_f32(e, 0, NULL, &half, 1)};
        simple(e, "Mul", i4, 2, out);
        return TG_OK;
    }
    if (!strcmp(op, "layer_norm")) {
        /* Decomposed (LayerNormalization needs opset 17, OpenCV 4.6 lacks it)
         * into the nodes PyTorch writes, which OpenCV fuses back:
         * y = (x - mean) / sqrt(var + eps) * w + b over the last k dims. */
        int64_t M = t->p.l[0], prod = 1;
        int k = 0;
        while (k < a->ndim && prod != M)
            prod *= a->shape[a->ndim - 1 - k++];
        if (k == 0) /* M == 1: the last dim (size 1) alone */
            k = 1;
        int64_t axes[TG_MAX_DIMS]; /* negative, as PyTorch writes them */
        for (int i = 0; i < k; i++)
            axes[i] = i - k;
        float eps = t->p.f[2];
        const char *mean = tmp_name(e), *d = tmp_name(e), *sq = tmp_name(e), *var = tmp_name(e),
                   *ve = tmp_name(e), *sd = tmp_name(e);
        node_begin(e, &n, "ReduceMean", in, 1, mean);
        attr_ints(&n, "axes", axes, (size_t)k);
        attr_int(&n, "keepdims", 1);
        node_end(e, &n);
        const char *i1[2] = {in[0], mean};
        simple(e, "Sub", i1, 2, d);
        float two = 2.0f;
        const char *i2[2] = {d, const_f32(e, 0, NULL, &two, 1)};
        simple(e, "Pow", i2, 2, sq);
        node_begin(e, &n, "ReduceMean", &sq, 1, var);
        attr_ints(&n, "axes", axes, (size_t)k);
        attr_int(&n, "keepdims", 1);
        node_end(e, &n);
        const char *i3[2] = {var, const_f32(e, 0, NULL, &eps, 1)};
        simple(e, "Add", i3, 2, ve);
        simple(e, "Sqrt", &ve, 1, sd);
        const char *nrm = s[1] || s[2] ? tmp_name(e) : out;
        const char *i4[2] = {d, sd};
        simple(e, "Div", i4, 2, nrm);
        if (s[1]) {
            const char *wo = s[2] ? tmp_name(e) : out;
            const char *i5[2] = {nrm, in[1]};
            simple(e, "Mul", i5, 2, wo);
            nrm = wo;
        }
        if (s[2]) {
            const char *i6[2] = {nrm, in[2]};
            simple(e, "Add", i6, 2, out);
        }
        return TG_OK;
    }
    if (!strcmp(op, "global_avg_pool2d") ||
        (!strcmp(op, "adaptive_avg_pool2d") && t->shape[2] == 1 && t->shape[3] == 1)) {
        simple(e, "GlobalAveragePool", in, 1, out);
        return TG_OK;
    }
    if (!strcmp(op, "adaptive_avg_pool2d")) {
        if (a->shape[2] % t->shape[2] || a->shape[3] % t->shape[3])
            return unsupported(e, t, "has an output size that does not divide the input "
                                     "size (only those map to AveragePool)");
        int64_t ks[2] = {a->shape[2] / t->shape[2], a->shape[3] / t->shape[3]};
        node_begin(e, &n, "AveragePool", in, 1, out);
        attr_ints(&n, "kernel_shape", ks, 2);
        attr_ints(&n, "strides", ks, 2);
        node_end(e, &n);
        return TG_OK;
    }
    if (!strcmp(op, "concat")) {
        const char *ins[TG_MAX_SRC];
        int k = 0;
        for (; k < TG_MAX_SRC && s[k]; k++)
            ins[k] = value(e, s[k]);
        node_begin(e, &n, "Concat", ins, k, out);
        attr_int(&n, "axis", t->p.i[0]);
        node_end(e, &n);
        return TG_OK;
    }
    if (!strcmp(op, "narrow") || !strcmp(op, "slice")) {
        int64_t ax = t->p.l[0], start = t->p.l[1], step = t->p.l[2];
        int64_t len = t->shape[ax];
        int64_t end = len ? start + (len - 1) * step + 1 : start;
        const char *si[5] = {in[0], const_i64(e, &start, 1), const_i64(e, &end, 1),
                             const_i64(e, &ax, 1), const_i64(e, &step, 1)};
        simple(e, "Slice", si, 5, out);
        return TG_OK;
    }
    if (!strcmp(op, "pad")) {
        const int64_t *before = t->aux;
        int64_t pads[2 * TG_MAX_DIMS];
        for (int d = 0; d < a->ndim; d++) {
            pads[d] = before[d];
            pads[a->ndim + d] = t->shape[d] - a->shape[d] - before[d];
            if (pads[d] < 0 || pads[a->ndim + d] < 0)
                return unsupported(e, t, "crops (negative padding), which is not exported");
        }
        float v = t->p.f[0];
        const char *pi[3] = {in[0], const_i64(e, pads, 2 * (size_t)a->ndim),
                             const_f32(e, 0, NULL, &v, 1)};
        simple(e, "Pad", pi, 3, out);
        return TG_OK;
    }
    return unsupported(e, t, "has no ONNX mapping (docs/deployment.md lists the supported ops)");
}

/* ---- graph ------------------------------------------------------------------- */

static void value_info(ex *e, tg__pb *g, int field, const char *name, const tg_tensor *t,
                       bool sym_batch)
{
    tg__pb vi, ty, tt, sh;
    tg__pb_init(&vi, e->ctx);
    tg__pb_init(&ty, e->ctx);
    tg__pb_init(&tt, e->ctx);
    tg__pb_init(&sh, e->ctx);
    for (int d = 0; d < t->ndim; d++) {
        tg__pb dim;
        tg__pb_init(&dim, e->ctx);
        if (d == 0 && sym_batch)
            tg__pb_str(&dim, DIM_PARAM, "N");
        else
            tg__pb_int(&dim, DIM_VALUE, t->shape[d]);
        tg__pb_msg(&sh, SHAPE_DIM, &dim);
        tg__pb_free(&dim);
    }
    tg__pb_int(&tt, TT_ELEM_TYPE, DT_FLOAT);
    tg__pb_msg(&tt, TT_SHAPE, &sh);
    tg__pb_msg(&ty, TYPE_TENSOR, &tt);
    tg__pb_str(&vi, VI_NAME, name);
    tg__pb_msg(&vi, VI_TYPE, &ty);
    tg__pb_msg(g, field, &vi);
    tg__pb_free(&vi);
    tg__pb_free(&ty);
    tg__pb_free(&tt);
    tg__pb_free(&sh);
}

typedef struct {
    const tg__pb *model;
} write_arg;

static tg_status write_model(FILE *fp, void *arg)
{
    const tg__pb *m = ((const write_arg *)arg)->model;
    return fwrite(m->p, 1, m->n, fp) == m->n ? TG_OK : TG_ERR_IO;
}

/* Mark (t->mark = stamp) every tensor the output depends on. */
static bool mark_reachable(ex *e, tg_tensor *y, uint64_t stamp)
{
    size_t cap = 64, sp = 0;
    tg_tensor **stack = tg__malloc(e->ctx, cap * sizeof *stack);
    if (!stack)
        return false;
    y->mark = stamp;
    stack[sp++] = y;
    while (sp) {
        tg_tensor *t = stack[--sp];
        for (int k = 0; k < TG_MAX_SRC; k++) {
            tg_tensor *c = t->src[k];
            if (!c || c->mark == stamp)
                continue;
            c->mark = stamp;
            if (sp == cap) {
                tg_tensor **p = tg__malloc(e->ctx, 2 * cap * sizeof *p);
                if (!p) {
                    tg__free(e->ctx, stack);
                    return false;
                }
                memcpy(p, stack, sp * sizeof *p);
                tg__free(e->ctx, stack);
                stack = p;
                cap *= 2;
            }
            stack[sp++] = c;
        }
    }
    tg__free(e->ctx, stack);
    return true;
}

void tg_onnx_options_init(tg_onnx_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->opset = 13;
    o->dynamic_batch = true;
    o->input_name = "input";
    o->output_name = "output";
    o->producer_version = TG_VERSION_STRING;
}

static tg_status build(ex *e, const tg_onnx_options *o, tg_tensor *x, tg_tensor *y,
                       tg__pb *model)
{
    tg_ctx *ctx = e->ctx;
    const tg__trace *tr = e->tr;
    /* state names of the root */
    size_t ns = tg_module_n_state(e->root);
    e->state = tg__calloc(ctx, ns ? ns : 1, sizeof *e->state);
    if (!e->state)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", e->who);
    for (size_t i = 0; i < ns; i++) {
        const char *name = NULL;
        tg_tensor *t = tg_module_state(e->root, i, &name, NULL);
        e->state[i].t = t;
        e->state[i].name = name ? xstrdup(e, name) : NULL;
        e->n_state = i + 1;
        if (e->failed)
            return ctx->status;
    }
    add_name(e, x, o->input_name);
    uint64_t stamp = ++ctx->mark;
    if (!mark_reachable(e, y, stamp))
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", e->who);
    bool y_done = false;
    for (size_t i = 0; i < tr->n_ops && !e->failed; i++) {
        tg_tensor *t = tr->ops[i];
        if (t->mark != stamp || t == x)
            continue;
        e->cur_op = (int)i;
        char buf[48];
        snprintf(buf, sizeof buf, "/v%zu", i);
        const char *out = t == y ? o->output_name : buf;
        /* name registered after the inputs: a node never reads its own output */
        char *keep = xstrdup(e, out);
        if (!keep)
            break;
        tg_status st = export_op(e, t, keep);
        if (st == TG_OK && !e->failed)
            add_name(e, t, keep);
        tg__free(ctx, keep);
        if (t == y)
            y_done = true;
    }
    e->cur_op = -1;
    if (e->failed)
        return ctx->status;
    if (!y_done) { /* the output is the input or a leaf */
        const char *in = value(e, y);
        simple(e, "Identity", &in, 1, o->output_name);
    }

    tg__pb g;
    tg__pb_init(&g, ctx);
    tg__pb_raw(&g, e->nodes.p, e->nodes.n);
    tg__pb_str(&g, GRAPH_NAME, "tinygrad");
    tg__pb_raw(&g, e->inits.p, e->inits.n);
    value_info(e, &g, GRAPH_INPUT, o->input_name, x, e->dynamic);
    value_info(e, &g, GRAPH_OUTPUT, o->output_name, y,
               e->dynamic && y->ndim && y->shape[0] == e->batch);
    if (e->nodes.oom || e->inits.oom)
        g.oom = true;

    tg__pb_int(model, MODEL_IR_VERSION, o->opset >= 15 ? 8 : 7);
    tg__pb_str(model, MODEL_PRODUCER_NAME, "libtinygrad");
    tg__pb_str(model, MODEL_PRODUCER_VERSION,
               o->producer_version ? o->producer_version : TG_VERSION_STRING);
    tg__pb_msg(model, MODEL_GRAPH, &g);
    tg__pb_free(&g);
    tg__pb os;
    tg__pb_init(&os, ctx);
    tg__pb_str(&os, OPSET_DOMAIN, "");
    tg__pb_int(&os, OPSET_VERSION, o->opset);
    tg__pb_msg(model, MODEL_OPSET_IMPORT, &os);
    tg__pb_free(&os);
    for (size_t i = 0; i < tg_module_n_metadata(e->root); i++) {
        const char *v = NULL, *k = tg_module_metadata_at(e->root, i, &v);
        tg__pb kv;
        tg__pb_init(&kv, ctx);
        tg__pb_str(&kv, KV_KEY, k);
        tg__pb_str(&kv, KV_VALUE, v);
        tg__pb_msg(model, MODEL_METADATA_PROPS, &kv);
        tg__pb_free(&kv);
    }
    if (model->oom)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory building the model", e->who);
    if (model->n > (size_t)INT32_MAX)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: the model is over 2 GiB (protobuf limit)",
                         e->who);
    return TG_OK;
}

tg_status tg_module_export_onnx(tg_module *m, int ndim, const int64_t *shape, const char *path,
                                const tg_onnx_options *opts)
{
    if (!m)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = tg_module_ctx(m);
    const char *who = "module_export_onnx";
    if (!path || !path[0])
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: path is NULL or empty", who);
    tg_onnx_options o;
    tg_onnx_options_init(&o);
    if (opts) {
        if (opts->struct_size < offsetof(tg_onnx_options, opset) + sizeof opts->opset ||
            opts->struct_size > sizeof o)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: options struct_size %zu is not sizeof(tg_onnx_options) (%zu)",
                             who, opts->struct_size, sizeof o);
        memcpy(&o, opts, opts->struct_size);
        o.struct_size = sizeof o;
    }
    if (o.opset < 13 || o.opset > 17)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: opset %d is not supported (13 to 17)",
                         who, o.opset);
    if (!o.input_name || !o.input_name[0] || !o.output_name || !o.output_name[0] ||
        !strcmp(o.input_name, o.output_name))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: input and output names must be non-empty and differ", who);
    if (ndim > 0 && shape && ndim <= TG_MAX_DIMS && shape[0] <= 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: batch size must be positive", who);

    tg__arena_mark mark = tg__arena_get_mark(ctx);
    tg__trace tr;
    tg_tensor *x = NULL, *y = NULL;
    tg_status st = tg__module_trace(m, who, ndim, shape, &tr, &x, &y);
    if (st != TG_OK) {
        tg__arena_rewind(ctx, mark);
        return st;
    }
    ex e = {.ctx = ctx, .who = who, .root = m, .tr = &tr, .batch = shape[0],
            .dynamic = o.dynamic_batch, .opset = o.opset, .cur_op = -1};
    tg__pb_init(&e.nodes, ctx);
    tg__pb_init(&e.inits, ctx);
    tg__pb model;
    tg__pb_init(&model, ctx);
    st = build(&e, &o, x, y, &model);
    if (st == TG_OK) {
        write_arg wa = {&model};
        st = tg__write_atomic(ctx, "onnx", path, write_model, &wa);
    }
    tg__pb_free(&model);
    tg__pb_free(&e.nodes);
    tg__pb_free(&e.inits);
    for (size_t i = 0; i < e.n_v; i++)
        tg__free(ctx, e.v[i].name);
    tg__free(ctx, e.v);
    for (size_t i = 0; i < e.n_state; i++)
        tg__free(ctx, e.state[i].name);
    tg__free(ctx, e.state);
    tg__trace_free(ctx, &tr);
    tg__arena_rewind(ctx, mark);
    return st;
}
