/* SPDX-License-Identifier: MIT */
/* Declarations shared by the lib/data sources (data sets, loaders, config,
 * safetensors). Never installed. */
#ifndef TG_DATA_INTERNAL_H
#define TG_DATA_INTERNAL_H

#include "tg_internal.h"

/* Samples are immutable once loaded, so subsets and splits share the block
 * of the set they come from and keep an index per sample: a 60,000-image
 * split costs 480 KB instead of a 47 MB copy. The last user frees it. A
 * callback data set has no bytes; its block holds the callbacks instead. */
typedef struct tg__pixels {
    size_t refs;
    void *bytes;               /* uint8_t or float samples, sample after sample */
    bool is_cb;
    tg_dataset_callbacks cb;   /* callback data sets */
    void *user;
} tg__pixels;

/* Class names, shared read-only between a data set and the sets made from it. */
typedef struct tg__names {
    size_t refs;
    size_t n;
    char **v;
} tg__names;

struct tg_dataset {
    tg__object obj;    /* tracked by the ctx until destroyed */
    tg_ctx *ctx;
    size_t n;
    int ndim;          /* 3: [C, H, W]; 1: [F] */
    int64_t shape[3];
    int64_t c, h, w;   /* images: C, H, W; feature vectors: 0, 0, 0 */
    size_t elems;      /* elements per sample */
    tg_dtype dtype;    /* TG_U8 or TG_F32 (callback sets: TG_F32) */
    int n_classes;     /* class targets */
    int64_t target_dim;/* 0: class labels; > 0: float vectors */
    tg__pixels *pixels;
    uint8_t *images;   /* pixels->bytes (TG_U8); sample i at images + (at ? at[i] : i) * elems */
    float *fdata;      /* pixels->bytes (TG_F32) */
    size_t *at;        /* NULL when sample i is block sample i */
    int32_t *labels;   /* n labels (class targets, not callback), tg__malloc'd */
    float *targets;    /* n * target_dim (vector targets, not callback) */
    tg__names *names;  /* class names or NULL */
    bool scale01;      /* normalisation: ((scale01 ? x/255 : x) - mean[g]) / std[g] */
    int n_norm;        /* groups: C (images) or F (features) */
    float *mean, *std; /* n_norm each */
    size_t n_iters;    /* live batch iterators borrowing this set */
};

/* Check n x h x w (single channel) against the TG_DATASET_MAX_* limits (who
 * names the caller and the file in messages). */
tg_status tg__dataset_check_size(tg_ctx *ctx, const char *who, uint64_t n, uint64_t h,
                                 uint64_t w);
/* Allocate a grey data set [1, h, w] with uninitialised images/labels. */
tg_status tg__dataset_alloc(tg_ctx *ctx, const char *who, size_t n, int64_t h, int64_t w,
                            tg_dataset **out);
/* Allocate an image data set [c, h, w] uint8 with class labels (uninitialised). */
tg_status tg__dataset_alloc_image(tg_ctx *ctx, const char *who, size_t n, int64_t c, int64_t h,
                                  int64_t w, tg_dataset **out);
/* A [F] float32 data set that takes ownership of buffers allocated from
 * ctx's allocator (tg__malloc): features n x F (finite), and either labels
 * (n, in [0, n_classes), n_classes >= 1) or targets (n x target_dim, finite).
 * Values are not checked: the caller has. n >= 1. On TG_OK the data set owns
 * the buffers; on error they stay the caller's. */
tg_status tg__dataset_adopt_f32(tg_ctx *ctx, const char *who, size_t n, int64_t n_features,
                                float *features, int32_t *labels, int n_classes, float *targets,
                                int64_t target_dim, tg_dataset **out);
/* Bytes of sample i (i < n) of a uint8 data set. */
static inline const uint8_t *tg__dataset_pixels(const tg_dataset *ds, size_t i)
{
    return ds->images + (ds->at ? ds->at[i] : i) * ds->elems;
}
/* Set n_classes to max label + 1 (0 for an empty set). */
void tg__dataset_infer_classes(tg_dataset *ds);

/* PNG decoding of one file into h*w gray bytes (lib/data/png.c). */
tg_status tg__png_read_gray(tg_ctx *ctx, const char *path, int64_t h, int64_t w, uint8_t *dst);
/* Decode one PNG into h*w*channels interleaved 8-bit values (channels 1..4:
 * grey, grey+alpha, RGB, RGBA; converted as tg_png_options documents).
 * *h / *w of 0 take the file's size (set on return); otherwise the file must
 * match (TG_ERR_SHAPE). dst NULL with *h, *w 0: only read the header and
 * report size and *stored_channels. */
tg_status tg__png_read(tg_ctx *ctx, const char *path, int channels, int64_t *h, int64_t *w,
                       int *stored_channels, uint8_t *dst);

#endif /* TG_DATA_INTERNAL_H */
