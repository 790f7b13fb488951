/* SPDX-License-Identifier: MIT */
/* tg_dataset_load_csv(): the public CSV loader on top of the internal table
 * reader (csv.h). The data set adopts the reader's feature, label and target
 * buffers (no second copy); the class names are copied into it. */
#include "csv.h"
#include "data_internal.h"

#include <stddef.h>
#include <string.h>

void tg_csv_options_init(tg_csv_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->task = TG_CSV_CLASSIFICATION;
    o->delimiter = ',';
}

tg_status tg_dataset_load_csv(tg_ctx *ctx, const char *path, const tg_csv_options *o,
                              tg_dataset **out)
{
    const char *who = "dataset_load_csv";
    if (!ctx || !path || !o || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (o->struct_size < offsetof(tg_csv_options, delimiter) + sizeof o->delimiter ||
        o->struct_size > sizeof *o)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: bad struct_size %zu (call tg_csv_options_init)", who,
                         o->struct_size);
    if (o->task != TG_CSV_CLASSIFICATION && o->task != TG_CSV_REGRESSION)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: unknown task %d", who, (int)o->task);
    if (o->n_targets < 0 || (o->n_targets > 0 && !o->targets) || o->n_ignore < 0 ||
        (o->n_ignore > 0 && !o->ignore))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad targets/n_targets or ignore/n_ignore",
                         who);
    const char *one[1] = {o->target};
    tg__csv_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.task = o->task == TG_CSV_REGRESSION ? TG__CSV_REGRESSION : TG__CSV_CLASSIFICATION;
    if (o->n_targets > 0) {
        spec.targets = o->targets;
        spec.n_targets = o->n_targets;
    } else {
        if (!o->target)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: no target column (set target or targets)", who);
        spec.targets = one;
        spec.n_targets = 1;
    }
    spec.ignore = o->ignore;
    spec.n_ignore = o->n_ignore;
    spec.delimiter = o->delimiter;

    tg__table t;
    tg_status st = tg__csv_read(ctx, path, &spec, &t);
    if (st != TG_OK)
        return st;
    bool cls = t.task == TG__CSV_CLASSIFICATION;
    tg_dataset *ds = NULL;
    st = tg__dataset_adopt_f32(ctx, who, t.n_rows, t.n_features, t.features,
                               cls ? t.labels : NULL, cls ? t.n_classes : 0,
                               cls ? NULL : t.targets, cls ? 0 : t.n_targets, &ds);
    if (st == TG_OK) { /* the data set owns these now */
        t.features = NULL;
        t.labels = NULL;
        t.targets = NULL;
        if (cls) {
            st = tg_dataset_set_class_names(ds, (const char *const *)t.class_names,
                                            (size_t)t.n_classes);
            if (st != TG_OK) {
                tg_dataset_destroy(ds);
                ds = NULL;
            }
        }
    }
    tg__table_free(ctx, &t);
    if (st != TG_OK)
        return st;
    *out = ds;
    return TG_OK;
}
