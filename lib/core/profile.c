/* SPDX-License-Identifier: MIT */
/* The profiler (public tg_profiler_*; internal tg__prof_* for bench and
 * tests). Off by default; then ops pay one branch (ctx->observe).
 *
 * Ops run eagerly, so an op's forward time is the time from its result's
 * creation to the next op's (or to tg_backward(), tg_ctx_reset() or
 * tg_profiler_enable(ctx, false)): the interval covers the op's own work
 * and whatever the caller did before the next op. Backward time is measured
 * around op->backward. The op table lives in the ctx; the per-call event log
 * (for the Chrome trace) and the module table are allocated while profiling
 * is on, growing as needed up to TG__PROF_MAX_EVENTS events. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "tg_internal.h"

#include <stdio.h>
#include <time.h>

#define TG__PROF_MAX_EVENTS ((size_t)1 << 20)

enum { EV_FWD = 0, EV_BWD = 1, EV_MODULE = 2 };

typedef struct {
    const char *name;   /* op name (static) or module path (module table) */
    const char *type;   /* module type, NULL for ops */
    uint64_t t0, dur;   /* ns, t0 relative to the session origin */
    uint64_t bytes;
    int kind;
} prof_event;

typedef struct {
    const tg_module *m; /* identity only, never dereferenced after the call */
    char *path;
    const char *type;
    uint64_t ns, calls;
    uint64_t bwd_ns, bwd_calls; /* backward of the ops its own forward ran */
} prof_module;

typedef struct {
    const tg_tensor *t;
    const tg_module *m;
} prof_result;

struct tg__prof_state {
    uint64_t origin;           /* tg__now_ns() at enable/reset */
    prof_event *ev;
    size_t n_ev, cap_ev;
    uint64_t dropped;          /* events not logged (cap or no memory) */
    prof_module *mods;
    size_t n_mods, cap_mods;
    size_t prof_bytes0;        /* arena_used when the open forward interval began */
    prof_result *res;          /* this step's op results made inside a module */
    size_t n_res, cap_res;
    size_t res_cursor;         /* where the last backward lookup matched */
};

uint64_t tg__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void clear_state(tg_ctx *ctx)
{
    tg__prof_state *s = ctx->prof_state;
    ctx->prof_op = NULL;
    ctx->prof_n = 0;
    memset(ctx->prof, 0, sizeof ctx->prof);
    if (!s)
        return;
    for (size_t i = 0; i < s->n_mods; i++)
        tg__free(ctx, s->mods[i].path);
    s->n_mods = 0;
    s->n_ev = 0;
    s->n_res = 0;
    s->dropped = 0;
    s->origin = tg__now_ns();
}

void tg__prof_enable(tg_ctx *ctx, bool on)
{
    ctx->prof_on = on;
    ctx->observe = on || ctx->trace;
    clear_state(ctx);
}

void tg__prof_free(tg_ctx *ctx)
{
    tg__prof_state *s = ctx->prof_state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_mods; i++)
        tg__free(ctx, s->mods[i].path);
    tg__free(ctx, s->mods);
    tg__free(ctx, s->ev);
    tg__free(ctx, s->res);
    tg__free(ctx, s);
    ctx->prof_state = NULL;
}

static tg__prof_entry *entry(tg_ctx *ctx, const tg__op_def *op)
{
    const char *name = op->name ? op->name : "?";
    for (int i = 0; i < ctx->prof_n; i++)
        if (ctx->prof[i].name == name || strcmp(ctx->prof[i].name, name) == 0)
            return &ctx->prof[i];
    if (ctx->prof_n == TG__PROF_MAX)
        return NULL;
    tg__prof_entry *e = &ctx->prof[ctx->prof_n++];
    e->name = name;
    return e;
}

static void log_event(tg_ctx *ctx, const char *name, const char *type, int kind, uint64_t t0,
                      uint64_t dur, uint64_t bytes)
{
    tg__prof_state *s = ctx->prof_state;
    if (!s)
        return;
    if (s->n_ev == s->cap_ev) {
        size_t ncap = s->cap_ev ? s->cap_ev * 2 : 4096;
        prof_event *p = s->n_ev < TG__PROF_MAX_EVENTS ? tg__malloc(ctx, ncap * sizeof *p) : NULL;
        if (!p) {
            s->dropped++;
            return;
        }
        if (s->n_ev)
            memcpy(p, s->ev, s->n_ev * sizeof *p);
        tg__free(ctx, s->ev);
        s->ev = p;
        s->cap_ev = ncap;
    }
    s->ev[s->n_ev++] = (prof_event){name, type, t0 > s->origin ? t0 - s->origin : 0, dur, bytes,
                                    kind};
}

void tg__prof_mark(tg_ctx *ctx, const tg__op_def *op)
{
    uint64_t now = tg__now_ns();
    tg__prof_state *s = ctx->prof_state;
    if (ctx->prof_op) {
        size_t b0 = s ? s->prof_bytes0 : ctx->arena_used;
        uint64_t bytes = ctx->arena_used > b0 ? ctx->arena_used - b0 : 0;
        tg__prof_entry *e = entry(ctx, ctx->prof_op);
        if (e) {
            e->fwd_ns += now - ctx->prof_t0;
            e->fwd_calls++;
            e->bytes += bytes;
        }
        log_event(ctx, ctx->prof_op->name, NULL, EV_FWD, ctx->prof_t0, now - ctx->prof_t0,
                  bytes);
    }
    ctx->prof_op = op;
    ctx->prof_t0 = now;
    if (s)
        s->prof_bytes0 = ctx->arena_used;
}

void tg__prof_result(tg_ctx *ctx, const tg_tensor *t)
{
    tg__prof_state *s = ctx->prof_state;
    if (!s)
        return;
    if (s->n_res == s->cap_res) {
        size_t ncap = s->cap_res ? s->cap_res * 2 : 256;
        prof_result *p = tg__malloc(ctx, ncap * sizeof *p);
        if (!p)
            return; /* only the module attribution of backward time is lost */
        if (s->n_res)
            memcpy(p, s->res, s->n_res * sizeof *p);
        tg__free(ctx, s->res);
        s->res = p;
        s->cap_res = ncap;
    }
    s->res[s->n_res++] = (prof_result){t, ctx->prof_module};
}

void tg__prof_step_end(tg_ctx *ctx)
{
    tg__prof_mark(ctx, NULL);
    if (ctx->prof_state)
        ctx->prof_state->n_res = 0;
}

/* The module that made t: backward visits results in about reverse creation
 * order, so the search starts just below the previous match. */
static const tg_module *result_module(tg__prof_state *s, const tg_tensor *t)
{
    if (!s->n_res)
        return NULL;
    size_t start = s->res_cursor < s->n_res ? s->res_cursor : s->n_res - 1;
    for (size_t k = 0; k < s->n_res; k++) {
        size_t i = (start + s->n_res - k) % s->n_res;
        if (s->res[i].t == t) {
            s->res_cursor = i ? i - 1 : 0;
            return s->res[i].m;
        }
    }
    return NULL;
}

void tg__prof_add_backward(tg_ctx *ctx, const tg_tensor *t, uint64_t t0, uint64_t ns)
{
    tg__prof_entry *e = entry(ctx, t->op);
    if (e) {
        e->bwd_ns += ns;
        e->bwd_calls++;
    }
    log_event(ctx, t->op->name, NULL, EV_BWD, t0, ns, 0);
    tg__prof_state *s = ctx->prof_state;
    const tg_module *m = s ? result_module(s, t) : NULL;
    for (size_t i = 0; m && i < s->n_mods; i++)
        if (s->mods[i].m == m) {
            s->mods[i].bwd_ns += ns;
            s->mods[i].bwd_calls++;
            break;
        }
}

void tg__prof_module(tg_ctx *ctx, const tg_module *m, const char *path, uint64_t t0,
                     uint64_t ns)
{
    tg__prof_state *s = ctx->prof_state;
    if (!s)
        return;
    prof_module *pm = NULL;
    for (size_t i = 0; i < s->n_mods && !pm; i++)
        if (s->mods[i].m == m && !strcmp(s->mods[i].path, path))
            pm = &s->mods[i];
    if (!pm) {
        if (s->n_mods == s->cap_mods) {
            size_t ncap = s->cap_mods ? s->cap_mods * 2 : 32;
            prof_module *p = tg__malloc(ctx, ncap * sizeof *p);
            if (!p)
                return;
            if (s->n_mods)
                memcpy(p, s->mods, s->n_mods * sizeof *p);
            tg__free(ctx, s->mods);
            s->mods = p;
            s->cap_mods = ncap;
        }
        char *dup = tg__strdup(ctx, path);
        if (!dup)
            return;
        pm = &s->mods[s->n_mods++];
        *pm = (prof_module){m, dup, tg_module_type(m), 0, 0, 0, 0};
    }
    pm->ns += ns;
    pm->calls++;
    log_event(ctx, pm->path, pm->type, EV_MODULE, t0, ns, 0);
}

/* ---- public API ------------------------------------------------------------ */

tg_status tg_profiler_enable(tg_ctx *ctx, bool on)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (on && !ctx->prof_state) {
        ctx->prof_state = tg__calloc(ctx, 1, sizeof *ctx->prof_state);
        if (!ctx->prof_state)
            return tg__error(ctx, TG_ERR_NOMEM, "profiler_enable: out of memory");
        ctx->prof_state->origin = tg__now_ns();
    }
    if (!on && ctx->prof_on)
        tg__prof_step_end(ctx); /* close the open forward interval */
    if (ctx->prof_state)
        ctx->prof_state->n_res = 0; /* results of another step: addresses get reused */
    ctx->prof_on = on;
    ctx->observe = on || ctx->trace;
    return TG_OK;
}

bool tg_profiler_is_enabled(const tg_ctx *ctx) { return ctx && ctx->prof_on; }

void tg_profiler_reset(tg_ctx *ctx)
{
    if (ctx)
        clear_state(ctx);
}

size_t tg_profiler_n_rows(const tg_ctx *ctx)
{
    if (!ctx)
        return 0;
    return (size_t)ctx->prof_n + (ctx->prof_state ? ctx->prof_state->n_mods : 0);
}

tg_status tg_profiler_row(const tg_ctx *ctx, size_t i, tg_profile_row *out)
{
    if (!ctx || !out)
        return TG_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (i < (size_t)ctx->prof_n) {
        const tg__prof_entry *e = &ctx->prof[i];
        out->name = e->name;
        out->forward_ms = (double)e->fwd_ns * 1e-6;
        out->backward_ms = (double)e->bwd_ns * 1e-6;
        out->forward_calls = e->fwd_calls;
        out->backward_calls = e->bwd_calls;
        out->bytes = e->bytes;
        return TG_OK;
    }
    i -= (size_t)ctx->prof_n;
    if (!ctx->prof_state || i >= ctx->prof_state->n_mods)
        return TG_ERR_INVALID_ARG;
    const prof_module *pm = &ctx->prof_state->mods[i];
    out->name = pm->path;
    out->module_type = pm->type;
    out->forward_ms = (double)pm->ns * 1e-6;
    out->forward_calls = pm->calls;
    out->backward_ms = (double)pm->bwd_ns * 1e-6;
    out->backward_calls = pm->bwd_calls;
    return TG_OK;
}

/* snprintf into buf at *len; remembers truncation. */
typedef struct {
    char *buf;
    size_t size, len;
    bool trunc;
} outbuf;

static void outf(outbuf *o, const char *fmt, ...) TG_PRINTF(2, 3);
static void outf(outbuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->size ? o->size - o->len : 0;
    int w = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if ((size_t)w >= room) {
        o->trunc = true;
        o->len = o->size ? o->size - 1 : 0;
    } else {
        o->len += (size_t)w;
    }
}

tg_status tg_profiler_table(const tg_ctx *ctx, char *buf, size_t size)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!buf || !size)
        return tg__error((tg_ctx *)ctx, TG_ERR_INVALID_ARG, "profiler_table: buffer is NULL");
    outbuf o = {buf, size, 0, false};
    buf[0] = '\0';
    double tf = 0, tb = 0;
    uint64_t tbytes = 0, tcalls = 0;
    outf(&o, "%-22s %8s %11s %8s %11s %12s\n", "op", "calls", "forward ms", "bw calls",
         "backward ms", "arena bytes");
    for (int i = 0; i < ctx->prof_n; i++) {
        const tg__prof_entry *e = &ctx->prof[i];
        outf(&o, "%-22s %8llu %11.3f %8llu %11.3f %12llu\n", e->name,
             (unsigned long long)e->fwd_calls, (double)e->fwd_ns * 1e-6,
             (unsigned long long)e->bwd_calls, (double)e->bwd_ns * 1e-6,
             (unsigned long long)e->bytes);
        tf += (double)e->fwd_ns * 1e-6;
        tb += (double)e->bwd_ns * 1e-6;
        tbytes += e->bytes;
        tcalls += e->fwd_calls;
    }
    outf(&o, "%-22s %8llu %11.3f %8s %11.3f %12llu\n", "total", (unsigned long long)tcalls, tf,
         "", tb, (unsigned long long)tbytes);
    outf(&o, "%-22s %11.3f ms (forward + backward)\n", "total time", tf + tb);
    const tg__prof_state *s = ctx->prof_state;
    if (s && s->n_mods) {
        outf(&o, "\n%-32s %-14s %8s %11s %11s\n", "module", "type", "calls", "forward ms",
             "own bw ms");
        for (size_t i = 0; i < s->n_mods; i++)
            outf(&o, "%-32s %-14s %8llu %11.3f %11.3f\n", s->mods[i].path, s->mods[i].type,
                 (unsigned long long)s->mods[i].calls, (double)s->mods[i].ns * 1e-6,
                 (double)s->mods[i].bwd_ns * 1e-6);
    }
    if (s && s->dropped)
        outf(&o, "(%llu trace events not logged: log full or out of memory)\n",
             (unsigned long long)s->dropped);
    if (o.trunc)
        return tg__error((tg_ctx *)ctx, TG_ERR_LIMIT,
                         "profiler_table: the table does not fit in %zu bytes", size);
    return TG_OK;
}

static void json_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

tg_status tg_profiler_write_trace(const tg_ctx *ctx, const char *path)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    tg_ctx *c = (tg_ctx *)ctx;
    if (!path || !path[0])
        return tg__error(c, TG_ERR_INVALID_ARG, "profiler_write_trace: path is NULL or empty");
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return tg__error(c, TG_ERR_IO, "profiler_write_trace: cannot create '%s'", path);
    const tg__prof_state *s = ctx->prof_state;
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", fp);
    static const char *const cats[3] = {"forward", "backward", "module"};
    for (size_t i = 0; s && i < s->n_ev; i++) {
        const prof_event *e = &s->ev[i];
        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", fp);
        json_str(fp, e->name);
        fprintf(fp, ",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,\"tid\":%d",
                cats[e->kind], (double)e->t0 * 1e-3, (double)e->dur * 1e-3,
                e->kind == EV_MODULE ? 2 : 1);
        if (e->kind == EV_MODULE) {
            fputs(",\"args\":{\"type\":", fp);
            json_str(fp, e->type ? e->type : "?");
            fputs("}}", fp);
        } else {
            fprintf(fp, ",\"args\":{\"bytes\":%llu}}", (unsigned long long)e->bytes);
        }
    }
    fputs("\n]}\n", fp);
    bool bad = ferror(fp) != 0;
    if (fclose(fp) != 0 || bad)
        return tg__error(c, TG_ERR_IO, "profiler_write_trace: cannot write '%s'", path);
    return TG_OK;
}
