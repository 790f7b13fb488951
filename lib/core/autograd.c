/* SPDX-License-Identifier: MIT */
/* Reverse-mode autodiff: topological order by iterative DFS from the loss,
 * gradient buffers allocated up front (so no backward function can fail),
 * then each op's backward in reverse order. All bookkeeping lives in the step
 * arena, so a steady training loop allocates nothing here. */
#include "tg_internal.h"

#include <math.h>

typedef struct {
    tg_tensor *t;
    int next_src;
} frame;

static bool all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

static tg_status anomaly(tg_ctx *ctx, const tg_tensor *t, const float *x, const char *what)
{
    int64_t i = 0;
    while (isfinite(x[i]))
        i++;
    char shape[160];
    return tg__error(ctx, TG_ERR_NUMERIC,
                     "anomaly: %s produced a non-finite value in %s (element %lld of %s)",
                     t->op->name, what, (long long)i,
                     tg__shape_str(shape, sizeof shape, t->ndim, t->shape));
}

static size_t count_persistent(const tg_ctx *ctx)
{
    size_t n = 0;
    for (const tg_tensor *t = ctx->persistent; t; t = t->next)
        n++;
    return n;
}

static tg_status backward(tg_ctx *ctx, tg_tensor *loss);

/* An intermediate's gradient when the context does not retain them: gone. */
static void drop_grad(tg_tensor *t)
{
    t->grad = NULL;
    t->grad_fresh = false;
}

/* On an early return no gradient may be left holding stale values (without
 * retained gradients, intermediates may share buffers: theirs are dropped). */
static tg_status settle_all(const tg_ctx *ctx, tg_tensor **order, size_t n, tg_status s)
{
    for (size_t i = 0; i < n; i++) {
        if (ctx->drop_grads && order[i]->op)
            drop_grad(order[i]);
        else
            tg__grad_settle(order[i]);
    }
    return s;
}

/* A slot of gradient buffers: the floats it must hold (the most of any
 * gradient it takes) and, while one does, its holder. */
typedef struct {
    const tg_tensor *t;
    int64_t cap;
    float *p;
} gslot;

/* Buffers for the intermediates' gradients when they are not retained. In
 * backward order (i downwards) a gradient is needed from the first op that
 * writes it (the consumer highest in the order) through its own op's
 * backward; then its slot is free for a tensor further back: the smallest
 * free slot that holds it, else the largest free one, grown (gradients grow
 * towards the input), the most recently freed of equals (still in cache).
 * Slots are sized, allocated and handed out before any backward runs, so
 * that none can fail; from the step arena, the same each step. */
static bool plan_grads(tg_ctx *ctx, tg_tensor **order, size_t n)
{
    static float planned; /* a mark, never written through */
    gslot *slot = tg__arena_alloc(ctx, n * sizeof *slot);
    /* fr: the free slots; of[w]: the slot of who[w], the w-th tensor planned */
    size_t *fr = tg__arena_alloc(ctx, 2 * n * sizeof *fr), *of = fr + n;
    tg_tensor **who = tg__arena_alloc(ctx, n * sizeof *who);
    if (!slot || !fr || !who)
        return false;
    size_t ns = 0, nf = 0, nw = 0;
    for (size_t i = n; i-- > 0;) {
        tg_tensor *t = order[i];
        for (int k = -1; k < TG_MAX_SRC; k++) { /* t itself (the loss), then its inputs */
            tg_tensor *u = k < 0 ? t : t->src[k];
            if (!u || !u->op || !u->requires_grad || u->grad) /* planned, or kept */
                continue;
            if (k == 0 && t->grad_view) {
                /* t, a view, is the first to reach u (else u would be planned):
                 * u takes t's buffer, which then holds u's gradient as it is
                 * (the seed CNN's flatten copied 225 KB a step). Whoever
                 * reaches u later adds into it once t is done with it. */
                size_t s = 0;
                while (s < ns && slot[s].t != t)
                    s++;
                if (s < ns) {
                    slot[s].t = u;
                    u->grad = &planned;
                    who[nw] = u;
                    of[nw++] = s;
                    continue;
                }
            }
            size_t best = nf; /* index into fr */
            for (size_t b = nf; b-- > 0;) {
                const int64_t c = slot[fr[b]].cap, bc = best < nf ? slot[fr[best]].cap : -1;
                const bool fits = c >= u->numel, bfits = bc >= u->numel;
                if (best == nf || (fits && (!bfits || c < bc)) || (!fits && !bfits && c > bc))
                    best = b;
            }
            size_t sl;
            if (best < nf) {
                sl = fr[best];
                memmove(fr + best, fr + best + 1, (nf - best - 1) * sizeof *fr);
                nf--;
            } else {
                sl = ns++;
                slot[sl].cap = 0;
            }
            if (slot[sl].cap < u->numel)
                slot[sl].cap = u->numel;
            slot[sl].t = u;
            u->grad = &planned; /* until the slots exist */
            who[nw] = u;
            of[nw++] = sl;
        }
        if (!t->op)
            continue;
        for (size_t s = 0; s < ns; s++)
            if (slot[s].t == t) {
                slot[s].t = NULL;
                fr[nf++] = s;
                break;
            }
    }
    for (size_t s = 0; s < ns; s++)
        if (!(slot[s].p = tg__arena_alloc(ctx, (size_t)slot[s].cap * sizeof(float))))
            return false;
    for (size_t w = 0; w < nw; w++) /* fresh already: backward() marks every intermediate */
        who[w]->grad = slot[of[w]].p;
    return true;
}

tg_status tg_backward(tg_ctx *ctx, tg_tensor *loss)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    int e = tg__enter(ctx, "backward");
    if (e < 0)
        return TG_ERR_MISUSE;
    tg_status s = backward(ctx, loss);
    tg__leave(ctx, e);
    return s;
}

static tg_status backward(tg_ctx *ctx, tg_tensor *loss)
{
    if (!loss)
        return ctx->status != TG_OK
                   ? ctx->status
                   : tg__error(ctx, TG_ERR_INVALID_ARG, "backward: loss is NULL");
    if (loss->ctx == ctx && tg__stale(loss))
        return tg__stale_error(ctx, "backward", 0, loss);
    if (loss->numel != 1)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "backward: loss must have one element, it has %lld",
                         (long long)loss->numel);
    if (loss->ctx != ctx)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "backward: loss belongs to another context");
    if (!loss->requires_grad)
        return tg__error(ctx, TG_ERR_STATE,
                         "backward: loss does not require grad (no parameter reached it, or "
                         "grad was disabled)");

    if (ctx->prof_on)
        tg__prof_mark(ctx, NULL); /* ends the last forward op's interval */

    /* Every graph node is a transient tensor (one arena slot each) or a
     * persistent leaf, which bounds the node count without a first pass. */
    size_t cap = ctx->n_headers + count_persistent(ctx) + 1;
    tg_tensor **order = tg__arena_alloc(ctx, cap * sizeof *order);
    frame *stack = tg__arena_alloc(ctx, cap * sizeof *stack);
    if (!order || !stack)
        return tg__error(ctx, TG_ERR_NOMEM, "backward: out of memory");

    uint64_t mark = ++ctx->mark;
    size_t n = 0, sp = 0;
    loss->mark = mark;
    stack[sp++] = (frame){loss, 0};
    while (sp) {
        frame *f = &stack[sp - 1];
        tg_tensor *s = NULL;
        while (f->next_src < TG_MAX_SRC && !s) {
            tg_tensor *c = f->t->src[f->next_src++];
            if (c && c->requires_grad && c->mark != mark)
                s = c;
        }
        if (s) {
            /* The node bound above only counts this ctx's tensors, and a
             * gradient buffer must come from the tensor's own allocator. */
            if (s->ctx != ctx || n + sp >= cap)
                return tg__error(ctx, TG_ERR_INVALID_ARG,
                                 "backward: the graph uses a tensor from another context "
                                 "(input of %s)",
                                 f->t->op ? f->t->op->name : "a leaf");
            if (tg__stale(s)) /* ops refuse stale inputs; a defence in depth */
                return tg__stale_error(ctx, f->t->op ? f->t->op->name : "backward",
                                       f->next_src - 1, s);
            s->mark = mark;
            stack[sp++] = (frame){s, 0};
        } else {
            order[n++] = f->t;
            sp--;
        }
    }

    for (size_t i = 0; i < n; i++) {
        tg_tensor *t = order[i];
        if (ctx->drop_grads && t->op) {
            t->grad_fresh = true; /* a buffer from plan_grads, or kept by a retaining call */
            continue;
        }
        /* Intermediates restart from zero, leaves accumulate. An
         * intermediate's zero-fill is deferred, also for a new buffer: the
         * first op whose backward reaches t either stores (t's bit in its
         * bwd_stores) or has t zero-filled just before it runs. */
        if (!tg__grad_buffer(ctx, t, !t->op))
            return settle_all(ctx, order, i,
                              tg__error(ctx, TG_ERR_NOMEM, "backward: out of memory for gradients"));
        t->grad_fresh = t->op != NULL;
    }
    if (ctx->drop_grads && !plan_grads(ctx, order, n))
        return settle_all(ctx, order, n,
                          tg__error(ctx, TG_ERR_NOMEM, "backward: out of memory for gradients"));

    if (ctx->detect_anomaly)
        for (size_t i = 0; i < n; i++) /* inputs first: the first bad op is the culprit */
            if (order[i]->op && !all_finite(order[i]->data, order[i]->numel))
                return settle_all(ctx, order, n,
                                  anomaly(ctx, order[i], order[i]->data, "its output"));

    tg__grad_settle(loss);
    loss->grad[0] += 1.0f;
    for (size_t i = n; i-- > 0;) {
        tg_tensor *t = order[i];
        tg__grad_settle(t); /* no op reached it: its gradient is zero */
        if (!t->op)
            continue;
        if (!t->op->backward) {
            if (ctx->drop_grads)
                drop_grad(t);
            continue;
        }
        /* Inputs whose gradient the op adds into (no bwd_stores bit), or
         * that appear twice among its inputs, are zero-filled now. */
        for (int k = 0; k < TG_MAX_SRC; k++) {
            tg_tensor *s = t->src[k];
            if (!s || !s->grad_fresh)
                continue;
            bool dup = false;
            for (int m = 0; m < TG_MAX_SRC; m++)
                dup |= m != k && t->src[m] == s;
            if (!(t->bwd_stores & TG__SRC(k)) || dup)
                tg__grad_settle(s);
        }
        if (ctx->prof_on) {
            uint64_t t0 = tg__now_ns();
            t->op->backward(ctx, t);
            tg__prof_add_backward(ctx, t, t0, tg__now_ns() - t0);
        } else {
            t->op->backward(ctx, t);
        }
        if (ctx->detect_anomaly)
            for (int k = 0; k < TG_MAX_SRC; k++) {
                tg_tensor *s = t->src[k];
                if (s && s->requires_grad && !s->grad_fresh && !all_finite(s->grad, s->numel))
                    return settle_all(ctx, order, n,
                                      anomaly(ctx, t, s->grad, "the gradient of its input"));
            }
        if (ctx->drop_grads) /* its buffer may now hold a tensor further back */
            drop_grad(t);
    }
    return TG_OK;
}

bool tg_ctx_set_retain_grads(tg_ctx *ctx, bool retain)
{
    if (!ctx)
        return true;
    bool prev = !ctx->drop_grads;
    ctx->drop_grads = !retain;
    return prev;
}

bool tg_ctx_set_detect_anomaly(tg_ctx *ctx, bool enabled)
{
    if (!ctx)
        return false;
    bool prev = ctx->detect_anomaly;
    ctx->detect_anomaly = enabled;
    return prev;
}
