/* SPDX-License-Identifier: MIT */
/* Learning-rate schedulers as closed forms of the step count, matching
 * torch.optim.lr_scheduler (1.13) after t calls of step(): StepLR,
 * MultiStepLR, CosineAnnealingLR, OneCycleLR (anneal_strategy 'cos', two
 * phases), and a LinearLR warm-up in front of any of the first four as
 * SequentialLR([LinearLR, main], milestones=[warmup]) composes them. Values
 * are computed in double, as PyTorch computes them in Python floats. */
#include "optim_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#define TG_PI 3.14159265358979323846

struct tg_scheduler {
    tg__object obj; /* tracked by the ctx until destroyed */
    tg_ctx *ctx;
    tg_scheduler_options o;
    int64_t milestones[TG_SCHED_MAX_MILESTONES];
    double base;    /* fixed on the first tg_scheduler_apply() */
    bool have_base;
};

void tg_scheduler_options_init(tg_scheduler_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->kind = TG_SCHED_CONSTANT;
    o->step_size = 1;
    o->gamma = 0.1;
    o->t_max = 1;
    o->warmup_start_factor = 1.0 / 3.0;
    o->pct_start = 0.3;
    o->div_factor = 25.0;
    o->final_div_factor = 1e4;
}

static void sched_release(tg__object *obj)
{
    tg_scheduler *s = (tg_scheduler *)obj;
    tg__free(s->ctx, s);
}

static tg_status bad(tg_ctx *ctx, const char *what)
{
    return tg__error(ctx, TG_ERR_INVALID_ARG, "scheduler_create: %s", what);
}

static tg_status check(tg_ctx *ctx, const tg_scheduler_options *o)
{
    char msg[160];
    if ((unsigned)o->kind > TG_SCHED_ONE_CYCLE) {
        snprintf(msg, sizeof msg, "unknown kind %d (TG_SCHED_CONSTANT .. TG_SCHED_ONE_CYCLE)",
                 (int)o->kind);
        return bad(ctx, msg);
    }
    if (!(o->base_lr >= 0.0) || !isfinite(o->base_lr))
        return bad(ctx, "base_lr must be finite and >= 0 (0 = the optimiser's rate)");
    if (o->warmup_steps < 0)
        return bad(ctx, "warmup_steps must be >= 0");
    if (o->warmup_steps > 0 && !(o->warmup_start_factor > 0.0 && o->warmup_start_factor <= 1.0))
        return bad(ctx, "warmup_start_factor must be in (0, 1] (torch LinearLR)");
    switch (o->kind) {
    case TG_SCHED_STEP:
        if (o->step_size <= 0)
            return bad(ctx, "step_size must be > 0");
        /* fall through */
    case TG_SCHED_MULTISTEP:
        if (!(o->gamma > 0.0) || !isfinite(o->gamma))
            return bad(ctx, "gamma must be finite and > 0");
        if (o->kind == TG_SCHED_MULTISTEP) {
            if (o->n_milestones > TG_SCHED_MAX_MILESTONES || (o->n_milestones && !o->milestones))
                return bad(ctx, "milestones: NULL or more than TG_SCHED_MAX_MILESTONES (64)");
            for (size_t i = 0; i < o->n_milestones; i++)
                if (o->milestones[i] < 0 || (i && o->milestones[i] <= o->milestones[i - 1]))
                    return bad(ctx, "milestones must be >= 0 and increasing");
        }
        break;
    case TG_SCHED_COSINE:
        if (o->t_max <= 0)
            return bad(ctx, "t_max must be > 0");
        if (!(o->eta_min >= 0.0) || !isfinite(o->eta_min))
            return bad(ctx, "eta_min must be finite and >= 0");
        break;
    case TG_SCHED_ONE_CYCLE:
        if (o->warmup_steps > 0)
            return bad(ctx, "warmup_steps cannot be combined with one-cycle (it has its own)");
        if (!(o->max_lr > 0.0) || !isfinite(o->max_lr))
            return bad(ctx, "max_lr must be finite and > 0");
        if (o->total_steps <= 0)
            return bad(ctx, "total_steps must be > 0");
        if (!(o->pct_start > 0.0 && o->pct_start < 1.0))
            return bad(ctx, "pct_start must be in (0, 1)");
        if (!(o->div_factor > 0.0) || !isfinite(o->div_factor) ||
            !(o->final_div_factor > 0.0) || !isfinite(o->final_div_factor))
            return bad(ctx, "div_factor and final_div_factor must be finite and > 0");
        if (o->pct_start * (double)o->total_steps - 1.0 <= 0.0 ||
            o->pct_start * (double)o->total_steps - 1.0 >= (double)o->total_steps - 1.0)
            return bad(ctx, "pct_start * total_steps must leave at least one step to each "
                            "phase");
        break;
    default:
        break;
    }
    return TG_OK;
}

tg_status tg_scheduler_create(tg_ctx *ctx, const tg_scheduler_options *o, tg_scheduler **out)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!out || !o)
        return bad(ctx, !out ? "out is NULL" : "options are NULL (tg_scheduler_options_init)");
    tg_scheduler_options c;
    tg_scheduler_options_init(&c);
    if (o->struct_size < offsetof(tg_scheduler_options, kind) + sizeof o->kind ||
        o->struct_size > sizeof c) {
        char msg[120];
        snprintf(msg, sizeof msg, "options struct_size %zu is invalid (expected %zu; use "
                 "tg_scheduler_options_init())", o->struct_size, sizeof c);
        return bad(ctx, msg);
    }
    memcpy(&c, o, o->struct_size);
    c.struct_size = sizeof c;
    tg_status st = check(ctx, &c);
    if (st != TG_OK)
        return st;
    tg_scheduler *s = tg__calloc(ctx, 1, sizeof *s);
    if (!s)
        return tg__error(ctx, TG_ERR_NOMEM, "scheduler_create: out of memory");
    s->ctx = ctx;
    s->o = c;
    if (c.kind == TG_SCHED_MULTISTEP && c.n_milestones)
        memcpy(s->milestones, c.milestones, c.n_milestones * sizeof *s->milestones);
    s->o.milestones = NULL; /* the copy is used */
    tg__object_track(ctx, &s->obj, sched_release);
    *out = s;
    return TG_OK;
}

void tg_scheduler_destroy(tg_scheduler *s)
{
    if (!s)
        return;
    tg__object_untrack(s->ctx, &s->obj);
    sched_release(&s->obj);
}

bool tg_scheduler_per_batch(const tg_scheduler *s) { return s && s->o.per_batch; }

static double anneal_cos(double start, double end, double pct)
{
    return end + (start - end) / 2.0 * (cos(TG_PI * pct) + 1.0);
}

/* The main schedule after t of its own steps. */
static double main_lr(const tg_scheduler *s, double base, int64_t t)
{
    const tg_scheduler_options *o = &s->o;
    switch (o->kind) {
    case TG_SCHED_STEP:
        return base * pow(o->gamma, (double)(t / o->step_size));
    case TG_SCHED_MULTISTEP: {
        size_t k = 0;
        while (k < o->n_milestones && s->milestones[k] <= t)
            k++;
        return base * pow(o->gamma, (double)k);
    }
    case TG_SCHED_COSINE:
        return o->eta_min +
               (base - o->eta_min) * (1.0 + cos(TG_PI * (double)t / (double)o->t_max)) / 2.0;
    case TG_SCHED_ONE_CYCLE: {
        double initial = o->max_lr / o->div_factor, min_lr = initial / o->final_div_factor;
        double end1 = o->pct_start * (double)o->total_steps - 1.0;
        double end2 = (double)o->total_steps - 1.0;
        double st = (double)(t < o->total_steps ? t : o->total_steps - 1);
        if (st <= end1)
            return anneal_cos(initial, o->max_lr, st / end1);
        return anneal_cos(o->max_lr, min_lr, (st - end1) / (end2 - end1));
    }
    default:
        return base;
    }
}

double tg_scheduler_lr(const tg_scheduler *s, double base_lr, int64_t step)
{
    if (!s || step < 0)
        return NAN;
    double base = s->o.base_lr > 0.0 ? s->o.base_lr : base_lr;
    int64_t w = s->o.warmup_steps;
    if (w > 0 && step < w) {
        double f = s->o.warmup_start_factor;
        return base * (f + (1.0 - f) * (double)step / (double)w);
    }
    return main_lr(s, base, step - w);
}

tg_status tg_scheduler_apply(tg_scheduler *s, tg_optim *opt, int64_t step)
{
    if (!s)
        return TG_ERR_INVALID_ARG;
    if (!opt || step < 0)
        return tg__error(s->ctx, TG_ERR_INVALID_ARG, "scheduler_apply: %s",
                         !opt ? "optimiser is NULL" : "step is negative");
    if (!s->have_base) {
        s->base = s->o.base_lr > 0.0 ? s->o.base_lr : (double)tg_optim_lr(opt);
        s->have_base = true;
    }
    tg_optim_set_lr(opt, (float)tg_scheduler_lr(s, s->base, step));
    return TG_OK;
}

/* ---- gradient clipping --------------------------------------------------------------- */

tg_status tg_clip_grad_norm(tg_optim *opt, float max_norm, float *total_norm)
{
    if (!opt)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = NULL;
    size_t n = tg_optim_n_params(opt);
    double sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        tg_tensor *p = tg_optim_param(opt, i, NULL);
        if (!ctx)
            ctx = p->ctx;
        const float *g = tg_tensor_grad(p);
        if (!g)
            continue;
        for (int64_t k = 0; k < p->numel; k++)
            sq += (double)g[k] * (double)g[k];
    }
    if (!ctx)
        ctx = tg__optim_ctx(opt);
    if (!(max_norm > 0.0f) || isinf(max_norm))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "clip_grad_norm: max_norm %g must be finite and > 0", (double)max_norm);
    double norm = sqrt(sq);
    if (!isfinite(norm))
        return tg__error(ctx, TG_ERR_NUMERIC,
                         "clip_grad_norm: the total gradient norm is %f; gradients left "
                         "unchanged", norm);
    if (total_norm)
        *total_norm = (float)norm;
    float coef = (float)((double)max_norm / (norm + 1e-6));
    if (coef >= 1.0f)
        return TG_OK;
    for (size_t i = 0; i < n; i++) {
        tg_tensor *p = tg_optim_param(opt, i, NULL);
        float *g = tg_tensor_grad(p);
        if (!g)
            continue;
        for (int64_t k = 0; k < p->numel; k++)
            g[k] *= coef;
    }
    return TG_OK;
}
