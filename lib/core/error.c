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

tg_status tg__error(tg_ctx *ctx, tg_status status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    ctx->status = status;
    if (ctx->opts.log)
        ctx->opts.log(ctx->opts.log_user, 2, ctx->errmsg);
    return status;
}

bool tg__null_input(tg_ctx *ctx, const char *op, int n, ...)
{
    va_list ap;
    bool null = false;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        if (!va_arg(ap, const void *))
            null = true;
    va_end(ap);
    if (null && ctx && ctx->status == TG_OK)
        tg__error(ctx, TG_ERR_INVALID_ARG, "%s: input tensor is NULL", op);
    return null;
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
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    ctx->status = status;
    if (ctx->opts.log)
        ctx->opts.log(ctx->opts.log_user, 2, ctx->errmsg);
    return status;
}

tg_status tg_ctx_last_status(const tg_ctx *ctx) { return ctx ? ctx->status : TG_ERR_INVALID_ARG; }

const char *tg_ctx_last_error(const tg_ctx *ctx) { return ctx ? ctx->errmsg : "ctx is NULL"; }

void tg_ctx_clear_error(tg_ctx *ctx)
{
    if (ctx) {
        ctx->status = TG_OK;
        ctx->errmsg[0] = '\0';
    }
}
