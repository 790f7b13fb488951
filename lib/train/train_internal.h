/* SPDX-License-Identifier: MIT */
/* Declarations shared by the lib/train sources. Never installed. */
#ifndef TG_TRAIN_INTERNAL_H
#define TG_TRAIN_INTERNAL_H

#include "tg_internal.h"

#include <stdio.h>

/* Monotonic wall clock in seconds. */
double tg__now_s(void);
/* mkdir -p; TG_ERR_IO names the directory, `who` the caller. */
tg_status tg__make_dirs(tg_ctx *ctx, const char *who, const char *dir);

/* Atomic text file: write to "<path>.tmp", then tg__atomic_commit() flushes,
 * fsyncs and renames it over path (or removes it on failure). */
typedef struct tg__atomic_file {
    FILE *f;
    char tmp[4096];
    const char *path;
} tg__atomic_file;
tg_status tg__atomic_open(tg_ctx *ctx, const char *who, const char *path, tg__atomic_file *af);
tg_status tg__atomic_commit(tg_ctx *ctx, const char *who, tg__atomic_file *af);

#endif /* TG_TRAIN_INTERNAL_H */
