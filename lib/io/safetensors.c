/* SPDX-License-Identifier: MIT */
/* safetensors save/load of module state and training checkpoints.
 * Loading is two-phase: parse and validate the whole file (header, offsets,
 * names, shapes, metadata) and read the data into a buffer, and only then
 * copy into the model, so a failed load changes nothing. Saving writes a
 * temporary file in the target directory and renames it into place. */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000u /* the reference implementation's limit */
#define ST_MAX_DEPTH 4           /* root object > tensor object > shape array */

/* ---- shared ------------------------------------------------------------ */

static bool little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int dtype_size(const char *s, size_t n)
{
    static const struct {
        const char *name;
        int size;
    } t[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
             {"I16", 2}, {"I8", 1},  {"U64", 8}, {"U32", 4},  {"U16", 2}, {"U8", 1},
             {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].name) == n && memcmp(t[i].name, s, n) == 0)
            return t[i].size;
    return 0;
}

typedef struct st_entry {
    const char *name;
    const char *dtype;
    int dsize;
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    uint64_t begin, end;
    bool used;
} st_entry;

typedef struct st_file {
    const char *path;
    tgj_doc doc;
    st_entry *e;          /* sorted by name */
    size_t n;
    const tgj_node *meta; /* __metadata__ object or NULL */
    FILE *fp;
    char *hdr;            /* header text; number nodes point into it */
    uint64_t data_start, data_size;
} st_file;

static void st_close(tg_ctx *ctx, st_file *f)
{
    if (f->fp)
        fclose(f->fp);
    if (f->e)
        tg__free(ctx, f->e);
    if (f->hdr)
        tg__free(ctx, f->hdr);
    tg__json_free(ctx, &f->doc);
    memset(f, 0, sizeof *f);
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int cmp_entry_begin(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static tg_status parse_entry(tg_ctx *ctx, st_file *f, const tgj_node *v, st_entry *e)
{
    const char *p = f->path, *nm = e->name;
    if (v->type != TGJ_OBJ)
        return tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': tensor '%s' is not an object", p,
                         nm);
    const tgj_node *dt = NULL, *sh = NULL, *off = NULL;
    for (int32_t c = v->first; c >= 0; c = f->doc.nodes[c].next) {
        const tgj_node *m = &f->doc.nodes[c];
        const tgj_node **slot = strcmp(m->key, "dtype") == 0          ? &dt
                                : strcmp(m->key, "shape") == 0        ? &sh
                                : strcmp(m->key, "data_offsets") == 0 ? &off
                                                                      : NULL;
        if (!slot || *slot)
            return tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': tensor '%s': %s field '%s'",
                             p, nm, slot ? "duplicate" : "unknown", m->key);
        *slot = m;
    }
    if (!dt || !sh || !off)
        return tg__error(ctx, TG_ERR_FORMAT,
                         "safetensors: '%s': tensor '%s' needs dtype, shape and data_offsets", p,
                         nm);
    if (dt->type != TGJ_STR || (e->dsize = dtype_size(dt->str, dt->len)) == 0)
        return tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': tensor '%s': unknown dtype", p,
                         nm);
    e->dtype = dt->str;
    if (sh->type != TGJ_ARR)
        return tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': tensor '%s': shape is not an array",
                         p, nm);
    if (sh->n_children > TG_MAX_DIMS)
        return tg__error(ctx, TG_ERR_LIMIT, "safetensors: '%s': tensor '%s': rank %d over %d", p,
                         nm, (int)sh->n_children, TG_MAX_DIMS);
    e->ndim = (int)sh->n_children;
    int k = 0;
    for (int32_t c = sh->first; c >= 0; c = f->doc.nodes[c].next, k++)
        if (!tg__json_int(&f->doc.nodes[c], &e->shape[k]) || e->shape[k] < 0)
            return tg__error(ctx, TG_ERR_FORMAT,
                             "safetensors: '%s': tensor '%s': bad dimension %d", p, nm, k);
    int64_t b, en;
    if (off->type != TGJ_ARR || off->n_children != 2 ||
        !tg__json_int(&f->doc.nodes[off->first], &b) ||
        !tg__json_int(&f->doc.nodes[f->doc.nodes[off->first].next], &en) || b < 0 || en < b)
        return tg__error(ctx, TG_ERR_FORMAT,
                         "safetensors: '%s': tensor '%s': data_offsets must be [begin, end] with "
                         "0 <= begin <= end", p, nm);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (e->end > f->data_size)
        return tg__error(ctx, TG_ERR_FORMAT,
                         "safetensors: '%s': tensor '%s': data_offsets [%llu, %llu] outside the "
                         "%llu data bytes", p, nm, (unsigned long long)e->begin,
                         (unsigned long long)e->end, (unsigned long long)f->data_size);
    /* Bytes the shape needs, without overflow: stop once it exceeds the span. */
    uint64_t span = e->end - e->begin, need = (uint64_t)e->dsize;
    bool over = false;
    for (int i = 0; i < e->ndim && !over; i++) {
        uint64_t d = (uint64_t)e->shape[i];
        if (d && need > span / d)
            over = true;
        else
            need *= d;
    }
    if (over || need != span) {
        char sb[128];
        return tg__error(ctx, TG_ERR_FORMAT,
                         "safetensors: '%s': tensor '%s': %llu data bytes do not match shape %s "
                         "of %s", p, nm, (unsigned long long)span,
                         tg__shape_str(sb, sizeof sb, e->ndim, e->shape), e->dtype);
    }
    return TG_OK;
}

/* Open, read and validate the header of a safetensors file. */
static tg_status st_open(tg_ctx *ctx, const char *path, st_file *f)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fp = fopen(path, "rb");
    if (!f->fp)
        return tg__error(ctx, TG_ERR_IO, "safetensors: cannot open '%s': %s", path,
                         strerror(errno));
    struct stat sb;
    if (fstat(fileno(f->fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_IO, "safetensors: '%s' is not a regular file", path);
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    unsigned char lb[8];
    if (fread(lb, 1, 8, f->fp) != 8) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': truncated (no header length)",
                         path);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | lb[i];
    if (hlen > ST_MAX_HEADER) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_LIMIT, "safetensors: '%s': header of %llu bytes exceeds %u",
                         path, (unsigned long long)hlen, ST_MAX_HEADER);
    }
    if (hlen < 2 || hlen > fsize - 8) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_FORMAT,
                         "safetensors: '%s': truncated or bad header length %llu (file has %llu "
                         "bytes)", path, (unsigned long long)hlen, (unsigned long long)fsize);
    }
    char *hdr = f->hdr = tg__malloc(ctx, (size_t)hlen);
    if (!hdr) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_NOMEM, "safetensors: '%s': out of memory", path);
    }
    if (fread(hdr, 1, (size_t)hlen, f->fp) != hlen) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_IO, "safetensors: cannot read the header of '%s'", path);
    }
    f->data_start = 8 + hlen;
    f->data_size = fsize - f->data_start;
    char who[300];
    snprintf(who, sizeof who, "safetensors: '%s'", path);
    tg_status st = hdr[0] == '{' ? tg__json_parse(ctx, who, hdr, (size_t)hlen, ST_MAX_DEPTH,
                                                  &f->doc)
                                 : tg__error(ctx, TG_ERR_FORMAT,
                                             "safetensors: '%s': header is not a JSON object",
                                             path);
    if (st != TG_OK) {
        st_close(ctx, f);
        return st;
    }
    const tgj_node *root = &f->doc.nodes[0];
    if (root->type != TGJ_OBJ) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': header is not a JSON object",
                         path);
    }
    size_t n = 0;
    for (int32_t c = root->first; c >= 0; c = f->doc.nodes[c].next) {
        const tgj_node *m = &f->doc.nodes[c];
        if (strcmp(m->key, "__metadata__") != 0) {
            n++;
            continue;
        }
        if (f->meta || m->type != TGJ_OBJ) {
            st = tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': %s __metadata__", path,
                           f->meta ? "duplicate" : "non-object");
            st_close(ctx, f);
            return st;
        }
        for (int32_t k = m->first; k >= 0; k = f->doc.nodes[k].next)
            if (f->doc.nodes[k].type != TGJ_STR) {
                st = tg__error(ctx, TG_ERR_FORMAT,
                               "safetensors: '%s': __metadata__ value '%s' is not a string",
                               path, f->doc.nodes[k].key);
                st_close(ctx, f);
                return st;
            }
        f->meta = m;
    }
    f->e = tg__calloc(ctx, n ? n : 1, sizeof *f->e);
    st_entry **byoff = f->e ? tg__malloc(ctx, (n ? n : 1) * sizeof *byoff) : NULL;
    if (!byoff) {
        st_close(ctx, f);
        return tg__error(ctx, TG_ERR_NOMEM, "safetensors: '%s': out of memory", path);
    }
    size_t i = 0;
    for (int32_t c = root->first; c >= 0 && st == TG_OK; c = f->doc.nodes[c].next) {
        const tgj_node *m = &f->doc.nodes[c];
        if (m == f->meta)
            continue;
        f->e[i].name = m->key;
        st = parse_entry(ctx, f, m, &f->e[i]);
        i++;
    }
    f->n = n;
    if (st == TG_OK && n) {
        qsort(f->e, n, sizeof *f->e, cmp_entry_name);
        for (size_t k = 1; k < n && st == TG_OK; k++)
            if (strcmp(f->e[k].name, f->e[k - 1].name) == 0)
                st = tg__error(ctx, TG_ERR_FORMAT, "safetensors: '%s': duplicate tensor '%s'",
                               path, f->e[k].name);
        for (size_t k = 0; k < n; k++)
            byoff[k] = &f->e[k];
        qsort(byoff, n, sizeof *byoff, cmp_entry_begin);
        /* Empty tensors own no bytes and cannot overlap anything. */
        const st_entry *prev = NULL;
        for (size_t k = 0; k < n && st == TG_OK; k++) {
            if (byoff[k]->begin == byoff[k]->end)
                continue;
            if (prev && byoff[k]->begin < prev->end)
                st = tg__error(ctx, TG_ERR_FORMAT,
                               "safetensors: '%s': data of tensors '%s' and '%s' overlap", path,
                               prev->name, byoff[k]->name);
            prev = byoff[k];
        }
    }
    tg__free(ctx, byoff);
    if (st != TG_OK)
        st_close(ctx, f);
    return st;
}

static st_entry *st_find(st_file *f, const char *name)
{
    st_entry key;
    key.name = name;
    return f->n ? bsearch(&key, f->e, f->n, sizeof *f->e, cmp_entry_name) : NULL;
}

static const char *st_meta(const st_file *f, const char *key)
{
    const tgj_node *v = tg__json_get(&f->doc, f->meta, key);
    return v ? v->str : NULL;
}

/* Read the data section (at most the file size, never a claimed size). */
static tg_status st_read_data(tg_ctx *ctx, st_file *f, unsigned char **out)
{
    unsigned char *buf = tg__malloc_aligned(ctx, (size_t)f->data_size);
    if (!buf)
        return tg__error(ctx, TG_ERR_NOMEM, "safetensors: '%s': cannot allocate %llu bytes",
                         f->path, (unsigned long long)f->data_size);
    if (fseeko(f->fp, (off_t)f->data_start, SEEK_SET) != 0 ||
        fread(buf, 1, (size_t)f->data_size, f->fp) != f->data_size) {
        tg__free_aligned(ctx, buf);
        return tg__error(ctx, TG_ERR_IO, "safetensors: cannot read the data of '%s'", f->path);
    }
    *out = buf;
    return TG_OK;
}

static void copy_f32(float *dst, const unsigned char *src, size_t n)
{
    if (little_endian()) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                     (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

/* Check that entry e exists as F32 with the given shape. */
static tg_status expect(tg_ctx *ctx, st_file *f, const char *name, int ndim,
                        const int64_t *shape, st_entry **out)
{
    st_entry *e = st_find(f, name);
    if (!e)
        return tg__error(ctx, TG_ERR_NOT_FOUND, "safetensors: '%s': tensor '%s' is missing",
                         f->path, name);
    if (strcmp(e->dtype, "F32") != 0)
        return tg__error(ctx, TG_ERR_DTYPE, "safetensors: '%s': tensor '%s' is %s, expected F32",
                         f->path, name, e->dtype);
    bool same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = e->shape[i] == shape[i];
    if (!same) {
        char a[128], b[128];
        return tg__error(ctx, TG_ERR_SHAPE,
                         "safetensors: '%s': tensor '%s' has shape %s in the file but %s in the "
                         "model", f->path, name, tg__shape_str(a, sizeof a, e->ndim, e->shape),
                         tg__shape_str(b, sizeof b, ndim, shape));
    }
    e->used = true;
    *out = e;
    return TG_OK;
}

/* ---- saving ------------------------------------------------------------ */

typedef struct out_tensor {
    char *name;          /* owned */
    const float *data;
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    size_t numel;
} out_tensor;

typedef struct sbuf {
    tg_ctx *ctx;
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + n + 1)
            ncap *= 2;
        char *np = tg__malloc(b->ctx, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        if (b->n)
            memcpy(np, b->p, b->n);
        if (b->p)
            tg__free(b->ctx, b->p);
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            const char *shortesc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (shortesc) {
                sb_put(b, shortesc, 2);
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                sb_put(b, esc, 6);
            }
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static tg_status write_all(FILE *fp, const void *p, size_t n)
{
    return fwrite(p, 1, n, fp) == n ? TG_OK : TG_ERR_IO;
}

static tg_status write_f32(FILE *fp, const float *x, size_t n)
{
    if (little_endian())
        return write_all(fp, x, n * sizeof(float));
    unsigned char buf[4096];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof buf / 4 && i < n; k++, i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            for (int j = 0; j < 4; j++)
                buf[4 * k + (size_t)j] = (unsigned char)(u >> (8 * j));
        }
        if (write_all(fp, buf, 4 * k) != TG_OK)
            return TG_ERR_IO;
    }
    return TG_OK;
}

static void fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* some file systems refuse directory fsync; the rename stands */
        close(fd);
    }
}

tg_status tg__write_atomic(tg_ctx *ctx, const char *who, const char *path,
                           tg_status (*write)(FILE *fp, void *arg), void *arg)
{
    size_t plen = strlen(path);
    char *tmp = tg__malloc(ctx, plen + 16);
    if (!tmp)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory saving '%s'", who, path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        tg_status st = tg__error(ctx, TG_ERR_IO, "%s: cannot create '%s': %s", who, tmp,
                                 strerror(errno));
        tg__free(ctx, tmp);
        return st;
    }
    (void)fchmod(fd, 0644); /* mkstemp makes 0600; a model file is meant to be shared */
    FILE *fp = fdopen(fd, "wb");
    tg_status st = fp ? TG_OK : TG_ERR_IO;
    if (!fp)
        close(fd);
    if (st == TG_OK)
        st = write(fp, arg);
    if (st == TG_OK && fflush(fp) != 0)
        st = TG_ERR_IO;
    if (st == TG_OK && fsync(fileno(fp)) != 0)
        st = TG_ERR_IO;
    int saved_errno = errno;
    if (fp && fclose(fp) != 0 && st == TG_OK) {
        st = TG_ERR_IO;
        saved_errno = errno;
    }
    if (st == TG_OK && rename(tmp, path) != 0) {
        st = TG_ERR_IO;
        saved_errno = errno;
    }
    if (st != TG_OK) {
        unlink(tmp);
        tg__error(ctx, TG_ERR_IO, "%s: cannot write '%s': %s", who, path, strerror(saved_errno));
    } else {
        fsync_parent_dir(path);
    }
    tg__free(ctx, tmp);
    return st;
}

typedef struct {
    const sbuf *hdr;
    const out_tensor *t;
    size_t n;
} st_write_arg;

static tg_status st_write(FILE *fp, void *arg)
{
    const st_write_arg *a = arg;
    unsigned char lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (unsigned char)((uint64_t)a->hdr->n >> (8 * i));
    tg_status st = write_all(fp, lb, 8);
    if (st == TG_OK)
        st = write_all(fp, a->hdr->p, a->hdr->n);
    for (size_t i = 0; i < a->n && st == TG_OK; i++)
        st = write_f32(fp, a->t[i].data, a->t[i].numel);
    return st;
}

/* Write header + tensors to a temp file next to path, fsync, rename. */
static tg_status save_tensors(tg_ctx *ctx, const char *path, const out_tensor *t, size_t n,
                              const tg_kv *meta, size_t n_meta)
{
    sbuf b = {ctx, NULL, 0, 0, false};
    sb_str(&b, "{");
    bool first = true;
    if (n_meta) {
        sb_str(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i)
                sb_str(&b, ",");
            sb_json_str(&b, meta[i].key);
            sb_str(&b, ":");
            sb_json_str(&b, meta[i].value);
        }
        sb_str(&b, "}");
        first = false;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        char num[96];
        if (!first)
            sb_str(&b, ",");
        first = false;
        sb_json_str(&b, t[i].name);
        sb_str(&b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t[i].shape[d]);
            sb_str(&b, num);
        }
        uint64_t end = off + (uint64_t)t[i].numel * 4;
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)end);
        sb_str(&b, num);
        off = end;
    }
    sb_str(&b, "}");
    while (!b.oom && b.n % 8 != 0)
        sb_str(&b, " "); /* pad so the data starts 8-byte aligned */
    if (b.oom) {
        if (b.p)
            tg__free(ctx, b.p);
        return tg__error(ctx, TG_ERR_NOMEM, "safetensors: out of memory saving '%s'", path);
    }
    if (b.n > ST_MAX_HEADER) {
        tg__free(ctx, b.p);
        return tg__error(ctx, TG_ERR_LIMIT, "safetensors: header for '%s' exceeds %u bytes",
                         path, ST_MAX_HEADER);
    }

    st_write_arg wa = {&b, t, n};
    tg_status st = tg__write_atomic(ctx, "safetensors", path, st_write, &wa);
    tg__free(ctx, b.p);
    return st;
}

/* save_tensors() with m's own metadata (tg_module_set_metadata) added after
 * meta[0..n_meta); an explicit entry wins over the module's on equal keys. */
static tg_status save_with_module_meta(tg_ctx *ctx, tg_module *m, const char *path,
                                       const out_tensor *t, size_t n, const tg_kv *meta,
                                       size_t n_meta)
{
    size_t nm = tg_module_n_metadata(m);
    if (!nm)
        return save_tensors(ctx, path, t, n, meta, n_meta);
    tg_kv *all = tg__malloc(ctx, (n_meta + nm) * sizeof *all);
    if (!all)
        return tg__error(ctx, TG_ERR_NOMEM, "safetensors: out of memory saving '%s'", path);
    size_t k = 0;
    for (size_t i = 0; i < n_meta; i++)
        all[k++] = meta[i];
    for (size_t i = 0; i < nm; i++) {
        const char *v = NULL, *key = tg_module_metadata_at(m, i, &v);
        bool dup = false;
        for (size_t j = 0; j < n_meta && !dup; j++)
            dup = strcmp(meta[j].key, key) == 0;
        if (!dup)
            all[k++] = (tg_kv){key, v};
    }
    tg_status st = save_tensors(ctx, path, t, n, all, k);
    tg__free(ctx, all);
    return st;
}

static void free_outs(tg_ctx *ctx, out_tensor *t, size_t n)
{
    if (!t)
        return;
    for (size_t i = 0; i < n; i++)
        if (t[i].name)
            tg__free(ctx, t[i].name);
    tg__free(ctx, t);
}

static void fill_out(out_tensor *o, const float *data, int ndim, const int64_t *shape)
{
    o->data = data;
    o->ndim = ndim;
    o->numel = 1;
    for (int d = 0; d < ndim; d++) {
        o->shape[d] = shape[d];
        o->numel *= (size_t)shape[d];
    }
}

static char *optim_name(tg_ctx *ctx, tg_optim *opt, size_t i, int slot)
{
    const char *pn = NULL;
    tg_optim_param(opt, i, &pn);
    char idx[32];
    if (!pn || !*pn) {
        snprintf(idx, sizeof idx, "%zu", i);
        pn = idx;
    }
    size_t len = strlen(pn) + 48;
    char *s = tg__malloc(ctx, len);
    if (s)
        snprintf(s, len, "optim.%s.%d", pn, slot);
    return s;
}

/* Module state (+ optimiser state) as a list of named tensors. */
static tg_status collect(tg_ctx *ctx, tg_module *m, tg_optim *opt, const char *path,
                         out_tensor **out, size_t *n_out)
{
    size_t ns = tg_module_n_state(m);
    size_t no = 0;
    int slots = opt ? tg_optim_n_state(opt) : 0;
    if (opt && slots > 0)
        no = tg_optim_n_params(opt) * (size_t)slots;
    out_tensor *t = tg__calloc(ctx, ns + no + 1, sizeof *t);
    if (!t)
        return tg__error(ctx, TG_ERR_NOMEM, "safetensors: out of memory saving '%s'", path);
    size_t k = 0;
    for (size_t i = 0; i < ns; i++, k++) {
        const char *name = NULL;
        tg_tensor *x = tg_module_state(m, i, &name, NULL);
        if (!x || !name) {
            free_outs(ctx, t, k);
            return tg__error(ctx, TG_ERR_STATE, "safetensors: module state %zu is unavailable", i);
        }
        t[k].name = tg__strdup(ctx, name);
        fill_out(&t[k], tg_tensor_data(x), tg_tensor_ndim(x), tg_tensor_shape(x));
        if (!t[k].name) {
            free_outs(ctx, t, k);
            return tg__error(ctx, TG_ERR_NOMEM, "safetensors: out of memory saving '%s'", path);
        }
    }
    for (size_t i = 0; i < (slots > 0 ? tg_optim_n_params(opt) : 0); i++) {
        tg_tensor *p = tg_optim_param(opt, i, NULL);
        for (int s = 0; s < slots; s++, k++) {
            float *buf = tg_optim_state(opt, i, s);
            t[k].name = buf ? optim_name(ctx, opt, i, s) : NULL;
            if (!t[k].name) {
                free_outs(ctx, t, k);
                return tg__error(ctx, TG_ERR_NOMEM, "safetensors: out of memory saving '%s'",
                                 path);
            }
            fill_out(&t[k], buf, tg_tensor_ndim(p), tg_tensor_shape(p));
        }
    }
    *out = t;
    *n_out = k;
    return TG_OK;
}

tg_status tg_module_save(tg_module *m, const char *path, const tg_kv *metadata,
                         size_t n_metadata)
{
    tg_ctx *ctx = m ? tg_module_ctx(m) : NULL;
    if (!m || !path || !*path || (n_metadata && !metadata))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "module_save: NULL argument");
    for (size_t i = 0; i < n_metadata; i++) {
        if (!metadata[i].key || !metadata[i].value)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "module_save: metadata entry %zu is NULL",
                             i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(metadata[i].key, metadata[j].key) == 0)
                return tg__error(ctx, TG_ERR_INVALID_ARG,
                                 "module_save: duplicate metadata key '%s'", metadata[i].key);
    }
    out_tensor *t = NULL;
    size_t n = 0;
    tg_status st = collect(ctx, m, NULL, path, &t, &n);
    if (st != TG_OK)
        return st;
    st = save_with_module_meta(ctx, m, path, t, n, metadata, n_metadata);
    free_outs(ctx, t, n);
    return st;
}

tg_status tg_checkpoint_save(tg_module *m, tg_optim *opt, int64_t epoch, const char *path)
{
    tg_ctx *ctx = m ? tg_module_ctx(m) : NULL;
    if (!m || !path || !*path)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "checkpoint_save: NULL argument");
    out_tensor *t = NULL;
    size_t n = 0;
    tg_status st = collect(ctx, m, opt, path, &t, &n);
    if (st != TG_OK)
        return st;
    char ep[32], step[32], lr[48];
    snprintf(ep, sizeof ep, "%lld", (long long)epoch);
    tg_kv meta[5] = {{"format", "pt"}, {"tg.epoch", ep}, {NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
    size_t nm = 2;
    if (opt) {
        snprintf(step, sizeof step, "%lld", (long long)tg_optim_step_count(opt));
        snprintf(lr, sizeof lr, "%.9g", (double)tg_optim_lr(opt));
        meta[nm++] = (tg_kv){"tg.optim", tg_optim_name(opt) ? tg_optim_name(opt) : ""};
        meta[nm++] = (tg_kv){"tg.step", step};
        meta[nm++] = (tg_kv){"tg.lr", lr};
    }
    st = save_with_module_meta(ctx, m, path, t, n, meta, nm);
    free_outs(ctx, t, n);
    return st;
}

/* ---- loading ----------------------------------------------------------- */

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = (int64_t)v;
    return true;
}

static tg_status load_impl(tg_module *m, tg_optim *opt, bool checkpoint, int64_t *epoch,
                           const char *path, const char *who)
{
    tg_ctx *ctx = m ? tg_module_ctx(m) : NULL;
    if (!m || !path)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    st_file f;
    tg_status st = st_open(ctx, path, &f);
    if (st != TG_OK)
        return st;
    size_t ns = tg_module_n_state(m);
    size_t np = opt ? tg_optim_n_params(opt) : 0;
    int slots = opt ? tg_optim_n_state(opt) : 0;
    size_t no = slots > 0 ? np * (size_t)slots : 0;
    /* Phase 1: validate everything and collect destinations. */
    float **dst = tg__calloc(ctx, ns + no + 1, sizeof *dst);
    st_entry **src = tg__calloc(ctx, ns + no + 1, sizeof *src);
    unsigned char *data = NULL;
    int64_t ep = 0, step = 0;
    double lr = 0.0;
    size_t k = 0;
    if (!dst || !src) {
        st = tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
        goto done;
    }
    for (size_t i = 0; i < ns && st == TG_OK; i++, k++) {
        const char *name = NULL;
        tg_tensor *t = tg_module_state(m, i, &name, NULL);
        if (!t || !name) {
            st = tg__error(ctx, TG_ERR_STATE, "%s: module state %zu is unavailable", who, i);
            break;
        }
        st = expect(ctx, &f, name, tg_tensor_ndim(t), tg_tensor_shape(t), &src[k]);
        dst[k] = tg_tensor_data(t);
    }
    if (st != TG_OK)
        goto done;
    if (checkpoint && !parse_i64(st_meta(&f, "tg.epoch"), &ep)) {
        st = tg__error(ctx, TG_ERR_FORMAT, "%s: '%s' has no valid tg.epoch metadata (not a "
                       "checkpoint?)", who, path);
        goto done;
    }
    if (opt) {
        const char *on = st_meta(&f, "tg.optim");
        const char *want = tg_optim_name(opt) ? tg_optim_name(opt) : "";
        char *end = NULL;
        const char *lrs = st_meta(&f, "tg.lr");
        if (!on) {
            st = tg__error(ctx, TG_ERR_NOT_FOUND, "%s: '%s' holds no optimiser state", who, path);
            goto done;
        }
        if (strcmp(on, want) != 0) {
            st = tg__error(ctx, TG_ERR_INVALID_ARG,
                           "%s: '%s' holds %s optimiser state, not %s", who, path, on, want);
            goto done;
        }
        if (lrs)
            lr = strtod(lrs, &end);
        if (!parse_i64(st_meta(&f, "tg.step"), &step) || step < 0 || !lrs || end == lrs ||
            *end || !(lr >= 0.0)) {
            st = tg__error(ctx, TG_ERR_FORMAT, "%s: '%s': bad tg.step or tg.lr metadata", who,
                           path);
            goto done;
        }
        for (size_t i = 0; i < np && slots > 0 && st == TG_OK; i++) {
            tg_tensor *p = tg_optim_param(opt, i, NULL);
            for (int s = 0; s < slots && st == TG_OK; s++, k++) {
                char *nm = optim_name(ctx, opt, i, s);
                if (!nm) {
                    st = tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
                    break;
                }
                st = expect(ctx, &f, nm, tg_tensor_ndim(p), tg_tensor_shape(p), &src[k]);
                tg__free(ctx, nm);
                if (st == TG_OK) {
                    /* May allocate the (zeroed) state block: not a visible change. */
                    dst[k] = tg_optim_state(opt, i, s);
                    if (!dst[k])
                        st = tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
                }
            }
        }
        if (st != TG_OK)
            goto done;
    }
    for (size_t i = 0; i < f.n; i++) {
        if (f.e[i].used)
            continue;
        if (checkpoint && !opt && strncmp(f.e[i].name, "optim.", 6) == 0)
            continue; /* model-only restore from a full checkpoint */
        st = tg__error(ctx, TG_ERR_NOT_FOUND,
                       "safetensors: '%s': unexpected tensor '%s' (not in the %s)", path,
                       f.e[i].name, opt ? "model or optimiser" : "model");
        goto done;
    }
    st = st_read_data(ctx, &f, &data);
    if (st != TG_OK)
        goto done;
    /* Phase 2: nothing below can fail. */
    for (size_t i = 0; i < k; i++)
        copy_f32(dst[i], data + src[i]->begin, (size_t)((src[i]->end - src[i]->begin) / 4));
    if (opt) {
        tg_optim_set_step_count(opt, step);
        tg_optim_set_lr(opt, (float)lr);
    }
    if (epoch)
        *epoch = ep;
done:
    if (data)
        tg__free_aligned(ctx, data);
    if (dst)
        tg__free(ctx, dst);
    if (src)
        tg__free(ctx, src);
    st_close(ctx, &f);
    return st;
}

tg_status tg_module_load(tg_module *m, const char *path)
{
    return load_impl(m, NULL, false, NULL, path, "module_load");
}

tg_status tg_checkpoint_load(tg_module *m, tg_optim *opt, int64_t *epoch, const char *path)
{
    return load_impl(m, opt, true, epoch, path, "checkpoint_load");
}

tg_status tg_safetensors_get_metadata(tg_ctx *ctx, const char *path, const char *key, char *buf,
                                      size_t size)
{
    if (!ctx || !path || !key || !buf || size == 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "safetensors_get_metadata: NULL argument");
    st_file f;
    tg_status st = st_open(ctx, path, &f);
    if (st != TG_OK)
        return st;
    const char *v = st_meta(&f, key);
    if (!v)
        st = tg__error(ctx, TG_ERR_NOT_FOUND, "safetensors: '%s' has no metadata '%s'", path, key);
    else if (strlen(v) + 1 > size)
        st = tg__error(ctx, TG_ERR_LIMIT, "safetensors: metadata '%s' needs %zu bytes, buffer "
                       "has %zu", key, strlen(v) + 1, size);
    else
        memcpy(buf, v, strlen(v) + 1);
    st_close(ctx, &f);
    return st;
}
