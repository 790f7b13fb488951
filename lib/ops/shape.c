/* SPDX-License-Identifier: MIT */
/* Shape ops. reshape and flatten are views: the result shares the input's
 * data (tensors are always contiguous, so any same-numel shape is valid) and
 * backward passes the gradient back element for element. transpose and permute
 * copy into a contiguous result, because every op assumes contiguous data;
 * backward scatters the gradient through the inverse permutation. */
#include "pointwise.h" /* tg__grad_pass */

/* ---- views: reshape, flatten ------------------------------------------ */

/* The gradient back element for element, stored when fresh (no zero-fill
 * first), split like a batch (tg__grad_pass); nothing to move where the
 * planner gave the input this result's buffer (grad_view). */
static void view_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *a = out->src[0];
    if (!a->requires_grad)
        return;
    bool fresh = tg__grad_fresh(a);
    if (a->grad != out->grad)
        tg__grad_pass(ctx, a->grad, out->grad, out->numel, fresh);
}

/* A view's result: its backward stores into a fresh gradient, or finds
 * its input's gradient in its own buffer (grad_view). */
static tg_tensor *stores(tg_tensor *t)
{
    if (t) {
        t->bwd_stores = TG__SRC(0);
        t->grad_view = true;
    }
    return t;
}

static const tg__op_def reshape_op = {"reshape", view_backward};
static const tg__op_def flatten_op = {"flatten", view_backward};

static tg_tensor *reshape_unguarded(tg_ctx *ctx, tg_tensor *a, int ndim, const int64_t *shape)
{
    const char *who = reshape_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, a))
        return NULL;
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: rank %d outside 0..%d", who, ndim, TG_MAX_DIMS);
        return NULL;
    }
    if (ndim > 0 && !shape) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: shape is NULL", who);
        return NULL;
    }
    char s1[160], s2[160];
    int64_t dims[TG_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        } else if (shape[i] < 0) {
            tg__error(ctx, TG_ERR_INVALID_ARG,
                      "%s: bad dimension %lld at %d in %s (only one -1 is allowed)", who,
                      (long long)shape[i], i, tg__shape_str(s1, sizeof s1, ndim, shape));
            return NULL;
        } else if (shape[i] && known > INT64_MAX / shape[i]) {
            known = -1; /* overflow: cannot match numel */
            break;
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0 && known > 0 && a->numel % known == 0)
        dims[infer] = a->numel / known;
    if ((infer >= 0 && (known <= 0 || a->numel % known != 0)) ||
        (infer < 0 && known != a->numel)) {
        tg__error(ctx, TG_ERR_SHAPE, "%s: cannot view %s (%lld elements) as %s", who,
                  tg__shape_str(s1, sizeof s1, a->ndim, a->shape), (long long)a->numel,
                  tg__shape_str(s2, sizeof s2, ndim, shape));
        return NULL;
    }
    /* Zeros hide overflow from the count above: [0, 2^40, 2^40] "matches"
     * 0 elements, but its other dims would overflow stride products. */
    int64_t numel;
    if (!tg__shape_numel(ctx, who, ndim, dims, &numel))
        return NULL;
    return stores(tg__view(ctx, &reshape_op, a, ndim, dims));
}

tg_tensor *tg_reshape(tg_ctx *ctx, tg_tensor *a, int ndim, const int64_t *shape)
{
    TG__OP(ctx, "reshape", reshape_unguarded(ctx, a, ndim, shape));
}

static tg_tensor *flatten_unguarded(tg_ctx *ctx, tg_tensor *a, int start_dim, int end_dim)
{
    const char *who = flatten_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, a))
        return NULL;
    int nd = a->ndim ? a->ndim : 1; /* a 0-d tensor flattens to [1], as PyTorch */
    int s = tg__axis(ctx, who, start_dim, nd);
    int e = s < 0 ? -1 : tg__axis(ctx, who, end_dim, nd);
    if (e < 0)
        return NULL;
    if (s > e) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: start_dim %d comes after end_dim %d", who,
                  start_dim, end_dim);
        return NULL;
    }
    int64_t dims[TG_MAX_DIMS];
    int k = 0;
    if (a->ndim == 0) {
        dims[k++] = 1;
    } else {
        for (int i = 0; i < s; i++)
            dims[k++] = a->shape[i];
        int64_t m = 1;
        for (int i = s; i <= e; i++)
            m *= a->shape[i];
        dims[k++] = m;
        for (int i = e + 1; i < a->ndim; i++)
            dims[k++] = a->shape[i];
    }
    return stores(tg__view(ctx, &flatten_op, a, k, dims));
}

tg_tensor *tg_flatten(tg_ctx *ctx, tg_tensor *a, int start_dim, int end_dim)
{
    TG__OP(ctx, "flatten", flatten_unguarded(ctx, a, start_dim, end_dim));
}

/* ---- copies: transpose, permute --------------------------------------- */

/* Walk every output element of a permuted copy: i is the flat output index,
 * j the matching input offset. The innermost output dim runs as a plain
 * loop with a fixed input stride. perm is stored in out->p.i. */
#define PERM_WALK(out, a, body)                                                                \
    do {                                                                                       \
        int nd_ = (out)->ndim;                                                                 \
        int64_t ist_[TG_MAX_DIMS], st_[TG_MAX_DIMS], idx_[TG_MAX_DIMS] = {0}, s_ = 1;          \
        for (int d_ = (a)->ndim - 1; d_ >= 0; d_--) {                                          \
            ist_[d_] = s_;                                                             \
            s_ *= (a)->shape[d_];                                                              \
        }                                                                                      \
        for (int d_ = 0; d_ < nd_; d_++)                                                       \
            st_[d_] = ist_[(out)->p.i[d_]];                                                    \
        int64_t n_ = nd_ ? (out)->shape[nd_ - 1] : 1, last_ = nd_ ? st_[nd_ - 1] : 0, j0 = 0; \
        for (int64_t i = 0; i < (out)->numel;) {                                               \
            for (int64_t k_ = 0; k_ < n_; k_++, i++) {                                         \
                int64_t j = j0 + k_ * last_;                                                   \
                body;                                                                          \
            }                                                                                  \
            for (int d_ = nd_ - 2; d_ >= 0; d_--) {                                            \
                j0 += st_[d_];                                                                 \
                if (++idx_[d_] < (out)->shape[d_])                                             \
                    break;                                                                     \
                j0 -= st_[d_] * (out)->shape[d_];                                              \
                idx_[d_] = 0;                                                                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static void permute_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *a = out->src[0];
    if (!a->requires_grad)
        return;
    const float *g = out->grad;
    float *ga = a->grad;
    PERM_WALK(out, a, ga[j] += g[i]);
}

static const tg__op_def permute_op = {"permute", permute_backward};
static const tg__op_def transpose_op = {"transpose", permute_backward};

/* perm already validated (normalised, a permutation of 0..ndim-1). */
static tg_tensor *permute_copy(tg_ctx *ctx, const tg__op_def *op, tg_tensor *a, const int *perm)
{
    int64_t shape[TG_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++)
        shape[i] = a->shape[perm[i]];
    tg_tensor *out = tg__op_result(ctx, op, a->ndim, shape, a, NULL, NULL);
    if (!out)
        return NULL;
    for (int i = 0; i < a->ndim; i++)
        out->p.i[i] = perm[i];
    if (out->numel == 0)
        return out;
    const float *x = a->data;
    float *y = out->data;
    PERM_WALK(out, a, y[i] = x[j]);
    return out;
}

static tg_tensor *permute_unguarded(tg_ctx *ctx, tg_tensor *a, const int *perm)
{
    const char *who = permute_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, a))
        return NULL;
    if (a->ndim > 0 && !perm) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: perm is NULL", who);
        return NULL;
    }
    int p[TG_MAX_DIMS];
    bool seen[TG_MAX_DIMS] = {false};
    for (int i = 0; i < a->ndim; i++) {
        int d = perm[i] < 0 ? perm[i] + a->ndim : perm[i];
        if (d < 0 || d >= a->ndim) {
            tg__error(ctx, TG_ERR_INVALID_ARG, "%s: perm[%d] = %d out of range for rank %d",
                      who, i, perm[i], a->ndim);
            return NULL;
        }
        if (seen[d]) {
            tg__error(ctx, TG_ERR_INVALID_ARG, "%s: perm repeats dim %d (perm[%d] = %d)", who,
                      d, i, perm[i]);
            return NULL;
        }
        seen[d] = true;
        p[i] = d;
    }
    return permute_copy(ctx, &permute_op, a, p);
}

tg_tensor *tg_permute(tg_ctx *ctx, tg_tensor *a, const int *perm)
{
    TG__OP(ctx, "permute", permute_unguarded(ctx, a, perm));
}

static tg_tensor *transpose_unguarded(tg_ctx *ctx, tg_tensor *a, int dim0, int dim1)
{
    const char *who = transpose_op.name;
    if (!ctx || tg__null_input(ctx, who, 1, a))
        return NULL;
    /* A 0-d tensor has one implicit dim (0 or -1), as in PyTorch. */
    int nd = a->ndim ? a->ndim : 1;
    int d0 = tg__axis(ctx, who, dim0, nd);
    int d1 = d0 < 0 ? -1 : tg__axis(ctx, who, dim1, nd);
    if (d1 < 0)
        return NULL;
    if (a->ndim == 0)
        return permute_copy(ctx, &transpose_op, a, NULL);
    int p[TG_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++)
        p[i] = i;
    p[d0] = d1;
    p[d1] = d0;
    return permute_copy(ctx, &transpose_op, a, p);
}

tg_tensor *tg_transpose(tg_ctx *ctx, tg_tensor *a, int dim0, int dim1)
{
    TG__OP(ctx, "transpose", transpose_unguarded(ctx, a, dim0, dim1));
}
