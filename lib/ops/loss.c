/* SPDX-License-Identifier: MIT */
/* Losses: cross-entropy (fused log-softmax + NLL), NLL and mean squared
 * error, each with mean / sum / none reduction like torch.nn.functional.
 *
 * Cross-entropy keeps two floats per sample (row max and log-sum) and the
 * copied targets; its backward recomputes softmax from them and writes
 * (softmax - onehot) * g / N in one pass over the logits. Sums over
 * samples are accumulated in double, serially, so results are deterministic. */
#include "tg_internal.h"

#include <math.h>

/* Saved in out->aux by cross_entropy (row max and log-sum, used as
 * log_softmax = (x - max) - logsum, exact even for logits near +-1000) and
 * by nll_loss (stats NULL). */
typedef struct {
    int32_t *targets;
    float *stats; /* [N][2]: max, log(sum(exp(x - max))) */
} cls_saved;

/* Per-sample gradient scale from the output gradient. */
static inline float sample_scale(const tg_tensor *out, int64_t i, int64_t n)
{
    switch ((tg_reduction)out->p.i[0]) {
    case TG_REDUCTION_MEAN: return out->grad[0] / (float)n;
    case TG_REDUCTION_SUM: return out->grad[0];
    default: return out->grad[i];
    }
}

static bool check_reduction(tg_ctx *ctx, const char *who, tg_reduction r)
{
    if (r == TG_REDUCTION_MEAN || r == TG_REDUCTION_SUM || r == TG_REDUCTION_NONE)
        return true;
    tg__error(ctx, TG_ERR_INVALID_ARG, "%s: unknown reduction %d", who, (int)r);
    return false;
}

/* Validates input [N, C] against n targets in [0, C). No side effect but
 * the error on failure. */
static bool check_class_args(tg_ctx *ctx, const char *who, const tg_tensor *x,
                             const int32_t *targets, size_t n, tg_reduction r)
{
    char s[160];
    if (!check_reduction(ctx, who, r))
        return false;
    if (x->ndim != 2) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: input must be [N, C], got %s", who,
                  tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return false;
    }
    if ((uint64_t)n != (uint64_t)x->shape[0]) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: %zu targets for input %s", who, n,
                  tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return false;
    }
    if (n && !targets) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: targets is NULL", who);
        return false;
    }
    int64_t c = x->shape[1];
    for (size_t i = 0; i < n; i++)
        if (targets[i] < 0 || targets[i] >= c) {
            tg__error(ctx, TG_ERR_INVALID_ARG,
                      "%s: target[%zu] = %d is out of range for %lld classes", who, i,
                      (int)targets[i], (long long)c);
            return false;
        }
    return true;
}

/* Result of a per-sample loss: [N] for none, 0-d otherwise. */
static tg_tensor *loss_result(tg_ctx *ctx, const tg__op_def *op, tg_reduction r, int ndim,
                              const int64_t *shape, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *out = r == TG_REDUCTION_NONE ? tg__op_result(ctx, op, ndim, shape, a, b, NULL)
                                            : tg__op_result(ctx, op, 0, NULL, a, b, NULL);
    if (out)
        out->p.i[0] = (int32_t)r;
    return out;
}

/* Fill the saved targets (and row stats) when the result needs a backward. */
static bool save_targets(tg_ctx *ctx, const char *who, tg_tensor *out, const int32_t *targets,
                         size_t n, bool with_stats)
{
    if (!out->requires_grad)
        return true;
    cls_saved *sv = tg__arena_alloc(ctx, sizeof *sv);
    int32_t *t = sv ? tg__arena_alloc(ctx, n * sizeof *t) : NULL;
    float *stats = t && with_stats ? tg__arena_alloc(ctx, 2 * n * sizeof *stats) : NULL;
    if (!t || (with_stats && !stats)) {
        tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
        return false;
    }
    if (n)
        memcpy(t, targets, n * sizeof *t);
    sv->targets = t;
    sv->stats = stats;
    out->aux = sv;
    return true;
}

/* ---- cross-entropy ---------------------------------------------------- */

static void cross_entropy_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *x = out->src[0];
    if (!x->requires_grad)
        return;
    const cls_saved *sv = out->aux;
    int64_t n = x->shape[0], c = x->shape[1];
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x->data + i * c;
        float *gi = x->grad + i * c;
        float s = sample_scale(out, i, n), m = sv->stats[2 * i], ls = sv->stats[2 * i + 1];
        for (int64_t k = 0; k < c; k++)
            gi[k] += expf((xi[k] - m) - ls) * s;
        gi[sv->targets[i]] -= s;
    }
}

static const tg__op_def cross_entropy_op = {"cross_entropy", cross_entropy_backward};

static tg_tensor *cross_entropy_unguarded(tg_ctx *ctx, tg_tensor *logits, const int32_t *targets,
                                          size_t n, tg_reduction reduction)
{
    const char *who = cross_entropy_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, logits))
        return NULL;
    if (!check_class_args(ctx, who, logits, targets, n, reduction))
        return NULL;
    int64_t shape_n = (int64_t)n, c = logits->shape[1];
    tg_tensor *out = loss_result(ctx, &cross_entropy_op, reduction, 1, &shape_n, logits, NULL);
    if (!out || !save_targets(ctx, who, out, targets, n, true))
        return NULL;
    float *stats = out->aux ? ((cls_saved *)out->aux)->stats : NULL;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = logits->data + (int64_t)i * c;
        float m = xi[0];
        for (int64_t k = 1; k < c; k++)
            m = xi[k] > m ? xi[k] : m;
        float s = 0.0f;
        for (int64_t k = 0; k < c; k++)
            s += expf(xi[k] - m);
        float ls = logf(s);
        if (stats) {
            stats[2 * i] = m;
            stats[2 * i + 1] = ls;
        }
        float li = ls - (xi[targets[i]] - m);
        if (reduction == TG_REDUCTION_NONE)
            out->data[i] = li;
        else
            total += li;
    }
    if (reduction != TG_REDUCTION_NONE)
        out->data[0] = (float)(reduction == TG_REDUCTION_MEAN ? total / (double)n : total);
    return out;
}

tg_tensor *tg_cross_entropy(tg_ctx *ctx, tg_tensor *logits, const int32_t *targets, size_t n,
                            tg_reduction reduction)
{
    TG__OP(ctx, "cross_entropy", cross_entropy_unguarded(ctx, logits, targets, n, reduction));
}

/* ---- nll ---------------------------------------------------------------- */

static void nll_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *x = out->src[0];
    if (!x->requires_grad)
        return;
    const cls_saved *sv = out->aux;
    int64_t n = x->shape[0], c = x->shape[1];
    for (int64_t i = 0; i < n; i++)
        x->grad[i * c + sv->targets[i]] -= sample_scale(out, i, n);
}

static const tg__op_def nll_op = {"nll_loss", nll_backward};

static tg_tensor *nll_loss_unguarded(tg_ctx *ctx, tg_tensor *log_probs, const int32_t *targets,
                                     size_t n, tg_reduction reduction)
{
    const char *who = nll_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, log_probs))
        return NULL;
    if (!check_class_args(ctx, who, log_probs, targets, n, reduction))
        return NULL;
    int64_t shape_n = (int64_t)n, c = log_probs->shape[1];
    tg_tensor *out = loss_result(ctx, &nll_op, reduction, 1, &shape_n, log_probs, NULL);
    if (!out || !save_targets(ctx, who, out, targets, n, false))
        return NULL;
    if (reduction == TG_REDUCTION_NONE) {
        for (size_t i = 0; i < n; i++)
            out->data[i] = -log_probs->data[(int64_t)i * c + targets[i]];
        return out;
    }
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s -= log_probs->data[(int64_t)i * c + targets[i]];
    out->data[0] = (float)(reduction == TG_REDUCTION_MEAN ? s / (double)n : s);
    return out;
}

tg_tensor *tg_nll_loss(tg_ctx *ctx, tg_tensor *log_probs, const int32_t *targets, size_t n,
                       tg_reduction reduction)
{
    TG__OP(ctx, "nll_loss", nll_loss_unguarded(ctx, log_probs, targets, n, reduction));
}

/* ---- mse ---------------------------------------------------------------- */

static void mse_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *a = out->src[0], *b = out->src[1];
    int64_t n = a->numel;
    float *ga = a->requires_grad ? a->grad : NULL, *gb = b->requires_grad ? b->grad : NULL;
    const float *x = a->data, *y = b->data;
    tg_reduction r = (tg_reduction)out->p.i[0];
    for (int64_t i = 0; i < n; i++) {
        float s = r == TG_REDUCTION_NONE ? out->grad[i] : sample_scale(out, 0, n);
        float d = 2.0f * (x[i] - y[i]) * s;
        if (ga)
            ga[i] += d;
        if (gb)
            gb[i] -= d;
    }
}

static const tg__op_def mse_op = {"mse_loss", mse_backward};

static tg_tensor *mse_loss_unguarded(tg_ctx *ctx, tg_tensor *a, tg_tensor *b,
                                     tg_reduction reduction)
{
    const char *who = mse_op.name;
    if (!ctx || tg__null_input(ctx, who, 2, a, b))
        return NULL;
    if (!check_reduction(ctx, who, reduction))
        return NULL;
    if (!tg__same_shape(a, b)) {
        char s1[160], s2[160];
        tg__error(ctx, TG_ERR_SHAPE, "%s: shapes %s and %s differ", who,
                  tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                  tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
        return NULL;
    }
    tg_tensor *out = loss_result(ctx, &mse_op, reduction, a->ndim, a->shape, a, b);
    if (!out)
        return NULL;
    const float *x = a->data, *y = b->data;
    if (reduction == TG_REDUCTION_NONE) {
        for (int64_t i = 0; i < a->numel; i++) {
            float d = x[i] - y[i];
            out->data[i] = d * d;
        }
        return out;
    }
    double s = 0.0;
    for (int64_t i = 0; i < a->numel; i++) {
        double d = (double)x[i] - (double)y[i];
        s += d * d;
    }
    out->data[0] = (float)(reduction == TG_REDUCTION_MEAN ? s / (double)a->numel : s);
    return out;
}

tg_tensor *tg_mse_loss(tg_ctx *ctx, tg_tensor *a, tg_tensor *b, tg_reduction reduction)
{
    TG__OP(ctx, "mse_loss", mse_loss_unguarded(ctx, a, b, reduction));
}
