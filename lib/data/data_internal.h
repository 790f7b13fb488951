/* SPDX-License-Identifier: MIT */
/* Declarations shared by the lib/data sources (data sets, loaders, config,
 * safetensors). Never installed. */
#ifndef TG_DATA_INTERNAL_H
#define TG_DATA_INTERNAL_H

#include "tg_internal.h"

/* Pixels are immutable once loaded, so subsets and splits share the block
 * of the set they come from and keep an index per image: a 60,000-image
 * split costs 480 KB instead of a 47 MB copy. The last user frees it. */
typedef struct tg__pixels {
    size_t refs;
    uint8_t *bytes;
} tg__pixels;

struct tg_dataset {
    tg__object obj;    /* tracked by the ctx until destroyed */
    tg_ctx *ctx;
    size_t n;
    int64_t h, w;
    int n_classes;
    tg__pixels *pixels;
    uint8_t *images;   /* pixels->bytes; image i at images + (at ? at[i] : i) * h * w */
    size_t *at;        /* NULL when image i is block image i */
    int32_t *labels;   /* n labels, tg__malloc'd */
    bool scale01;      /* normalisation: ((scale01 ? p/255 : p) - mean) / std */
    float mean, std;
};

/* Check n x h x w against the TG_DATASET_MAX_* limits (who names the caller
 * and the file in messages). */
tg_status tg__dataset_check_size(tg_ctx *ctx, const char *who, uint64_t n, uint64_t h,
                                 uint64_t w);
/* Allocate a data set with uninitialised images/labels (sizes checked). */
tg_status tg__dataset_alloc(tg_ctx *ctx, const char *who, size_t n, int64_t h, int64_t w,
                            tg_dataset **out);
/* Pixels of image i (i < n). */
static inline const uint8_t *tg__dataset_pixels(const tg_dataset *ds, size_t i)
{
    return ds->images + (ds->at ? ds->at[i] : i) * (size_t)ds->h * (size_t)ds->w;
}
/* Set n_classes to max label + 1 (0 for an empty set). */
void tg__dataset_infer_classes(tg_dataset *ds);

/* PNG decoding of one file into h*w gray bytes (lib/data/png.c). */
tg_status tg__png_read_gray(tg_ctx *ctx, const char *path, int64_t h, int64_t w, uint8_t *dst);


#endif /* TG_DATA_INTERNAL_H */
