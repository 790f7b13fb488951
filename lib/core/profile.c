/* SPDX-License-Identifier: MIT */
/* Per-op timing table kept in the ctx (see tg_internal.h). Used by
 * bench --profile; off by default, and then only a branch per op. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "tg_internal.h"

#include <time.h>

uint64_t tg__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tg__prof_enable(tg_ctx *ctx, bool on)
{
    ctx->prof_on = on;
    ctx->prof_op = NULL;
    ctx->prof_n = 0;
    memset(ctx->prof, 0, sizeof ctx->prof);
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

void tg__prof_mark(tg_ctx *ctx, const tg__op_def *op)
{
    uint64_t now = tg__now_ns();
    if (ctx->prof_op) {
        tg__prof_entry *e = entry(ctx, ctx->prof_op);
        if (e) {
            e->fwd_ns += now - ctx->prof_t0;
            e->fwd_calls++;
        }
    }
    ctx->prof_op = op;
    ctx->prof_t0 = now;
}

void tg__prof_add_backward(tg_ctx *ctx, const tg__op_def *op, uint64_t ns)
{
    tg__prof_entry *e = entry(ctx, op);
    if (e) {
        e->bwd_ns += ns;
        e->bwd_calls++;
    }
}
