/* SPDX-License-Identifier: MIT */
/* Built-in optimisers (SGD, Adam, AdamW, RMSprop, Adagrad) written against
 * the public tg_optim_vtable, with PyTorch 1.13's single-tensor update
 * formulas, operation for operation in float32 (scalar coefficients that
 * PyTorch computes in Python doubles are computed in double here too). */
#include "optim_internal.h"

#include <math.h>

/* Each hyper struct starts with the ctx, so destroy_hyper can free it. */
typedef struct {
    tg_ctx *ctx;
    tg_sgd_options o;
} sgd_hyper;
typedef struct {
    tg_ctx *ctx;
    tg_adam_options o;
} adam_hyper;
typedef struct {
    tg_ctx *ctx;
    tg_rmsprop_options o;
} rmsprop_hyper;
typedef struct {
    tg_ctx *ctx;
    tg_adagrad_options o;
} adagrad_hyper;

static void free_hyper(void *hyper)
{
    tg_ctx *ctx = *(tg_ctx **)hyper;
    tg__free(ctx, hyper);
}

/* ---- options ------------------------------------------------------------- */

void tg_sgd_options_init(tg_sgd_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->lr = 0.01f;
}

void tg_adam_options_init(tg_adam_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->lr = 0.001f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
}

void tg_adamw_options_init(tg_adam_options *o)
{
    tg_adam_options_init(o);
    if (o)
        o->weight_decay = 0.01f;
}

void tg_rmsprop_options_init(tg_rmsprop_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->lr = 0.01f;
    o->alpha = 0.99f;
    o->eps = 1e-8f;
}

void tg_adagrad_options_init(tg_adagrad_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->lr = 0.01f;
    o->eps = 1e-10f;
}

/* Copy the caller's options over the defaults in @p dst (fields the caller's
 * struct_size does not cover keep their defaults). */
static bool copy_options(tg_ctx *ctx, const char *who, void *dst, size_t dst_size,
                         const void *src)
{
    if (!src)
        return true;
    size_t n = *(const size_t *)src;
    if (n < sizeof(size_t) + sizeof(float) || n > dst_size) {
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: options struct_size %zu is invalid (expected %zu)",
                  who, n, dst_size);
        return false;
    }
    memcpy(dst, src, n);
    *(size_t *)dst = dst_size;
    return true;
}

/* A hyper-parameter that must be finite and >= 0 (and < 1 if below_one). */
static bool check_value(tg_ctx *ctx, const char *who, const char *what, float v, bool below_one)
{
    if (v >= 0.0f && !isinf(v) && (!below_one || v < 1.0f))
        return true;
    tg__error(ctx, TG_ERR_INVALID_ARG, "%s: invalid %s %g (must be %s)", who, what, (double)v,
              below_one ? "in [0, 1)" : "finite and >= 0");
    return false;
}

/* Common prologue of the creators: argument checks and option copy. */
#define CREATE_PROLOGUE(who, type, init, opts, o)                                              \
    if (!ctx)                                                                                  \
        return TG_ERR_INVALID_ARG;                                                             \
    if (!out)                                                                                  \
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: out is NULL", who);                     \
    if (!m)                                                                                    \
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: module is NULL", who);                  \
    type o;                                                                                    \
    init(&o);                                                                                  \
    if (!copy_options(ctx, who, &o, sizeof o, opts))                                           \
        return ctx->status

/* Allocate the hyper struct (ctx + options) and create the optimiser; the
 * hyper struct is freed again on error. */
static tg_status make(tg_ctx *ctx, tg_module *m, const tg_optim_vtable *vt, size_t hyper_size,
                      size_t opts_offset, const void *opts, size_t opts_size, float lr,
                      tg_optim **out)
{
    unsigned char *h = tg__malloc(ctx, hyper_size);
    if (!h)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", vt->name);
    memset(h, 0, hyper_size);
    *(tg_ctx **)h = ctx;
    memcpy(h + opts_offset, opts, opts_size);
    tg_status s = tg_optim_create(ctx, m, vt, h, lr, out);
    if (s != TG_OK)
        tg__free(ctx, h);
    return s;
}

/* ---- SGD ------------------------------------------------------------------ */

static void sgd_update(void *hyper, const tg_optim_update *u)
{
    const tg_sgd_options *o = &((sgd_hyper *)hyper)->o;
    const float wd = o->weight_decay, mom = o->momentum;
    const float damp = (float)(1.0 - (double)o->dampening);
    const float lr = u->lr;
    const bool first = u->step == 1, nesterov = o->nesterov;
    /* restrict (parameter, gradient and state never overlap): the loop
     * vectorises, gcc splitting it by the options (as scalar code it took
     * 2% of the seed CNN's step on the thread that runs it) */
    float *restrict p = u->param, *restrict buf = mom != 0.0f ? u->state[0] : NULL;
    const float *restrict g = u->grad;
    const size_t n = u->n;
    for (size_t i = 0; i < n; i++) {
        float d = g[i];
        if (wd != 0.0f)
            d = d + wd * p[i];
        if (mom != 0.0f) {
            /* PyTorch: the first step clones d_p into the buffer. */
            const float b = first ? d : buf[i] * mom + damp * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] = p[i] + (-lr) * d;
    }
}

static const tg_optim_vtable sgd_vtable = {sizeof(tg_optim_vtable), "SGD", 1, sgd_update,
                                           free_hyper};

tg_status tg_sgd_create(tg_ctx *ctx, tg_module *m, const tg_sgd_options *opts, tg_optim **out)
{
    const char *who = "sgd_create";
    CREATE_PROLOGUE(who, tg_sgd_options, tg_sgd_options_init, opts, o);
    if (!check_value(ctx, who, "learning rate", o.lr, false) ||
        !check_value(ctx, who, "momentum", o.momentum, false) ||
        !check_value(ctx, who, "weight_decay", o.weight_decay, false))
        return ctx->status;
    if (!isfinite(o.dampening))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: invalid dampening %g", who,
                         (double)o.dampening);
    if (o.nesterov && (o.momentum <= 0.0f || o.dampening != 0.0f))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: Nesterov momentum requires a momentum > 0 and zero dampening "
                         "(momentum %g, dampening %g)",
                         who, (double)o.momentum, (double)o.dampening);
    return make(ctx, m, &sgd_vtable, sizeof(sgd_hyper), offsetof(sgd_hyper, o), &o, sizeof o, o.lr, out);
}

/* ---- Adam / AdamW ------------------------------------------------------------ */

static void adam_core(const tg_adam_options *o, const tg_optim_update *u, bool decoupled)
{
    const float b1 = o->beta1, b2 = o->beta2, wd = o->weight_decay, eps = o->eps;
    const float c1 = (float)(1.0 - (double)b1), c2 = (float)(1.0 - (double)b2);
    /* Scalars as PyTorch computes them: Python floats (double). */
    const double bc1 = 1.0 - pow((double)b1, (double)u->step);
    const double bc2 = 1.0 - pow((double)b2, (double)u->step);
    const float neg_step_size = (float)-((double)u->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay = (float)(1.0 - (double)u->lr * (double)wd);
    float *p = u->param, *m1 = u->state[0], *m2 = u->state[1];
    for (size_t i = 0; i < u->n; i++) {
        float g = u->grad[i];
        if (decoupled)
            p[i] = p[i] * decay;
        else if (wd != 0.0f)
            g = g + wd * p[i];
        m1[i] = m1[i] * b1 + c1 * g;
        m2[i] = m2[i] * b2 + c2 * g * g; /* ATen addcmul: self + (value * t1) * t2 */
        float denom = sqrtf(m2[i]) / bc2_sqrt + eps;
        p[i] = p[i] + neg_step_size * m1[i] / denom; /* addcdiv: self + value * t1 / t2 */
    }
}

static void adam_update(void *hyper, const tg_optim_update *u)
{
    adam_core(&((adam_hyper *)hyper)->o, u, false);
}

static void adamw_update(void *hyper, const tg_optim_update *u)
{
    adam_core(&((adam_hyper *)hyper)->o, u, true);
}

static const tg_optim_vtable adam_vtable = {sizeof(tg_optim_vtable), "Adam", 2, adam_update,
                                            free_hyper};
static const tg_optim_vtable adamw_vtable = {sizeof(tg_optim_vtable), "AdamW", 2, adamw_update,
                                             free_hyper};

static bool adam_check(tg_ctx *ctx, const char *who, const tg_adam_options *o)
{
    return check_value(ctx, who, "learning rate", o->lr, false) &&
           check_value(ctx, who, "eps", o->eps, false) &&
           check_value(ctx, who, "beta1", o->beta1, true) &&
           check_value(ctx, who, "beta2", o->beta2, true) &&
           check_value(ctx, who, "weight_decay", o->weight_decay, false);
}

tg_status tg_adam_create(tg_ctx *ctx, tg_module *m, const tg_adam_options *opts, tg_optim **out)
{
    const char *who = "adam_create";
    CREATE_PROLOGUE(who, tg_adam_options, tg_adam_options_init, opts, o);
    if (!adam_check(ctx, who, &o))
        return ctx->status;
    return make(ctx, m, &adam_vtable, sizeof(adam_hyper), offsetof(adam_hyper, o), &o, sizeof o, o.lr, out);
}

tg_status tg_adamw_create(tg_ctx *ctx, tg_module *m, const tg_adam_options *opts, tg_optim **out)
{
    const char *who = "adamw_create";
    CREATE_PROLOGUE(who, tg_adam_options, tg_adamw_options_init, opts, o);
    if (!adam_check(ctx, who, &o))
        return ctx->status;
    return make(ctx, m, &adamw_vtable, sizeof(adam_hyper), offsetof(adam_hyper, o), &o, sizeof o, o.lr, out);
}

/* ---- RMSprop ------------------------------------------------------------------ */

static void rmsprop_update(void *hyper, const tg_optim_update *u)
{
    const tg_rmsprop_options *o = &((rmsprop_hyper *)hyper)->o;
    const float alpha = o->alpha, c = (float)(1.0 - (double)o->alpha), eps = o->eps, wd = o->weight_decay;
    const float mom = o->momentum, neg_lr = -u->lr;
    float *p = u->param, *sq = u->state[0], *buf = u->state[1];
    for (size_t i = 0; i < u->n; i++) {
        float g = u->grad[i];
        if (wd != 0.0f)
            g = g + wd * p[i];
        sq[i] = sq[i] * alpha + c * g * g;
        float avg = sqrtf(sq[i]) + eps;
        if (mom > 0.0f) {
            buf[i] = buf[i] * mom + g / avg;
            p[i] = p[i] + neg_lr * buf[i];
        } else {
            p[i] = p[i] + neg_lr * g / avg;
        }
    }
}

static const tg_optim_vtable rmsprop_vtable = {sizeof(tg_optim_vtable), "RMSprop", 2,
                                               rmsprop_update, free_hyper};

tg_status tg_rmsprop_create(tg_ctx *ctx, tg_module *m, const tg_rmsprop_options *opts,
                            tg_optim **out)
{
    const char *who = "rmsprop_create";
    CREATE_PROLOGUE(who, tg_rmsprop_options, tg_rmsprop_options_init, opts, o);
    if (!check_value(ctx, who, "learning rate", o.lr, false) ||
        !check_value(ctx, who, "eps", o.eps, false) ||
        !check_value(ctx, who, "momentum", o.momentum, false) ||
        !check_value(ctx, who, "weight_decay", o.weight_decay, false) ||
        !check_value(ctx, who, "alpha", o.alpha, false))
        return ctx->status;
    return make(ctx, m, &rmsprop_vtable, sizeof(rmsprop_hyper), offsetof(rmsprop_hyper, o), &o, sizeof o, o.lr, out);
}

/* ---- Adagrad ------------------------------------------------------------------- */

static void adagrad_update(void *hyper, const tg_optim_update *u)
{
    const tg_adagrad_options *o = &((adagrad_hyper *)hyper)->o;
    const float wd = o->weight_decay, eps = o->eps;
    const float neg_clr =
        (float)-((double)u->lr / (1.0 + (double)(u->step - 1) * (double)o->lr_decay));
    float *p = u->param, *sum = u->state[0];
    for (size_t i = 0; i < u->n; i++) {
        float g = u->grad[i];
        if (wd != 0.0f)
            g = g + wd * p[i];
        sum[i] = sum[i] + g * g;
        float std = sqrtf(sum[i]) + eps;
        p[i] = p[i] + neg_clr * g / std;
    }
}

static const tg_optim_vtable adagrad_vtable = {sizeof(tg_optim_vtable), "Adagrad", 1,
                                               adagrad_update, free_hyper};

tg_status tg_adagrad_create(tg_ctx *ctx, tg_module *m, const tg_adagrad_options *opts,
                            tg_optim **out)
{
    const char *who = "adagrad_create";
    CREATE_PROLOGUE(who, tg_adagrad_options, tg_adagrad_options_init, opts, o);
    if (!check_value(ctx, who, "learning rate", o.lr, false) ||
        !check_value(ctx, who, "lr_decay", o.lr_decay, false) ||
        !check_value(ctx, who, "weight_decay", o.weight_decay, false) ||
        !check_value(ctx, who, "eps", o.eps, false))
        return ctx->status;
    return make(ctx, m, &adagrad_vtable, sizeof(adagrad_hyper), offsetof(adagrad_hyper, o), &o, sizeof o, o.lr, out);
}

/* ---- optimiser by name -------------------------------------------------------------- */

void tg_optim_config_init(tg_optim_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
}

bool tg__optim_elementwise(const tg_optim_vtable *vt)
{
    return vt == &sgd_vtable || vt == &adam_vtable || vt == &adamw_vtable ||
           vt == &rmsprop_vtable || vt == &adagrad_vtable;
}

static bool name_is(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if ((*a >= 'A' && *a <= 'Z' ? *a - 'A' + 'a' : *a) != *b)
            return false;
    return !*a && !*b;
}

tg_status tg_optim_create_by_name(tg_ctx *ctx, tg_module *m, const char *name,
                                  const tg_optim_config *c, tg_optim **out)
{
    const char *who = "optim_create_by_name";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!name)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: name is NULL", who);
    tg_optim_config k;
    tg_optim_config_init(&k);
    if (c) {
        if (c->struct_size < offsetof(tg_optim_config, lr) + sizeof c->lr ||
            c->struct_size > sizeof k)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: config struct_size %zu is invalid (use tg_optim_config_init)",
                             who, c->struct_size);
        memcpy(&k, c, c->struct_size);
    }
    if (name_is(name, "sgd")) {
        tg_sgd_options o;
        tg_sgd_options_init(&o);
        if (k.lr != 0.0f)
            o.lr = k.lr;
        o.momentum = k.momentum;
        o.weight_decay = k.weight_decay;
        o.nesterov = k.nesterov;
        return tg_sgd_create(ctx, m, &o, out);
    }
    if (name_is(name, "adam") || name_is(name, "adamw")) {
        bool w = name_is(name, "adamw");
        tg_adam_options o;
        if (w)
            tg_adamw_options_init(&o);
        else
            tg_adam_options_init(&o);
        if (k.lr != 0.0f)
            o.lr = k.lr;
        if (k.beta1 != 0.0f)
            o.beta1 = k.beta1;
        if (k.beta2 != 0.0f)
            o.beta2 = k.beta2;
        if (k.eps != 0.0f)
            o.eps = k.eps;
        if (!w || k.weight_decay != 0.0f || k.weight_decay_set)
            o.weight_decay = k.weight_decay;
        return w ? tg_adamw_create(ctx, m, &o, out) : tg_adam_create(ctx, m, &o, out);
    }
    if (name_is(name, "rmsprop")) {
        tg_rmsprop_options o;
        tg_rmsprop_options_init(&o);
        if (k.lr != 0.0f)
            o.lr = k.lr;
        if (k.eps != 0.0f)
            o.eps = k.eps;
        o.momentum = k.momentum;
        o.weight_decay = k.weight_decay;
        return tg_rmsprop_create(ctx, m, &o, out);
    }
    if (name_is(name, "adagrad")) {
        tg_adagrad_options o;
        tg_adagrad_options_init(&o);
        if (k.lr != 0.0f)
            o.lr = k.lr;
        if (k.eps != 0.0f)
            o.eps = k.eps;
        o.weight_decay = k.weight_decay;
        return tg_adagrad_create(ctx, m, &o, out);
    }
    return tg__error(ctx, TG_ERR_INVALID_ARG,
                     "%s: unknown optimiser '%.64s' (valid: sgd, adam, adamw, rmsprop, adagrad)",
                     who, name);
}
