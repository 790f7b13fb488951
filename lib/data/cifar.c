/* SPDX-License-Identifier: MIT */
/* CIFAR-10/100 binary files (https://www.cs.toronto.edu/~kriz/cifar.html,
 * "binary version"): records of 1 label byte (CIFAR-100: coarse, fine)
 * then 3 x 1024 bytes, the R, G and B planes of a 32 x 32 image, which is
 * already the [C, H, W] layout of a data set sample. Every file size is
 * checked (whole records, limits) before anything is allocated; a failed
 * load allocates nothing that outlives it. */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

enum { CIFAR_PIXELS = 3 * 32 * 32 };

void tg_cifar_options_init(tg_cifar_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->variant = 10;
}

/* Size of a regular file, or an error naming it. */
static tg_status file_size(tg_ctx *ctx, const char *path, uint64_t *size)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tg__error(ctx, errno == ENOENT ? TG_ERR_NOT_FOUND : TG_ERR_IO,
                         "cifar: cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return tg__error(ctx, TG_ERR_IO, "cifar: '%s' is not a regular file", path);
    *size = (uint64_t)sb.st_size;
    return TG_OK;
}

tg_status tg_dataset_load_cifar(tg_ctx *ctx, const char *const *paths, size_t n_paths,
                                const tg_cifar_options *opts, tg_dataset **out)
{
    const char *who = "dataset_load_cifar";
    if (!ctx || !paths || !out || n_paths == 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument or no files", who);
    tg_cifar_options o;
    tg_cifar_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad struct_size %zu (use tg_cifar_options_init)",
                             who, opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (o.variant != 10 && o.variant != 100)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: variant %d is neither 10 nor 100", who,
                         o.variant);
    if (n_paths > 4096)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: %zu files exceed the limit of 4096", who, n_paths);
    size_t label_bytes = o.variant == 100 ? 2 : 1, rec = label_bytes + CIFAR_PIXELS;
    size_t label_at = o.variant == 100 && !o.coarse ? 1 : 0; /* which label byte */
    int n_classes = o.variant == 10 ? 10 : o.coarse ? 20 : 100;
    uint64_t total = 0;
    for (size_t f = 0; f < n_paths; f++) {
        if (!paths[f])
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: path %zu is NULL", who, f);
        uint64_t size = 0;
        tg_status st = file_size(ctx, paths[f], &size);
        if (st != TG_OK)
            return st;
        if (size % rec)
            return tg__error(ctx, TG_ERR_FORMAT,
                             "cifar: '%s': partial record at byte offset %llu (%llu bytes; a "
                             "CIFAR-%d record is %zu bytes)",
                             paths[f], (unsigned long long)(size - size % rec),
                             (unsigned long long)size, o.variant, rec);
        total += size / rec;
        if (total > TG_DATASET_MAX_IMAGES)
            return tg__error(ctx, TG_ERR_LIMIT, "cifar: '%s': more than %d images in all", paths[f],
                             TG_DATASET_MAX_IMAGES);
    }
    if (total * CIFAR_PIXELS > (uint64_t)TG_DATASET_MAX_BYTES)
        return tg__error(ctx, TG_ERR_LIMIT, "cifar: %llu images exceed the limit of %lld bytes",
                         (unsigned long long)total, (long long)TG_DATASET_MAX_BYTES);
    if (total == 0)
        return tg__error(ctx, TG_ERR_FORMAT, "cifar: '%s'%s: no records", paths[0],
                         n_paths > 1 ? " and the other files" : "");
    tg_dataset *ds = NULL;
    tg_status st = tg__dataset_alloc_image(ctx, "cifar", (size_t)total, 3, 32, 32, &ds);
    if (st != TG_OK)
        return st;
    uint8_t lab[2];
    size_t k = 0;
    for (size_t f = 0; f < n_paths && st == TG_OK; f++) {
        FILE *fp = fopen(paths[f], "rb");
        if (!fp) {
            st = tg__error(ctx, TG_ERR_IO, "cifar: cannot open '%s': %s", paths[f], strerror(errno));
            break;
        }
        uint64_t size = 0;
        st = file_size(ctx, paths[f], &size);
        for (uint64_t r = 0; st == TG_OK && r < size / rec; r++, k++) {
            if (k >= total) {
                st = tg__error(ctx, TG_ERR_FORMAT, "cifar: '%s' grew while being read", paths[f]);
                break;
            }
            if (fread(lab, 1, label_bytes, fp) != label_bytes ||
                fread(ds->images + k * CIFAR_PIXELS, 1, CIFAR_PIXELS, fp) != CIFAR_PIXELS) {
                st = tg__error(ctx, ferror(fp) ? TG_ERR_IO : TG_ERR_FORMAT,
                               "cifar: '%s': cannot read the record at byte offset %llu",
                               paths[f], (unsigned long long)(r * rec));
                break;
            }
            if (lab[label_at] >= n_classes) {
                st = tg__error(ctx, TG_ERR_FORMAT,
                               "cifar: '%s': label %d at byte offset %llu is not below %d",
                               paths[f], (int)lab[label_at],
                               (unsigned long long)(r * rec + label_at), n_classes);
                break;
            }
            ds->labels[k] = lab[label_at];
        }
        fclose(fp);
    }
    if (st == TG_OK && k != total)
        st = tg__error(ctx, TG_ERR_FORMAT, "cifar: the files shrank while being read");
    if (st != TG_OK) {
        tg_dataset_destroy(ds);
        return st;
    }
    ds->n_classes = n_classes;
    *out = ds;
    return TG_OK;
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

tg_status tg_dataset_load_cifar_dir(tg_ctx *ctx, const char *dir, bool train, int variant,
                                    tg_dataset **out)
{
    const char *who = "dataset_load_cifar_dir";
    if (!ctx || !dir || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (variant != 10 && variant != 100)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: variant %d is neither 10 nor 100", who,
                         variant);
    static const char *const train10[5] = {"data_batch_1.bin", "data_batch_2.bin",
                                           "data_batch_3.bin", "data_batch_4.bin",
                                           "data_batch_5.bin"};
    const char *const *names = train10;
    size_t n_names = 5;
    const char *one = variant == 10 ? "test_batch.bin" : train ? "train.bin" : "test.bin";
    if (!(variant == 10 && train)) {
        names = &one;
        n_names = 1;
    }
    char *paths[5] = {0};
    size_t n = 0;
    tg_status st = TG_OK;
    for (size_t i = 0; i < n_names; i++) {
        char *p = tg__path_join(ctx, dir, names[i]);
        if (!p) {
            st = tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
            break;
        }
        if (is_file(p))
            paths[n++] = p;
        else
            tg__free(ctx, p);
    }
    if (st == TG_OK && n == 0)
        st = tg__error(ctx, TG_ERR_NOT_FOUND, "cifar: no %s in '%s'",
                       n_names == 5 ? "data_batch_1.bin .. data_batch_5.bin" : names[0], dir);
    if (st == TG_OK) {
        tg_cifar_options o;
        tg_cifar_options_init(&o);
        o.variant = variant;
        st = tg_dataset_load_cifar(ctx, (const char *const *)paths, n, &o, out);
    }
    for (size_t i = 0; i < n; i++)
        tg__free(ctx, paths[i]);
    return st;
}
