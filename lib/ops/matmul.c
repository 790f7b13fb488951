/* SPDX-License-Identifier: MIT */
/* tg_matmul (torch.matmul semantics) and tg_linear (fused x W^T + b), both on
 * top of tg__sgemm. Backward accumulates straight into the input gradients
 * with beta = 1, so it needs no temporaries. Batches that share one gradient
 * matrix (broadcast batch dims) are accumulated serially in batch order, so
 * results do not depend on the thread count. */
#include "tg_internal.h"

/* Batches smaller than this (n*m*k multiply-adds) run one per thread with the
 * single-threaded kernel instead of each splitting across the pool. */
#define MM_SMALL ((int64_t)1 << 18)

typedef struct {
    int nb;                               /* rank of the broadcast batch shape */
    int64_t bshape[TG_MAX_DIMS];
    int64_t sa[TG_MAX_DIMS], sb[TG_MAX_DIMS]; /* batch strides in matrices, 0 = broadcast */
    int64_t n, k, m;                      /* op(A) [n,k] @ B [k,m] per batch */
    int64_t nbatch;                       /* product of bshape */
    int64_t na, nbm;                      /* matrices in a and in b */
} mm_plan;

/* Matrix indices of a and b used by output batch t. */
static void batch_index(const mm_plan *pl, int64_t t, int64_t *ia, int64_t *ib)
{
    int64_t oa = 0, ob = 0;
    for (int d = pl->nb - 1; d >= 0; d--) {
        int64_t i = t % pl->bshape[d];
        t /= pl->bshape[d];
        oa += i * pl->sa[d];
        ob += i * pl->sb[d];
    }
    *ia = oa;
    *ib = ob;
}

static bool make_plan(tg_ctx *ctx, const tg_tensor *a, const tg_tensor *b, mm_plan *pl,
                      int *out_nd, int64_t *out_shape)
{
    char s1[160], s2[160];
    if (a->ndim == 0 || b->ndim == 0) {
        tg__error(ctx, TG_ERR_SHAPE, "matmul: both arguments need at least 1 dimension, got "
                  "shapes %s and %s", tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                  tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
        return false;
    }
    int anb = a->ndim > 2 ? a->ndim - 2 : 0, bnb = b->ndim > 2 ? b->ndim - 2 : 0;
    pl->n = a->ndim == 1 ? 1 : a->shape[a->ndim - 2];
    pl->k = a->shape[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    pl->m = b->ndim == 1 ? 1 : b->shape[b->ndim - 1];
    if (pl->k != kb) {
        tg__error(ctx, TG_ERR_SHAPE, "matmul: shapes %s and %s do not align",
                  tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                  tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
        return false;
    }
    int nb = anb > bnb ? anb : bnb;
    int64_t stride_a = 1, stride_b = 1;
    pl->nb = nb;
    pl->nbatch = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - anb), ib = i - (nb - bnb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            tg__error(ctx, TG_ERR_SHAPE, "matmul: batch dims of shapes %s and %s do not "
                      "broadcast", tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                      tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
            return false;
        }
        pl->bshape[i] = da == 1 ? db : da;
        pl->sa[i] = da == 1 ? 0 : stride_a;
        pl->sb[i] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
        pl->nbatch *= pl->bshape[i];
    }
    pl->na = stride_a;
    pl->nbm = stride_b;
    int nd = 0;
    for (int i = 0; i < nb; i++)
        out_shape[nd++] = pl->bshape[i];
    if (a->ndim > 1)
        out_shape[nd++] = pl->n;
    if (b->ndim > 1)
        out_shape[nd++] = pl->m;
    *out_nd = nd;
    return true;
}

/* One batch-parallel job: C_t = op(X_t) op(Y_t) (+ C_t when beta is 1). */
typedef struct {
    const mm_plan *pl;
    int kind;              /* 0 forward, 1 dA, 2 dB */
    const float *a, *b, *g;
    float *c;
} mm_job;

static void run_batch(const mm_job *j, int64_t t, tg_ctx *ctx)
{
    const mm_plan *pl = j->pl;
    int64_t n = pl->n, k = pl->k, m = pl->m, ia, ib;
    batch_index(pl, t, &ia, &ib);
    const float *A = j->a + ia * n * k, *B = j->b + ib * k * m, *G = j->g + t * n * m;
    if (j->kind == 0) {
        float *C = j->c + t * n * m;
        if (ctx)
            tg__sgemm(ctx, false, false, n, m, k, 1.0f, A, k, B, m, 0.0f, C, m);
        else
            tg__sgemm_st(false, false, n, m, k, 1.0f, A, k, B, m, 0.0f, C, m);
    } else if (j->kind == 1) { /* dA_t += G_t B_t^T */
        float *C = j->c + ia * n * k;
        if (ctx)
            tg__sgemm(ctx, false, true, n, k, m, 1.0f, G, m, B, m, 1.0f, C, k);
        else
            tg__sgemm_st(false, true, n, k, m, 1.0f, G, m, B, m, 1.0f, C, k);
    } else { /* dB_t += A_t^T G_t */
        float *C = j->c + ib * k * m;
        if (ctx)
            tg__sgemm(ctx, true, false, k, m, n, 1.0f, A, k, G, m, 1.0f, C, m);
        else
            tg__sgemm_st(true, false, k, m, n, 1.0f, A, k, G, m, 1.0f, C, m);
    }
}

static void batch_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    for (int64_t t = b; t < e; t++)
        run_batch(arg, t, NULL);
}

/* Runs every batch; in parallel (one batch per thread at a time) only when
 * the targets are distinct matrices and each product is small. */
static void run_all(tg_ctx *ctx, const mm_job *j, bool distinct_targets)
{
    const mm_plan *pl = j->pl;
    if (distinct_targets && pl->nbatch > 1 && ctx->n_threads > 1 &&
        pl->n * pl->m * pl->k < MM_SMALL) {
        tg__parallel_for(ctx, pl->nbatch, batch_range, (void *)j);
        return;
    }
    for (int64_t t = 0; t < pl->nbatch; t++)
        run_batch(j, t, ctx);
}

static void matmul_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *a = out->src[0], *b = out->src[1];
    const mm_plan *pl = out->aux;
    const float *g = out->grad;
    if (out->numel == 0) /* no output, no gradient; the batch loop may be huge */
        return;
    if (pl->nbm == 1) {
        /* b is one matrix: fold a's batches into the rows of one product */
        int64_t rows = pl->nbatch * pl->n, k = pl->k, m = pl->m;
        if (a->requires_grad)
            tg__sgemm(ctx, false, true, rows, k, m, 1.0f, g, m, b->data, m, 1.0f, a->grad, k);
        if (b->requires_grad)
            tg__sgemm(ctx, true, false, k, m, rows, 1.0f, a->data, k, g, m, 1.0f, b->grad, m);
        return;
    }
    mm_job j = {pl, 1, a->data, b->data, g, NULL};
    if (a->requires_grad) {
        j.c = a->grad;
        run_all(ctx, &j, pl->na == pl->nbatch);
    }
    if (b->requires_grad) {
        j.kind = 2;
        j.c = b->grad;
        run_all(ctx, &j, pl->nbm == pl->nbatch);
    }
}

static const tg__op_def matmul_op = {"matmul", matmul_backward};

static tg_tensor *matmul_unguarded(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    if (!ctx || tg__null_input(ctx, "matmul", 2, a, b))
        return NULL;
    mm_plan pl;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (!make_plan(ctx, a, b, &pl, &nd, shape))
        return NULL;
    tg_tensor *out = tg__op_result(ctx, &matmul_op, nd, shape, a, b, NULL);
    if (!out)
        return NULL;
    if (out->requires_grad) {
        out->aux = tg__arena_alloc(ctx, sizeof pl);
        if (!out->aux) {
            tg__error(ctx, TG_ERR_NOMEM, "matmul: out of memory");
            return NULL;
        }
        memcpy(out->aux, &pl, sizeof pl);
    }
    /* Nothing to compute, and [2^40,0,1] @ [2^40,1,0] would loop 2^40
     * times over empty products (found by fuzz_ops). */
    if (out->numel == 0)
        return out;
    if (pl.nbm == 1) {
        tg__sgemm(ctx, false, false, pl.nbatch * pl.n, pl.m, pl.k, 1.0f, a->data, pl.k, b->data,
                  pl.m, 0.0f, out->data, pl.m);
    } else {
        mm_job j = {&pl, 0, a->data, b->data, NULL, out->data};
        j.g = out->data; /* unused by the forward; keeps pointer arithmetic defined */
        run_all(ctx, &j, true);
    }
    return out;
}

tg_tensor *tg_matmul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    TG__OP(ctx, "matmul", matmul_unguarded(ctx, a, b));
}

/* ---- linear ------------------------------------------------------------ */

static void linear_backward(tg_ctx *ctx, tg_tensor *out)
{
    tg_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    int64_t in = w->shape[1], nout = w->shape[0], M = out->p.l[0];
    const float *g = out->grad;
    /* dx (+)= g W, stored when fresh (no zero-fill first); by rows: each
     * thread writes the samples it owns in the ops around (split by samples
     * too), not a slice of every sample, which on a host whose two cores
     * share no cache doubled the layer's neighbours' time */
    if (x->requires_grad)
        tg__sgemm_rows(ctx, false, false, M, in, nout, 1.0f, g, nout, w->data, in,
                       tg__grad_fresh(x) ? 0.0f : 1.0f, x->grad, in);
    if (w->requires_grad) /* dW += g^T x */
        tg__sgemm(ctx, true, false, nout, in, M, 1.0f, g, nout, x->data, in, 1.0f, w->grad, in);
    if (b && b->requires_grad) { /* db += column sums of g, rows in order */
        float *db = b->grad;
        for (int64_t i = 0; i < M; i++) {
            const float *gi = g + i * nout;
            for (int64_t j = 0; j < nout; j++)
                db[j] += gi[j];
        }
    }
}

static const tg__op_def linear_op = {"linear", linear_backward};

static tg_tensor *linear_unguarded(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    if (!ctx || tg__null_input(ctx, "linear", 2, x, w))
        return NULL;
    char s1[160], s2[160];
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1]) {
        tg__error(ctx, TG_ERR_SHAPE, "linear: input %s and weight %s do not align (want "
                  "input [...,in] and weight [out,in])",
                  tg__shape_str(s1, sizeof s1, x->ndim, x->shape),
                  tg__shape_str(s2, sizeof s2, w->ndim, w->shape));
        return NULL;
    }
    int64_t in = w->shape[1], nout = w->shape[0];
    if (b && (b->ndim != 1 || b->shape[0] != nout)) {
        tg__error(ctx, TG_ERR_SHAPE, "linear: bias %s does not match weight %s (want [%lld])",
                  tg__shape_str(s1, sizeof s1, b->ndim, b->shape),
                  tg__shape_str(s2, sizeof s2, w->ndim, w->shape), (long long)nout);
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS], M = 1;
    for (int i = 0; i < x->ndim - 1; i++) {
        shape[i] = x->shape[i];
        M *= x->shape[i];
    }
    shape[x->ndim - 1] = nout;
    tg_tensor *out = tg__op_result(ctx, &linear_op, x->ndim, shape, x, w, b);
    if (!out)
        return NULL;
    out->p.l[0] = M;
    out->bwd_stores = TG__SRC(0); /* linear_backward stores a fresh dx; dW and db are
                                     added into (tg_backward zeroes fresh ones) */
    float *y = out->data;
    if (b) /* seed the rows with the bias, then accumulate x W^T on top */
        for (int64_t i = 0; i < M; i++)
            memcpy(y + i * nout, b->data, (size_t)nout * sizeof *y);
    tg__sgemm(ctx, false, true, M, nout, in, 1.0f, x->data, in, w->data, in, b ? 1.0f : 0.0f, y,
              nout);
    return out;
}

tg_tensor *tg_linear(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    TG__OP(ctx, "linear", linear_unguarded(ctx, x, w, b));
}
