/* SPDX-License-Identifier: MIT */
/* Helpers that tabular (and image) programs share: standardising every
 * split with the training split's statistics, and the class names as one
 * JSON string for a saved model's metadata. */
#include "data_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

tg_status tg_dataset_standardize(tg_dataset *const *sets, size_t n_sets, float *mean_out,
                                 float *std_out)
{
    const char *who = "dataset_standardize";
    if (!sets || n_sets == 0 || !sets[0])
        return tg__error(NULL, TG_ERR_INVALID_ARG, "%s: NULL argument or no data set", who);
    tg_dataset *train = sets[0];
    tg_ctx *ctx = train->ctx;
    int g = train->n_norm;
    for (size_t i = 1; i < n_sets; i++) {
        const tg_dataset *d = sets[i];
        if (!d || d->ctx != ctx || d->ndim != train->ndim || d->n_norm != g)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: data set %zu is NULL, in another context or has another "
                             "sample layout than data set 0",
                             who, i);
    }
    double *st = tg__malloc(ctx, 2 * (size_t)g * sizeof(double));
    float *fs = st ? tg__malloc(ctx, 2 * (size_t)g * sizeof(float)) : NULL;
    if (!fs) {
        tg__free(ctx, st);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    tg_status s = train->ndim == 3 ? tg_dataset_channel_stats(train, st, st + g, g)
                                   : tg_dataset_feature_stats(train, st, st + g, g);
    if (s == TG_OK) {
        for (int k = 0; k < g; k++) {
            fs[k] = (float)st[k];
            float sd = (float)st[g + k];
            fs[g + k] = isfinite(sd) && sd > 0.0f ? sd : 1.0f; /* constant: only centred */
        }
        bool scale01 = train->scale01;
        /* every set was checked above, so no call below can fail */
        for (size_t i = 0; i < n_sets && s == TG_OK; i++)
            s = tg_dataset_set_channel_normalization(sets[i], scale01, fs, fs + g, g);
        if (s == TG_OK && mean_out)
            memcpy(mean_out, fs, (size_t)g * sizeof(float));
        if (s == TG_OK && std_out)
            memcpy(std_out, fs + g, (size_t)g * sizeof(float));
    }
    tg__free(ctx, fs);
    tg__free(ctx, st);
    return s;
}

tg_status tg_dataset_class_names_json(const tg_dataset *ds, char *buf, size_t size,
                                      size_t *length)
{
    const char *who = "dataset_class_names_json";
    if (!ds || (!buf && size))
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (!ds->names)
        return tg__error(ds->ctx, TG_ERR_NOT_FOUND, "%s: the data set has no class names", who);
    size_t n = 0;
#define PUT(c)                                                                                 \
    do {                                                                                       \
        if (n + 1 < size)                                                                      \
            buf[n] = (char)(c);                                                                \
        n++;                                                                                   \
    } while (0)
    PUT('[');
    for (size_t k = 0; k < ds->names->n; k++) {
        if (k)
            PUT(',');
        PUT('"');
        for (const unsigned char *p = (const unsigned char *)ds->names->v[k]; *p; p++) {
            if (*p == '"' || *p == '\\') {
                PUT('\\');
                PUT(*p);
            } else if (*p < 0x20) {
                char esc[8];
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                for (int j = 0; esc[j]; j++)
                    PUT(esc[j]);
            } else {
                PUT(*p);
            }
        }
        PUT('"');
    }
    PUT(']');
#undef PUT
    if (length)
        *length = n;
    if (!buf)
        return length ? TG_OK : tg__error(ds->ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (n + 1 > size) {
        if (size)
            buf[size - 1] = '\0';
        return tg__error(ds->ctx, TG_ERR_LIMIT, "%s: needs %zu bytes, buffer has %zu", who, n + 1,
                         size);
    }
    buf[n] = '\0';
    return TG_OK;
}

tg_status tg_dataset_target_stats(const tg_dataset *ds, double *mean, double *std, int n)
{
    const char *who = "dataset_target_stats";
    if (!ds || !mean || !std)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (ds->target_dim < 1 || !ds->targets || ds->n == 0 || n != ds->target_dim)
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                         "%s: need a non-empty stored data set with vector targets and n = "
                         "target_dim (%lld), got n %d",
                         who, (long long)ds->target_dim, n);
    size_t d = (size_t)n;
    for (size_t k = 0; k < d; k++) { /* two passes: exact enough for any magnitude */
        double s = 0, s2 = 0;
        for (size_t i = 0; i < ds->n; i++)
            s += ds->targets[i * d + k];
        double m = s / (double)ds->n;
        for (size_t i = 0; i < ds->n; i++) {
            double e = ds->targets[i * d + k] - m;
            s2 += e * e;
        }
        mean[k] = m;
        std[k] = sqrt(s2 / (double)ds->n);
    }
    return TG_OK;
}
