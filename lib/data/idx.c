/* SPDX-License-Identifier: MIT */
/* IDX (MNIST) files, raw or gzip'd, and the MNIST directory loader.
 * zlib's gzread reads both: it checks the gzip magic and passes other
 * content through unchanged. Claimed sizes are checked against hard limits
 * before anything is allocated, and the image buffer grows with the data
 * actually read, so a short file claiming huge sizes never makes us
 * allocate what it claims. */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_CHUNK (1u << 22)

typedef struct idx_file {
    const char *path;
    gzFile gz;
    uint32_t dims[3];
} idx_file;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Read up to n bytes; returns bytes read or -1 on a decompression error. */
static long long gz_read_full(gzFile gz, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got > IDX_CHUNK ? IDX_CHUNK : n - got;
        int r = gzread(gz, (unsigned char *)buf + got, (unsigned)want);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

static tg_status read_error(tg_ctx *ctx, idx_file *f, long long got, size_t want,
                            const char *what)
{
    if (got < 0) {
        int errnum = 0;
        const char *msg = gzerror(f->gz, &errnum);
        return tg__error(ctx, errnum == Z_ERRNO ? TG_ERR_IO : TG_ERR_FORMAT,
                         "idx: '%s': cannot read %s: %s", f->path, what,
                         errnum == Z_ERRNO ? strerror(errno) : msg);
    }
    return tg__error(ctx, TG_ERR_FORMAT, "idx: '%s': truncated: %s needs %zu bytes, found %lld",
                     f->path, what, want, got);
}

/* Open and parse the header (magic, dims) of an IDX file. */
static tg_status idx_open(tg_ctx *ctx, idx_file *f, const char *path, uint32_t magic)
{
    f->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tg__error(ctx, TG_ERR_IO, "idx: cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return tg__error(ctx, TG_ERR_IO, "idx: '%s' is not a regular file", path);
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return tg__error(ctx, errno == ENOMEM ? TG_ERR_NOMEM : TG_ERR_IO,
                         "idx: cannot open '%s': %s", path, strerror(errno));
    unsigned char hdr[16];
    int ndim = magic == IDX_IMAGES_MAGIC ? 3 : 1;
    long long got = gz_read_full(f->gz, hdr, 4);
    if (got != 4)
        return read_error(ctx, f, got, 4, "the header");
    uint32_t m = be32(hdr);
    if (m != magic)
        return tg__error(ctx, TG_ERR_FORMAT, "idx: '%s': bad magic 0x%08x (expected 0x%08x for %s)",
                         path, m, magic, ndim == 3 ? "images" : "labels");
    size_t want = 4 * (size_t)ndim;
    got = gz_read_full(f->gz, hdr + 4, want);
    if (got != (long long)want)
        return read_error(ctx, f, got < 0 ? got : got + 4, want + 4, "the header");
    for (int i = 0; i < ndim; i++)
        f->dims[i] = be32(hdr + 4 + 4 * i);
    return TG_OK;
}

/* Nothing may follow the data: extra bytes mean the header lies. */
static tg_status idx_expect_eof(tg_ctx *ctx, idx_file *f)
{
    unsigned char extra;
    long long got = gz_read_full(f->gz, &extra, 1);
    if (got < 0)
        return read_error(ctx, f, got, 1, "the end");
    if (got > 0)
        return tg__error(ctx, TG_ERR_FORMAT, "idx: '%s': unexpected bytes after the data",
                         f->path);
    return TG_OK;
}

/* Read exactly `total` bytes into a buffer that grows as data arrives. */
static tg_status read_growing(tg_ctx *ctx, idx_file *f, size_t total, const char *what,
                              uint8_t **out)
{
    size_t cap = total < IDX_CHUNK ? total : IDX_CHUNK;
    uint8_t *buf = tg__malloc(ctx, cap);
    if (!buf)
        return tg__error(ctx, TG_ERR_NOMEM, "idx: '%s': cannot allocate %zu bytes", f->path, cap);
    size_t got = 0;
    while (got < total) {
        if (got == cap) {
            size_t ncap = cap > total / 2 ? total : cap * 2;
            uint8_t *nb = tg__malloc(ctx, ncap);
            if (!nb) {
                tg__free(ctx, buf);
                return tg__error(ctx, TG_ERR_NOMEM, "idx: '%s': cannot allocate %zu bytes",
                                 f->path, ncap);
            }
            memcpy(nb, buf, got);
            tg__free(ctx, buf);
            buf = nb;
            cap = ncap;
        }
        long long r = gz_read_full(f->gz, buf + got, cap - got);
        if (r < 0 || (size_t)r < cap - got) {
            tg__free(ctx, buf);
            return read_error(ctx, f, r < 0 ? r : (long long)(got + (size_t)r), total, what);
        }
        got += (size_t)r;
    }
    *out = buf;
    return TG_OK;
}

tg_status tg_dataset_load_idx(tg_ctx *ctx, const char *images_path, const char *labels_path,
                              tg_dataset **out)
{
    if (!ctx || !images_path || !labels_path || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "dataset_load_idx: NULL argument");
    idx_file fi = {0}, fl = {0};
    uint8_t *pix = NULL, *lab8 = NULL;
    tg_dataset *ds = NULL;
    tg_status st = idx_open(ctx, &fi, images_path, IDX_IMAGES_MAGIC);
    if (st == TG_OK)
        st = idx_open(ctx, &fl, labels_path, IDX_LABELS_MAGIC);
    if (st != TG_OK)
        goto done;
    uint32_t n = fi.dims[0], h = fi.dims[1], w = fi.dims[2];
    if (h == 0 || w == 0) {
        st = tg__error(ctx, TG_ERR_FORMAT, "idx: '%s': image size %ux%u is empty", images_path,
                       h, w);
        goto done;
    }
    st = tg__dataset_check_size(ctx, "idx", n, h, w);
    if (st != TG_OK) {
        tg__error(ctx, st, "idx: '%s' claims %u images of %ux%u, over the limits (%d images, "
                  "%d pixels per side, %lld bytes)", images_path, n, h, w,
                  TG_DATASET_MAX_IMAGES, TG_DATASET_MAX_DIM, (long long)TG_DATASET_MAX_BYTES);
        goto done;
    }
    if (fl.dims[0] != n) {
        st = tg__error(ctx, TG_ERR_FORMAT, "idx: '%s' has %u images but '%s' has %u labels",
                       images_path, n, labels_path, fl.dims[0]);
        goto done;
    }
    size_t total = (size_t)n * h * w;
    st = read_growing(ctx, &fl, n, "labels", &lab8);
    if (st == TG_OK)
        st = idx_expect_eof(ctx, &fl);
    if (st == TG_OK)
        st = read_growing(ctx, &fi, total, "images", &pix);
    if (st == TG_OK)
        st = idx_expect_eof(ctx, &fi);
    if (st == TG_OK)
        st = tg__dataset_alloc(ctx, "idx", 0, h, w, &ds);
    if (st != TG_OK)
        goto done;
    int32_t *labels = tg__malloc(ctx, (size_t)n * sizeof(int32_t));
    if (!labels) {
        st = tg__error(ctx, TG_ERR_NOMEM, "idx: cannot allocate %u labels", n);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        labels[i] = lab8[i];
    /* Adopt the pixel buffer instead of copying 47 MB. */
    tg__free(ctx, ds->pixels->bytes);
    tg__free(ctx, ds->labels);
    ds->pixels->bytes = ds->images = pix;
    ds->labels = labels;
    ds->n = n;
    pix = NULL;
    tg__dataset_infer_classes(ds);
    *out = ds;
    ds = NULL;
done:
    if (fi.gz)
        gzclose(fi.gz);
    if (fl.gz)
        gzclose(fl.gz);
    if (pix)
        tg__free(ctx, pix);
    if (lab8)
        tg__free(ctx, lab8);
    tg_dataset_destroy(ds);
    return st;
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* dir/name, else dir/name.gz if that exists; NULL on no memory. */
static char *find_idx(tg_ctx *ctx, const char *dir, const char *name, bool *found)
{
    char *p = tg__path_join(ctx, dir, name);
    if (!p)
        return NULL;
    if (is_file(p)) {
        *found = true;
        return p;
    }
    size_t len = strlen(p);
    char *gz = tg__malloc(ctx, len + 4);
    if (!gz) {
        tg__free(ctx, p);
        return NULL;
    }
    memcpy(gz, p, len);
    memcpy(gz + len, ".gz", 4);
    tg__free(ctx, p);
    *found = is_file(gz);
    return gz;
}

tg_status tg_dataset_load_mnist(tg_ctx *ctx, const char *data_dir, bool train, tg_dataset **out)
{
    if (!ctx || !data_dir || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "dataset_load_mnist: NULL argument");
    const char *img_name = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *lab_name = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    bool fi = false, fl = false;
    char *img = find_idx(ctx, data_dir, img_name, &fi);
    char *lab = img ? find_idx(ctx, data_dir, lab_name, &fl) : NULL;
    char *png = lab ? tg__path_join(ctx, data_dir, train ? "train" : "test") : NULL;
    tg_status st;
    if (!png)
        st = tg__error(ctx, TG_ERR_NOMEM, "dataset_load_mnist: out of memory");
    else if (fi && fl)
        st = tg_dataset_load_idx(ctx, img, lab, out);
    else if (fi || fl)
        st = tg__error(ctx, TG_ERR_NOT_FOUND, "mnist: found %s[.gz] but not %s[.gz] in '%s'",
                       fi ? img_name : lab_name, fi ? lab_name : img_name, data_dir);
    else if (is_dir(png))
        st = tg_dataset_load_png_dir(ctx, png, 28, 28, out);
    else
        st = tg__error(ctx, TG_ERR_NOT_FOUND,
                       "mnist: neither %s[.gz] + %s[.gz] nor a PNG tree '%s' in '%s'", img_name,
                       lab_name, png, data_dir);
    if (img)
        tg__free(ctx, img);
    if (lab)
        tg__free(ctx, lab);
    if (png)
        tg__free(ctx, png);
    return st;
}
