/* SPDX-License-Identifier: MIT */
/* PNG folder trees (DIR/<class>/<file>.png) read and written with libpng.
 * libpng reports errors by longjmp; each setjmp sits in a small function
 * whose locals are either set before setjmp or volatile, and everything
 * allocated is released on both paths. */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct png_err {
    char msg[200];
} png_err;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    if (e)
        snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (e.g. odd sRGB profiles) are not errors for us */
}

/* ---- reading ----------------------------------------------------------- */

/* Channels a PNG stores (palette = RGB; tRNS adds alpha). */
static int stored_channels(int color, bool trns)
{
    switch (color) {
    case PNG_COLOR_TYPE_GRAY: return trns ? 2 : 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_PALETTE: return trns ? 4 : 3;
    case PNG_COLOR_TYPE_RGB: return trns ? 4 : 3;
    default: return 4;
    }
}

/* Decode into tmp (h*w*want interleaved bytes) after checking the size.
 * want 0: read the header only. Returns 0 on success, 1 on a libpng error
 * (message in e), 2 on a size mismatch (*gh, *gw set). With *h or *w 0
 * the file's size is taken. */
static int decode(FILE *fp, int want, int64_t *h, int64_t *w, int *stored, tg_ctx *ctx,
                  uint8_t **tmp, png_bytep **rows, png_err *e, png_uint_32 *gh,
                  png_uint_32 *gw)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, e, on_png_error,
                                             on_png_warning);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng reader");
        return 1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng info");
        return 1;
    }
    /* Nothing below changes a local that is read after a longjmp; the
     * buffers go to the caller through tmp/rows, which it frees. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    *gw = png_get_image_width(png, info);
    *gh = png_get_image_height(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    bool trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    if (stored)
        *stored = stored_channels(color, trns);
    if ((*h && (int64_t)*gh != *h) || (*w && (int64_t)*gw != *w)) {
        png_destroy_read_struct(&png, &info, NULL);
        return 2;
    }
    if (*gh > TG_DATASET_MAX_DIM || *gw > TG_DATASET_MAX_DIM) {
        png_destroy_read_struct(&png, &info, NULL);
        return 4;
    }
    *h = (int64_t)*gh;
    *w = (int64_t)*gw;
    if (want == 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    bool is_color = color == PNG_COLOR_TYPE_RGB || color == PNG_COLOR_TYPE_RGB_ALPHA ||
                    color == PNG_COLOR_TYPE_PALETTE;
    bool has_alpha = (color & PNG_COLOR_MASK_ALPHA) || trns;
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (trns)
        png_set_tRNS_to_alpha(png);
    if (depth == 16)
        png_set_strip_16(png);
    if (want <= 2 && is_color)
        png_set_rgb_to_gray_fixed(png, 1, -1, -1); /* 1: convert silently; default weights */
    if (want >= 3 && !is_color)
        png_set_gray_to_rgb(png);
    if (want == 1 || want == 3)
        png_set_strip_alpha(png);
    else if (!has_alpha)
        png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != want || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)*w * (size_t)want) {
        snprintf(e->msg, sizeof e->msg, "unsupported pixel layout after conversion");
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    *tmp = tg__malloc(ctx, (size_t)*h * (size_t)*w * (size_t)want);
    *rows = *tmp ? tg__malloc(ctx, (size_t)*h * sizeof **rows) : NULL;
    if (!*rows) {
        snprintf(e->msg, sizeof e->msg, "out of memory");
        png_destroy_read_struct(&png, &info, NULL);
        return 3;
    }
    for (int64_t y = 0; y < *h; y++)
        (*rows)[y] = *tmp + (size_t)y * (size_t)*w * (size_t)want;
    png_read_image(png, *rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

tg_status tg__png_read(tg_ctx *ctx, const char *path, int channels, int64_t *h, int64_t *w,
                       int *stored, uint8_t *dst)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tg__error(ctx, TG_ERR_IO, "png: cannot open '%s': %s", path, strerror(errno));
    unsigned char sig[8];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(fp);
        return tg__error(ctx, TG_ERR_FORMAT, "png: '%s' is not a PNG file (bad signature)", path);
    }
    rewind(fp);
    png_err e = {{0}};
    png_uint_32 gh = 0, gw = 0;
    int64_t want_h = *h, want_w = *w;
    uint8_t *tmp = NULL;
    png_bytep *rows = NULL;
    int r = decode(fp, dst ? channels : 0, h, w, stored, ctx, &tmp, &rows, &e, &gh, &gw);
    fclose(fp);
    if (r == 0 && dst) {
        /* Interleaved HWC to planar CHW. */
        size_t px = (size_t)*h * (size_t)*w, c = (size_t)channels;
        for (size_t k = 0; k < px; k++)
            for (size_t ch = 0; ch < c; ch++)
                dst[ch * px + k] = tmp[k * c + ch];
    }
    tg__free(ctx, rows);
    tg__free(ctx, tmp);
    if (r == 2)
        return tg__error(ctx, TG_ERR_SHAPE, "png: '%s' is %ux%u (h x w), expected %lldx%lld", path,
                         (unsigned)gh, (unsigned)gw, (long long)want_h, (long long)want_w);
    if (r == 4)
        return tg__error(ctx, TG_ERR_LIMIT, "png: '%s' is %ux%u (h x w), over the limit of %d", path,
                         (unsigned)gh, (unsigned)gw, TG_DATASET_MAX_DIM);
    if (r == 3)
        return tg__error(ctx, TG_ERR_NOMEM, "png: out of memory reading '%s'", path);
    if (r == 1)
        return tg__error(ctx, TG_ERR_FORMAT, "png: '%s' is corrupt: %s", path, e.msg);
    return TG_OK;
}

tg_status tg__png_read_gray(tg_ctx *ctx, const char *path, int64_t h, int64_t w, uint8_t *dst)
{
    return tg__png_read(ctx, path, 1, &h, &w, NULL, dst);
}

/* ---- directory listing ------------------------------------------------- */

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void names_free(tg_ctx *ctx, name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        tg__free(ctx, l->v[i]);
    if (l->v)
        tg__free(ctx, l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static bool names_push(tg_ctx *ctx, name_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        char **nv = tg__malloc(ctx, ncap * sizeof *nv);
        if (!nv)
            return false;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        if (l->v)
            tg__free(ctx, l->v);
        l->v = nv;
        l->cap = ncap;
    }
    char *c = tg__strdup(ctx, s);
    if (!c)
        return false;
    l->v[l->n++] = c;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_png_suffix(const char *s)
{
    size_t n = strlen(s);
    if (n < 5)
        return false;
    const char *e = s + n - 4;
    return e[0] == '.' && (e[1] | 0x20) == 'p' && (e[2] | 0x20) == 'n' && (e[3] | 0x20) == 'g';
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Entries of dir that are directories with a numeric name (want_dirs) or
 * regular files ending in .png, sorted by strcmp. */
static tg_status list_dir(tg_ctx *ctx, const char *dir, bool want_dirs, name_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return tg__error(ctx, errno == ENOENT || errno == ENOTDIR ? TG_ERR_NOT_FOUND : TG_ERR_IO,
                         "png: cannot open directory '%s': %s", dir, strerror(errno));
    tg_status st = TG_OK;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        const char *nm = ent->d_name;
        if (nm[0] == '.')
            continue;
        if (want_dirs ? !all_digits(nm) : !has_png_suffix(nm))
            continue;
        char *full = tg__path_join(ctx, dir, nm);
        if (!full) {
            st = tg__error(ctx, TG_ERR_NOMEM, "png: out of memory listing '%s'", dir);
            break;
        }
        struct stat sb;
        bool ok = stat(full, &sb) == 0 && (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        tg__free(ctx, full);
        if (ok && !names_push(ctx, out, nm)) {
            st = tg__error(ctx, TG_ERR_NOMEM, "png: out of memory listing '%s'", dir);
            break;
        }
        if (out->n > TG_DATASET_MAX_IMAGES) {
            st = tg__error(ctx, TG_ERR_LIMIT, "png: '%s' has more than %d entries", dir,
                           TG_DATASET_MAX_IMAGES);
            break;
        }
    }
    closedir(d);
    if (st != TG_OK) {
        names_free(ctx, out);
        return st;
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return TG_OK;
}

typedef struct class_dir {
    long label;
    const char *name;
    name_list files;
} class_dir;

static int cmp_class(const void *a, const void *b)
{
    const class_dir *x = a, *y = b;
    return (x->label > y->label) - (x->label < y->label);
}

/* The tree loader behind both entry points: channels 0 = as stored (up to
 * the largest of the tree), h/w 0 = from the first image. */
static tg_status load_tree(tg_ctx *ctx, const char *dir, int channels, int64_t h, int64_t w,
                           tg_dataset **out)
{
    name_list dirs = {0};
    tg_status st = list_dir(ctx, dir, true, &dirs);
    if (st != TG_OK)
        return st;
    class_dir *cls = tg__calloc(ctx, dirs.n ? dirs.n : 1, sizeof *cls);
    tg_dataset *ds = NULL;
    size_t total = 0;
    if (!cls) {
        st = tg__error(ctx, TG_ERR_NOMEM, "png: out of memory");
        goto done;
    }
    if (dirs.n == 0) {
        st = tg__error(ctx, TG_ERR_NOT_FOUND,
                       "png: no class directories (named by their label, e.g. '%s/0') in '%s'",
                       dir, dir);
        goto done;
    }
    for (size_t i = 0; i < dirs.n; i++) {
        const char *nm = dirs.v[i];
        errno = 0;
        long v = strlen(nm) > 6 ? TG_DATASET_MAX_CLASSES : strtol(nm, NULL, 10);
        if (v >= TG_DATASET_MAX_CLASSES) {
            st = tg__error(ctx, TG_ERR_LIMIT, "png: class directory '%s/%s': label over %d", dir,
                           nm, TG_DATASET_MAX_CLASSES - 1);
            goto done;
        }
        cls[i].label = v;
        cls[i].name = nm;
    }
    qsort(cls, dirs.n, sizeof *cls, cmp_class);
    for (size_t i = 1; i < dirs.n; i++)
        if (cls[i].label == cls[i - 1].label) {
            st = tg__error(ctx, TG_ERR_FORMAT,
                           "png: class directories '%s' and '%s' in '%s' are both label %ld",
                           cls[i - 1].name, cls[i].name, dir, cls[i].label);
            goto done;
        }
    for (size_t i = 0; i < dirs.n; i++) {
        char *sub = tg__path_join(ctx, dir, cls[i].name);
        if (!sub) {
            st = tg__error(ctx, TG_ERR_NOMEM, "png: out of memory");
            goto done;
        }
        st = list_dir(ctx, sub, false, &cls[i].files);
        tg__free(ctx, sub);
        if (st != TG_OK)
            goto done;
        total += cls[i].files.n;
    }
    if (total == 0) {
        st = tg__error(ctx, TG_ERR_NOT_FOUND, "png: no .png files in the class directories of '%s'",
                       dir);
        goto done;
    }
    if (channels == 0 || h == 0 || w == 0) {
        /* Header pass: sizes and channel counts before allocating. */
        int maxc = 1;
        for (size_t i = 0; i < dirs.n && st == TG_OK; i++) {
            for (size_t j = 0; j < cls[i].files.n; j++) {
                char *sub = tg__path_join(ctx, dir, cls[i].name);
                char *path = sub ? tg__path_join(ctx, sub, cls[i].files.v[j]) : NULL;
                tg__free(ctx, sub);
                if (!path) {
                    st = tg__error(ctx, TG_ERR_NOMEM, "png: out of memory");
                    break;
                }
                int stored = 1;
                st = tg__png_read(ctx, path, 0, &h, &w, &stored, NULL);
                tg__free(ctx, path);
                if (st != TG_OK)
                    break;
                if (stored > maxc)
                    maxc = stored;
            }
        }
        if (st != TG_OK)
            goto done;
        if (channels == 0)
            channels = maxc;
    }
    st = tg__dataset_alloc_image(ctx, "png", total, channels, h, w, &ds);
    if (st != TG_OK)
        goto done;
    size_t k = 0, px = (size_t)h * (size_t)w * (size_t)channels;
    for (size_t i = 0; i < dirs.n && st == TG_OK; i++) {
        for (size_t j = 0; j < cls[i].files.n; j++, k++) {
            char *sub = tg__path_join(ctx, dir, cls[i].name);
            char *path = sub ? tg__path_join(ctx, sub, cls[i].files.v[j]) : NULL;
            if (sub)
                tg__free(ctx, sub);
            if (!path) {
                st = tg__error(ctx, TG_ERR_NOMEM, "png: out of memory");
                break;
            }
            int64_t fh = h, fw = w;
            st = tg__png_read(ctx, path, channels, &fh, &fw, NULL, ds->images + k * px);
            tg__free(ctx, path);
            if (st != TG_OK)
                break;
            ds->labels[k] = (int32_t)cls[i].label;
        }
    }
    if (st != TG_OK)
        goto done;
    tg__dataset_infer_classes(ds);
    *out = ds;
    ds = NULL;
done:
    if (cls)
        for (size_t i = 0; i < dirs.n; i++)
            names_free(ctx, &cls[i].files);
    if (cls)
        tg__free(ctx, cls);
    names_free(ctx, &dirs);
    tg_dataset_destroy(ds);
    return st;
}

tg_status tg_dataset_load_png_dir(tg_ctx *ctx, const char *dir, int64_t h, int64_t w,
                                  tg_dataset **out)
{
    if (!ctx || !dir || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "dataset_load_png_dir: NULL argument");
    if (h < 1 || w < 1 || h > TG_DATASET_MAX_DIM || w > TG_DATASET_MAX_DIM)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "dataset_load_png_dir: image size %lldx%lld outside 1..%d",
                         (long long)h, (long long)w, TG_DATASET_MAX_DIM);
    return load_tree(ctx, dir, 1, h, w, out);
}

void tg_png_options_init(tg_png_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

tg_status tg_dataset_load_png_tree(tg_ctx *ctx, const char *dir, const tg_png_options *opts,
                                   tg_dataset **out)
{
    const char *who = "dataset_load_png_tree";
    if (!ctx || !dir || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    tg_png_options o;
    tg_png_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad struct_size %zu (use tg_png_options_init)",
                             who, opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (o.channels < 0 || o.channels > 4)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: channels %d is not 0 (keep), 1, 2, 3 or 4",
                         who, o.channels);
    if (o.height < 0 || o.width < 0 || o.height > TG_DATASET_MAX_DIM ||
        o.width > TG_DATASET_MAX_DIM || (o.height == 0) != (o.width == 0))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: height %lld and width %lld must both be 0 or both in 1..%d", who,
                         (long long)o.height, (long long)o.width, TG_DATASET_MAX_DIM);
    return load_tree(ctx, dir, o.channels, o.height, o.width, out);
}

/* ---- writing ----------------------------------------------------------- */

static int encode(FILE *fp, int64_t c, int64_t h, int64_t w, const uint8_t *src, uint8_t *row,
                  png_err *e)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, on_png_error,
                                              on_png_warning);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng writer");
        return 1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng info");
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 1;
    }
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, types[c], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t px = (size_t)h * (size_t)w;
    for (int64_t y = 0; y < h; y++) {
        /* Planar [C, H, W] to one interleaved row. */
        for (int64_t x = 0; x < w; x++)
            for (int64_t k = 0; k < c; k++)
                row[x * c + k] = src[(size_t)k * px + (size_t)(y * w + x)];
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

static tg_status write_png(tg_ctx *ctx, const char *path, int64_t c, int64_t h, int64_t w,
                           const uint8_t *src, uint8_t *row)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return tg__error(ctx, TG_ERR_IO, "png: cannot create '%s': %s", path, strerror(errno));
    png_err e = {{0}};
    int r = encode(fp, c, h, w, src, row, &e);
    int cerr = fclose(fp);
    if (r != 0)
        return tg__error(ctx, TG_ERR_IO, "png: cannot write '%s': %s", path, e.msg);
    if (cerr != 0)
        return tg__error(ctx, TG_ERR_IO, "png: cannot write '%s': %s", path, strerror(errno));
    return TG_OK;
}

/* mkdir -p */
static tg_status make_dirs(tg_ctx *ctx, const char *dir)
{
    char *p = tg__strdup(ctx, dir);
    if (!p)
        return tg__error(ctx, TG_ERR_NOMEM, "png: out of memory");
    tg_status st = TG_OK;
    size_t len = strlen(p);
    for (size_t i = 1; i <= len && st == TG_OK; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        struct stat sb;
        if (mkdir(p, 0777) != 0 && !(errno == EEXIST && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)))
            st = tg__error(ctx, TG_ERR_IO, "png: cannot create directory '%s': %s", p,
                           strerror(errno));
        p[i] = c;
    }
    tg__free(ctx, p);
    return st;
}

tg_status tg_dataset_save_png_dir(const tg_dataset *ds, const char *dir)
{
    if (!ds || !dir || !*dir)
        return tg__error(ds ? ds->ctx : NULL, TG_ERR_INVALID_ARG,
                         "dataset_save_png_dir: NULL argument");
    tg_ctx *ctx = ds->ctx;
    if (!ds->images || ds->ndim != 3 || !ds->labels)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "dataset_save_png_dir: only uint8 image data sets with class labels "
                         "can be written as PNG");
    tg_status st = make_dirs(ctx, dir);
    if (st != TG_OK)
        return st;
    size_t len = strlen(dir) + 64;
    char *path = tg__malloc(ctx, len);
    uint8_t *row = path ? tg__malloc(ctx, (size_t)ds->w * (size_t)ds->c) : NULL;
    if (!row) {
        tg__free(ctx, path);
        return tg__error(ctx, TG_ERR_NOMEM, "png: out of memory");
    }
    /* Create each class directory once (labels are < 65536). */
    uint8_t *made = tg__calloc(ctx, (size_t)TG_DATASET_MAX_CLASSES, 1);
    if (!made) {
        tg__free(ctx, row);
        tg__free(ctx, path);
        return tg__error(ctx, TG_ERR_NOMEM, "png: out of memory");
    }
    /* Zero-pad to the digits of n (at least 5), so that name order is index
     * order within a class for any n. */
    int digits = 5;
    for (size_t m = ds->n / 100000; m; m /= 10)
        digits++;
    for (size_t i = 0; i < ds->n && st == TG_OK; i++) {
        int32_t lab = ds->labels[i];
        if (!made[lab]) {
            snprintf(path, len, "%s/%d", dir, (int)lab);
            st = make_dirs(ctx, path);
            made[lab] = 1;
            if (st != TG_OK)
                break;
        }
        snprintf(path, len, "%s/%d/%0*zu.png", dir, (int)lab, digits & 31, i); /* <= 20 */
        st = write_png(ctx, path, ds->c, ds->h, ds->w, tg__dataset_pixels(ds, i), row);
    }
    tg__free(ctx, made);
    tg__free(ctx, row);
    tg__free(ctx, path);
    return st;
}
