/* SPDX-License-Identifier: MIT */
/* idx_to_png: write an IDX (MNIST) data set as a PNG folder tree in the
 * report layout, OUT/train/<label>/<index>.png and OUT/test/<label>/...
 *
 *   idx_to_png [-n LIMIT] MNIST_DIR OUT_DIR        both splits
 *   idx_to_png [-n LIMIT] IMAGES LABELS OUT_DIR    one IDX pair -> OUT_DIR
 *
 * MNIST_DIR holds the standard names (train-images-idx3-ubyte, ...), raw or
 * .gz. LIMIT keeps only the first LIMIT images of each split. Exit status:
 * 0 on success, 1 on error; with TG_SKIP_MISSING_DATA set, 77 (skip) when the
 * input is not there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tinygrad.h>

static int fail(tg_ctx *ctx, tg_status st)
{
    fprintf(stderr, "idx_to_png: %s (%s)\n", tg_ctx_last_error(ctx), tg_status_string(st));
    bool skip = getenv("TG_SKIP_MISSING_DATA") && (st == TG_ERR_NOT_FOUND || st == TG_ERR_IO);
    tg_ctx_destroy(ctx);
    return skip ? 77 : 1;
}

/* Optionally trim ds to its first `limit` images, then write it to `dir`. */
static tg_status convert(tg_dataset *ds, size_t limit, const char *dir)
{
    tg_dataset *part = NULL;
    if (limit && limit < tg_dataset_n(ds)) {
        tg_status st = tg_dataset_subset(ds, 0, limit, &part);
        if (st != TG_OK)
            return st;
        ds = part;
    }
    tg_status st = tg_dataset_save_png_dir(ds, dir);
    if (st == TG_OK)
        printf("wrote %zu images of %lldx%lld in %d classes to %s\n", tg_dataset_n(ds),
               (long long)tg_dataset_height(ds), (long long)tg_dataset_width(ds),
               tg_dataset_n_classes(ds), dir);
    tg_dataset_destroy(part);
    return st;
}

int main(int argc, char **argv)
{
    size_t limit = 0;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "-n") == 0) {
        char *end;
        long long v = strtoll(argv[a + 1], &end, 10);
        if (*end || v <= 0) {
            fprintf(stderr, "idx_to_png: -n needs a positive number, got '%s'\n", argv[a + 1]);
            return 1;
        }
        limit = (size_t)v;
        a += 2;
    }
    int n = argc - a;
    if (n != 2 && n != 3) {
        fprintf(stderr, "usage: %s [-n LIMIT] MNIST_DIR OUT_DIR\n"
                        "       %s [-n LIMIT] IMAGES LABELS OUT_DIR\n", argv[0], argv[0]);
        return 1;
    }
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(NULL, &ctx) != TG_OK) {
        fprintf(stderr, "idx_to_png: cannot create a context\n");
        return 1;
    }
    tg_dataset *ds = NULL;
    tg_status st;
    if (n == 3) {
        st = tg_dataset_load_idx(ctx, argv[a], argv[a + 1], &ds);
        if (st == TG_OK)
            st = convert(ds, limit, argv[a + 2]);
        tg_dataset_destroy(ds);
        if (st != TG_OK)
            return fail(ctx, st);
    } else {
        static const char *const split[2] = {"train", "test"};
        char out[4096];
        for (int s = 0; s < 2; s++) {
            st = tg_dataset_load_mnist(ctx, argv[a], s == 0, &ds);
            if (st != TG_OK)
                return fail(ctx, st);
            snprintf(out, sizeof out, "%s/%s", argv[a + 1], split[s]);
            st = convert(ds, limit, out);
            tg_dataset_destroy(ds);
            ds = NULL;
            if (st != TG_OK)
                return fail(ctx, st);
        }
    }
    tg_ctx_destroy(ctx);
    return 0;
}
