/* SPDX-License-Identifier: MIT */
/* The generic optimiser: a copied list of parameters with names, per-
 * parameter state buffers (allocated zeroed on first use) and per-parameter
 * step counts. The algorithm is a tg_optim_vtable; built-ins use the same
 * interface as user code.
 *
 * Step counts are kept per parameter, as PyTorch keeps state['step']: a
 * parameter that had no gradient on some step does not advance its count, so
 * bias corrections (Adam) and first-step rules (SGD momentum) match. */
#include "optim_internal.h"

#include <math.h>

#define TG_OPTIM_MAX_STATE 8

struct tg_optim {
    tg__object obj; /* tracked by the ctx until destroyed */
    tg_ctx *ctx;
    const tg_optim_vtable *vt;
    void *hyper;
    float lr;
    int64_t steps;        /* tg_optim_step() calls that succeeded */
    size_t n;
    tg_tensor **params;
    const char **names;   /* into name_block */
    char *name_block;
    int64_t *pstep;       /* per-parameter step counts */
    size_t *numel;        /* per-parameter sizes, so destroy never reads params */
    float **state;        /* n entries: one block of n_state * numel floats, or NULL */
};

static bool vtable_ok(tg_ctx *ctx, const tg_optim_vtable *vt)
{
    if (!vt) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: vtable is NULL");
        return false;
    }
    if (vt->struct_size < offsetof(tg_optim_vtable, update) + sizeof vt->update ||
        vt->struct_size > sizeof(tg_optim_vtable)) {
        tg__error(ctx, TG_ERR_INVALID_ARG,
                  "optim_create: vtable struct_size %zu is not sizeof(tg_optim_vtable) (%zu)",
                  vt->struct_size, sizeof(tg_optim_vtable));
        return false;
    }
    if (!vt->name || !vt->name[0] || !vt->update) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: vtable needs a name and an update");
        return false;
    }
    if (vt->n_state < 0 || vt->n_state > TG_OPTIM_MAX_STATE) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: %s: n_state %d outside 0..%d",
                  vt->name, vt->n_state, TG_OPTIM_MAX_STATE);
        return false;
    }
    return true;
}

static void free_optim(tg_optim *o)
{
    tg_ctx *ctx = o->ctx;
    if (o->state)
        for (size_t i = 0; i < o->n; i++)
            if (o->state[i]) {
                tg__free_aligned(ctx, o->state[i]);
                ctx->persistent_bytes -= (size_t)o->vt->n_state * o->numel[i] * sizeof(float);
            }
    tg__free(ctx, o->state);
    tg__free(ctx, o->pstep);
    tg__free(ctx, o->numel);
    tg__free(ctx, o->names);
    tg__free(ctx, o->name_block);
    tg__free(ctx, o->params);
    tg__free(ctx, o);
}

static void optim_release(tg__object *obj);

tg_status tg_optim_create_params(tg_ctx *ctx, tg_tensor *const *params, const char *const *names,
                                 size_t n, const tg_optim_vtable *vtable, void *hyper, float lr,
                                 tg_optim **out)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: out is NULL");
    if (!vtable_ok(ctx, vtable))
        return ctx->status;
    if (n && !params)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: params is NULL");
    if (!(lr >= 0.0f) || isinf(lr))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: %s: invalid learning rate %g",
                         vtable->name, (double)lr);
    size_t name_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const tg_tensor *p = params[i];
        if (!p)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: parameter %zu is NULL", i);
        if (p->ctx != ctx)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "optim_create: parameter %zu belongs to another context", i);
        if (!p->persistent)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "optim_create: parameter %zu is a transient tensor (it would not "
                             "outlive tg_ctx_reset())",
                             i);
        for (size_t j = 0; j < i; j++)
            if (params[j] == p)
                return tg__error(ctx, TG_ERR_INVALID_ARG,
                                 "optim_create: parameter %zu appears twice (also at %zu)", i,
                                 j);
        name_bytes += (names && names[i] ? strlen(names[i]) : 0) + 1;
    }
    tg_optim *o = tg__calloc(ctx, 1, sizeof *o);
    if (!o)
        return tg__error(ctx, TG_ERR_NOMEM, "optim_create: out of memory");
    o->ctx = ctx;
    o->vt = vtable;
    o->hyper = hyper;
    o->lr = lr;
    o->n = n;
    o->params = tg__calloc(ctx, n ? n : 1, sizeof *o->params);
    o->names = tg__calloc(ctx, n ? n : 1, sizeof *o->names);
    o->name_block = tg__malloc(ctx, name_bytes ? name_bytes : 1);
    o->pstep = tg__calloc(ctx, n ? n : 1, sizeof *o->pstep);
    o->numel = tg__calloc(ctx, n ? n : 1, sizeof *o->numel);
    o->state = tg__calloc(ctx, n ? n : 1, sizeof *o->state);
    if (!o->params || !o->names || !o->name_block || !o->pstep || !o->numel || !o->state) {
        free_optim(o);
        return tg__error(ctx, TG_ERR_NOMEM, "optim_create: out of memory");
    }
    char *pos = o->name_block;
    for (size_t i = 0; i < n; i++) {
        const char *nm = names && names[i] ? names[i] : "";
        size_t len = strlen(nm) + 1;
        memcpy(pos, nm, len);
        o->names[i] = pos;
        o->params[i] = params[i];
        o->numel[i] = (size_t)params[i]->numel;
        pos += len;
    }
    for (size_t i = 0; i < n; i++)
        params[i]->users++; /* tg_tensor_destroy / tg_module_destroy refuse while held */
    tg__object_track(ctx, &o->obj, optim_release);
    *out = o;
    return TG_OK;
}

tg_status tg_optim_create(tg_ctx *ctx, tg_module *m, const tg_optim_vtable *vtable, void *hyper,
                          float lr, tg_optim **out)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!m)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: module is NULL");
    if (tg_module_ctx(m) != ctx)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "optim_create: module belongs to another context");
    size_t n = tg_module_n_params(m);
    tg_tensor **ps = tg__calloc(ctx, n ? n : 1, sizeof *ps);
    const char **ns = tg__calloc(ctx, n ? n : 1, sizeof *ns);
    if (!ps || !ns) {
        tg__free(ctx, ps);
        tg__free(ctx, ns);
        return tg__error(ctx, TG_ERR_NOMEM, "optim_create: out of memory");
    }
    tg_status s = TG_OK;
    for (size_t i = 0; i < n && s == TG_OK; i++) {
        ps[i] = tg_module_param(m, i, &ns[i]);
        if (!ps[i])
            s = ctx->status != TG_OK ? ctx->status
                                     : tg__error(ctx, TG_ERR_NOMEM, "optim_create: out of memory");
    }
    if (s == TG_OK)
        s = tg_optim_create_params(ctx, ps, ns, n, vtable, hyper, lr, out);
    tg__free(ctx, ps);
    tg__free(ctx, ns);
    return s;
}

void tg_optim_destroy(tg_optim *opt)
{
    if (!opt)
        return;
    int e = tg__enter(opt->ctx, "optim_destroy");
    if (e < 0)
        return;
    tg_ctx *ctx = opt->ctx;
    tg__object_untrack(ctx, &opt->obj);
    optim_release(&opt->obj);
    tg__leave(ctx, e);
}

/* Also called by tg_ctx_destroy() for an optimiser the caller left alive. */
static void optim_release(tg__object *obj)
{
    tg_optim *opt = (tg_optim *)obj;
    if (!opt->ctx->destroying) /* else the parameters may be gone already */
        for (size_t i = 0; i < opt->n; i++)
            opt->params[i]->users--;
    if (opt->vt->struct_size >= offsetof(tg_optim_vtable, destroy_hyper) +
                                    sizeof opt->vt->destroy_hyper &&
        opt->vt->destroy_hyper)
        opt->vt->destroy_hyper(opt->hyper);
    free_optim(opt);
}

/* State block of parameter i, allocated zeroed on first use. */
static float *state_block(tg_optim *o, size_t i)
{
    if (o->state[i] || o->vt->n_state == 0)
        return o->state[i];
    size_t bytes;
    if (!tg__mul_size((size_t)o->vt->n_state * sizeof(float), o->numel[i], &bytes))
        return NULL;
    float *b = tg__malloc_aligned(o->ctx, bytes);
    if (!b)
        return NULL;
    memset(b, 0, bytes);
    o->ctx->persistent_bytes += bytes;
    o->state[i] = b;
    return b;
}

static tg_status optim_step(tg_optim *opt);

tg_status tg_optim_step(tg_optim *opt)
{
    if (!opt)
        return TG_ERR_INVALID_ARG;
    int e = tg__enter(opt->ctx, "optim_step");
    if (e < 0)
        return TG_ERR_MISUSE;
    tg_status s = optim_step(opt);
    tg__leave(opt->ctx, e);
    return s;
}

/* One update of parameter i's elements [i0, i1) (its state sliced alike). */
static void update_slice(tg_optim *opt, size_t i, int64_t i0, int64_t i1)
{
    tg_tensor *p = opt->params[i];
    float *slots[TG_OPTIM_MAX_STATE] = {0};
    for (int k = 0; k < opt->vt->n_state; k++)
        slots[k] = opt->state[i] + (size_t)k * opt->numel[i] + (size_t)i0;
    tg_optim_update u = {
        .param = p->data + i0,
        .grad = p->grad + i0,
        .state = slots,
        .n = (size_t)(i1 - i0),
        .step = opt->pstep[i],
        .lr = opt->lr,
        .index = i,
        .name = opt->names[i],
    };
    opt->vt->update(opt->hyper, &u);
}

/* Updates runs [b, e) of 16 floats, counted over the parameters that have a
 * gradient, in order; a parameter cut by b or e gets its slice. */
static void update_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    tg_optim *opt = arg;
    int64_t first = 0; /* the parameter's first run */
    for (size_t i = 0; i < opt->n && first < e; i++) {
        if (!opt->params[i]->grad)
            continue;
        const int64_t n = (int64_t)opt->numel[i], runs = (n + 15) / 16;
        const int64_t r0 = b > first ? b - first : 0, r1 = e - first < runs ? e - first : runs;
        first += runs;
        if (r0 < r1)
            update_slice(opt, i, r0 * 16, r1 * 16 < n ? r1 * 16 : n);
    }
}

static tg_status optim_step(tg_optim *opt)
{
    tg_ctx *ctx = opt->ctx;
    /* Allocate every missing state block first, so that running out of
     * memory leaves all parameters untouched. */
    for (size_t i = 0; i < opt->n; i++)
        if (opt->params[i]->grad && opt->vt->n_state > 0 && !state_block(opt, i))
            return tg__error(ctx, TG_ERR_NOMEM,
                             "optim_step: %s: out of memory for the state of parameter %zu",
                             opt->vt->name, i);
    size_t units = 0, elems = 0; /* runs of 16 floats, per parameter */
    for (size_t i = 0; i < opt->n; i++)
        if (opt->params[i]->grad) {
            ++opt->pstep[i];
            units += (opt->numel[i] + 15) / 16;
            elems += opt->numel[i];
        }
    /* A built-in's update is element by element: the runs of all parameters
     * are split over the pool as one loop, each thread updating its slices
     * (the same bits; the update was serial work on the calling thread, 2.5%
     * of LeNet-5's two-thread step, 12% where the two cores share no cache;
     * an empty parameter's update does nothing). A user's gets each
     * parameter whole, in order. */
    if (tg__optim_elementwise(opt->vt))
        tg__parallel_for_elems(ctx, (int64_t)units, (int64_t)elems, update_range, opt);
    else
        for (size_t i = 0; i < opt->n; i++)
            if (opt->params[i]->grad)
                update_slice(opt, i, 0, (int64_t)opt->numel[i]);
    opt->steps++;
    return TG_OK;
}

void tg_optim_zero_grad(tg_optim *opt)
{
    if (opt)
        for (size_t i = 0; i < opt->n; i++)
            tg_tensor_zero_grad(opt->params[i]);
}

void tg_optim_set_lr(tg_optim *opt, float lr)
{
    if (!opt)
        return;
    if (!(lr >= 0.0f) || isinf(lr)) {
        tg__error(opt->ctx, TG_ERR_INVALID_ARG, "optim_set_lr: %s: invalid learning rate %g",
                  opt->vt->name, (double)lr);
        return;
    }
    opt->lr = lr;
}

float tg_optim_lr(const tg_optim *opt) { return opt ? opt->lr : 0.0f; }

int64_t tg_optim_step_count(const tg_optim *opt) { return opt ? opt->steps : 0; }

void tg_optim_set_step_count(tg_optim *opt, int64_t steps)
{
    if (!opt)
        return;
    if (steps < 0) {
        tg__error(opt->ctx, TG_ERR_INVALID_ARG, "optim_set_step_count: negative count %lld",
                  (long long)steps);
        return;
    }
    opt->steps = steps;
    for (size_t i = 0; i < opt->n; i++)
        opt->pstep[i] = steps;
}

const char *tg_optim_name(const tg_optim *opt) { return opt ? opt->vt->name : NULL; }

void *tg_optim_hyper(const tg_optim *opt) { return opt ? opt->hyper : NULL; }

size_t tg_optim_n_params(const tg_optim *opt) { return opt ? opt->n : 0; }

tg_tensor *tg_optim_param(const tg_optim *opt, size_t i, const char **name)
{
    if (!opt || i >= opt->n)
        return NULL;
    if (name)
        *name = opt->names[i];
    return opt->params[i];
}

int tg_optim_n_state(const tg_optim *opt) { return opt ? opt->vt->n_state : 0; }

float *tg_optim_state(tg_optim *opt, size_t i, int slot)
{
    if (!opt)
        return NULL;
    if (i >= opt->n || slot < 0 || slot >= opt->vt->n_state) {
        tg__error(opt->ctx, TG_ERR_INVALID_ARG,
                  "optim_state: %s: no state slot %d for parameter %zu (%zu parameters, %d "
                  "slots)",
                  opt->vt->name, slot, i, opt->n, opt->vt->n_state);
        return NULL;
    }
    float *b = state_block(opt, i);
    if (!b) {
        tg__error(opt->ctx, TG_ERR_NOMEM, "optim_state: out of memory");
        return NULL;
    }
    return b + (size_t)slot * (size_t)opt->params[i]->numel;
}

tg_ctx *tg__optim_ctx(const tg_optim *opt) { return opt ? opt->ctx : NULL; }
