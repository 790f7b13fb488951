/* SPDX-License-Identifier: MIT */
/* Data sets (uint8 or float samples [C, H, W] / [F], class or vector
 * targets, or a user callback), subsets, seeded splits, normalisation and
 * the mini-batch iterator (shuffle, shards, crop/flip augmentation). */
#include "data_internal.h"

#include <math.h>
#include <stdio.h>

/* ---- helpers ---------------------------------------------------------- */

/* Unbiased integer in [0, bound) (bound > 0) by rejection. */
static uint64_t rng_below(uint64_t s[4], uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = tg__rng_next(s);
        if (r >= threshold)
            return r % bound;
    }
}

static void shuffle(size_t *idx, size_t n, uint64_t s[4])
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(s, (uint64_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

static size_t dtype_size(tg_dtype t) { return t == TG_U8 ? 1 : sizeof(float); }

/* ---- creation --------------------------------------------------------- */

tg_status tg__dataset_check_size(tg_ctx *ctx, const char *who, uint64_t n, uint64_t h,
                                 uint64_t w)
{
    if (n > TG_DATASET_MAX_IMAGES)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: %llu images exceed the limit of %d", who,
                         (unsigned long long)n, TG_DATASET_MAX_IMAGES);
    if (h < 1 || w < 1 || h > TG_DATASET_MAX_DIM || w > TG_DATASET_MAX_DIM)
        return tg__error(ctx, h < 1 || w < 1 ? TG_ERR_INVALID_ARG : TG_ERR_LIMIT,
                         "%s: image size %llux%llu outside 1..%d", who, (unsigned long long)h,
                         (unsigned long long)w, TG_DATASET_MAX_DIM);
    /* n <= 1e7 and h*w <= 2^24, so the product fits in 64 bits. */
    uint64_t bytes = n * h * w;
    if (bytes > (uint64_t)TG_DATASET_MAX_BYTES || bytes > SIZE_MAX / 2)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: %llu x %llux%llu pixels exceed the limit of %lld bytes",
                         who, (unsigned long long)n, (unsigned long long)h,
                         (unsigned long long)w, (long long)TG_DATASET_MAX_BYTES);
    return TG_OK;
}

/* Validate a sample shape; *elems receives its element count. */
static tg_status check_shape(tg_ctx *ctx, const char *who, int ndim, const int64_t *shape,
                             size_t *elems)
{
    if (ndim == 3) {
        if (shape[0] < 1 || shape[0] > TG_DATASET_MAX_CHANNELS)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: %lld channels outside 1..%d", who,
                             (long long)shape[0], TG_DATASET_MAX_CHANNELS);
        if (shape[1] < 1 || shape[2] < 1 || shape[1] > TG_DATASET_MAX_DIM ||
            shape[2] > TG_DATASET_MAX_DIM)
            return tg__error(ctx, shape[1] < 1 || shape[2] < 1 ? TG_ERR_INVALID_ARG : TG_ERR_LIMIT,
                             "%s: image size %lldx%lld outside 1..%d", who, (long long)shape[1],
                             (long long)shape[2], TG_DATASET_MAX_DIM);
        *elems = (size_t)shape[0] * (size_t)shape[1] * (size_t)shape[2];
        return TG_OK;
    }
    if (ndim == 1) {
        if (shape[0] < 1 || shape[0] > TG_DATASET_MAX_FEATURES)
            return tg__error(ctx, shape[0] < 1 ? TG_ERR_INVALID_ARG : TG_ERR_LIMIT,
                             "%s: %lld features outside 1..%d", who, (long long)shape[0],
                             TG_DATASET_MAX_FEATURES);
        *elems = (size_t)shape[0];
        return TG_OK;
    }
    return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: sample_ndim %d is neither 3 ([C, H, W]) nor 1 ([F])",
                     who, ndim);
}

static tg_status check_total(tg_ctx *ctx, const char *who, uint64_t n, size_t elems, size_t esize)
{
    if (n > TG_DATASET_MAX_IMAGES)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: %llu samples exceed the limit of %d", who,
                         (unsigned long long)n, TG_DATASET_MAX_IMAGES);
    /* n <= 1e7, elems <= 2^26, esize <= 4: fits in 64 bits. */
    uint64_t bytes = n * (uint64_t)elems * (uint64_t)esize;
    if (bytes > (uint64_t)TG_DATASET_MAX_BYTES || bytes > SIZE_MAX / 2)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: %llu samples of %zu elements exceed the limit of %lld bytes",
                         who, (unsigned long long)n, elems, (long long)TG_DATASET_MAX_BYTES);
    return TG_OK;
}

static void dataset_release(tg__object *o);

/* Fill the normalisation arrays with scale01 / mean 0 / std 1. */
static bool norm_init(tg_dataset *ds, bool scale01)
{
    int g = ds->ndim == 3 ? (int)ds->c : (int)ds->shape[0];
    float *m = tg__malloc(ds->ctx, 2 * (size_t)g * sizeof(float));
    if (!m)
        return false;
    for (int k = 0; k < g; k++) {
        m[k] = 0.0f;
        m[g + k] = 1.0f;
    }
    ds->n_norm = g;
    ds->mean = m;
    ds->std = m + g;
    ds->scale01 = scale01;
    return true;
}

static void set_shape(tg_dataset *ds, int ndim, const int64_t *shape, size_t elems)
{
    ds->ndim = ndim;
    ds->shape[0] = shape[0];
    ds->shape[1] = ndim == 3 ? shape[1] : 0;
    ds->shape[2] = ndim == 3 ? shape[2] : 0;
    ds->c = ndim == 3 ? shape[0] : 0;
    ds->h = ndim == 3 ? shape[1] : 0;
    ds->w = ndim == 3 ? shape[2] : 0;
    ds->elems = elems;
}

/* A stored data set with uninitialised samples and targets. */
static tg_status alloc_stored(tg_ctx *ctx, const char *who, size_t n, int ndim,
                              const int64_t *shape, tg_dtype dtype, int64_t target_dim,
                              tg_dataset **out)
{
    size_t elems = 0;
    tg_status st = check_shape(ctx, who, ndim, shape, &elems);
    if (st == TG_OK)
        st = check_total(ctx, who, n, elems, dtype_size(dtype));
    if (st != TG_OK)
        return st;
    if (target_dim < 0 || target_dim > TG_DATASET_MAX_TARGET_DIM)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: target_dim %lld outside 0..%d", who,
                         (long long)target_dim, TG_DATASET_MAX_TARGET_DIM);
    tg_dataset *ds = tg__calloc(ctx, 1, sizeof *ds);
    tg__pixels *pixels = ds ? tg__calloc(ctx, 1, sizeof *pixels) : NULL;
    void *bytes = pixels ? tg__malloc(ctx, n * elems * dtype_size(dtype) + 1) : NULL;
    void *tg = bytes ? tg__malloc(ctx, target_dim ? n * (size_t)target_dim * sizeof(float) + 1
                                                  : n * sizeof(int32_t) + 1)
                     : NULL;
    if (ds) {
        ds->ctx = ctx;
        set_shape(ds, ndim, shape, elems);
    }
    if (!tg || !norm_init(ds, dtype == TG_U8)) {
        tg__free(ctx, tg);
        tg__free(ctx, bytes);
        tg__free(ctx, pixels);
        tg__free(ctx, ds);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate %zu samples of %zu elements",
                         who, n, elems);
    }
    ds->n = n;
    ds->dtype = dtype;
    ds->target_dim = target_dim;
    pixels->refs = 1;
    pixels->bytes = bytes;
    ds->pixels = pixels;
    if (dtype == TG_U8)
        ds->images = bytes;
    else
        ds->fdata = bytes;
    if (target_dim)
        ds->targets = tg;
    else
        ds->labels = tg;
    tg__object_track(ctx, &ds->obj, dataset_release);
    *out = ds;
    return TG_OK;
}

tg_status tg__dataset_alloc_image(tg_ctx *ctx, const char *who, size_t n, int64_t c, int64_t h,
                                  int64_t w, tg_dataset **out)
{
    const int64_t shape[3] = {c, h, w};
    return alloc_stored(ctx, who, n, 3, shape, TG_U8, 0, out);
}

tg_status tg__dataset_alloc(tg_ctx *ctx, const char *who, size_t n, int64_t h, int64_t w,
                            tg_dataset **out)
{
    if (h < 1 || w < 1)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: image size %lldx%lld must be positive",
                         who, (long long)h, (long long)w);
    tg_status st = tg__dataset_check_size(ctx, who, n, (uint64_t)h, (uint64_t)w);
    if (st != TG_OK)
        return st;
    return tg__dataset_alloc_image(ctx, who, n, 1, h, w, out);
}

void tg__dataset_infer_classes(tg_dataset *ds)
{
    int32_t mx = -1;
    for (size_t i = 0; ds->labels && i < ds->n; i++)
        if (ds->labels[i] > mx)
            mx = ds->labels[i];
    ds->n_classes = (int)(mx + 1);
}

static tg_status check_labels(tg_ctx *ctx, const char *who, const int32_t *labels, size_t n,
                              int n_classes)
{
    if (n_classes < 0 || n_classes > TG_DATASET_MAX_CLASSES)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: n_classes %d outside 0..%d", who,
                         n_classes, TG_DATASET_MAX_CLASSES);
    int limit = n_classes ? n_classes : TG_DATASET_MAX_CLASSES;
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= limit)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: label %d of image %zu outside [0, %d)",
                             who, (int)labels[i], i, limit);
    return TG_OK;
}

tg_status tg_dataset_create(tg_ctx *ctx, size_t n, int64_t h, int64_t w, const uint8_t *images,
                            const int32_t *labels, int n_classes, tg_dataset **out)
{
    const char *who = "dataset_create";
    if (!ctx || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: ctx or out is NULL", who);
    if (n > 0 && (!images || !labels))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: images or labels is NULL", who);
    tg_status st = check_labels(ctx, who, labels, n, n_classes);
    if (st != TG_OK)
        return st;
    tg_dataset *ds = NULL;
    st = tg__dataset_alloc(ctx, who, n, h, w, &ds);
    if (st != TG_OK)
        return st;
    if (n) {
        memcpy(ds->images, images, n * (size_t)h * (size_t)w);
        memcpy(ds->labels, labels, n * sizeof(int32_t));
    }
    if (n_classes)
        ds->n_classes = n_classes;
    else
        tg__dataset_infer_classes(ds);
    *out = ds;
    return TG_OK;
}

void tg_dataset_desc_init(tg_dataset_desc *desc)
{
    if (!desc)
        return;
    memset(desc, 0, sizeof *desc);
    desc->struct_size = sizeof *desc;
    desc->sample_ndim = 3;
    desc->sample_shape[0] = desc->sample_shape[1] = desc->sample_shape[2] = 1;
    desc->dtype = TG_U8;
}

tg_status tg_dataset_create_from(tg_ctx *ctx, const tg_dataset_desc *desc, tg_dataset **out)
{
    const char *who = "dataset_create_from";
    if (!ctx || !desc || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    tg_dataset_desc d;
    tg_dataset_desc_init(&d);
    if (desc->struct_size < sizeof(size_t) || desc->struct_size > sizeof d)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad struct_size %zu (use tg_dataset_desc_init)",
                         who, desc->struct_size);
    memcpy(&d, desc, desc->struct_size);
    if (d.dtype != TG_U8 && d.dtype != TG_F32)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: dtype %d is neither TG_U8 nor TG_F32", who,
                         (int)d.dtype);
    size_t elems = 0;
    tg_status st = check_shape(ctx, who, d.sample_ndim, d.sample_shape, &elems);
    if (st != TG_OK)
        return st;
    if (d.target_dim < 0 || d.target_dim > TG_DATASET_MAX_TARGET_DIM)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: target_dim %lld outside 0..%d", who,
                         (long long)d.target_dim, TG_DATASET_MAX_TARGET_DIM);
    bool vec = d.target_dim > 0;
    if (vec ? d.labels != NULL : d.targets != NULL)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: give labels (class targets) or targets with target_dim > 0, not both",
                         who);
    if (d.n > 0 && (!d.samples || (vec ? !d.targets : !d.labels)))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: samples or %s is NULL", who,
                         vec ? "targets" : "labels");
    if ((st = check_total(ctx, who, d.n, elems, dtype_size(d.dtype))) != TG_OK)
        return st;
    if (!vec && (st = check_labels(ctx, who, d.labels, d.n, d.n_classes)) != TG_OK)
        return st;
    if (vec && d.n_classes != 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: n_classes %d with vector targets", who,
                         d.n_classes);
    if (d.dtype == TG_F32) {
        const float *f = d.samples;
        for (size_t i = 0; i < d.n * elems; i++)
            if (!isfinite(f[i]))
                return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: sample %zu element %zu is %g", who,
                                 i / elems, i % elems, (double)f[i]);
    }
    for (size_t i = 0; vec && i < d.n * (size_t)d.target_dim; i++)
        if (!isfinite(d.targets[i]))
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: target %zu element %zu is %g", who,
                             i / (size_t)d.target_dim, i % (size_t)d.target_dim,
                             (double)d.targets[i]);
    tg_dataset *ds = NULL;
    st = alloc_stored(ctx, who, d.n, d.sample_ndim, d.sample_shape, d.dtype, d.target_dim, &ds);
    if (st != TG_OK)
        return st;
    if (d.n) {
        memcpy(ds->pixels->bytes, d.samples, d.n * elems * dtype_size(d.dtype));
        if (vec)
            memcpy(ds->targets, d.targets, d.n * (size_t)d.target_dim * sizeof(float));
        else
            memcpy(ds->labels, d.labels, d.n * sizeof(int32_t));
    }
    if (vec)
        ds->n_classes = 0;
    else if (d.n_classes)
        ds->n_classes = d.n_classes;
    else
        tg__dataset_infer_classes(ds);
    *out = ds;
    return TG_OK;
}

tg_status tg__dataset_adopt_f32(tg_ctx *ctx, const char *who, size_t n, int64_t n_features,
                                float *features, int32_t *labels, int n_classes, float *targets,
                                int64_t target_dim, tg_dataset **out)
{
    const int64_t shape[3] = {n_features, 0, 0};
    size_t elems = 0;
    tg_status st = check_shape(ctx, who, 1, shape, &elems);
    if (st == TG_OK)
        st = check_total(ctx, who, n, elems, sizeof(float));
    if (st != TG_OK)
        return st;
    bool vec = target_dim > 0;
    if (n == 0 || !features || (vec ? !targets || labels : !labels || targets) ||
        target_dim < 0 || target_dim > TG_DATASET_MAX_TARGET_DIM ||
        (vec ? n_classes != 0 : n_classes < 1 || n_classes > TG_DATASET_MAX_CLASSES))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad buffers to adopt", who);
    tg_dataset *ds = tg__calloc(ctx, 1, sizeof *ds);
    tg__pixels *px = ds ? tg__calloc(ctx, 1, sizeof *px) : NULL;
    if (ds) {
        ds->ctx = ctx;
        set_shape(ds, 1, shape, elems);
    }
    if (!px || !norm_init(ds, false)) {
        tg__free(ctx, px);
        tg__free(ctx, ds);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    px->refs = 1;
    px->bytes = features;
    ds->pixels = px;
    ds->fdata = features;
    ds->n = n;
    ds->dtype = TG_F32;
    ds->n_classes = n_classes;
    ds->target_dim = target_dim;
    ds->labels = labels;
    ds->targets = targets;
    tg__object_track(ctx, &ds->obj, dataset_release);
    *out = ds;
    return TG_OK;
}

tg_status tg_dataset_create_callback(tg_ctx *ctx, const tg_dataset_callbacks *cb, void *user,
                                     tg_dataset **out)
{
    const char *who = "dataset_create_callback";
    if (!ctx || !cb || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    tg_dataset_callbacks c;
    memset(&c, 0, sizeof c);
    if (cb->struct_size < sizeof(size_t) || cb->struct_size > sizeof c)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: bad struct_size %zu (set it to sizeof(tg_dataset_callbacks))", who,
                         cb->struct_size);
    memcpy(&c, cb, cb->struct_size);
    if (!c.get_item)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: get_item is NULL", who);
    size_t elems = 0;
    tg_status st = check_shape(ctx, who, c.sample_ndim, c.sample_shape, &elems);
    if (st != TG_OK)
        return st;
    if (c.n > TG_DATASET_MAX_IMAGES)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: %zu samples exceed the limit of %d", who, c.n,
                         TG_DATASET_MAX_IMAGES);
    bool vec = c.target_dim > 0;
    if (c.target_dim < 0 || c.target_dim > TG_DATASET_MAX_TARGET_DIM || c.n_classes < 0 ||
        c.n_classes > TG_DATASET_MAX_CLASSES || vec == (c.n_classes > 0))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: set exactly one of n_classes (1..%d) and target_dim (1..%d); got %d and %lld",
                         who, TG_DATASET_MAX_CLASSES, TG_DATASET_MAX_TARGET_DIM, c.n_classes,
                         (long long)c.target_dim);
    tg_dataset *ds = tg__calloc(ctx, 1, sizeof *ds);
    tg__pixels *px = ds ? tg__calloc(ctx, 1, sizeof *px) : NULL;
    if (ds) {
        ds->ctx = ctx;
        set_shape(ds, c.sample_ndim, c.sample_shape, elems);
    }
    if (!px || !norm_init(ds, false)) {
        tg__free(ctx, px);
        tg__free(ctx, ds);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    px->refs = 1;
    px->is_cb = true;
    px->cb = c;
    px->user = user;
    ds->pixels = px;
    ds->n = c.n;
    ds->dtype = TG_F32;
    ds->n_classes = vec ? 0 : c.n_classes;
    ds->target_dim = vec ? c.target_dim : 0;
    tg__object_track(ctx, &ds->obj, dataset_release);
    *out = ds;
    return TG_OK;
}

void tg_dataset_destroy(tg_dataset *ds)
{
    if (!ds)
        return;
    if (ds->n_iters) {
        tg__error(ds->ctx, TG_ERR_BUSY,
                  "dataset_destroy: refused: %zu batch iterator%s still use%s this data set; "
                  "destroy %s first (nothing was freed)",
                  ds->n_iters, ds->n_iters == 1 ? "" : "s", ds->n_iters == 1 ? "s" : "",
                  ds->n_iters == 1 ? "it" : "them");
        return;
    }
    tg__object_untrack(ds->ctx, &ds->obj);
    dataset_release(&ds->obj);
}

static void names_release(tg_ctx *ctx, tg__names *nm)
{
    if (!nm || --nm->refs)
        return;
    for (size_t i = 0; i < nm->n; i++)
        tg__free(ctx, nm->v[i]);
    tg__free(ctx, nm->v);
    tg__free(ctx, nm);
}

/* Also called by tg_ctx_destroy() for a data set the caller left alive
 * (iterators are newer than their data set, so they go first). */
static void dataset_release(tg__object *o)
{
    tg_dataset *ds = (tg_dataset *)o;
    tg_ctx *ctx = ds->ctx;
    if (--ds->pixels->refs == 0) {
        if (ds->pixels->is_cb && ds->pixels->cb.destroy_user)
            ds->pixels->cb.destroy_user(ds->pixels->user);
        tg__free(ctx, ds->pixels->bytes);
        tg__free(ctx, ds->pixels);
    }
    names_release(ctx, ds->names);
    tg__free(ctx, ds->at);
    tg__free(ctx, ds->labels);
    tg__free(ctx, ds->targets);
    tg__free(ctx, ds->mean);
    tg__free(ctx, ds);
}

/* ---- accessors -------------------------------------------------------- */

size_t tg_dataset_n(const tg_dataset *ds) { return ds ? ds->n : 0; }
int64_t tg_dataset_height(const tg_dataset *ds) { return ds ? ds->h : 0; }
int64_t tg_dataset_width(const tg_dataset *ds) { return ds ? ds->w : 0; }
int tg_dataset_n_classes(const tg_dataset *ds) { return ds ? ds->n_classes : 0; }
tg_ctx *tg_dataset_ctx(const tg_dataset *ds) { return ds ? ds->ctx : NULL; }
const int32_t *tg_dataset_labels(const tg_dataset *ds) { return ds ? ds->labels : NULL; }
int tg_dataset_sample_ndim(const tg_dataset *ds) { return ds ? ds->ndim : 0; }
const int64_t *tg_dataset_sample_shape(const tg_dataset *ds) { return ds ? ds->shape : NULL; }
tg_dtype tg_dataset_dtype(const tg_dataset *ds) { return ds ? ds->dtype : TG_U8; }
int64_t tg_dataset_channels(const tg_dataset *ds) { return ds ? ds->c : 0; }
int64_t tg_dataset_target_dim(const tg_dataset *ds) { return ds ? ds->target_dim : 0; }
const float *tg_dataset_targets(const tg_dataset *ds) { return ds ? ds->targets : NULL; }

const uint8_t *tg_dataset_image(const tg_dataset *ds, size_t i)
{
    if (!ds || i >= ds->n || !ds->images)
        return NULL;
    return tg__dataset_pixels(ds, i);
}

const float *tg_dataset_features(const tg_dataset *ds, size_t i)
{
    if (!ds || i >= ds->n || !ds->fdata)
        return NULL;
    return ds->fdata + (ds->at ? ds->at[i] : i) * ds->elems;
}

int32_t tg_dataset_label(const tg_dataset *ds, size_t i)
{
    return ds && ds->labels && i < ds->n ? ds->labels[i] : -1;
}

tg_status tg_dataset_set_class_names(tg_dataset *ds, const char *const *names, size_t n)
{
    const char *who = "dataset_set_class_names";
    if (!ds || (!names && n))
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (ds->target_dim)
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG, "%s: the data set has vector targets", who);
    if (n != (size_t)ds->n_classes)
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG, "%s: %zu names for %d classes", who, n,
                         ds->n_classes);
    for (size_t i = 0; i < n; i++)
        if (!names[i])
            return tg__error(ds->ctx, TG_ERR_INVALID_ARG, "%s: name %zu is NULL", who, i);
    tg_ctx *ctx = ds->ctx;
    tg__names *nm = tg__calloc(ctx, 1, sizeof *nm);
    char **v = nm ? tg__calloc(ctx, n ? n : 1, sizeof *v) : NULL;
    bool ok = v != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] = tg__strdup(ctx, names[i])) != NULL;
    if (!ok) {
        for (size_t i = 0; v && i < n; i++)
            tg__free(ctx, v[i]);
        tg__free(ctx, v);
        tg__free(ctx, nm);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    nm->refs = 1;
    nm->n = n;
    nm->v = v;
    names_release(ctx, ds->names);
    ds->names = nm;
    return TG_OK;
}

const char *tg_dataset_class_name(const tg_dataset *ds, int32_t label)
{
    if (!ds || !ds->names || label < 0 || (size_t)label >= ds->names->n)
        return NULL;
    return ds->names->v[label];
}

/* ---- subsets and splits ----------------------------------------------- */

/* A data set of the samples idx[0..count) (or start+k when idx is NULL)
 * that shares ds's sample block; only indices, targets and normalisation
 * are new. */
static tg_status gather(const tg_dataset *ds, const char *who, const size_t *idx, size_t start,
                        size_t count, tg_dataset **out)
{
    tg_ctx *ctx = ds->ctx;
    size_t td = (size_t)ds->target_dim;
    tg_dataset *d = tg__calloc(ctx, 1, sizeof *d);
    int32_t *lab = d && ds->labels ? tg__malloc(ctx, count * sizeof(int32_t) + 1) : NULL;
    float *tgt = d && ds->targets ? tg__malloc(ctx, count * td * sizeof(float) + 1) : NULL;
    size_t *at = d ? tg__malloc(ctx, count * sizeof(size_t) + 1) : NULL;
    float *norm = at ? tg__malloc(ctx, 2 * (size_t)ds->n_norm * sizeof(float)) : NULL;
    if (!norm || (ds->labels && !lab) || (ds->targets && !tgt)) {
        tg__free(ctx, norm);
        tg__free(ctx, at);
        tg__free(ctx, tgt);
        tg__free(ctx, lab);
        tg__free(ctx, d);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate %zu indices", who, count);
    }
    for (size_t k = 0; k < count; k++) {
        size_t i = idx ? idx[k] : start + k;
        at[k] = ds->at ? ds->at[i] : i;
        if (lab)
            lab[k] = ds->labels[i];
        if (tgt)
            memcpy(tgt + k * td, ds->targets + i * td, td * sizeof(float));
    }
    memcpy(norm, ds->mean, 2 * (size_t)ds->n_norm * sizeof(float));
    *d = *ds;
    d->obj = (tg__object){0};
    d->n = count;
    d->at = at;
    d->labels = lab;
    d->targets = tgt;
    d->mean = norm;
    d->std = norm + ds->n_norm;
    d->n_iters = 0;
    d->pixels->refs++;
    if (d->names)
        d->names->refs++;
    tg__object_track(ctx, &d->obj, dataset_release);
    *out = d;
    return TG_OK;
}

tg_status tg_dataset_subset(const tg_dataset *ds, size_t start, size_t count, tg_dataset **out)
{
    if (!ds || !out)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "dataset_subset: NULL argument");
    if (start > ds->n || count > ds->n - start)
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                         "dataset_subset: range [%zu, %zu+%zu) outside the %zu images", start,
                         start, count, ds->n);
    return gather(ds, "dataset_subset", NULL, start, count, out);
}

tg_status tg_dataset_select(const tg_dataset *ds, const size_t *indices, size_t count,
                            tg_dataset **out)
{
    if (!ds || !out || (count && !indices))
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "dataset_select: NULL argument");
    for (size_t k = 0; k < count; k++)
        if (indices[k] >= ds->n)
            return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                             "dataset_select: index %zu (entry %zu) outside the %zu images",
                             indices[k], k, ds->n);
    return gather(ds, "dataset_select", indices, 0, count, out);
}

tg_status tg_dataset_split(const tg_dataset *ds, double fraction, uint64_t seed,
                           tg_dataset **train, tg_dataset **val)
{
    const char *who = "dataset_split";
    if (!ds || !train || !val)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (!(fraction >= 0.0 && fraction <= 1.0))
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG, "%s: fraction %g outside [0, 1]", who,
                         fraction);
    tg_ctx *ctx = ds->ctx;
    size_t *idx = tg__malloc(ctx, ds->n * sizeof(size_t) + 1);
    if (!idx)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate %zu indices", who, ds->n);
    for (size_t i = 0; i < ds->n; i++)
        idx[i] = i;
    uint64_t s[4];
    tg__rng_seed(s, seed);
    shuffle(idx, ds->n, s);
    size_t k = (size_t)floor(fraction * (double)ds->n + 0.5);
    if (k > ds->n)
        k = ds->n;
    tg_dataset *a = NULL, *b = NULL;
    tg_status st = gather(ds, who, idx, 0, k, &a);
    if (st == TG_OK)
        st = gather(ds, who, idx + k, 0, ds->n - k, &b);
    tg__free(ctx, idx);
    if (st != TG_OK) {
        tg_dataset_destroy(a);
        return st;
    }
    *train = a;
    *val = b;
    return TG_OK;
}

/* ---- normalisation ---------------------------------------------------- */

tg_status tg_dataset_set_channel_normalization(tg_dataset *ds, bool scale01, const float *mean,
                                               const float *std, int n)
{
    const char *who = "dataset_set_channel_normalization";
    if (!ds || !mean || !std)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (n != 1 && n != ds->n_norm)
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG, "%s: %d values for %d %s (give 1 or %d)",
                         who, n, ds->n_norm, ds->ndim == 3 ? "channels" : "features",
                         ds->n_norm);
    for (int k = 0; k < n; k++)
        if (!isfinite(mean[k]) || !isfinite(std[k]) || !(std[k] > 0.0f))
            return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                             "%s: need finite mean and std > 0 (entry %d: %g, %g)", who, k,
                             (double)mean[k], (double)std[k]);
    for (int k = 0; k < ds->n_norm; k++) {
        ds->mean[k] = mean[n == 1 ? 0 : k];
        ds->std[k] = std[n == 1 ? 0 : k];
    }
    ds->scale01 = scale01;
    return TG_OK;
}

tg_status tg_dataset_set_normalization(tg_dataset *ds, bool scale01, float mean, float std)
{
    if (!ds)
        return TG_ERR_INVALID_ARG;
    if (!isfinite(mean) || !isfinite(std) || !(std > 0.0f))
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                         "dataset_set_normalization: need finite mean and std > 0 (got %g, %g)",
                         (double)mean, (double)std);
    return tg_dataset_set_channel_normalization(ds, scale01, &mean, &std, 1);
}

/* Raw float sample i (callback: via get_item) into dst; label / target
 * receive the target when not NULL. */
static tg_status read_raw(const tg_dataset *ds, size_t i, float *dst, int32_t *label,
                          float *target)
{
    size_t j = ds->at ? ds->at[i] : i;
    if (ds->pixels->is_cb) {
        const tg__pixels *p = ds->pixels;
        int32_t lab = -1;
        tg_status st = p->cb.get_item(p->user, j, dst, ds->target_dim ? NULL : &lab,
                                      ds->target_dim ? target : NULL);
        if (st != TG_OK)
            return tg__error(ds->ctx, st, "dataset: get_item(%zu) failed: %s", j,
                             tg_status_string(st));
        if (!ds->target_dim && (lab < 0 || lab >= ds->n_classes))
            return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                             "dataset: get_item(%zu) gave label %d outside [0, %d)", j, (int)lab,
                             ds->n_classes);
        if (label)
            *label = lab;
        return TG_OK;
    }
    if (ds->images) {
        const uint8_t *src = ds->images + j * ds->elems;
        for (size_t k = 0; k < ds->elems; k++)
            dst[k] = (float)src[k];
    } else {
        memcpy(dst, ds->fdata + j * ds->elems, ds->elems * sizeof(float));
    }
    if (label)
        *label = ds->labels ? ds->labels[i] : -1;
    if (target && ds->targets)
        memcpy(target, ds->targets + i * (size_t)ds->target_dim,
               (size_t)ds->target_dim * sizeof(float));
    return TG_OK;
}

/* Mean and population std per group (channel or feature) of the raw values
 * after the scale01 step. Shifted sums (by the first sample) keep the
 * variance accurate for features far from 0. */
static tg_status group_stats(const tg_dataset *ds, const char *who, bool by_channel,
                             double *mean, double *std, int n)
{
    tg_ctx *ctx = ds ? ds->ctx : NULL;
    if (!ds || !mean || !std || ds->n == 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument or empty data set", who);
    if (by_channel ? ds->ndim != 3 : ds->ndim != 1)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: the samples are %s, not %s", who,
                         ds->ndim == 3 ? "images" : "feature vectors",
                         by_channel ? "images" : "feature vectors");
    if (n != ds->n_norm)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: n %d, the data set has %d %s", who, n,
                         ds->n_norm, by_channel ? "channels" : "features");
    size_t g = (size_t)n, per = ds->elems / g; /* elements per group per sample */
    double scale = ds->scale01 ? 1.0 / 255.0 : 1.0;
    if (ds->images && by_channel) {
        /* Exact per-channel histograms (as tg_dataset_pixel_stats()). */
        uint64_t *hist = tg__calloc(ctx, g * 256, sizeof *hist);
        if (!hist)
            return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
        for (size_t i = 0; i < ds->n; i++) {
            const uint8_t *p = tg__dataset_pixels(ds, i);
            for (size_t c = 0; c < g; c++)
                for (size_t k = 0; k < per; k++)
                    hist[c * 256 + p[c * per + k]]++;
        }
        double total = (double)ds->n * (double)per;
        for (size_t c = 0; c < g; c++) {
            double s = 0.0, s2 = 0.0;
            for (int v = 0; v < 256; v++) {
                double x = v * scale, cnt = (double)hist[c * 256 + (size_t)v];
                s += cnt * x;
                s2 += cnt * x * x;
            }
            double m = s / total, var = s2 / total - m * m;
            mean[c] = m;
            std[c] = sqrt(var > 0.0 ? var : 0.0);
        }
        tg__free(ctx, hist);
        return TG_OK;
    }
    double *acc = tg__calloc(ctx, 3 * g, sizeof *acc);
    float *buf = acc ? tg__malloc(ctx, ds->elems * sizeof(float)) : NULL;
    float *tbuf = buf ? tg__malloc(ctx, (size_t)ds->target_dim * sizeof(float) + 1) : NULL;
    if (!tbuf) {
        tg__free(ctx, buf);
        tg__free(ctx, acc);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    double *shift = acc, *s = acc + g, *s2 = acc + 2 * g;
    tg_status st = TG_OK;
    for (size_t i = 0; i < ds->n && st == TG_OK; i++) {
        if ((st = read_raw(ds, i, buf, NULL, tbuf)) != TG_OK)
            break;
        for (size_t c = 0; c < g; c++) {
            if (i == 0)
                shift[c] = buf[c * per] * scale;
            for (size_t k = 0; k < per; k++) {
                double x = buf[c * per + k] * scale - shift[c];
                s[c] += x;
                s2[c] += x * x;
            }
        }
    }
    if (st == TG_OK) {
        double total = (double)ds->n * (double)per;
        for (size_t c = 0; c < g; c++) {
            double m = s[c] / total, var = s2[c] / total - m * m;
            mean[c] = m + shift[c];
            std[c] = sqrt(var > 0.0 ? var : 0.0);
        }
    }
    tg__free(ctx, tbuf);
    tg__free(ctx, buf);
    tg__free(ctx, acc);
    return st;
}

tg_status tg_dataset_channel_stats(const tg_dataset *ds, double *mean, double *std, int n)
{
    return group_stats(ds, "dataset_channel_stats", true, mean, std, n);
}

tg_status tg_dataset_feature_stats(const tg_dataset *ds, double *mean, double *std, int n)
{
    return group_stats(ds, "dataset_feature_stats", false, mean, std, n);
}

tg_status tg_dataset_pixel_stats(const tg_dataset *ds, double *mean, double *std)
{
    if (!ds || !mean || !std || ds->n == 0)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG,
                         "dataset_pixel_stats: NULL argument or empty data set");
    if (!ds->images)
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                         "dataset_pixel_stats: the samples are not uint8 pixels (use "
                         "tg_dataset_channel_stats or tg_dataset_feature_stats)");
    /* Histogram first: exact integer counts, then one pass over 256 bins. */
    uint64_t hist[256] = {0};
    size_t px = ds->elems, total = ds->n * px;
    for (size_t i = 0; i < ds->n; i++) {
        const uint8_t *p = tg__dataset_pixels(ds, i);
        for (size_t k = 0; k < px; k++)
            hist[p[k]]++;
    }
    double scale = ds->scale01 ? 1.0 / 255.0 : 1.0, s = 0.0, s2 = 0.0;
    for (int v = 0; v < 256; v++) {
        double x = v * scale, c = (double)hist[v];
        s += c * x;
        s2 += c * x * x;
    }
    double m = s / (double)total;
    double var = s2 / (double)total - m * m;
    *mean = m;
    *std = sqrt(var > 0.0 ? var : 0.0);
    return TG_OK;
}

/* ---- conversion to floats --------------------------------------------- */

/* Per-group affine map v = x * a[g] + b[g] (and, for uint8 images, a
 * lookup table per channel). */
typedef struct norm_map {
    float lut[TG_DATASET_MAX_CHANNELS][256];
} norm_map;

static void make_luts(const tg_dataset *ds, norm_map *m)
{
    float scale = ds->scale01 ? 1.0f / 255.0f : 1.0f;
    for (int c = 0; c < (int)ds->c; c++)
        for (int v = 0; v < 256; v++)
            m->lut[c][v] = ((float)v * scale - ds->mean[c]) / ds->std[c];
}

/* Normalised sample i into dst (elems floats). */
static tg_status fill_sample(const tg_dataset *ds, const norm_map *m, size_t i, float *dst,
                             int32_t *label, float *target)
{
    if (ds->images && ds->ndim == 3) {
        const uint8_t *src = tg__dataset_pixels(ds, i);
        size_t per = (size_t)ds->h * (size_t)ds->w;
        for (size_t c = 0; c < (size_t)ds->c; c++) {
            const float *lut = m->lut[c];
            for (size_t k = 0; k < per; k++)
                dst[c * per + k] = lut[src[c * per + k]];
        }
        if (label)
            *label = ds->labels ? ds->labels[i] : -1;
        if (target && ds->targets)
            memcpy(target, ds->targets + i * (size_t)ds->target_dim,
                   (size_t)ds->target_dim * sizeof(float));
        return TG_OK;
    }
    tg_status st = read_raw(ds, i, dst, label, target);
    if (st != TG_OK)
        return st;
    float scale = ds->scale01 ? 1.0f / 255.0f : 1.0f;
    size_t g = (size_t)ds->n_norm, per = ds->elems / g;
    for (size_t c = 0; c < g; c++) {
        float mu = ds->mean[c], sd = ds->std[c];
        for (size_t k = 0; k < per; k++)
            dst[c * per + k] = (dst[c * per + k] * scale - mu) / sd;
    }
    return TG_OK;
}

/* Batch tensor shape for b samples. */
static int batch_shape(const tg_dataset *ds, size_t b, int64_t shape[4])
{
    shape[0] = (int64_t)b;
    for (int k = 0; k < ds->ndim; k++)
        shape[1 + k] = ds->shape[k];
    return 1 + ds->ndim;
}

tg_tensor *tg_dataset_to_tensor(const tg_dataset *ds, size_t start, size_t count)
{
    if (!ds)
        return NULL;
    if (start > ds->n || count > ds->n - start) {
        tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                  "dataset_to_tensor: range [%zu, %zu+%zu) outside the %zu images", start, start,
                  count, ds->n);
        return NULL;
    }
    int64_t shape[4];
    int nd = batch_shape(ds, count, shape);
    tg_tensor *t = tg__tensor_new(ds->ctx, "dataset_to_tensor", nd, shape);
    if (!t)
        return NULL;
    norm_map m;
    if (ds->images)
        make_luts(ds, &m);
    /* A callback's target goes to scratch space past the sample: the caller
     * asked for samples only. */
    float *tscratch = NULL;
    if (ds->pixels->is_cb && ds->target_dim) {
        tscratch = tg__malloc(ds->ctx, (size_t)ds->target_dim * sizeof(float));
        if (!tscratch) {
            tg__error(ds->ctx, TG_ERR_NOMEM, "dataset_to_tensor: out of memory");
            return NULL;
        }
    }
    tg_status st = TG_OK;
    for (size_t k = 0; k < count && st == TG_OK; k++)
        st = fill_sample(ds, &m, start + k, t->data + k * ds->elems, NULL, tscratch);
    tg__free(ds->ctx, tscratch);
    return st == TG_OK ? t : NULL;
}

/* ---- batch iterator --------------------------------------------------- */

struct tg_batch_iter {
    tg__object obj;    /* tracked by the ctx until destroyed */
    tg_ctx *ctx;       /* kept apart from ds */
    tg_dataset *ds;    /* borrowed; its n_iters counts this iterator */
    tg_batch_options o;
    size_t *order;     /* this shard's positions of the current epoch */
    int32_t *labels;   /* batch_size labels of the last batch */
    float *scratch;    /* one sample (augmentation) */
    int64_t epoch;
    size_t n_shard;    /* samples of this shard per epoch */
    size_t pos;        /* next position in order */
    size_t limit;      /* positions used per epoch (drop_last trims) */
    bool ended;        /* last next() reported the end of the epoch */
    tg_status status;
};

void tg_batch_options_init(tg_batch_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->batch_size = 32;
    opts->shuffle = true;
    opts->drop_last = false;
    opts->seed = 0;
    opts->shard_count = 1;
}

static void iter_release(tg__object *o);

tg_status tg_batch_iter_create(const tg_dataset *ds, const tg_batch_options *opts,
                               tg_batch_iter **out)
{
    const char *who = "batch_iter_create";
    if (!ds || !out)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    tg_ctx *ctx = ds->ctx;
    tg_batch_options o;
    tg_batch_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof o)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad struct_size %zu (use tg_batch_options_init)",
                             who, opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
        o.struct_size = sizeof o;
    }
    if (o.batch_size == 0 || o.batch_size > TG_DATASET_MAX_IMAGES)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: batch_size %zu outside 1..%d", who,
                         o.batch_size, TG_DATASET_MAX_IMAGES);
    if (o.shard_count == 0 || o.shard_rank >= o.shard_count)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: shard_rank %zu not in [0, shard_count %zu)",
                         who, o.shard_rank, o.shard_count);
    if (o.crop_padding < 0 || o.crop_padding > TG_DATASET_MAX_DIM)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: crop_padding %d outside 0..%d", who,
                         o.crop_padding, TG_DATASET_MAX_DIM);
    if ((o.crop_padding || o.hflip) && ds->ndim != 3)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: crop_padding and hflip need image samples [C, H, W]", who);
    tg_batch_iter *it = tg__calloc(ctx, 1, sizeof *it);
    size_t *order = it ? tg__malloc(ctx, ds->n * sizeof(size_t) + 1) : NULL;
    int32_t *lab = order ? tg__malloc(ctx, o.batch_size * sizeof(int32_t)) : NULL;
    float *scratch = lab ? tg__malloc(ctx, ds->elems * sizeof(float)) : NULL;
    if (!scratch) {
        tg__free(ctx, lab);
        tg__free(ctx, order);
        tg__free(ctx, it);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate the iterator", who);
    }
    it->ctx = ctx;
    it->ds = (tg_dataset *)ds; /* only n_iters is written through it */
    it->o = o;
    it->order = order;
    it->labels = lab;
    it->scratch = scratch;
    tg_batch_iter_set_epoch(it, 0);
    it->ds->n_iters++;
    tg__object_track(ctx, &it->obj, iter_release);
    *out = it;
    return TG_OK;
}

void tg_batch_iter_destroy(tg_batch_iter *it)
{
    if (!it)
        return;
    tg__object_untrack(it->ctx, &it->obj);
    iter_release(&it->obj);
}

/* Also called by tg_ctx_destroy() for an iterator the caller left alive;
 * the iterator is newer than its data set, so the set is still there. */
static void iter_release(tg__object *o)
{
    tg_batch_iter *it = (tg_batch_iter *)o;
    tg_ctx *ctx = it->ctx;
    it->ds->n_iters--;
    tg__free(ctx, it->order);
    tg__free(ctx, it->labels);
    tg__free(ctx, it->scratch);
    tg__free(ctx, it);
}

static uint64_t epoch_mix(uint64_t seed, int64_t epoch)
{
    return seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
}

void tg_batch_iter_set_epoch(tg_batch_iter *it, int64_t epoch)
{
    if (!it)
        return;
    size_t n = it->ds->n;
    for (size_t i = 0; i < n; i++)
        it->order[i] = i;
    if (it->o.shuffle) {
        /* A fresh stream per (seed, epoch): epoch e never depends on how
         * many batches earlier epochs consumed. */
        uint64_t s[4];
        tg__rng_seed(s, epoch_mix(it->o.seed, epoch));
        shuffle(it->order, n, s);
    }
    size_t m = n;
    if (it->o.shard_count > 1) {
        /* DistributedSampler(drop_last=True): order[rank::count] of the
         * first count * floor(n / count) positions. In place: the source
         * position rank + k * count is never below k. */
        m = n / it->o.shard_count;
        for (size_t k = 0; k < m; k++)
            it->order[k] = it->order[it->o.shard_rank + k * it->o.shard_count];
    }
    it->n_shard = m;
    it->epoch = epoch;
    it->pos = 0;
    it->limit = it->o.drop_last ? m - m % it->o.batch_size : m;
    it->ended = false;
    it->status = TG_OK;
}

int64_t tg_batch_iter_epoch(const tg_batch_iter *it) { return it ? it->epoch : 0; }

size_t tg_batch_iter_n_samples(const tg_batch_iter *it) { return it ? it->n_shard : 0; }

size_t tg_batch_iter_n_batches(const tg_batch_iter *it)
{
    if (!it)
        return 0;
    return (it->limit + it->o.batch_size - 1) / it->o.batch_size;
}

tg_status tg_batch_iter_status(const tg_batch_iter *it)
{
    return it ? it->status : TG_ERR_INVALID_ARG;
}

/* Random crop (zero padding in raw values: pad[c] is what raw 0 becomes)
 * and horizontal flip of one [C, H, W] sample in place, drawn from a stream
 * that depends only on (seed, epoch, sample index). */
static void augment(const tg_batch_iter *it, size_t sample, float *x, float *tmp,
                    const float *pad)
{
    const tg_dataset *ds = it->ds;
    uint64_t s[4];
    tg__rng_seed(s, epoch_mix(it->o.seed, it->epoch) ^
                        ((uint64_t)sample * 0xbf58476d1ce4e5b9ULL + 0x94d049bb133111ebULL));
    int64_t p = it->o.crop_padding, h = ds->h, w = ds->w;
    int64_t dy = p ? (int64_t)rng_below(s, (uint64_t)(2 * p + 1)) - p : 0;
    int64_t dx = p ? (int64_t)rng_below(s, (uint64_t)(2 * p + 1)) - p : 0;
    bool flip = it->o.hflip && (tg__rng_next(s) >> 63);
    if (!dy && !dx && !flip)
        return;
    size_t per = (size_t)h * (size_t)w;
    memcpy(tmp, x, ds->elems * sizeof(float));
    for (int64_t c = 0; c < ds->c; c++) {
        const float *src = tmp + (size_t)c * per;
        float *dst = x + (size_t)c * per;
        for (int64_t y = 0; y < h; y++) {
            int64_t sy = y + dy;
            for (int64_t xx = 0; xx < w; xx++) {
                int64_t sx = (flip ? w - 1 - xx : xx) + dx;
                dst[y * w + xx] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[sy * w + sx] : pad[c];
            }
        }
    }
}

/* Fill the next batch; false at the end of the epoch or on error. */
static bool next_batch(tg_batch_iter *it, tg_batch *out, const char *who)
{
    tg_dataset *ds = it->ds;
    if (it->ended)
        tg_batch_iter_set_epoch(it, it->epoch + 1);
    if (it->pos >= it->limit) {
        it->ended = true;
        it->status = TG_OK;
        return false;
    }
    size_t b = it->limit - it->pos;
    if (b > it->o.batch_size)
        b = it->o.batch_size;
    int64_t shape[4];
    int nd = batch_shape(ds, b, shape);
    tg_tensor *t = tg__tensor_new(ds->ctx, who, nd, shape);
    tg_tensor *tt = NULL;
    if (t && ds->target_dim) {
        int64_t ts[2] = {(int64_t)b, ds->target_dim};
        tt = tg__tensor_new(ds->ctx, who, 2, ts);
    }
    if (!t || (ds->target_dim && !tt)) {
        it->status = tg_ctx_last_status(ds->ctx);
        return false;
    }
    norm_map m;
    float pad[TG_DATASET_MAX_CHANNELS] = {0};
    if (ds->images)
        make_luts(ds, &m);
    bool aug = it->o.crop_padding > 0 || it->o.hflip;
    if (aug) {
        float scale = ds->scale01 ? 1.0f / 255.0f : 1.0f;
        for (int c = 0; c < (int)ds->c; c++)
            pad[c] = ds->images ? m.lut[c][0] : (0.0f * scale - ds->mean[c]) / ds->std[c];
    }
    size_t td = (size_t)ds->target_dim;
    for (size_t k = 0; k < b; k++) {
        size_t i = it->order[it->pos + k];
        float *dst = t->data + k * ds->elems;
        tg_status st = fill_sample(ds, &m, i, dst, td ? NULL : &it->labels[k],
                                   td ? tt->data + k * td : NULL);
        if (st != TG_OK) {
            it->status = st;
            return false;
        }
        if (aug)
            augment(it, ds->at ? ds->at[i] : i, dst, it->scratch, pad);
    }
    it->pos += b;
    it->status = TG_OK;
    out->x = t;
    out->labels = td ? NULL : it->labels;
    out->targets = tt;
    out->n = b;
    return true;
}

bool tg_batch_iter_next_batch(tg_batch_iter *it, tg_batch *out)
{
    if (!it)
        return false;
    if (!out) {
        it->status = tg__error(it->ctx, TG_ERR_INVALID_ARG, "batch_iter_next_batch: out is NULL");
        return false;
    }
    return next_batch(it, out, "batch_iter_next_batch");
}

bool tg_batch_iter_next(tg_batch_iter *it, tg_tensor **x, const int32_t **labels,
                        size_t *batch_n)
{
    if (!it)
        return false;
    if (!x || !labels) {
        it->status = tg__error(it->ctx, TG_ERR_INVALID_ARG, "batch_iter_next: x or labels is NULL");
        return false;
    }
    if (it->ds->target_dim) {
        it->status = tg__error(it->ctx, TG_ERR_INVALID_ARG,
                               "batch_iter_next: the data set has vector targets; use "
                               "tg_batch_iter_next_batch");
        return false;
    }
    tg_batch b;
    if (!next_batch(it, &b, "batch_iter_next"))
        return false;
    *x = b.x;
    *labels = b.labels;
    if (batch_n)
        *batch_n = b.n;
    return true;
}
