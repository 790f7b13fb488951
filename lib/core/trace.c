/* SPDX-License-Identifier: MIT */
/* Recording a forward pass's module calls and op results (tg__trace, see
 * tg_internal.h) for ONNX export and model summaries. The hooks run only
 * while ctx->trace is set; they allocate with tg__malloc and, on failure,
 * mark the trace oom (the caller reports it) instead of failing the op. */
#include "tg_internal.h"

static bool grow(tg_ctx *ctx, void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64, bytes;
    if (!tg__mul_size(ncap, elem, &bytes))
        return false;
    void *p = tg__malloc(ctx, bytes);
    if (!p)
        return false;
    if (n)
        memcpy(p, *arr, n * elem);
    tg__free(ctx, *arr);
    *arr = p;
    *cap = ncap;
    return true;
}

int tg__trace_call_begin(tg_ctx *ctx, const tg_module *m, tg_tensor *x)
{
    tg__trace *tr = ctx->trace;
    if (tr->oom || !grow(ctx, (void **)&tr->calls, &tr->cap_calls, tr->n_calls,
                         sizeof *tr->calls)) {
        tr->oom = true;
        return -1;
    }
    int i = (int)tr->n_calls++;
    tg__trace_call *c = &tr->calls[i];
    c->m = m;
    c->parent = tr->cur;
    c->depth = tr->cur >= 0 ? tr->calls[tr->cur].depth + 1 : 0;
    c->x = x;
    c->y = NULL;
    c->op_begin = c->op_end = tr->n_ops;
    tr->cur = i;
    return i;
}

void tg__trace_call_end(tg_ctx *ctx, int call, tg_tensor *y)
{
    tg__trace *tr = ctx->trace;
    if (call < 0)
        return;
    tr->calls[call].y = y;
    tr->calls[call].op_end = tr->n_ops;
    tr->cur = tr->calls[call].parent;
}

void tg__trace_op(tg_ctx *ctx, tg_tensor *t)
{
    tg__trace *tr = ctx->trace;
    if (tr->oom)
        return;
    size_t cap = tr->cap_ops;
    if (!grow(ctx, (void **)&tr->ops, &cap, tr->n_ops, sizeof *tr->ops)) {
        tr->oom = true;
        return;
    }
    if (cap != tr->cap_ops) {
        size_t cap2 = tr->cap_ops;
        if (!grow(ctx, (void **)&tr->op_call, &cap2, tr->n_ops, sizeof *tr->op_call) ||
            cap2 != cap) {
            tr->oom = true;
            return;
        }
        tr->cap_ops = cap;
    }
    tr->op_call[tr->n_ops] = tr->cur;
    tr->ops[tr->n_ops++] = t;
}

void tg__trace_free(tg_ctx *ctx, tg__trace *tr)
{
    tg__free(ctx, tr->calls);
    tg__free(ctx, tr->ops);
    tg__free(ctx, tr->op_call);
    memset(tr, 0, sizeof *tr);
    tr->cur = -1;
}
