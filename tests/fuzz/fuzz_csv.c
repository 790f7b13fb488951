/* SPDX-License-Identifier: MIT */
/* CSV table fuzzer (internal API, lib/data/csv.h). The first byte picks the
 * spec, the rest is the text:
 *   bit 0    regression (targets "y", plus "z" with bit 4) / classification ("y")
 *   bits 1-2 delimiter , ; \t |
 *   bit 3    ignore column "skip"
 *   bit 5    also read it from a file: same status, message and table
 *   bit 6    small limits (3 columns, 3 rows, 8-byte fields, 2 classes, 6 values)
 * A failure must leave the output untouched with a message; a success must
 * give a consistent table: finite features and targets, labels below
 * n_classes, class names distinct and in the documented order. */
#include "fuzz_common.h"

#include "data/csv.h"

#include <math.h>

static void check_table(const tg__table *t, const tg__csv_spec *sp)
{
    FUZZ_CHECK(t->n_rows >= 1 && t->n_features >= 1);
    FUZZ_CHECK(t->task == sp->task && t->n_targets == sp->n_targets);
    for (size_t i = 0; i < t->n_rows * (size_t)t->n_features; i++)
        FUZZ_CHECK(isfinite(t->features[i]));
    for (int j = 0; j < t->n_features; j++)
        FUZZ_CHECK(t->feature_names[j] && t->feature_names[j][0]);
    for (int j = 0; j < t->n_targets; j++)
        FUZZ_CHECK(strcmp(t->target_names[j], sp->targets[j]) == 0);
    if (sp->task == TG__CSV_REGRESSION) {
        FUZZ_CHECK(t->labels == NULL && t->class_names == NULL && t->n_classes == 0);
        for (size_t i = 0; i < t->n_rows * (size_t)t->n_targets; i++)
            FUZZ_CHECK(isfinite(t->targets[i]));
        return;
    }
    FUZZ_CHECK(t->targets == NULL && t->n_classes >= 1);
    FUZZ_CHECK((size_t)t->n_classes <= t->n_rows);
    for (size_t i = 0; i < t->n_rows; i++)
        FUZZ_CHECK(t->labels[i] >= 0 && t->labels[i] < t->n_classes);
    bool numeric = true;
    for (int k = 0; k < t->n_classes && numeric; k++) {
        double d;
        numeric = tg__csv_parse_double(t->class_names[k], strlen(t->class_names[k]), &d) == 0;
    }
    for (int k = 1; k < t->n_classes; k++) {
        const char *a = t->class_names[k - 1], *b = t->class_names[k];
        FUZZ_CHECK(a[0] && b[0]);
        if (numeric) {
            double x, y;
            tg__csv_parse_double(a, strlen(a), &x);
            tg__csv_parse_double(b, strlen(b), &y);
            FUZZ_CHECK(x < y || (x == y && strcmp(a, b) < 0));
        } else {
            FUZZ_CHECK(strcmp(a, b) < 0);
        }
    }
    /* every class is used */
    char *used = calloc((size_t)t->n_classes, 1);
    FUZZ_CHECK(used != NULL);
    for (size_t i = 0; i < t->n_rows; i++)
        used[t->labels[i]] = 1;
    for (int k = 0; k < t->n_classes; k++)
        FUZZ_CHECK(used[k]);
    free(used);
}

static bool same_table(const tg__table *a, const tg__table *b)
{
    if (a->n_rows != b->n_rows || a->n_features != b->n_features || a->n_classes != b->n_classes)
        return false;
    size_t nf = a->n_rows * (size_t)a->n_features;
    if (memcmp(a->features, b->features, nf * sizeof(float)) != 0)
        return false;
    if (a->labels && memcmp(a->labels, b->labels, a->n_rows * sizeof(int32_t)) != 0)
        return false;
    if (a->targets &&
        memcmp(a->targets, b->targets, a->n_rows * (size_t)a->n_targets * sizeof(float)) != 0)
        return false;
    for (int k = 0; k < a->n_classes; k++)
        if (strcmp(a->class_names[k], b->class_names[k]) != 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    static const char delims[4] = {',', ';', '\t', '|'};
    static const char *const yz[] = {"y", "z"};
    static const char *const skip[] = {"skip"};
    tg__csv_limits small = {64, 3, 3, 8, 2, 6};
    tg__csv_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.task = (mode & 1) ? TG__CSV_REGRESSION : TG__CSV_CLASSIFICATION;
    sp.targets = yz;
    sp.n_targets = (mode & 1) && (mode & 0x10) ? 2 : 1;
    sp.delimiter = delims[(mode >> 1) & 3];
    if (mode & 8) {
        sp.ignore = skip;
        sp.n_ignore = 1;
    }
    if (mode & 0x40)
        sp.limits = &small;

    tg_ctx *ctx = fz_ctx(1, 0);
    const char *path = (mode & 0x20) ? fz_write_file("t.csv", (const uint8_t *)text, len) : "t.csv";
    /* an exact-size heap copy, so ASan sees reads past the end */
    char *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, text, len);
    tg__table t, sentinel;
    memset(&sentinel, 0xA5, sizeof sentinel);
    t = sentinel;
    tg_status st = tg__csv_parse(ctx, copy, len, path, &sp, &t);
    static char msg[1024];
    snprintf(msg, sizeof msg, "%s", tg_ctx_last_error(ctx));
    if (st == TG_OK) {
        check_table(&t, &sp);
    } else {
        FUZZ_CHECK(memcmp(&t, &sentinel, sizeof t) == 0);
        FUZZ_CHECK_ERROR(ctx);
        FUZZ_CHECK(st != TG_ERR_INVALID_ARG && st != TG_ERR_STATE && st != TG_ERR_IO);
        FUZZ_CHECK(strncmp(msg, path, strlen(path)) == 0 || strcmp(msg, "csv: out of memory") == 0);
    }
    if (mode & 0x20) {
        tg_ctx_clear_error(ctx);
        tg__table f = sentinel;
        tg_status sf = tg__csv_read(ctx, path, &sp, &f);
        FUZZ_CHECK(sf == st);
        if (sf == TG_OK) {
            FUZZ_CHECK(same_table(&t, &f));
            tg__table_free(ctx, &f);
        } else {
            FUZZ_CHECK(strcmp(msg, tg_ctx_last_error(ctx)) == 0);
            FUZZ_CHECK(memcmp(&f, &sentinel, sizeof f) == 0);
        }
    }
    if (st == TG_OK)
        tg__table_free(ctx, &t);
    free(copy);
    tg_ctx_destroy(ctx);
    return 0;
}
