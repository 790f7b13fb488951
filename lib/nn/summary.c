/* SPDX-License-Identifier: MIT */
/* Model summaries (tg_module_summary, tg_module_flops): trace one forward
 * pass (tg__module_trace) and report each module call's output shape,
 * parameter count and FLOPs, like torchinfo. FLOPs count two per
 * multiply-add of conv2d, linear and matmul, which is what dominates and
 * what torchinfo and fvcore count as "MACs x 2"; bias adds, activations,
 * pooling and normalisation are left out. */
#include "tg_internal.h"

#include <inttypes.h>
#include <stdio.h>

/* FLOPs of one op result (whole batch). */
static int64_t op_flops(const tg_tensor *t)
{
    const char *n = t->op->name;
    if (!strcmp(n, "conv2d") || !strcmp(n, "conv2d_relu")) {
        const tg_tensor *w = t->src[1];
        return w ? 2 * t->numel * w->shape[1] * w->shape[2] * w->shape[3] : 0;
    }
    if (!strcmp(n, "linear")) {
        const tg_tensor *w = t->src[1];
        return w ? 2 * t->numel * w->shape[1] : 0;
    }
    if (!strcmp(n, "matmul")) {
        const tg_tensor *a = t->src[0];
        return a && a->ndim ? 2 * t->numel * a->shape[a->ndim - 1] : 0;
    }
    return 0;
}

static int64_t range_flops(const tg__trace *tr, size_t b, size_t e)
{
    int64_t f = 0;
    for (size_t i = b; i < e; i++)
        f += op_flops(tr->ops[i]);
    return f;
}

typedef struct {
    int64_t total, trainable, buffers;
} counts;

static counts count_params(tg_module *m)
{
    counts c = {0, 0, 0};
    size_t n = tg_module_n_state(m);
    for (size_t i = 0; i < n; i++) {
        bool is_param = false;
        tg_tensor *t = tg_module_state(m, i, NULL, &is_param);
        if (!t)
            continue;
        if (!is_param)
            c.buffers += t->numel;
        else {
            c.total += t->numel;
            if (t->requires_grad)
                c.trainable += t->numel;
        }
    }
    return c;
}

/* 1234567 -> "1,234,567" */
static const char *group(char *buf, size_t size, int64_t v)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%" PRId64, v < 0 ? -v : v);
    size_t n = strlen(raw), k = 0;
    if (v < 0 && k + 1 < size)
        buf[k++] = '-';
    for (size_t i = 0; i < n && k + 1 < size; i++) {
        if (i && (n - i) % 3 == 0 && k + 2 < size)
            buf[k++] = ',';
        buf[k++] = raw[i];
    }
    buf[k] = '\0';
    return buf;
}

typedef struct {
    char *buf;
    size_t size, len;
    bool trunc;
} outbuf;

static void outf(outbuf *o, const char *fmt, ...) TG_PRINTF(2, 3);
static void outf(outbuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->size ? o->size - o->len : 0;
    int w = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if ((size_t)w >= room) {
        o->trunc = true;
        o->len = o->size ? o->size - 1 : 0;
    } else {
        o->len += (size_t)w;
    }
}

static tg_status run(tg_module *m, const char *who, int ndim, const int64_t *shape,
                     outbuf *o, int64_t *flops_out)
{
    if (!m)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = tg_module_ctx(m);
    tg__arena_mark mark = tg__arena_get_mark(ctx);
    tg__trace tr;
    tg_tensor *x = NULL, *y = NULL;
    tg_status st = tg__module_trace(m, who, ndim, shape, &tr, &x, &y);
    if (st != TG_OK) {
        tg__arena_rewind(ctx, mark);
        return st;
    }
    int64_t flops = range_flops(&tr, 0, tr.n_ops) / shape[0];
    if (flops_out)
        *flops_out = flops;
    if (o) {
        char sh[160], a[40], b[40];
        outf(o, "%-40s %-20s %12s %14s\n", "Layer (type)", "Output shape", "Param #",
             "FLOPs/sample");
        outf(o, "%.*s\n", 89,
             "=============================================================================="
             "===================");
        for (size_t i = 0; i < tr.n_calls; i++) {
            const tg__trace_call *c = &tr.calls[i];
            char path[256], label[300];
            tg__module_path(c->m, path, sizeof path);
            if (c->depth == 0)
                snprintf(label, sizeof label, "%s", tg_module_type(c->m));
            else
                snprintf(label, sizeof label, "%*s%s (%s)", 2 * c->depth, "", path,
                         tg_module_type(c->m));
            counts pc = count_params((tg_module *)c->m);
            if (c->y)
                tg__shape_str(sh, sizeof sh, c->y->ndim, c->y->shape);
            else
                snprintf(sh, sizeof sh, "?");
            outf(o, "%-40s %-20s %12s %14s\n", label, sh, group(a, sizeof a, pc.total),
                 group(b, sizeof b, range_flops(&tr, c->op_begin, c->op_end) / shape[0]));
        }
        counts tot = count_params(m);
        outf(o, "%.*s\n", 89,
             "=============================================================================="
             "===================");
        outf(o, "Input shape: %s\n", tg__shape_str(sh, sizeof sh, ndim, shape));
        outf(o, "Total params: %s\n", group(a, sizeof a, tot.total));
        outf(o, "Trainable params: %s\n", group(a, sizeof a, tot.trainable));
        outf(o, "Non-trainable params: %s\n", group(a, sizeof a, tot.total - tot.trainable));
        outf(o, "Buffer elements: %s\n", group(a, sizeof a, tot.buffers));
        outf(o, "Forward FLOPs per sample: %s (%.2f MFLOP)\n", group(a, sizeof a, flops),
             (double)flops * 1e-6);
        outf(o, "Parameter size: %.2f KiB (float32)\n", (double)tot.total * 4.0 / 1024.0);
    }
    tg__trace_free(ctx, &tr);
    tg__arena_rewind(ctx, mark);
    if (o && o->trunc)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: the summary does not fit in %zu bytes", who,
                         o->size);
    return TG_OK;
}

tg_status tg_module_summary(tg_module *m, int ndim, const int64_t *shape, char *buf,
                            size_t size)
{
    if (!m)
        return TG_ERR_INVALID_ARG;
    if (!buf || !size)
        return tg__error(tg_module_ctx(m), TG_ERR_INVALID_ARG, "module_summary: buffer is NULL");
    buf[0] = '\0';
    outbuf o = {buf, size, 0, false};
    return run(m, "module_summary", ndim, shape, &o, NULL);
}

tg_status tg_module_flops(tg_module *m, int ndim, const int64_t *shape, int64_t *flops)
{
    if (!m)
        return TG_ERR_INVALID_ARG;
    if (!flops)
        return tg__error(tg_module_ctx(m), TG_ERR_INVALID_ARG, "module_flops: flops is NULL");
    return run(m, "module_flops", ndim, shape, NULL, flops);
}
