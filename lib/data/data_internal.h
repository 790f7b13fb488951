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

/* Join a and b with '/' into a new tg__malloc'd string; NULL on no memory. */
char *tg__path_join(tg_ctx *ctx, const char *a, const char *b);
/* tg__malloc'd copy of s; NULL on no memory. */
char *tg__strdup(tg_ctx *ctx, const char *s);

/* ---- JSON reader (lib/data/json.c) ------------------------------------ */

#define TGJ_MAX_NODES (1 << 22)

typedef enum tgj_type { TGJ_NULL, TGJ_BOOL, TGJ_NUM, TGJ_STR, TGJ_ARR, TGJ_OBJ } tgj_type;

typedef struct tgj_node {
    tgj_type type;
    bool b;            /* TGJ_BOOL */
    const char *str;   /* TGJ_STR: decoded, NUL-terminated; TGJ_NUM: raw text */
    size_t len;
    const char *key;   /* member name when the parent is an object */
    size_t key_len;
    int32_t first;     /* first child (-1 none) */
    int32_t next;      /* next sibling (-1 none) */
    int32_t n_children;
} tgj_node;

typedef struct tgj_doc {
    tgj_node *nodes;   /* nodes[0] is the root */
    size_t n, cap;
    char *strbuf;
} tgj_doc;

/* Parse text[0..len) strictly; TG_ERR_FORMAT/LIMIT name `who`. */
tg_status tg__json_parse(tg_ctx *ctx, const char *who, const char *text, size_t len,
                         int max_depth, tgj_doc *doc);
void tg__json_free(tg_ctx *ctx, tgj_doc *doc);
/* Integer value (no fraction/exponent, at most 18 digits). */
bool tg__json_int(const tgj_node *n, int64_t *out);
/* Member of an object by name (first match), or NULL. */
const tgj_node *tg__json_get(const tgj_doc *doc, const tgj_node *obj, const char *key);

#endif /* TG_DATA_INTERNAL_H */
