/* SPDX-License-Identifier: MIT */
/* Version queries, status strings and the per-context error message. */
#include "tg_internal.h"

#include <stdio.h>

unsigned tg_version(void) { return TG_VERSION_NUMBER; }

const char *tg_version_string(void) { return TG_VERSION_STRING; }

const char *tg_status_string(tg_status status)
{
    switch (status) {
    case TG_OK: return "success";
    case TG_ERR_INVALID_ARG: return "invalid argument";
    case TG_ERR_SHAPE: return "shape mismatch";
    case TG_ERR_NOMEM: return "out of memory";
    case TG_ERR_IO: return "I/O error";
    case TG_ERR_FORMAT: return "malformed input";
    case TG_ERR_STATE: return "invalid state";
    case TG_ERR_DTYPE: return "wrong element type";
    case TG_ERR_NOT_FOUND: return "not found";
    case TG_ERR_LIMIT: return "limit exceeded";
    case TG_ERR_NUMERIC: return "NaN or Inf";
    case TG_ERR_MISUSE: return "API misuse";
    case TG_ERR_BUSY: return "object in use";
    }
    return "unknown status";
}

static tg_status set_error(tg_ctx *ctx, tg_status status, const char *fmt, va_list ap)
{
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    ctx->status = status;
    if (ctx->opts.log)
        ctx->opts.log(ctx->opts.log_user, 2, ctx->errmsg);
    return status;
}

tg_status tg__error(tg_ctx *ctx, tg_status status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    set_error(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

/* Every op calls this first with its tensor inputs, so the misuse checks
 * live here: a stale input (made before tg_ctx_reset()) and a call from a
 * second thread fail with TG_ERR_MISUSE, replacing any kept error (a
 * misuse is a bug to report, not a consequence of an earlier failure). */
bool tg__null_input(tg_ctx *ctx, const char *op, int n, ...)
{
    va_list ap;
    bool null = false;
    int stale = -1;
    tg_tensor *st = NULL;
    if (ctx && !tg__check_thread(ctx, op)) /* before touching anything the owner may use */
        return true;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        tg_tensor *t = va_arg(ap, tg_tensor *);
        if (!t) {
            null = true;
        } else if (t->persistent) {
            t->used_step = t->ctx->step; /* tg_tensor_destroy() defers until reset */
        } else if (t->step != t->ctx->step && stale < 0) {
            stale = i;
            st = t;
        }
    }
    va_end(ap);
    if (stale >= 0) {
        tg__stale_error(ctx ? ctx : st->ctx, op, stale, st);
        return true;
    }
    if (null && ctx && ctx->status == TG_OK)
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: input tensor is NULL", op);
    return null;
}

tg_status tg__stale_error(tg_ctx *ctx, const char *who, int i, const tg_tensor *t)
{
    return tg__error(ctx, TG_ERR_MISUSE,
                     "%s: input %d was made before tg_ctx_reset() (step %llu, now step %llu); "
                     "transient tensors live until the next reset",
                     who, i, (unsigned long long)t->step, (unsigned long long)t->ctx->step);
}

const char *tg__shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t k = 0;
    int w = snprintf(buf, size, "[");
    k = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && k < size; i++) {
        w = snprintf(buf + k, size - k, i ? ",%lld" : "%lld", (long long)shape[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

tg_status tg_ctx_set_error(tg_ctx *ctx, tg_status status, const char *fmt, ...)
{
    if (!ctx || !fmt)
        return status;
    va_list ap;
    va_start(ap, fmt);
    set_error(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

/* A cross-thread misuse message (kept by the intruding thread, see
 * tg__enter) is reported before the owner's own error. */
static bool intruded(const tg_ctx *ctx)
{
    return atomic_load_explicit(&((tg_ctx *)ctx)->xstate, memory_order_acquire) == 2;
}

tg_status tg_ctx_last_status(const tg_ctx *ctx)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    return intruded(ctx) ? TG_ERR_MISUSE : ctx->status;
}

const char *tg_ctx_last_error(const tg_ctx *ctx)
{
    if (!ctx)
        return "ctx is NULL";
    return intruded(ctx) ? ctx->xmsg : ctx->errmsg;
}

void tg_ctx_clear_error(tg_ctx *ctx)
{
    if (ctx) {
        ctx->status = TG_OK;
        ctx->errmsg[0] = '\0';
        if (intruded(ctx))
            atomic_store_explicit(&ctx->xstate, 0, memory_order_relaxed);
    }
}
