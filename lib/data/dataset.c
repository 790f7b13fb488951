/* SPDX-License-Identifier: MIT */
/* Data sets (uint8 images + int32 labels), subsets, seeded splits,
 * normalisation and the mini-batch iterator. */
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

static void dataset_release(tg__object *o);

tg_status tg__dataset_alloc(tg_ctx *ctx, const char *who, size_t n, int64_t h, int64_t w,
                            tg_dataset **out)
{
    if (h < 1 || w < 1)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: image size %lldx%lld must be positive",
                         who, (long long)h, (long long)w);
    tg_status st = tg__dataset_check_size(ctx, who, n, (uint64_t)h, (uint64_t)w);
    if (st != TG_OK)
        return st;
    tg_dataset *ds = tg__calloc(ctx, 1, sizeof *ds);
    tg__pixels *pixels = ds ? tg__malloc(ctx, sizeof *pixels) : NULL;
    uint8_t *img = pixels ? tg__malloc(ctx, n * (size_t)h * (size_t)w) : NULL;
    int32_t *lab = img ? tg__malloc(ctx, n * sizeof(int32_t)) : NULL;
    if (!lab) {
        tg__free(ctx, img);
        tg__free(ctx, pixels);
        tg__free(ctx, ds);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate %zu images of %lldx%lld", who,
                         n, (long long)h, (long long)w);
    }
    ds->ctx = ctx;
    ds->n = n;
    ds->h = h;
    ds->w = w;
    pixels->refs = 1;
    pixels->bytes = img;
    ds->pixels = pixels;
    ds->images = img;
    ds->labels = lab;
    ds->scale01 = true;
    ds->mean = 0.0f;
    ds->std = 1.0f;
    tg__object_track(ctx, &ds->obj, dataset_release);
    *out = ds;
    return TG_OK;
}

void tg__dataset_infer_classes(tg_dataset *ds)
{
    int32_t mx = -1;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->labels[i] > mx)
            mx = ds->labels[i];
    ds->n_classes = (int)(mx + 1);
}

tg_status tg_dataset_create(tg_ctx *ctx, size_t n, int64_t h, int64_t w, const uint8_t *images,
                            const int32_t *labels, int n_classes, tg_dataset **out)
{
    const char *who = "dataset_create";
    if (!ctx || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: ctx or out is NULL", who);
    if (n > 0 && (!images || !labels))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: images or labels is NULL", who);
    if (n_classes < 0 || n_classes > TG_DATASET_MAX_CLASSES)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: n_classes %d outside 0..%d", who,
                         n_classes, TG_DATASET_MAX_CLASSES);
    int limit = n_classes ? n_classes : TG_DATASET_MAX_CLASSES;
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= limit)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: label %d of image %zu outside [0, %d)",
                             who, (int)labels[i], i, limit);
    tg_dataset *ds = NULL;
    tg_status st = tg__dataset_alloc(ctx, who, n, h, w, &ds);
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

void tg_dataset_destroy(tg_dataset *ds)
{
    if (!ds)
        return;
    tg__object_untrack(ds->ctx, &ds->obj);
    dataset_release(&ds->obj);
}

/* Also called by tg_ctx_destroy() for a data set the caller left alive. */
static void dataset_release(tg__object *o)
{
    tg_dataset *ds = (tg_dataset *)o;
    tg_ctx *ctx = ds->ctx;
    if (--ds->pixels->refs == 0) {
        tg__free(ctx, ds->pixels->bytes);
        tg__free(ctx, ds->pixels);
    }
    tg__free(ctx, ds->at);
    tg__free(ctx, ds->labels);
    tg__free(ctx, ds);
}

/* ---- accessors -------------------------------------------------------- */

size_t tg_dataset_n(const tg_dataset *ds) { return ds ? ds->n : 0; }
int64_t tg_dataset_height(const tg_dataset *ds) { return ds ? ds->h : 0; }
int64_t tg_dataset_width(const tg_dataset *ds) { return ds ? ds->w : 0; }
int tg_dataset_n_classes(const tg_dataset *ds) { return ds ? ds->n_classes : 0; }
tg_ctx *tg_dataset_ctx(const tg_dataset *ds) { return ds ? ds->ctx : NULL; }
const int32_t *tg_dataset_labels(const tg_dataset *ds) { return ds ? ds->labels : NULL; }

const uint8_t *tg_dataset_image(const tg_dataset *ds, size_t i)
{
    if (!ds || i >= ds->n)
        return NULL;
    return tg__dataset_pixels(ds, i);
}

int32_t tg_dataset_label(const tg_dataset *ds, size_t i)
{
    return ds && i < ds->n ? ds->labels[i] : -1;
}

/* ---- subsets and splits ----------------------------------------------- */

/* A data set of the images idx[0..count) (or start+k when idx is NULL) that
 * shares ds's pixel block; only labels and indices are new. */
static tg_status gather(const tg_dataset *ds, const char *who, const size_t *idx, size_t start,
                        size_t count, tg_dataset **out)
{
    tg_ctx *ctx = ds->ctx;
    tg_dataset *d = tg__calloc(ctx, 1, sizeof *d);
    int32_t *lab = d ? tg__malloc(ctx, count * sizeof(int32_t)) : NULL;
    size_t *at = lab ? tg__malloc(ctx, count * sizeof(size_t)) : NULL;
    if (!at) {
        tg__free(ctx, lab);
        tg__free(ctx, d);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate %zu indices", who, count);
    }
    for (size_t k = 0; k < count; k++) {
        size_t i = idx ? idx[k] : start + k;
        at[k] = ds->at ? ds->at[i] : i;
        lab[k] = ds->labels[i];
    }
    *d = *ds;
    d->n = count;
    d->at = at;
    d->labels = lab;
    d->pixels->refs++;
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
    size_t *idx = tg__malloc(ctx, ds->n * sizeof(size_t));
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

tg_status tg_dataset_set_normalization(tg_dataset *ds, bool scale01, float mean, float std)
{
    if (!ds)
        return TG_ERR_INVALID_ARG;
    if (!isfinite(mean) || !isfinite(std) || !(std > 0.0f))
        return tg__error(ds->ctx, TG_ERR_INVALID_ARG,
                         "dataset_set_normalization: need finite mean and std > 0 (got %g, %g)",
                         (double)mean, (double)std);
    ds->scale01 = scale01;
    ds->mean = mean;
    ds->std = std;
    return TG_OK;
}

tg_status tg_dataset_pixel_stats(const tg_dataset *ds, double *mean, double *std)
{
    if (!ds || !mean || !std || ds->n == 0)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG,
                         "dataset_pixel_stats: NULL argument or empty data set");
    /* Histogram first: exact integer counts, then one pass over 256 bins. */
    uint64_t hist[256] = {0};
    size_t px = (size_t)ds->h * (size_t)ds->w, total = ds->n * px;
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

static void make_lut(const tg_dataset *ds, float lut[256])
{
    float scale = ds->scale01 ? 1.0f / 255.0f : 1.0f;
    for (int v = 0; v < 256; v++)
        lut[v] = ((float)v * scale - ds->mean) / ds->std;
}

static void convert(const tg_dataset *ds, const float lut[256], size_t i, float *dst)
{
    size_t px = (size_t)ds->h * (size_t)ds->w;
    const uint8_t *src = tg__dataset_pixels(ds, i);
    for (size_t k = 0; k < px; k++)
        dst[k] = lut[src[k]];
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
    int64_t shape[4] = {(int64_t)count, 1, ds->h, ds->w};
    tg_tensor *t = tg__tensor_new(ds->ctx, "dataset_to_tensor", 4, shape);
    if (!t)
        return NULL;
    float lut[256];
    make_lut(ds, lut);
    size_t px = (size_t)ds->h * (size_t)ds->w;
    for (size_t k = 0; k < count; k++)
        convert(ds, lut, start + k, t->data + k * px);
    return t;
}

/* ---- batch iterator --------------------------------------------------- */

struct tg_batch_iter {
    tg__object obj;    /* tracked by the ctx until destroyed */
    tg_ctx *ctx;       /* kept apart from ds: the data set may go first */
    const tg_dataset *ds;
    tg_batch_options o;
    size_t *order;     /* permutation of [0, n) for the current epoch */
    int32_t *labels;   /* batch_size labels of the last batch */
    int64_t epoch;
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
    tg_batch_iter *it = tg__calloc(ctx, 1, sizeof *it);
    size_t *order = it ? tg__malloc(ctx, ds->n * sizeof(size_t)) : NULL;
    int32_t *lab = order ? tg__malloc(ctx, o.batch_size * sizeof(int32_t)) : NULL;
    if (!lab) {
        if (order)
            tg__free(ctx, order);
        if (it)
            tg__free(ctx, it);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate the iterator", who);
    }
    it->ctx = ctx;
    it->ds = ds;
    it->o = o;
    it->order = order;
    it->labels = lab;
    tg_batch_iter_set_epoch(it, 0);
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

/* Also called by tg_ctx_destroy() for an iterator the caller left alive. */
static void iter_release(tg__object *o)
{
    tg_batch_iter *it = (tg_batch_iter *)o;
    tg_ctx *ctx = it->ctx;
    tg__free(ctx, it->order);
    tg__free(ctx, it->labels);
    tg__free(ctx, it);
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
        tg__rng_seed(s, it->o.seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL));
        shuffle(it->order, n, s);
    }
    it->epoch = epoch;
    it->pos = 0;
    it->limit = it->o.drop_last ? n - n % it->o.batch_size : n;
    it->ended = false;
    it->status = TG_OK;
}

int64_t tg_batch_iter_epoch(const tg_batch_iter *it) { return it ? it->epoch : 0; }

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

bool tg_batch_iter_next(tg_batch_iter *it, tg_tensor **x, const int32_t **labels,
                        size_t *batch_n)
{
    if (!it)
        return false;
    const tg_dataset *ds = it->ds;
    if (!x || !labels) {
        it->status = tg__error(ds->ctx, TG_ERR_INVALID_ARG, "batch_iter_next: x or labels is NULL");
        return false;
    }
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
    int64_t shape[4] = {(int64_t)b, 1, ds->h, ds->w};
    tg_tensor *t = tg__tensor_new(ds->ctx, "batch_iter_next", 4, shape);
    if (!t) {
        it->status = tg_ctx_last_status(ds->ctx);
        return false;
    }
    float lut[256];
    make_lut(ds, lut);
    size_t px = (size_t)ds->h * (size_t)ds->w;
    for (size_t k = 0; k < b; k++) {
        size_t i = it->order[it->pos + k];
        convert(ds, lut, i, t->data + k * px);
        it->labels[k] = ds->labels[i];
    }
    it->pos += b;
    it->status = TG_OK;
    *x = t;
    *labels = it->labels;
    if (batch_n)
        *batch_n = b;
    return true;
}
