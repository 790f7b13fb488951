/* SPDX-License-Identifier: MIT */
/* Tensor handles: persistent tensors (malloc'd, listed in the ctx) and
 * transient ones (header and data in the step arena). */
#include "tg_internal.h"

#include <math.h>
#include <stdint.h>

static void init_header(tg_tensor *t, tg_ctx *ctx, int ndim, const int64_t *shape, int64_t numel)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->step = ctx->step;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
}

tg_status tg_tensor_create(tg_ctx *ctx, int ndim, const int64_t *shape, tg_tensor **out)
{
    int64_t numel;
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "tensor_create: out is NULL");
    if (!tg__shape_numel(ctx, "tensor_create", ndim, shape, &numel))
        return ctx->status;
    tg_tensor *t = tg__malloc(ctx, sizeof *t);
    size_t bytes = (size_t)numel * sizeof(float);
    float *data = t ? tg__malloc_aligned(ctx, bytes) : NULL;
    if (!data) {
        tg__free(ctx, t);
        return tg__error(ctx, TG_ERR_NOMEM, "tensor_create: cannot allocate %zu bytes", bytes);
    }
    init_header(t, ctx, ndim, shape, numel);
    memset(data, 0, bytes);
    t->data = data;
    t->persistent = true;
    t->owns_data = true;
    t->used_step = UINT64_MAX;
    t->next = ctx->persistent;
    if (ctx->persistent)
        ctx->persistent->prev = t;
    ctx->persistent = t;
    ctx->persistent_bytes += bytes;
    *out = t;
    return TG_OK;
}

void tg_tensor_destroy(tg_tensor *t)
{
    if (!t || !t->persistent || t->doomed)
        return;
    tg_ctx *ctx = t->ctx;
    int e = tg__enter(ctx, "tensor_destroy");
    if (e < 0)
        return;
    if (t->in_module)
        tg__error(ctx, TG_ERR_BUSY,
                  "tensor_destroy: the tensor belongs to a module (tg_module_destroy() frees it)");
    else if (t->users)
        tg__error(ctx, TG_ERR_BUSY,
                  "tensor_destroy: the tensor is a parameter of %u live optimiser%s (destroy "
                  "%s first)",
                  t->users, t->users > 1 ? "s" : "", t->users > 1 ? "them" : "it");
    else if (t->used_step == ctx->step) {
        t->doomed = true; /* the step's graph reads it: freed by tg_ctx_reset() */
        ctx->n_doomed++;
    } else
        tg__tensor_free(t);
    tg__leave(ctx, e);
}

void tg__tensor_free(tg_tensor *t)
{
    tg_ctx *ctx = t->ctx;
    if (t->prev)
        t->prev->next = t->next;
    else
        ctx->persistent = t->next;
    if (t->next)
        t->next->prev = t->prev;
    size_t bytes = (size_t)t->numel * sizeof(float);
    if (t->owns_data) {
        tg__free_aligned(ctx, t->data);
        ctx->persistent_bytes -= bytes;
    }
    if (t->grad) {
        tg__free_aligned(ctx, t->grad);
        ctx->persistent_bytes -= bytes;
    }
    tg__free(ctx, t);
}

tg_tensor *tg__tensor_new(tg_ctx *ctx, const char *who, int ndim, const int64_t *shape)
{
    int64_t numel;
    if (!tg__shape_numel(ctx, who, ndim, shape, &numel))
        return NULL;
    tg_tensor *t = tg__header_alloc(ctx);
    float *data = t ? tg__arena_alloc(ctx, (size_t)numel * sizeof(float)) : NULL;
    if (!data) {
        tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate %lld floats", who, (long long)numel);
        return NULL;
    }
    init_header(t, ctx, ndim, shape, numel);
    t->data = data;
    return t;
}

bool tg__stale_access(const tg_tensor *t, const char *who)
{
    if (!tg__stale(t))
        return false;
    tg__stale_error(t->ctx, who, 0, t);
    return true;
}

/* Central checks for an op's recorded inputs (tg__null_input already ran
 * for the ones an op names; optional inputs such as a bias arrive here). */
static bool inputs_ok(tg_ctx *ctx, const char *who, tg_tensor *s0, tg_tensor *s1, tg_tensor *s2)
{
    tg_tensor *s[3] = {s0, s1, s2};
    for (int i = 0; i < 3; i++) {
        if (!s[i])
            continue;
        if (s[i]->persistent)
            s[i]->used_step = ctx->step;
        else if (s[i]->step != ctx->step) {
            tg__stale_error(ctx, who, i, s[i]);
            return false;
        }
    }
    return true;
}

static bool wants_grad(tg_ctx *ctx, tg_tensor *s0, tg_tensor *s1, tg_tensor *s2)
{
    return ctx->grad_enabled && ((s0 && s0->requires_grad) || (s1 && s1->requires_grad) ||
                                 (s2 && s2->requires_grad));
}

tg_tensor *tg__op_result(tg_ctx *ctx, const tg__op_def *op, int ndim, const int64_t *shape,
                         tg_tensor *s0, tg_tensor *s1, tg_tensor *s2)
{
    if (!inputs_ok(ctx, op->name, s0, s1, s2))
        return NULL;
    if (ctx->observe && ctx->prof_on)
        tg__prof_mark(ctx, op);
    tg_tensor *t = tg__tensor_new(ctx, op->name, ndim, shape);
    if (!t)
        return NULL;
    t->op = op;
    if (ctx->observe) {
        if (ctx->trace)
            tg__trace_op(ctx, t);
        if (ctx->prof_on && ctx->prof_module)
            tg__prof_result(ctx, t);
    }
    if (wants_grad(ctx, s0, s1, s2)) {
        t->requires_grad = true;
        t->src[0] = s0;
        t->src[1] = s1;
        t->src[2] = s2;
    }
    return t;
}

tg_tensor *tg__view(tg_ctx *ctx, const tg__op_def *op, tg_tensor *base, int ndim,
                    const int64_t *shape)
{
    if (!inputs_ok(ctx, op ? op->name : "view", base, NULL, NULL))
        return NULL;
    if (ctx->observe && op && ctx->prof_on)
        tg__prof_mark(ctx, op);
    tg_tensor *t = tg__header_alloc(ctx);
    if (!t) {
        tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", op ? op->name : "view");
        return NULL;
    }
    init_header(t, ctx, ndim, shape, base->numel);
    t->data = base->data;
    t->op = op;
    if (ctx->observe && op) {
        if (ctx->trace)
            tg__trace_op(ctx, t);
        if (ctx->prof_on && ctx->prof_module)
            tg__prof_result(ctx, t);
    }
    if (op && wants_grad(ctx, base, NULL, NULL)) {
        t->requires_grad = true;
        t->src[0] = base;
    }
    return t;
}

float *tg__grad_buffer(tg_ctx *ctx, tg_tensor *t, bool zero)
{
    if (t->grad)
        return t->grad;
    size_t bytes = (size_t)t->numel * sizeof(float);
    float *g = t->persistent ? tg__malloc_aligned(ctx, bytes) : tg__arena_alloc(ctx, bytes);
    if (!g)
        return NULL;
    if (zero)
        memset(g, 0, bytes);
    if (t->persistent)
        ctx->persistent_bytes += bytes;
    t->grad = g;
    return g;
}

void tg__grad_settle(tg_tensor *t)
{
    if (t->grad_fresh) {
        memset(t->grad, 0, (size_t)t->numel * sizeof(float));
        t->grad_fresh = false;
    }
}

int tg__axis(tg_ctx *ctx, const char *who, int axis, int ndim)
{
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: axis %d out of range for rank %d", who, axis,
                  ndim);
        return -1;
    }
    return a;
}

bool tg__same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

/* ---- transient creators ----------------------------------------------- */

static tg_tensor *full_unguarded(tg_ctx *ctx, int ndim, const int64_t *shape, float value)
{
    if (!ctx)
        return NULL;
    tg_tensor *t = tg__tensor_new(ctx, "full", ndim, shape);
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = value;
    return t;
}

tg_tensor *tg_full(tg_ctx *ctx, int ndim, const int64_t *shape, float value)
{
    TG__OP(ctx, "full", full_unguarded(ctx, ndim, shape, value));
}

tg_tensor *tg_zeros(tg_ctx *ctx, int ndim, const int64_t *shape)
{
    TG__OP(ctx, "zeros", full_unguarded(ctx, ndim, shape, 0.0f));
}

tg_tensor *tg_ones(tg_ctx *ctx, int ndim, const int64_t *shape)
{
    TG__OP(ctx, "ones", full_unguarded(ctx, ndim, shape, 1.0f));
}

static tg_tensor *arange_unguarded(tg_ctx *ctx, float start, float end, float step)
{
    if (!ctx)
        return NULL;
    /* As torch.arange: finite bounds, and a step pointing from start to end
     * (an infinite bound used to give an empty tensor, a wrong sign too). */
    double span = step != 0.0f ? ((double)end - start) / step : 0.0;
    if (step == 0.0f || !isfinite(step) || !isfinite(start) || !isfinite(end) || span < 0 ||
        span > 1e9) {
        tg__error(ctx, TG_ERR_INVALID_ARG,
                  "arange: bad range %g..%g step %g (bounds must be finite, the step non-zero "
                  "and pointing from start to end)",
                  start, end, step);
        return NULL;
    }
    int64_t n = span > 0 ? (int64_t)ceil(span) : 0;
    tg_tensor *t = tg__tensor_new(ctx, "arange", 1, &n);
    if (t)
        for (int64_t i = 0; i < n; i++)
            t->data[i] = (float)(start + (double)i * step);
    return t;
}

tg_tensor *tg_arange(tg_ctx *ctx, float start, float end, float step)
{
    TG__OP(ctx, "arange", arange_unguarded(ctx, start, end, step));
}

/* The rows of a copy in (the first dimension: a batch) split over the pool
 * as the ops split a batch, so each thread writes the samples it then
 * reads: on a host whose two cores share no cache, the calling thread's
 * copy of a seed CNN batch took 25 us, its lines last read by the other
 * core. */
#define FROM_DATA_PAR_FLOATS ((int64_t)1 << 14)

typedef struct {
    float *dst;
    const float *src;
    int64_t row;
} copy_job;

static void copy_rows_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    const copy_job *j = arg;
    memcpy(j->dst + b * j->row, j->src + b * j->row, (size_t)((e - b) * j->row) * sizeof(float));
}

static tg_tensor *from_data_unguarded(tg_ctx *ctx, int ndim, const int64_t *shape,
                                      const float *data, size_t n)
{
    if (!ctx)
        return NULL;
    if (!data) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "from_data: data is NULL");
        return NULL;
    }
    int64_t numel;
    if (!tg__shape_numel(ctx, "from_data", ndim, shape, &numel))
        return NULL;
    if ((uint64_t)numel != (uint64_t)n) {
        char b[128];
        tg__error(ctx, TG_ERR_SHAPE, "from_data: shape %s holds %lld elements, got %zu",
                  tg__shape_str(b, sizeof b, ndim, shape), (long long)numel, n);
        return NULL;
    }
    tg_tensor *t = tg__tensor_new(ctx, "from_data", ndim, shape);
    if (t && ndim >= 1 && shape[0] >= 2 && numel >= FROM_DATA_PAR_FLOATS) {
        copy_job j = {t->data, data, numel / shape[0]};
        tg__parallel_for(ctx, shape[0], copy_rows_range, &j);
    } else if (t)
        memcpy(t->data, data, n * sizeof(float));
    return t;
}

tg_tensor *tg_from_data(tg_ctx *ctx, int ndim, const int64_t *shape, const float *data, size_t n)
{
    TG__OP(ctx, "from_data", from_data_unguarded(ctx, ndim, shape, data, n));
}

static tg_tensor *rand_unguarded(tg_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi)
{
    if (!ctx)
        return NULL;
    tg_tensor *t = tg__tensor_new(ctx, "rand", ndim, shape);
    if (t)
        tg_tensor_uniform_(t, lo, hi);
    return t;
}

tg_tensor *tg_rand(tg_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi)
{
    TG__OP(ctx, "rand", rand_unguarded(ctx, ndim, shape, lo, hi));
}

static tg_tensor *randn_unguarded(tg_ctx *ctx, int ndim, const int64_t *shape, float mean,
                                  float std)
{
    if (!ctx)
        return NULL;
    tg_tensor *t = tg__tensor_new(ctx, "randn", ndim, shape);
    if (t)
        tg_tensor_normal_(t, mean, std);
    return t;
}

tg_tensor *tg_randn(tg_ctx *ctx, int ndim, const int64_t *shape, float mean, float std)
{
    TG__OP(ctx, "randn", randn_unguarded(ctx, ndim, shape, mean, std));
}

static tg_tensor *detach_unguarded(tg_ctx *ctx, tg_tensor *t)
{
    if (!ctx || tg__null_input(ctx, "detach", 1, t))
        return NULL;
    return tg__view(ctx, NULL, t, t->ndim, t->shape);
}

tg_tensor *tg_detach(tg_ctx *ctx, tg_tensor *t) { TG__OP(ctx, "detach", detach_unguarded(ctx, t)); }

/* ---- queries and data access ------------------------------------------- */

int tg_tensor_ndim(const tg_tensor *t)
{
    return t && !tg__stale_access(t, "tensor_ndim") ? t->ndim : 0;
}

int64_t tg_tensor_dim(const tg_tensor *t, int dim)
{
    if (!t || tg__stale_access(t, "tensor_dim"))
        return -1;
    int d = dim < 0 ? dim + t->ndim : dim;
    return d >= 0 && d < t->ndim ? t->shape[d] : -1;
}

const int64_t *tg_tensor_shape(const tg_tensor *t)
{
    return t && !tg__stale_access(t, "tensor_shape") ? t->shape : NULL;
}

int64_t tg_tensor_numel(const tg_tensor *t)
{
    return t && !tg__stale_access(t, "tensor_numel") ? t->numel : 0;
}

tg_dtype tg_tensor_dtype(const tg_tensor *t)
{
    (void)t;
    return TG_F32;
}

tg_ctx *tg_tensor_ctx(const tg_tensor *t) { return t ? t->ctx : NULL; }

bool tg_tensor_is_persistent(const tg_tensor *t) { return t && t->persistent; }

float *tg_tensor_data(tg_tensor *t)
{
    return t && !tg__stale_access(t, "tensor_data") ? t->data : NULL;
}

static tg_status check_count(const tg_tensor *t, const void *buf, size_t n, const char *who)
{
    if (!t)
        return TG_ERR_INVALID_ARG;
    if (tg__stale_access(t, who))
        return TG_ERR_MISUSE;
    if (!buf)
        return tg__error(t->ctx, TG_ERR_INVALID_ARG, "%s: buffer is NULL", who);
    if ((uint64_t)n != (uint64_t)t->numel)
        return tg__error(t->ctx, TG_ERR_SHAPE, "%s: tensor has %lld elements, buffer %zu", who,
                         (long long)t->numel, n);
    return TG_OK;
}

tg_status tg_tensor_copy_data(const tg_tensor *t, float *dst, size_t n)
{
    tg_status s = check_count(t, dst, n, "tensor_copy_data");
    if (s == TG_OK)
        memcpy(dst, t->data, n * sizeof(float));
    return s;
}

tg_status tg_tensor_set_data(tg_tensor *t, const float *src, size_t n)
{
    tg_status s = check_count(t, src, n, "tensor_set_data");
    if (s == TG_OK)
        memmove(t->data, src, n * sizeof(float));
    return s;
}

void tg_tensor_fill(tg_tensor *t, float value)
{
    if (t && !tg__stale_access(t, "tensor_fill"))
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = value;
}

void tg_tensor_uniform_(tg_tensor *t, float lo, float hi)
{
    if (t && !tg__stale_access(t, "tensor_uniform_"))
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = lo + (hi - lo) * tg__rng_uniform(t->ctx->rng);
}

void tg_tensor_normal_(tg_tensor *t, float mean, float std)
{
    if (t && !tg__stale_access(t, "tensor_normal_"))
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = mean + std * tg__rng_normal(t->ctx->rng);
}

bool tg_tensor_requires_grad(const tg_tensor *t)
{
    return t && !tg__stale_access(t, "tensor_requires_grad") && t->requires_grad;
}

tg_status tg_tensor_set_requires_grad(tg_tensor *t, bool requires_grad)
{
    if (!t)
        return TG_ERR_INVALID_ARG;
    if (tg__stale_access(t, "tensor_set_requires_grad"))
        return TG_ERR_MISUSE;
    if (t->op && t->requires_grad)
        return tg__error(t->ctx, TG_ERR_STATE,
                         "tensor_set_requires_grad: only leaf tensors can change it (this is "
                         "the result of %s)",
                         t->op->name);
    /* A result that records no inputs (computed with grad disabled or from
     * inputs that need none) is a leaf, as in PyTorch; drop its op so
     * backward treats it as one instead of running a backward without src. */
    if (t->op && requires_grad)
        t->op = NULL;
    t->requires_grad = requires_grad;
    return TG_OK;
}

float *tg_tensor_grad(tg_tensor *t)
{
    return t && !tg__stale_access(t, "tensor_grad") ? t->grad : NULL;
}

tg_status tg_tensor_copy_grad(const tg_tensor *t, float *dst, size_t n)
{
    tg_status s = check_count(t, dst, n, "tensor_copy_grad");
    if (s != TG_OK)
        return s;
    if (t->grad)
        memcpy(dst, t->grad, n * sizeof(float));
    else
        memset(dst, 0, n * sizeof(float));
    return TG_OK;
}

void tg_tensor_zero_grad(tg_tensor *t)
{
    if (t && !tg__stale_access(t, "tensor_zero_grad") && t->grad)
        memset(t->grad, 0, (size_t)t->numel * sizeof(float));
}
