/* SPDX-License-Identifier: MIT */
/* Binary arithmetic with NumPy/PyTorch broadcasting (add, sub, mul, div).
 * Forward and backward share one strided walker over the output shape; the
 * common cases (same shape, scalar operand) take a flat loop. Backward sums
 * the gradient over broadcast dimensions, serially, so it is deterministic. */
#include "tg_internal.h"

#include "pointwise.h" /* PW_PAR_MIN */

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

static inline float apply(int kind, float x, float y)
{
    switch (kind) {
    case BIN_ADD: return x + y;
    case BIN_SUB: return x - y;
    case BIN_MUL: return x * y;
    default: return x / y;
    }
}

/* Calls body(i, ia, ib) for every output element i with input offsets. */
#define BCAST_WALK(bc, numel, body)                                                              \
    do {                                                                                       \
        int64_t idx_[TG_MAX_DIMS] = {0}, ia = 0, ib = 0;                                       \
        int last_ = (bc)->ndim - 1;                                                            \
        for (int64_t i = 0; i < (numel);) {                                                    \
            int64_t n_ = last_ >= 0 ? (bc)->shape[last_] : 1;                                  \
            int64_t da_ = last_ >= 0 ? (bc)->sa[last_] : 0, db_ = last_ >= 0 ? (bc)->sb[last_] : 0; \
            for (int64_t k_ = 0; k_ < n_; k_++, i++) {                                         \
                int64_t ja = ia + k_ * da_, jb = ib + k_ * db_;                                \
                body(i, ja, jb);                                                               \
            }                                                                                  \
            for (int d_ = last_ - 1; d_ >= 0; d_--) {                                          \
                ia += (bc)->sa[d_];                                                            \
                ib += (bc)->sb[d_];                                                            \
                if (++idx_[d_] < (bc)->shape[d_])                                              \
                    break;                                                                     \
                ia -= (bc)->sa[d_] * (bc)->shape[d_];                                          \
                ib -= (bc)->sb[d_] * (bc)->shape[d_];                                          \
                idx_[d_] = 0;                                                                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* Same-shape add / sub: flat loops the compiler vectorises, split over the
 * pool when large (element-wise, so any split gives the same bits). */
typedef struct {
    const float *x, *y, *g;
    float *o, *ga, *gb;
    float sb; /* +1 add, -1 sub (exact) */
    bool store_a, store_b; /* backward: the gradient is fresh, store it */
} flat_job;

static void flat_fwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const flat_job *j = arg;
    const float *restrict x = j->x, *restrict y = j->y;
    float *restrict o = j->o;
    for (int64_t i = b; i < e; i++)
        o[i] = x[i] + y[i];
}

/* ga[i] += g[i]; gb[i] += sb * g[i]; one input after the other (ga may be
 * gb, for a + a). */
static void flat_bwd_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const flat_job *j = arg;
    const float *restrict g = j->g;
    if (j->ga) {
        float *restrict ga = j->ga;
        if (j->store_a)
            for (int64_t i = b; i < e; i++)
                ga[i] = g[i];
        else
            for (int64_t i = b; i < e; i++)
                ga[i] += g[i];
    }
    if (j->gb) {
        float *restrict gb = j->gb;
        const float sb = j->sb;
        if (j->store_b)
            for (int64_t i = b; i < e; i++)
                gb[i] = sb * g[i];
        else
            for (int64_t i = b; i < e; i++)
                gb[i] += sb * g[i];
    }
}

static void flat_run(tg_ctx *ctx, tg__range_fn fn, flat_job *j, int64_t n)
{
    if (n >= PW_PAR_MIN && ctx->n_threads > 1)
        tg__parallel_for(ctx, n, fn, j);
    else
        fn(j, 0, n, 0);
}

void tg__grad_pass(tg_ctx *ctx, float *ga, const float *g, int64_t n, bool store)
{
    flat_job j = {.g = g, .ga = ga, .store_a = store};
    tg__parallel_for_elems(ctx, n, n, flat_bwd_range, &j);
}

static void binary_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *a = out->src[0], *b = out->src[1];
    int kind = out->p.i[0];
    tg__bcast bc;
    memcpy(&bc, out->aux, sizeof bc);
    const float *g = out->grad, *x = a->data, *y = b->data;
    float *ga = a->requires_grad ? a->grad : NULL;
    float *gb = b->requires_grad ? b->grad : NULL;
    if ((kind == BIN_ADD || kind == BIN_SUB) && a->numel == out->numel &&
        b->numel == out->numel) {
        flat_job fj = {NULL, NULL, g, NULL, ga, gb, kind == BIN_ADD ? 1.0f : -1.0f,
                       ga && tg__grad_fresh(a), gb && tg__grad_fresh(b)};
        flat_run(ctx, flat_bwd_range, &fj, out->numel);
        return;
    }
    if (ga)
        tg__grad_settle(a);
    if (gb)
        tg__grad_settle(b);
#define BODY(i, ja, jb)                                                                          \
    do {                                                                                       \
        float gi = g[i];                                                                       \
        switch (kind) {                                                                        \
        case BIN_ADD:                                                                          \
            if (ga) ga[ja] += gi;                                                              \
            if (gb) gb[jb] += gi;                                                              \
            break;                                                                             \
        case BIN_SUB:                                                                          \
            if (ga) ga[ja] += gi;                                                              \
            if (gb) gb[jb] -= gi;                                                              \
            break;                                                                             \
        case BIN_MUL:                                                                          \
            if (ga) ga[ja] += gi * y[jb];                                                      \
            if (gb) gb[jb] += gi * x[ja];                                                      \
            break;                                                                             \
        default:                                                                               \
            if (ga) ga[ja] += gi / y[jb];                                                      \
            if (gb) gb[jb] -= gi * x[ja] / (y[jb] * y[jb]);                                   \
            break;                                                                             \
        }                                                                                      \
    } while (0)
    BCAST_WALK(&bc, out->numel, BODY);
#undef BODY
}

static const tg__op_def add_op = {"add", binary_backward};
static const tg__op_def sub_op = {"sub", binary_backward};
static const tg__op_def mul_op = {"mul", binary_backward};
static const tg__op_def div_op = {"div", binary_backward};

static tg_tensor *binary(tg_ctx *ctx, const tg__op_def *op, int kind, tg_tensor *a, tg_tensor *b)
{
    if (!ctx || tg__null_input(ctx, op->name, 2, a, b))
        return NULL;
    tg__bcast bc;
    if (!tg__broadcast(ctx, op->name, a, b, &bc))
        return NULL;
    tg_tensor *out = tg__op_result(ctx, op, bc.ndim, bc.shape, a, b, NULL);
    if (!out)
        return NULL;
    out->p.i[0] = kind;
    out->bwd_stores = TG__SRC(0) | TG__SRC(1); /* binary_backward stores or settles fresh gradients */
    if (out->requires_grad) {
        out->aux = tg__arena_alloc(ctx, sizeof bc);
        if (!out->aux) {
            tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", op->name);
            return NULL;
        }
        memcpy(out->aux, &bc, sizeof bc);
    }
    float *o = out->data;
    const float *x = a->data, *y = b->data;
    int64_t n = out->numel;
    if (a->numel == n && b->numel == n && kind == BIN_ADD) { /* e.g. a residual add */
        flat_job fj = {x, y, NULL, o, NULL, NULL, 1.0f, false, false};
        flat_run(ctx, flat_fwd_range, &fj, n);
    } else if (a->numel == n && b->numel == n) {
        for (int64_t i = 0; i < n; i++)
            o[i] = apply(kind, x[i], y[i]);
    } else if (b->numel == 1 && a->numel == n) {
        float s = y[0];
        for (int64_t i = 0; i < n; i++)
            o[i] = apply(kind, x[i], s);
    } else {
#define BODY(i, ja, jb) o[i] = apply(kind, x[ja], y[jb])
        BCAST_WALK(&bc, n, BODY);
#undef BODY
    }
    return out;
}

tg_tensor *tg_add(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    TG__OP(ctx, "add", binary(ctx, &add_op, BIN_ADD, a, b));
}
tg_tensor *tg_sub(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    TG__OP(ctx, "sub", binary(ctx, &sub_op, BIN_SUB, a, b));
}
tg_tensor *tg_mul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    TG__OP(ctx, "mul", binary(ctx, &mul_op, BIN_MUL, a, b));
}
tg_tensor *tg_div(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    TG__OP(ctx, "div", binary(ctx, &div_op, BIN_DIV, a, b));
}
