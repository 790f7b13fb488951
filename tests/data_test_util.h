/* SPDX-License-Identifier: MIT */
/* Temp directories and small file helpers for the data/io tests. Header-only
 * (static functions) so each test program stays self-contained. */
#ifndef TG_DATA_TEST_UTIL_H
#define TG_DATA_TEST_UTIL_H

#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinygrad.h"

#if defined(__GNUC__)
#  define TGD_UNUSED __attribute__((unused))
#else
#  define TGD_UNUSED
#endif

static TGD_UNUSED char tgd_dir[256];

/* Create a fresh temp directory in tgd_dir. */
static TGD_UNUSED void tgd_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tgd_dir, sizeof tgd_dir, "%s/tgtest.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tgd_dir));
}

static TGD_UNUSED int tgd_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static TGD_UNUSED void tgd_rmtree(void)
{
    if (tgd_dir[0])
        nftw(tgd_dir, tgd_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    tgd_dir[0] = '\0';
}

/* tgd_dir/rel in a static rotating buffer (up to 4 live paths). */
static TGD_UNUSED const char *tgd_path(const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tgd_dir, rel);
    return buf[k];
}

static TGD_UNUSED void tgd_write(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* Whole file into a malloc'd buffer. */
static TGD_UNUSED unsigned char *tgd_read(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return b;
}

static TGD_UNUSED void tgd_mkdir(const char *rel) { ck_assert_int_eq(mkdir(tgd_path(rel), 0777), 0); }

/* Assert the ctx's last error contains every needle. */
#define tgd_assert_err(ctx, st, ...)                                                           \
    do {                                                                                       \
        ck_assert_int_eq(tg_ctx_last_status(ctx), (st));                                       \
        const char *needles_[] = {__VA_ARGS__};                                                \
        for (size_t i_ = 0; i_ < sizeof needles_ / sizeof needles_[0]; i_++)                   \
            ck_assert_msg(strstr(tg_ctx_last_error(ctx), needles_[i_]) != NULL,                \
                          "error '%s' lacks '%s'", tg_ctx_last_error(ctx), needles_[i_]);      \
    } while (0)

#endif
